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

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;

use crate::{Finding, Location, VerifyError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowFile {
    allow: Vec<RawEntry>,
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

    fn parse(text: &str, path: &Path) -> Result<Self, VerifyError> {
        let bad = |message: String| VerifyError::ParseAllowlist {
            path: PathBuf::from(path),
            message,
        };
        let file: AllowFile = serde_yaml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut entries = Vec::with_capacity(file.allow.len());
        for (i, raw) in file.allow.into_iter().enumerate() {
            let reason = raw.reason.filter(|r| !r.trim().is_empty()).ok_or_else(|| {
                bad(format!(
                    "entry {i} (rule {}) has no reason; every entry needs one",
                    raw.rule
                ))
            })?;
            let (target, glob) = match (raw.path, raw.object, raw.env) {
                (Some(p), None, None) => (AllowTarget::Path, p),
                (None, Some(o), None) => (AllowTarget::Object, o),
                (None, None, Some(e)) => (AllowTarget::Env, e),
                _ => {
                    return Err(bad(format!(
                        "entry {i} (rule {}) needs exactly one of path, object or env",
                        raw.rule
                    )));
                }
            };
            let matcher = GlobBuilder::new(&glob)
                .literal_separator(true)
                .build()
                .map_err(|e| bad(format!("entry {i}: {e}")))?
                .compile_matcher();
            entries.push(AllowEntry {
                rule: raw.rule,
                target,
                glob,
                reason,
                matcher,
            });
        }
        Ok(Self { entries })
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
        let err = Allowlist::from_yaml("allow:\n  - rule: x\n    reason: r\n").unwrap_err();
        assert!(err.to_string().contains("exactly one"), "{err}");
    }
}
