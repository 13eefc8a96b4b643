//! `--baseline`: a previous JSON report whose findings are suppressed, so a repository with
//! known, accepted history can adopt the check and still fail on anything new. Findings are
//! matched on rule plus location, never on values (reports hold none):
//!
//! - Git: rule, blob id and line. The commit and path are attribution, which can move as refs
//!   change; the blob id pins the content.
//! - working-tree file: rule, path and line;
//! - cluster object: rule, kind, namespace, name and field;
//! - environment: rule and variable name.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

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

/// Either a full JSON report or a bare array of findings.
#[derive(Deserialize)]
#[serde(untagged)]
enum BaselineFile {
    Report { findings: Vec<Finding> },
    Bare(Vec<Finding>),
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

    fn parse(text: &str, path: &Path) -> Result<Self, VerifyError> {
        let file: BaselineFile =
            serde_json::from_str(text).map_err(|source| VerifyError::ParseBaseline {
                path: PathBuf::from(path),
                source,
            })?;
        let findings = match file {
            BaselineFile::Report { findings } | BaselineFile::Bare(findings) => findings,
        };
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
    }
}
