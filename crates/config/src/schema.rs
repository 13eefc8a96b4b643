//! The top of the schema: [`BootstrapConfig`] and its Vault, init, KV, Kubernetes
//! auth and agent sections.
//!
//! Keys are camelCase in YAML and every struct denies unknown keys, so a typo is a
//! parse error with a line and column. The `env`, `flux`, `argocd` and `apps` sections live
//! in [`crate::env`], [`crate::flux`], [`crate::argocd`] and [`crate::apps`].

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::apps::AppConfig;
use crate::argocd::ArgoCdConfig;
use crate::env::EnvEntry;
use crate::flux::FluxConfig;

/// The whole of `bootstrap.yaml`: what `ferry bootstrap` sets up, and which environment
/// variables supply the values. It names variables; it never holds a secret value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    title = "Ferry bootstrap.yaml",
    extend("anyOf" = [{ "required": ["flux"] }, { "required": ["argocd"] }])
)]
pub struct BootstrapConfig {
    /// How to reach Vault or OpenBao.
    pub vault: VaultConfig,
    /// How to initialise Vault when it is uninitialised, and to whom the init material is sealed.
    pub init: InitConfig,
    /// The KV secrets engine that holds every value.
    #[serde(default)]
    pub kv: KvConfig,
    /// The Kubernetes auth method the agent logs in with.
    #[serde(default)]
    pub kubernetes_auth: KubernetesAuthConfig,
    /// The environment variables read once in phase 2, and where each value goes in KV.
    #[serde(default)]
    pub env: Vec<EnvEntry>,
    /// Flux's Git credentials, which phase 3 moves behind an ExternalSecret. At least one
    /// of `flux` and `argocd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flux: Option<FluxConfig>,
    /// Argo CD's repository Secrets, which phase 3 moves behind ExternalSecrets. At least
    /// one of `flux` and `argocd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argocd: Option<ArgoCdConfig>,
    /// The in-cluster agent's identity, store and Vault role.
    #[serde(default)]
    pub agent: AgentConfig,
    /// The applications whose secrets phase 4 wires up.
    #[serde(default)]
    pub apps: Vec<AppConfig>,
}

/// How to reach Vault or OpenBao.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultConfig {
    /// The API address, `http://` or `https://`, e.g. `https://vault.example.com:8200`.
    #[schemars(regex(pattern = r"^https?://"))]
    pub address: String,
    /// A PEM file of CA certificates to trust for `address`. At most one of `caFile` and `caPem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The same CA certificates inline, as PEM `CERTIFICATE` blocks (public, not secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// The Vault Enterprise / OpenBao namespace to work in, e.g. `admin/team-a`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Vault initialisation: the Shamir split and the age recipients of the init bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InitConfig {
    /// Number of unseal key shares (1 to 255).
    #[serde(default = "default_key_shares")]
    #[schemars(range(min = 1))]
    pub key_shares: u8,
    /// Number of shares needed to unseal: at least 1, at most `keyShares`, and at least 2
    /// when `keyShares` is more than 1.
    #[serde(default = "default_key_threshold")]
    #[schemars(range(min = 1))]
    pub key_threshold: u8,
    /// Who can open the init bundle: age x25519 recipients (`age1…`) or SSH public keys
    /// (`ssh-ed25519 …`, `ssh-rsa …`). At least one.
    #[schemars(length(min = 1))]
    pub recipients: Vec<String>,
    /// Where the age-encrypted init bundle (unseal keys and root token) is written.
    pub bundle: BundleConfig,
}

fn default_key_shares() -> u8 {
    5
}

fn default_key_threshold() -> u8 {
    3
}

/// Destinations of the age-encrypted init bundle; at least one of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub struct BundleConfig {
    /// A local file to write the bundle to (ASCII-armored age).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// A Kubernetes Secret to store the bundle in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretRef>,
}

/// A namespaced Kubernetes Secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRef {
    /// The Secret's namespace.
    pub namespace: String,
    /// The Secret's name.
    pub name: String,
}

/// The KV secrets engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KvConfig {
    /// The mount path, without slashes at either end.
    #[serde(default = "default_kv_mount")]
    pub mount: String,
    /// The KV engine version.
    #[serde(default)]
    pub version: KvVersion,
}

