//! Suppressing findings on purpose. An [`Allowlist`] is a YAML file of entries, each naming a
//! rule (or `*`), one place (a `path` glob, an `object` glob or an `env` glob) and a required
//! `reason`:
//!
//! ```yaml
//! allow:
//!   - rule: private-key
//!     path: "tests/fixtures/tls/**"
//!     reason: throwaway keys for the TLS tests, never used anywhere else
//!   - rule: known-value
//!     object: "ConfigMap/apps/web-*"
//!     reason: the public client id is stored in Vault beside the secret
//! ```
//!
//! `path` matches the path of Git and working-tree findings (`*` stays within a directory, `**`
//! crosses them); `object` matches `Kind/namespace/name` (or `Kind/name`) of cluster findings;
//! `env` matches the variable name of environment findings.

use std::cell::Cell;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use crate::input_error::Indexed;
use crate::{Finding, Location, VerifyError};

/// The only top-level key.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum AllowKey {
    Allow,
}

/// The file: `allow:` and nothing else. Records the index of the entry being read in
/// `failed`, so an error can name it.
struct AllowFile<'a> {
    failed: &'a Cell<Option<usize>>,
}

impl<'de> DeserializeSeed<'de> for AllowFile<'_> {
    type Value = Vec<CheckedEntry>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for AllowFile<'_> {
    type Value = Vec<CheckedEntry>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a mapping with `allow`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut allow = None;
        // An unknown key fails here, stamped with its own position (the message is redacted).
        while let Some(AllowKey::Allow) = map.next_key()? {
            if allow.is_some() {
                return Err(de::Error::duplicate_field("allow"));
            }
            allow = Some(map.next_value_seed(Indexed::new(self.failed))?);
        }
        allow.ok_or_else(|| de::Error::missing_field("allow"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    rule: String,
    path: Option<String>,
    object: Option<String>,
    env: Option<String>,
    reason: Option<String>,
}

/// The schema's names: a path made of these (and indices) may be shown in an error.
const NAMES: &[&str] = &["allow", "rule", "path", "object", "env", "reason"];

const NO_REASON: &str = "the entry has no reason; every entry needs one";
const NOT_ONE_PLACE: &str = "the entry needs exactly one of path, object or env";

/// The messages of the entry checks below: fixed texts, shown as they are.
const OWN: &[&str] = &[
    NO_REASON,
    NOT_ONE_PLACE,
    "invalid glob: `**` must be a whole path component",
    "invalid glob: unclosed character class",
    "invalid glob: invalid character range",
    "invalid glob: `}` without `{`",
    "invalid glob: unclosed `{`",
    "invalid glob: nested `{` groups",
    "invalid glob: dangling escape",
    "invalid glob",
];

/// An entry checked while it is deserialized, so that serde_norway stamps a failure with the
/// entry's own line and column. Its messages never quote the entry.
#[derive(Deserialize)]
#[serde(try_from = "RawEntry")]
struct CheckedEntry(AllowEntry);

impl TryFrom<RawEntry> for CheckedEntry {
    type Error = &'static str;

    fn try_from(raw: RawEntry) -> Result<Self, Self::Error> {
        let reason = raw
            .reason
            .filter(|r| !r.trim().is_empty())
            .ok_or(NO_REASON)?;
        let (target, glob) = match (raw.path, raw.object, raw.env) {
            (Some(p), None, None) => (AllowTarget::Path, p),
            (None, Some(o), None) => (AllowTarget::Object, o),
            (None, None, Some(e)) => (AllowTarget::Env, e),
            _ => return Err(NOT_ONE_PLACE),
        };
        let matcher = GlobBuilder::new(&glob)
            .literal_separator(true)
            .build()
            .map_err(|e| glob_problem(e.kind()))?
            .compile_matcher();
        Ok(CheckedEntry(AllowEntry {
            rule: raw.rule,
            target,
            glob,
            reason,
            matcher,
        }))
    }
}

/// A fixed text per glob error kind (globset's own texts may quote the glob).
fn glob_problem(kind: &globset::ErrorKind) -> &'static str {
    use globset::ErrorKind as K;
    match kind {
        K::InvalidRecursive => OWN[2],
        K::UnclosedClass => OWN[3],
        K::InvalidRange(..) => OWN[4],
        K::UnopenedAlternates => OWN[5],
        K::UnclosedAlternates => OWN[6],
        K::NestedAlternates => OWN[7],
        K::DanglingEscape => OWN[8],
        _ => OWN[9],
    }
}

