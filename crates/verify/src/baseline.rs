//! `--baseline`: a previous JSON report whose findings are suppressed, so a repository with
//! known, accepted history can adopt the check and still fail on anything new. Findings are
//! matched on rule plus location, never on values (reports hold none):
//!
//! - Git: rule, blob id and line. The commit and path are attribution, which can move as refs
//!   change; the blob id pins the content.
//! - working-tree file: rule, path and line;
//! - cluster object: rule, kind, namespace, name and field;
//! - environment: rule and variable name.

use std::cell::Cell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::input_error::Indexed;
use crate::{Finding, Location, VerifyError};

/// The part of a finding that identifies it across runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Git(String, String, Option<u32>),
    File(String, String, Option<u32>),
    Object(String, String, Option<String>, String, Option<String>),
    Env(String, String),
}

fn key(f: &Finding) -> Key {
    let rule = f.rule.clone();
    match &f.location {
        Location::Git { blob, line, .. } => Key::Git(rule, blob.clone(), *line),
        Location::File { path, line } => Key::File(rule, path.clone(), *line),
        Location::Object {
            kind,
            namespace,
            name,
            field,
        } => Key::Object(
            rule,
            kind.clone(),
            namespace.clone(),
            name.clone(),
            field.clone(),
        ),
        Location::Env { name } => Key::Env(rule, name.clone()),
    }
}

/// Either a full JSON report (an object with `findings`; other keys are ignored) or a bare
/// array of findings. The index of an entry that fails to parse is recorded in `failed`, so
/// the error can name it without quoting it.
struct BaselineSeed<'a> {
    failed: &'a Cell<Option<usize>>,
}

impl<'de> DeserializeSeed<'de> for BaselineSeed<'_> {
    type Value = Vec<Finding>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BaselineSeed<'_> {
    type Value = Vec<Finding>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a ferry verify JSON report or an array of findings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Indexed::new(self.failed).visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut findings = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "findings" && findings.is_none() {
                findings = Some(map.next_value_seed(Indexed::new(self.failed))?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        findings.ok_or_else(|| serde::de::Error::missing_field("findings"))
    }
}

/// The findings of a previous report, to suppress.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    keys: HashSet<Key>,
}

impl Baseline {
    /// Reads a JSON report written by [`crate::write_report`] with [`crate::Format::Json`].
    pub fn load(path: &Path) -> Result<Self, VerifyError> {
        Self::parse(&crate::error::read_text(path)?, path)
    }

    /// Parses a JSON report.
    pub fn from_json(text: &str) -> Result<Self, VerifyError> {
        Self::parse(text, Path::new("<inline>"))
    }

    /// Parses `text`; errors name the file, the entry (`findings[3]`) and the line and
    /// column, and never quote the file (see [`crate::input_error`]).
    fn parse(text: &str, path: &Path) -> Result<Self, VerifyError> {
        let bad = |problem: crate::input_error::Problem| VerifyError::ParseBaseline {
            path: PathBuf::from(path),
            message: problem.to_string(),
        };
        // First the syntax alone (serde_json's syntax messages are fixed texts).
        serde_json::from_str::<IgnoredAny>(text)
            .map_err(|e| bad(crate::input_error::json(&e, None)))?;
        let failed = Cell::new(None);
        let mut de = serde_json::Deserializer::from_str(text);
        let findings = BaselineSeed { failed: &failed }
            .deserialize(&mut de)
            .and_then(|findings| de.end().map(|()| findings))
            .map_err(|e| {
                let entry = failed.get().map(|i| format!("findings[{i}]"));
                bad(crate::input_error::json(&e, entry))
            })?;
        Ok(Self::from_findings(&findings))
    }

    /// A baseline of the given findings.
    pub fn from_findings(findings: &[Finding]) -> Self {
        Self {
            keys: findings.iter().map(key).collect(),
        }
    }

    /// How many distinct findings the baseline holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the baseline holds no findings.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `finding` was already in the baseline.
    pub fn contains(&self, finding: &Finding) -> bool {
        self.keys.contains(&key(finding))
    }

    /// Splits findings into the new ones and the number already in the baseline.
    pub fn apply(&self, findings: Vec<Finding>) -> (Vec<Finding>, usize) {
        let before = findings.len();
        let kept: Vec<Finding> = findings.into_iter().filter(|f| !self.contains(f)).collect();
        let suppressed = before - kept.len();
        (kept, suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_on_rule_and_location_not_message_or_attribution() {
        let old = Finding::new(
            "known-value",
            Location::Git {
                commit: Some("a".into()),
                path: "x.yaml".into(),
                line: Some(3),
                blob: "b1".into(),
            },
            "known value #0 found verbatim",
        );
        let json = format!(
            "{{\"findings\": [{}]}}",
            serde_json::to_string(&old).unwrap()
        );
        let base = Baseline::from_json(&json).unwrap();
        let mut moved = old.clone();
        if let Location::Git { commit, path, .. } = &mut moved.location {
            *commit = Some("c".into());
            *path = "renamed.yaml".into();
        }
        moved.message = "different words".into();
        assert!(base.contains(&moved));
        let mut other_line = old.clone();
        if let Location::Git { line, .. } = &mut other_line.location {
            *line = Some(4);
        }
        assert!(!base.contains(&other_line));
        assert!(Baseline::from_json("{\"nope\": 1}").is_err());
        let bare = format!("[{}]", serde_json::to_string(&old).unwrap());
        assert_eq!(Baseline::from_json(&bare).unwrap().len(), 1);
        let extra = format!("{{\"tool\": {{\"x\": [1]}}, \"findings\": {bare}}}");
        assert_eq!(Baseline::from_json(&extra).unwrap().len(), 1);
    }

    #[test]
    fn errors_name_entry_and_position_never_content() {
        let good = r#"{"rule":"known-value","location":{"type":"env","name":"A"},"message":"m"}"#;
        for t in [
            "ghp_PLANTEDtoken0123456789abcdefghijklmn",
            "Zq8rT5wK-planted-password",
        ] {
            let cases = [
                (
                    format!(r#"{{"findings": [{good}, {{"rule": 1, "{t}": 2}}]}}"#),
                    "findings[1]",
                ),
                (
                    format!(r#"[{good}, {good}, {{"rule":"{t}","location":"{t}"}}]"#),
                    "findings[2]",
                ),
                (
                    format!(
                        r#"[{{"rule":"r","location":{{"type":"{t}","name":"x"}},"message":"m"}}]"#
                    ),
                    "unknown variant",
                ),
                (format!(r#"{{"findings": "{t}"}}"#), "invalid type: string"),
                (format!(r#"{{"findings": [{good}], "{t}": "#), "line 1"),
                (format!(r#"["{t}"#), "line 1"),
                (t.to_owned(), "expected value"),
                (format!(r#"{{"{t}": 1}}"#), "missing field `findings`"),
                (format!(r#"[{good}] "{t}""#), "trailing characters"),
            ];
            for (json, want) in cases {
                let err = Baseline::from_json(&json).unwrap_err();
                let text = format!("{err} | {err:?}");
                assert!(!text.contains(&t[..10]), "{t} echoed: {text}");
                assert!(text.contains(want), "{want:?} missing: {text}");
                assert!(text.contains("<inline>"), "{text}");
                assert!(std::error::Error::source(&err).is_none());
            }
        }
    }
}
