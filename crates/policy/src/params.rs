//! [`PolicyParams`]: the values the templates are rendered with.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The KV secrets engine version of the mount.
///
/// In serialized parameters it is written `2`, `"2"` or `"v2"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "RawKvVersion", into = "u8")]
pub enum KvVersion {
    /// KV v1: secrets live directly under `<mount>/`.
    V1,
    /// KV v2 (the default): values under `<mount>/data/`, versions under
    /// `<mount>/metadata/`.
    #[default]
    V2,
}

/// How a KV version may be written in a parameters file.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawKvVersion {
    Number(u64),
    Text(String),
}

impl TryFrom<RawKvVersion> for KvVersion {
    type Error = String;

    fn try_from(raw: RawKvVersion) -> Result<Self, Self::Error> {
        match raw {
            RawKvVersion::Number(n) => n.to_string().parse(),
            RawKvVersion::Text(s) => s.parse(),
        }
    }
}

impl From<KvVersion> for u8 {
    fn from(v: KvVersion) -> u8 {
        match v {
            KvVersion::V1 => 1,
            KvVersion::V2 => 2,
        }
    }
}

impl fmt::Display for KvVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KvVersion::V1 => "1",
            KvVersion::V2 => "2",
        })
    }
}

impl FromStr for KvVersion {
    type Err = String;

    /// Accepts `1`, `v1`, `2` or `v2`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1" | "v1" => Ok(KvVersion::V1),
            "2" | "v2" => Ok(KvVersion::V2),
            other => Err(format!("unknown KV version `{other}` (expected 1 or 2)")),
        }
    }
}

/// One application's read-only policy: its name and declared KV paths.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AppParams {
    /// The application's name (`[[ app ]]`).
    pub name: String,
    /// Paths inside the KV mount it may read, e.g. `shop/db` or `shop/*`
    /// (`[[ for path in app_paths ]]`).
    pub paths: Vec<String>,
}

/// Everything the templates can refer to. A template only needs the
/// parameters it uses; a missing one is a [`crate::PolicyError::Render`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyParams {
    /// The KV mount, e.g. `secret` (`[[ mount ]]`).
    pub mount: String,
    /// The KV engine version (`[[ kv_version ]]`, flags `kv_v1` / `kv_v2`).
    pub kv_version: KvVersion,
    /// KV paths the agent's stores read (`agent_paths`), relative to the
    /// mount; a trailing `/*` covers a folder.
    pub agent_paths: Vec<String>,
    /// KV paths bootstrap writes its declared values to (`bootstrap_paths`).
    pub bootstrap_paths: Vec<String>,
    /// KV paths a push store writes (`push_paths`), relative to the mount; a trailing `/*`
    /// covers a folder.
    pub push_paths: Vec<String>,
    /// The Ferry-managed policy names bootstrap may write (`policy_names`).
    pub policy_names: Vec<String>,
    /// The Kubernetes auth mount, e.g. `kubernetes` (`[[ kubernetes_mount ]]`).
    pub kubernetes_mount: String,
    /// The accessor of the Kubernetes auth mount, e.g.
    /// `auth_kubernetes_1a2b3c4d` (`[[ kubernetes_accessor ]]`); needed by
    /// the namespace-scoped template only.
    pub kubernetes_accessor: Option<String>,
    /// The application of the app-readonly template (`[[ app ]]`,
    /// `app_paths`).
    pub app: Option<AppParams>,
}

impl Default for PolicyParams {
    fn default() -> Self {
        PolicyParams {
            mount: "secret".to_owned(),
            kv_version: KvVersion::V2,
            agent_paths: Vec::new(),
            bootstrap_paths: Vec::new(),
            push_paths: Vec::new(),
            policy_names: Vec::new(),
            kubernetes_mount: "kubernetes".to_owned(),
            kubernetes_accessor: None,
            app: None,
        }
    }
}

/// A parameter value as the renderer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// A single string, substituted by `[[ name ]]`.
    Text(String),
    /// A list, iterated by `# [[ for x in name ]]`.
    List(Vec<String>),
    /// A flag, tested by `# [[ if name ]]`.
    Flag(bool),
}