/// What an allowlist entry's glob applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowTarget {
    /// The path of a Git or working-tree finding.
    Path,
    /// `Kind/namespace/name` of a cluster finding.
    Object,
    /// The name of an environment finding.
    Env,
}

/// One allowlist entry.
#[derive(Debug, Clone)]
pub struct AllowEntry {
    /// The rule id it applies to, or `*` for every rule.
    pub rule: String,
    /// What the glob is matched against.
    pub target: AllowTarget,
    /// The glob as written.
    pub glob: String,
    /// Why this is allowed (required).
    pub reason: String,
    matcher: GlobMatcher,
}

impl AllowEntry {
    /// Whether this entry suppresses `finding`.
    pub fn allows(&self, finding: &Finding) -> bool {
        if self.rule != "*" && self.rule != finding.rule {
            return false;
        }
        match (&finding.location, self.target) {
            (Location::Git { path, .. } | Location::File { path, .. }, AllowTarget::Path) => {
                self.matcher.is_match(path)
            }
            (loc @ Location::Object { .. }, AllowTarget::Object) => {
                loc.object_ref().is_some_and(|r| self.matcher.is_match(r))
            }
            (Location::Env { name }, AllowTarget::Env) => self.matcher.is_match(name),
            _ => false,
        }
    }
}

/// A parsed allowlist.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    entries: Vec<AllowEntry>,
}

impl Allowlist {
    /// Reads and parses an allowlist file.
    pub fn load(path: &Path) -> Result<Self, VerifyError> {
        Self::parse(&crate::error::read_text(path)?, path)
    }

    /// Parses allowlist YAML.
    pub fn from_yaml(text: &str) -> Result<Self, VerifyError> {
        Self::parse(text, Path::new("<inline>"))
    }

