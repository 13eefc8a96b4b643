//! The five policy templates: names, embedded sources and loading from a
//! directory.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::error::PolicyError;

/// One of Ferry's policy templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Template {
    /// `agent.hcl`: read + list on the KV paths the agent's stores use.
    Agent,
    /// `bootstrap.hcl`: what bootstrap phases 1 to 4 need.
    Bootstrap,
    /// `app-readonly.hcl`: read on one application's declared paths.
    AppReadonly,
    /// `namespace-scoped.hcl`: a service account reads only
    /// `<mount>/data/<its namespace>/*`, by Vault identity templating.
    NamespaceScoped,
    /// `push.hcl`: what a PushSecret's store needs to write its declared paths.
    Push,
}

impl Template {
    /// Every template, in a stable order.
    pub const ALL: [Template; 5] = [
        Template::Agent,
        Template::Bootstrap,
        Template::AppReadonly,
        Template::NamespaceScoped,
        Template::Push,
    ];

    /// The short name: `agent`, `bootstrap`, `app-readonly`,
    /// `namespace-scoped`, `push`.
    pub fn name(self) -> &'static str {
        match self {
            Template::Agent => "agent",
            Template::Bootstrap => "bootstrap",
            Template::AppReadonly => "app-readonly",
            Template::NamespaceScoped => "namespace-scoped",
            Template::Push => "push",
        }
    }

    /// The file name in `policies/`: the short name plus `.hcl`.
    pub fn file_name(self) -> &'static str {
        match self {
            Template::Agent => "agent.hcl",
            Template::Bootstrap => "bootstrap.hcl",
            Template::AppReadonly => "app-readonly.hcl",
            Template::NamespaceScoped => "namespace-scoped.hcl",
            Template::Push => "push.hcl",
        }
    }

    /// Whether the policy only reads (lint rejects write capabilities in it).
    pub fn is_read_only(self) -> bool {
        !matches!(self, Template::Bootstrap | Template::Push)
    }

    /// Whether the policy is a push store's (lint checks that each pushed path has what a
    /// push needs).
    pub fn is_push(self) -> bool {
        self == Template::Push
    }

    /// The template text compiled into the binary.
    pub fn source(self) -> &'static str {
        match self {
            Template::Agent => include_str!("../../../policies/agent.hcl"),
            Template::Bootstrap => include_str!("../../../policies/bootstrap.hcl"),
            Template::AppReadonly => include_str!("../../../policies/app-readonly.hcl"),
            Template::NamespaceScoped => include_str!("../../../policies/namespace-scoped.hcl"),
            Template::Push => include_str!("../../../policies/push.hcl"),
        }
    }

    /// Reads the template's file ([`Template::file_name`]) from `dir`, for
    /// edited copies of the templates.
    pub fn read_from(self, dir: &Path) -> Result<String, PolicyError> {
        let path = dir.join(self.file_name());
        std::fs::read_to_string(&path).map_err(|source| PolicyError::ReadTemplate { path, source })
    }

    /// The template text: read from `dir` when given, else the compiled-in
    /// copy.
    pub fn load(self, dir: Option<&Path>) -> Result<Cow<'static, str>, PolicyError> {
        match dir {
            Some(dir) => self.read_from(dir).map(Cow::Owned),
            None => Ok(Cow::Borrowed(self.source())),
        }
    }

    /// The policy name Ferry writes this template under: `ferry-agent`,
    /// `ferry-bootstrap`, `ferry-app-<app>`, `ferry-namespace-scoped`, `ferry-push`.
    pub fn policy_name(self, app: Option<&str>) -> String {
        match (self, app) {
            (Template::AppReadonly, Some(app)) => format!("ferry-app-{app}"),
            _ => format!("ferry-{}", self.name()),
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Template {
    type Err = PolicyError;

    /// Accepts the short name or the file name (`agent` or `agent.hcl`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.strip_suffix(".hcl").unwrap_or(s);
        Template::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| PolicyError::SelectTemplate {
                name: s.to_owned(),
                expected: Template::ALL.map(Template::name).join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in Template::ALL {
            assert_eq!(t.name().parse::<Template>().unwrap(), t);
            assert_eq!(t.file_name().parse::<Template>().unwrap(), t);
            assert_eq!(t.to_string(), t.name());
        }
        let err = "admin".parse::<Template>().unwrap_err().to_string();
        assert!(
            err.contains("`admin`") && err.contains("namespace-scoped"),
            "{err}"
        );
    }

    #[test]
    fn reads_the_repository_copies() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
        for t in Template::ALL {
            assert_eq!(t.read_from(&dir).unwrap(), t.source());
            assert_eq!(t.load(Some(&dir)).unwrap(), t.source());
            assert_eq!(t.load(None).unwrap(), t.source());
        }
        let err = Template::Agent
            .read_from(Path::new("/nonexistent"))
            .unwrap_err();
        assert!(matches!(err, PolicyError::ReadTemplate { .. }));
    }

    #[test]
    fn policy_names() {
        assert_eq!(Template::Agent.policy_name(None), "ferry-agent");
        assert_eq!(
            Template::AppReadonly.policy_name(Some("shop")),
            "ferry-app-shop"
        );
    }
}