impl PolicyParams {
    /// The parameters by template name. Absent optional values are left out
    /// so that using them is reported as missing.
    pub(crate) fn values(&self) -> BTreeMap<&'static str, Value> {
        let mut v = BTreeMap::new();
        let text = |s: &str| Value::Text(s.to_owned());
        v.insert("mount", text(&self.mount));
        v.insert("kv_version", Value::Text(self.kv_version.to_string()));
        v.insert("kv_v1", Value::Flag(self.kv_version == KvVersion::V1));
        v.insert("kv_v2", Value::Flag(self.kv_version == KvVersion::V2));
        v.insert("agent_paths", Value::List(self.agent_paths.clone()));
        v.insert("bootstrap_paths", Value::List(self.bootstrap_paths.clone()));
        v.insert("push_paths", Value::List(self.push_paths.clone()));
        v.insert("policy_names", Value::List(self.policy_names.clone()));
        v.insert("kubernetes_mount", text(&self.kubernetes_mount));
        if let Some(accessor) = &self.kubernetes_accessor {
            v.insert("kubernetes_accessor", text(accessor));
        }
        if let Some(app) = &self.app {
            v.insert("app", text(&app.name));
            v.insert("app_paths", Value::List(app.paths.clone()));
        }
        v
    }
}

impl PolicyParams {
    /// The parameters bootstrap.yaml implies: its KV mount and version, its Kubernetes auth
    /// mount, the paths the agent's stores read (every app path and every declared env path),
    /// the paths bootstrap writes (the env paths), the Ferry-managed policy names (the agent's
    /// and one per app), and, when `app` is given, that app's paths.
    pub fn from_config(
        cfg: &ferry_config::BootstrapConfig,
        app: Option<&str>,
    ) -> Result<PolicyParams, crate::PolicyError> {
        let env_paths: Vec<String> = cfg.env.iter().map(|e| e.path.clone()).collect();
        let mut agent_paths: Vec<String> = env_paths.clone();
        agent_paths.extend(cfg.apps.iter().flat_map(|a| a.paths.iter().cloned()));
        dedup(&mut agent_paths);
        let mut bootstrap_paths = env_paths;
        dedup(&mut bootstrap_paths);
        let mut policy_names = vec![cfg.agent.policy.clone()];
        policy_names.extend(
            cfg.apps
                .iter()
                .map(|a| crate::Template::AppReadonly.policy_name(Some(&a.name))),
        );
        let app = match app {
            None => None,
            Some(name) => {
                let found = cfg.apps.iter().find(|a| a.name == name).ok_or_else(|| {
                    crate::PolicyError::SelectApp {
                        name: name.to_string(),
                        known: cfg
                            .apps
                            .iter()
                            .map(|a| a.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    }
                })?;
                Some(AppParams {
                    name: found.name.clone(),
                    paths: found.paths.clone(),
                })
            }
        };
        Ok(PolicyParams {
            mount: cfg.kv.mount.clone(),
            kv_version: match cfg.kv.version {
                ferry_config::KvVersion::V1 => KvVersion::V1,
                ferry_config::KvVersion::V2 => KvVersion::V2,
            },
            agent_paths,
            bootstrap_paths,
            push_paths: Vec::new(),
            policy_names,
            kubernetes_mount: cfg.kubernetes_auth.mount.clone(),
            kubernetes_accessor: None,
            app,
        })
    }
}

fn dedup(paths: &mut Vec<String>) {
    paths.sort();
    paths.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_versions() {
        assert_eq!("v1".parse::<KvVersion>().unwrap(), KvVersion::V1);
        assert_eq!("2".parse::<KvVersion>().unwrap(), KvVersion::V2);
        assert!("3".parse::<KvVersion>().is_err());
        assert_eq!(KvVersion::default(), KvVersion::V2);
    }

    #[test]
    fn optional_values_are_absent() {
        let v = PolicyParams::default().values();
        assert!(!v.contains_key("kubernetes_accessor"));
        assert!(!v.contains_key("app"));
        assert_eq!(v.get("kv_v2"), Some(&Value::Flag(true)));
    }
}