    /// Parses `text`; errors name the file, the entry or field and the line and column,
    /// and never quote the file (see [`crate::input_error`]).
    fn parse(text: &str, path: &Path) -> Result<Self, VerifyError> {
        let bad = |problem: crate::input_error::Problem| VerifyError::ParseAllowlist {
            path: PathBuf::from(path),
            message: problem.to_string(),
        };
        // First the syntax alone, so the parser's messages are told apart from the schema's.
        serde_norway::from_str::<serde_norway::Value>(text)
            .map_err(|e| bad(crate::input_error::yaml(&e, NAMES, &[], true)))?;
        let failed = Cell::new(None);
        let entries = AllowFile { failed: &failed }
            .deserialize(serde_norway::Deserializer::from_str(text))
            .map_err(|e| {
                let mut problem = crate::input_error::yaml(&e, NAMES, OWN, false);
                if let Some(i) = failed.get()
                    && problem.field.as_deref().is_none_or(|f| f == "allow")
                {
                    problem.field = Some(format!("allow[{i}]"));
                }
                bad(problem)
            })?;
        Ok(Self {
            entries: entries.into_iter().map(|e| e.0).collect(),
        })
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[AllowEntry] {
        &self.entries
    }

    /// The first entry that suppresses `finding`, if any.
    pub fn allowing(&self, finding: &Finding) -> Option<&AllowEntry> {
        self.entries.iter().find(|e| e.allows(finding))
    }

    /// Splits findings into those kept and the number suppressed.
    pub fn apply(&self, findings: Vec<Finding>) -> (Vec<Finding>, usize) {
        let before = findings.len();
        let kept: Vec<Finding> = findings
            .into_iter()
            .filter(|f| self.allowing(f).is_none())
            .collect();
        let suppressed = before - kept.len();
        (kept, suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(path: &str) -> Finding {
        Finding::new(
            "private-key",
            Location::Git {
                commit: None,
                path: path.into(),
                line: Some(1),
                blob: "00".into(),
            },
            "m",
        )
    }

    #[test]
    fn globs_rules_and_reasons() {
        let a = Allowlist::from_yaml(
            "allow:\n  - rule: private-key\n    path: \"tests/**/*.pem\"\n    reason: fixtures\n\
             \x20 - rule: \"*\"\n    object: \"ConfigMap/apps/*\"\n    reason: public ids\n",
        )
        .unwrap();
        assert!(a.allowing(&git("tests/tls/a/key.pem")).is_some());
        assert!(a.allowing(&git("deploy/key.pem")).is_none());
        let cm = Finding::new(
            "known-value",
            Location::Object {
                kind: "ConfigMap".into(),
                namespace: Some("apps".into()),
                name: "web".into(),
                field: None,
            },
            "m",
        );
        assert_eq!(
            a.allowing(&cm).map(|e| e.reason.as_str()),
            Some("public ids")
        );
        let (kept, n) = a.apply(vec![git("tests/x/k.pem"), git("k.pem"), cm]);
        assert_eq!((kept.len(), n), (1, 2));
    }

    #[test]
    fn reason_is_required() {
        let err = Allowlist::from_yaml("allow:\n  - rule: x\n    path: a\n").unwrap_err();
        assert!(err.to_string().contains("no reason"), "{err}");
        assert!(err.to_string().contains("allow[0]"), "{err}");
        let err = Allowlist::from_yaml("allow:\n  - rule: x\n    reason: r\n").unwrap_err();
        assert!(err.to_string().contains("exactly one"), "{err}");
    }

    /// A token-shaped string and a password-shaped one, as a key, a value and content.
    const PLANTED: [&str; 2] = [
        "ghp_PLANTEDtoken0123456789abcdefghijklmn",
        "Zq8rT5wK-planted-password",
    ];

    fn error_of(yaml: &str) -> String {
        match Allowlist::from_yaml(yaml) {
            Ok(_) => panic!("no error for {yaml:?}"),
            Err(err) => format!("{err} | {err:?}"),
        }
    }

    #[test]
    fn errors_name_place_and_position_never_content() {
        for t in PLANTED {
            let cases = [
                // Unknown key in an entry.
                (
                    format!("allow:\n  - rule: x\n    {t}: y\n    reason: r\n"),
                    "allow[0]",
                ),
                // Unknown top-level key.
                (format!("allow: []\n{t}: 1\n"), "line 2, column 1"),
                // A value of the wrong type.
                (
                    format!("allow:\n  - rule: [\"{t}\"]\n    path: a\n    reason: r\n"),
                    "allow[0].rule",
                ),
                (format!("allow: \"{t}\"\n"), "allow"),
                // A rule and a glob in entries that fail their checks.
                (format!("allow:\n  - rule: {t}\n    path: a\n"), "no reason"),
                (
                    format!("allow:\n  - rule: {t}\n    reason: r\n"),
                    "exactly one",
                ),
                (
                    format!("allow:\n  - rule: x\n    path: \"{t}[\"\n    reason: r\n"),
                    "unclosed character class",
                ),
                (
                    format!("allow:\n  - rule: x\n    path: \"[z-a]{t}\"\n    reason: r\n"),
                    "invalid character range",
                ),
                // Malformed YAML around it.
                (format!("allow:\n  - rule: \"{t}\n"), "line "),
                (format!("allow: [{t}\n"), "line "),
                (format!("{t}\n"), "invalid type"),
                (
                    format!("allow:\n  - rule: !{t} {{a: 1}}\n    path: a\n    reason: r\n"),
                    "allow[0].rule",
                ),
                (format!("allow: []\nallow: [{t}]\n"), "duplicate key"),
            ];
            for (yaml, want) in cases {
                let text = error_of(&yaml);
                assert!(!text.contains(t), "{t} echoed: {text}");
                assert!(!text.contains(&t[..10]), "part of {t} echoed: {text}");
                assert!(text.contains(want), "{want:?} missing: {text}");
                assert!(text.contains("<inline>"), "{text}");
            }
        }
        let text = error_of("allow:\n  - rule: x\n    reason: r\n    pth: a\n");
        assert!(
            text.starts_with("allowlist <inline>: line 4, column 5: allow[0]: unknown field"),
            "{text}"
        );
    }
}
