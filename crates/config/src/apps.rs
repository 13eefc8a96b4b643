//! The `apps` section: per application, the identity that may read its KV paths and
//! the ExternalSecrets phase 4 creates or waits for.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One application: its namespace and ServiceAccount, the KV paths it may read, and its
/// ExternalSecrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppConfig {
    /// The app's name: a DNS label, unique in the file. Names its Vault policy and role.
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"))]
    pub name: String,
    /// The namespace the app and its ExternalSecrets live in.
    pub namespace: String,
    /// The ServiceAccount the app's Vault role is bound to.
    pub service_account: String,
    /// KV paths the app may read, relative to the KV mount: exact paths (`myapp/db`) or
    /// prefixes ending in `/*` (`myapp/*`). At least one.
    #[schemars(length(min = 1))]
    pub paths: Vec<String>,
    /// The app's ExternalSecrets.
    #[serde(default)]
    pub external_secrets: Vec<AppExternalSecret>,
}

/// An ExternalSecret of an app: created by phase 4 (with `create`) or, without it,
/// committed to Git, applied by Flux and awaited until Ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppExternalSecret {
    /// The ExternalSecret's name, in the app's namespace.
    pub name: String,
    /// What to create; omit it for an ExternalSecret that Flux applies from Git.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<CreateSpec>,
}

/// The content of an ExternalSecret that phase 4 creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSpec {
    /// The name of the Kubernetes Secret to produce. Default: the ExternalSecret's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The Secret's keys and where each comes from. At least one.
    #[schemars(length(min = 1))]
    pub data: Vec<DataItem>,
}

/// One key of the produced Secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataItem {
    /// The key in the Kubernetes Secret.
    pub secret_key: String,
    /// The KV secret path, relative to the KV mount; must be covered by the app's `paths`.
    pub key: String,
    /// The key inside the KV secret. Without it, the whole KV secret is written as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
}

impl CreateSpec {
    /// The produced Secret's name: `target`, or else `external_secret_name`.
    pub fn target_name<'a>(&'a self, external_secret_name: &'a str) -> &'a str {
        self.target.as_deref().unwrap_or(external_secret_name)
    }
}

impl AppConfig {
    /// Whether `kv_path` (relative to the mount) is one of the app's paths or lies under
    /// one of its `prefix/*` entries.
    pub fn covers(&self, kv_path: &str) -> bool {
        self.paths
            .iter()
            .any(|allowed| path_covers(allowed, kv_path))
    }
}

/// Whether the `paths` entry `allowed` covers `kv_path`.
pub(crate) fn path_covers(allowed: &str, kv_path: &str) -> bool {
    match allowed.strip_suffix("/*") {
        Some(prefix) => kv_path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.len() > 1 && rest.starts_with('/')),
        None => allowed == kv_path,
    }
}
