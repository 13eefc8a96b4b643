//! The policy linter: parses the real HCL and reports [`Finding`]s with
//! source lines.
//!
//! Rules ([`Rule`]): `parse` (not valid HCL), `invalid-policy` (valid HCL,
//! not a policy), `sudo`, `root-glob`, `write-in-read-only`,
//! `outside-mount`, `unknown-capability`, and the KV write rules of
//! [`crate::lint_push`]: `push-missing-capability` and `write-whole-mount`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::error::PolicyError;
use crate::lint_push;
use crate::params::PolicyParams;
use crate::parse::{PathRule, parse};
use crate::template::Template;

/// Capabilities Vault or OpenBao accept (`scan` is OpenBao's, `subscribe`
/// and `recover` are Vault's).
pub const KNOWN_CAPABILITIES: [&str; 11] = [
    "create",
    "read",
    "update",
    "patch",
    "delete",
    "list",
    "scan",
    "sudo",
    "deny",
    "subscribe",
    "recover",
];

/// Capabilities that change data, forbidden in read-only policies
/// (`recover` writes a snapshot's data back).
pub const WRITE_CAPABILITIES: [&str; 5] = ["create", "update", "patch", "delete", "recover"];

/// A lint rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// The file is not valid HCL.
    Parse,
    /// Valid HCL that is not a policy: a `path` block without one label, a
    /// non-list `capabilities`, a top-level item other than `path`.
    InvalidPolicy,
    /// `sudo` on a path not explicitly allowed to have it.
    Sudo,
    /// A glob at the root: `*`, `+/...`, a first segment with a glob, or a
    /// glob right under `sys/`, `auth/` or `identity/`.
    RootGlob,
    /// A write capability in a policy declared read-only.
    WriteInReadOnly,
    /// A path neither under a declared KV mount nor under an allowed prefix.
    OutsideMount,
    /// A capability Vault does not know.
    UnknownCapability,
    /// A push store's policy lacks what a push needs on a path it pushes.
    PushMissingCapability,
    /// A write capability on every secret of a KV mount (a glob right under it).
    WriteWholeMount,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Rule; 9] = [
        Rule::Parse,
        Rule::InvalidPolicy,
        Rule::Sudo,
        Rule::RootGlob,
        Rule::WriteInReadOnly,
        Rule::OutsideMount,
        Rule::UnknownCapability,
        Rule::PushMissingCapability,
        Rule::WriteWholeMount,
    ];

    /// The rule's name as printed: `parse`, `invalid-policy`, `sudo`,
    /// `root-glob`, `write-in-read-only`, `outside-mount`,
    /// `unknown-capability`, `push-missing-capability`, `write-whole-mount`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Parse => "parse",
            Rule::InvalidPolicy => "invalid-policy",
            Rule::Sudo => "sudo",
            Rule::RootGlob => "root-glob",
            Rule::WriteInReadOnly => "write-in-read-only",
            Rule::OutsideMount => "outside-mount",
            Rule::UnknownCapability => "unknown-capability",
            Rule::PushMissingCapability => "push-missing-capability",
            Rule::WriteWholeMount => "write-whole-mount",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One problem in one policy file. Displays as `file:line: rule: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file (or template) name given to [`lint`].
    pub file: String,
    /// One-based line.
    pub line: usize,
    /// The rule broken.
    pub rule: Rule,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.rule, self.message
        )
    }
}

/// What the linter expects of the files it checks. Per-file settings are
/// keyed by file name (the last component of the `file` given to [`lint`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LintConfig {
    /// The declared KV mounts. Every path must be under one of them or under
    /// one of the file's allowed prefixes; empty disables `outside-mount`.
    pub mounts: Vec<String>,
    /// Names of the files that are read-only policies.
    pub read_only: Vec<String>,
    /// Per file, non-KV path prefixes it may use (e.g. `auth/token`); a
    /// prefix covers itself and everything under `<prefix>/`.
    pub allowed_prefixes: BTreeMap<String, Vec<String>>,
    /// Per file, the exact paths on which `sudo` is accepted.
    pub sudo_paths: BTreeMap<String, Vec<String>>,
    /// Names of the files that are push stores' policies (`push-missing-capability`).
    pub push: Vec<String>,
    /// Whether the mounts are KV v1 (paths directly under the mount) rather than v2.
    pub kv_v1: bool,
}

impl LintConfig {
    /// The configuration for Ferry's templates rendered with `params`: the
    /// KV mount is `params.mount`; agent, app-readonly and namespace-scoped
    /// are read-only; bootstrap may use the `sys/` and `auth/` paths its
    /// phases need, and `sudo` on `sys/auth/<kubernetes mount>` only; push is a push
    /// store's policy.
    pub fn for_params(params: &PolicyParams) -> LintConfig {
        let k8s = &params.kubernetes_mount;
        let bootstrap = Template::Bootstrap.file_name().to_owned();
        LintConfig {
            mounts: vec![params.mount.clone()],
            read_only: Template::ALL
                .into_iter()
                .filter(|t| t.is_read_only())
                .map(|t| t.file_name().to_owned())
                .collect(),
            allowed_prefixes: BTreeMap::from([(
                bootstrap.clone(),
                vec![
                    "sys/mounts".to_owned(),
                    "sys/auth".to_owned(),
                    "sys/policies/acl".to_owned(),
                    "sys/policy".to_owned(),
                    format!("auth/{k8s}"),
                    "auth/token".to_owned(),
                ],
            )]),
            sudo_paths: BTreeMap::from([(bootstrap, vec![format!("sys/auth/{k8s}")])]),
            push: Template::ALL
                .into_iter()
                .filter(|t| t.is_push())
                .map(|t| t.file_name().to_owned())
                .collect(),
            kv_v1: params.kv_version == crate::KvVersion::V1,
        }
    }

    /// Marks `file` as a push store's policy (builder style).
    pub fn with_push(mut self, file: impl Into<String>) -> LintConfig {
        self.push.push(file.into());
        self
    }

    /// Marks `file` as a read-only policy (builder style).
    pub fn with_read_only(mut self, file: impl Into<String>) -> LintConfig {
        self.read_only.push(file.into());
        self
    }
}

/// The name per-file settings are looked up by: the last path component.
fn base_name(file: &str) -> &str {
    Path::new(file)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(file)
}

/// Lints one policy. `file` names it in the findings and selects its
/// per-file settings in `rules`. Findings come sorted by line.
pub fn lint(source: &str, file: &str, rules: &LintConfig) -> Vec<Finding> {
    let finding = |line: usize, rule: Rule, message: String| Finding {
        file: file.to_owned(),
        line,
        rule,
        message,
    };
    let policy = match parse(source, file) {
        Ok(policy) => policy,
        Err(PolicyError::Parse {
            line,
            column,
            message,
            ..
        }) => {
            return vec![finding(
                line,
                Rule::Parse,
                format!("invalid HCL at column {column}: {message}"),
            )];
        }
        Err(other) => return vec![finding(1, Rule::Parse, other.to_string())],
    };
    let name = base_name(file);
    let ctx = FileRules {
        read_only: rules.read_only.iter().any(|f| f == name),
        mounts: &rules.mounts,
        prefixes: rules.allowed_prefixes.get(name).map_or(&[], Vec::as_slice),
        sudo_paths: rules.sudo_paths.get(name).map_or(&[], Vec::as_slice),
    };
    let mut findings: Vec<Finding> = policy
        .problems
        .into_iter()
        .map(|(line, message)| finding(line, Rule::InvalidPolicy, message))
        .collect();
    for rule in &policy.paths {
        for (line, r, message) in ctx.check(rule) {
            findings.push(finding(line, r, message));
        }
        if let Some(message) = lint_push::whole_mount(rule, &rules.mounts, rules.kv_v1) {
            findings.push(finding(rule.line, Rule::WriteWholeMount, message));
        }
    }
    if rules.push.iter().any(|f| f == name) {
        for (line, r, message) in lint_push::push_paths(&policy.paths, &rules.mounts, rules.kv_v1) {
            findings.push(finding(line, r, message));
        }
    }
    findings.sort_by_key(|f| (f.line, f.rule));
    findings
}

/// The settings that apply to one file.
struct FileRules<'a> {
    read_only: bool,
    mounts: &'a [String],
    prefixes: &'a [String],
    sudo_paths: &'a [String],
}

impl FileRules<'_> {
    fn check(&self, rule: &PathRule) -> Vec<(usize, Rule, String)> {
        let path = rule.path.as_str();
        let mut out = Vec::new();
        if let Some(why) = root_glob(path) {
            out.push((rule.line, Rule::RootGlob, format!("`{path}` {why}")));
        }
        if !self.mounts.is_empty() && !self.inside(path) {
            let mounts = self.mounts.join("`, `");
            out.push((
                rule.line,
                Rule::OutsideMount,
                format!("`{path}` is outside the KV mount `{mounts}` and the allowed prefixes"),
            ));
        }
        for cap in &rule.capabilities {
            let c = cap.name.as_str();
            if !KNOWN_CAPABILITIES.contains(&c) {
                out.push((
                    cap.line,
                    Rule::UnknownCapability,
                    format!("`{c}` on `{path}` is not a Vault capability"),
                ));
            }
            if c == "sudo" && !self.sudo_paths.iter().any(|p| p == path) {
                out.push((
                    cap.line,
                    Rule::Sudo,
                    format!("`sudo` on `{path}` grants root-protected operations"),
                ));
            }
            if self.read_only && WRITE_CAPABILITIES.contains(&c) {
                out.push((
                    cap.line,
                    Rule::WriteInReadOnly,
                    format!("`{c}` on `{path}` in a read-only policy"),
                ));
            }
        }
        out
    }

    /// Under a declared mount, or under (or equal to) an allowed prefix.
    fn inside(&self, path: &str) -> bool {
        let under = |prefix: &str| {
            let prefix = prefix.trim_end_matches('/');
            path == prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        self.mounts
            .iter()
            .any(|m| under(m) && path.len() > m.trim_end_matches('/').len())
            || self.prefixes.iter().any(|p| under(p))
    }
}

/// Why `path` is a root-level glob, if it is one.
fn root_glob(path: &str) -> Option<&'static str> {
    let is_glob = |segment: &str| segment == "+" || segment.contains('*');
    let mut segments = path.split('/');
    let first = segments.next().unwrap_or_default();
    if is_glob(first) {
        return Some("has a glob in its first segment: it matches every mount");
    }
    let second = segments.next().unwrap_or_default();
    if matches!(first, "sys" | "auth" | "identity") && is_glob(second) {
        return Some("has a glob right under a system backend");
    }
    None
}

#[cfg(test)]
#[path = "lint_tests.rs"]
mod tests;
