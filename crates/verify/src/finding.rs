//! What `ferry verify` reports: a [`Finding`] names a rule and a place, never a value. The
//! [`Location`] variants cover the Git half (blobs in history, files in the working tree) and the
//! cluster and environment checks, which build findings with [`Location::Object`] and
//! [`Location::Env`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// One thing `ferry verify` found. Its message says what was found and where, but never contains
/// the value, a prefix of it, or a hash of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Finding {
    /// The stable rule id, e.g. `known-value` (see [`crate::rules`]).
    pub rule: String,
    /// Where it was found.
    pub location: Location,
    /// What was found, in words, without the value.
    pub message: String,
}

impl Finding {
    /// A finding for `rule` at `location`.
    pub fn new(rule: impl Into<String>, location: Location, message: impl Into<String>) -> Self {
        Self {
            rule: rule.into(),
            location,
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.rule, self.location, self.message)
    }
}

/// Sorts findings for reading: by path (Git and working-tree findings of one file together),
/// line, rule, then the rest of the location. Cluster and environment findings come last.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        sort_key(a)
            .cmp(&sort_key(b))
            .then_with(|| a.location.cmp(&b.location))
    });
}

fn sort_key(f: &Finding) -> (bool, Option<&str>, Option<u32>, &str) {
    let path = f.location.path();
    (path.is_none(), path, f.location.line(), &f.rule)
}

/// Where a finding is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Location {
    /// A blob in the Git object store.
    Git {
        /// The first commit (oldest by committer time) whose tree holds the blob; `None` for an
        /// unreachable blob or one reachable only through a tag or ref that points at a tree.
        commit: Option<String>,
        /// The blob's path in that commit's tree, or `unreachable blob <id>`.
        path: String,
        /// 1-based line within the blob, when the rule has one.
        line: Option<u32>,
        /// The blob's object id (hex).
        blob: String,
    },
    /// A file in the working tree, by path relative to the repository root.
    File {
        /// Path relative to the scanned root, `/`-separated.
        path: String,
        /// 1-based line within the file, when the rule has one.
        line: Option<u32>,
    },
    /// A Kubernetes object (for the cluster checks).
    Object {
        /// The object's kind, e.g. `ConfigMap`.
        kind: String,
        /// Its namespace, `None` when cluster-scoped.
        namespace: Option<String>,
        /// Its name.
        name: String,
        /// The field, e.g. `data.password` or `spec.containers[0].env[2]`, when there is one.
        field: Option<String>,
    },
    /// An environment variable of the current process (for the environment check).
    Env {
        /// The variable's name.
        name: String,
    },
}

impl Location {
    /// The path of a Git or File location, for allowlist globs and SARIF artifact locations.
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::Git { path, .. } | Self::File { path, .. } => Some(path),
            Self::Object { .. } | Self::Env { .. } => None,
        }
    }

    /// The 1-based line of a Git or File location, if it has one.
    pub fn line(&self) -> Option<u32> {
        match self {
            Self::Git { line, .. } | Self::File { line, .. } => *line,
            Self::Object { .. } | Self::Env { .. } => None,
        }
    }

    /// `Kind/namespace/name` (or `Kind/name` when cluster-scoped) of an Object location, which
    /// allowlist `object` globs match against.
    pub fn object_ref(&self) -> Option<String> {
        match self {
            Self::Object {
                kind,
                namespace,
                name,
                ..
            } => Some(match namespace {
                Some(ns) => format!("{kind}/{ns}/{name}"),
                None => format!("{kind}/{name}"),
            }),
            _ => None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Git {
                commit,
                path,
                line,
                blob,
            } => {
                write!(f, "{path}")?;
                if let Some(line) = line {
                    write!(f, ":{line}")?;
                }
                match commit {
                    Some(c) => write!(f, " (commit {}, blob {})", short(c), short(blob)),
                    None => write!(f, " (blob {})", short(blob)),
                }
            }
            Self::File { path, line } => match line {
                Some(line) => write!(f, "{path}:{line} (working tree)"),
                None => write!(f, "{path} (working tree)"),
            },
            Self::Object { field, .. } => {
                write!(f, "{}", self.object_ref().unwrap_or_default())?;
                if let Some(field) = field {
                    write!(f, " {field}")?;
                }
                Ok(())
            }
            Self::Env { name } => write!(f, "environment variable {name}"),
        }
    }
}

/// The first 12 hex digits of an object id, as `git log --abbrev=12` would show.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_json_shape() {
        let f = Finding::new(
            "github-token",
            Location::Git {
                commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
                path: "a/b.yaml".into(),
                line: Some(3),
                blob: "89abcdef0123456789abcdef0123456789abcdef".into(),
            },
            "GitHub token with a valid checksum",
        );
        assert_eq!(
            f.to_string(),
            "github-token: a/b.yaml:3 (commit 0123456789ab, blob 89abcdef0123): \
             GitHub token with a valid checksum"
        );
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["location"]["type"], "git");
        let back: Finding = serde_json::from_value(json).unwrap();
        assert_eq!(back, f);
        let o = Location::Object {
            kind: "ConfigMap".into(),
            namespace: Some("apps".into()),
            name: "web".into(),
            field: Some("data.config".into()),
        };
        assert_eq!(o.to_string(), "ConfigMap/apps/web data.config");
    }
}