impl Default for KvConfig {
    fn default() -> Self {
        Self {
            mount: default_kv_mount(),
            version: KvVersion::default(),
        }
    }
}

fn default_kv_mount() -> String {
    "secret".to_owned()
}

/// The KV secrets engine version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum KvVersion {
    /// KV version 1: no versions, no check-and-set.
    #[serde(rename = "v1")]
    V1,
    /// KV version 2: versioned, with check-and-set (the default).
    #[default]
    #[serde(rename = "v2")]
    V2,
}

/// The Kubernetes auth method in Vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesAuthConfig {
    /// The auth mount path, without slashes at either end.
    #[serde(default = "default_kubernetes_mount")]
    pub mount: String,
    /// The API server URL Vault calls back for TokenReview. Default: the server of the
    /// current kubeconfig context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// A PEM file with the API server's CA. Default: the kubeconfig's CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// For a Vault outside the cluster: a ServiceAccount (in `agent.namespace`) that
    /// bootstrap creates, binds to `system:auth-delegator` and whose token Vault uses for
    /// TokenReview, e.g. `ferry-vault-reviewer`. Omit it when Vault runs in the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer_service_account: Option<String>,
}

impl Default for KubernetesAuthConfig {
    fn default() -> Self {
        Self {
            mount: default_kubernetes_mount(),
            host: None,
            ca_file: None,
            reviewer_service_account: None,
        }
    }
}

fn default_kubernetes_mount() -> String {
    "kubernetes".to_owned()
}

/// The in-cluster agent: where it runs, the store it serves and its Vault role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentConfig {
    /// The agent's namespace.
    #[serde(default = "default_agent_namespace")]
    pub namespace: String,
    /// The agent's ServiceAccount, bound to the Vault role.
    #[serde(default = "default_agent_name")]
    pub service_account: String,
    /// The name of the (Cluster)SecretStore that points at Vault.
    #[serde(default = "default_store_name")]
    pub store_name: String,
    /// The kind of that store.
    #[serde(default)]
    pub store_kind: StoreKind,
    /// The Vault Kubernetes auth role the agent logs in with.
    #[serde(default = "default_agent_name")]
    pub role: String,
    /// The Vault policy attached to that role.
    #[serde(default = "default_agent_name")]
    pub policy: String,
    /// The store's `spec.controller`, for running beside another controller (ESO or a
    /// second agent) that must leave Ferry's store alone. Default: unset (the default
    /// controller class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_class: Option<String>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            namespace: default_agent_namespace(),
            service_account: default_agent_name(),
            store_name: default_store_name(),
            store_kind: StoreKind::default(),
            role: default_agent_name(),
            policy: default_agent_name(),
            controller_class: None,
        }
    }
}

fn default_agent_namespace() -> String {
    "ferry-system".to_owned()
}

fn default_agent_name() -> String {
    "ferry-agent".to_owned()
}

fn default_store_name() -> String {
    "vault-backend".to_owned()
}

/// The kind of the store the agent's ExternalSecrets reference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum StoreKind {
    /// A cluster-wide `ClusterSecretStore` (the default).
    #[default]
    ClusterSecretStore,
    /// A namespaced `SecretStore`, one per namespace that needs it.
    SecretStore,
}

impl StoreKind {
    /// The Kubernetes kind, as written in `secretStoreRef.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClusterSecretStore => "ClusterSecretStore",
            Self::SecretStore => "SecretStore",
        }
    }
}

impl BootstrapConfig {
    /// The names of all declared environment variables, in file order.
    pub fn env_names(&self) -> Vec<&str> {
        self.env.iter().map(|entry| entry.name.as_str()).collect()
    }

    /// The `env` entry named `name`, if any.
    pub fn env_entry(&self, name: &str) -> Option<&EnvEntry> {
        self.env.iter().find(|entry| entry.name == name)
    }

    /// SHA-256 (hex) of the canonical JSON form of the effective config, defaults
    /// included. The bootstrap state stores it to notice changed inputs; it covers
    /// names and paths only, since the config holds no values.
    pub fn fingerprint(&self) -> String {
        crate::fingerprint::fingerprint_of(self)
    }
}
