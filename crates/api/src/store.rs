//! `SecretStore` (namespaced) and `ClusterSecretStore` (cluster-scoped): where secrets are read
//! from and how to authenticate there. Both kinds share [`SecretStoreSpec`] and
//! [`SecretStoreStatus`].
//!
//! Only the Vault provider is typed. Any other provider block (`aws`, `gcpsm`, ...) is accepted
//! and kept verbatim in [`SecretStoreProvider::other`] so the agent can report it as unsupported.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{CONDITION_READY, StatusCondition, find_condition, without_description};
use crate::vault::VaultProvider;

/// Desired state of a `SecretStore`.
// Several printer columns legitimately repeat `type_ = "string"`.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "SecretStore",
    namespaced,
    status = "SecretStoreStatus",
    derive = "PartialEq",
    shortname = "ss",
    category = "external-secrets",
    doc = "A namespaced location to read secrets from, usable by ExternalSecrets in the same namespace.",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreSpec {
    /// Name of the controller that should handle this store; objects naming another
    /// controller are ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// The provider to read from. Exactly one provider must be configured.
    pub provider: SecretStoreProvider,
    /// Retry behaviour for failed requests to the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_settings: Option<SecretStoreRetrySettings>,
    /// How often, in seconds, the store is re-validated; 0 or unset uses the agent's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<i64>,
    /// Restricts which namespaces may use a ClusterSecretStore: when non-empty, a namespace
    /// qualifies if it matches any field of any entry. Ignored on a namespaced SecretStore.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ClusterSecretStoreCondition>,
}

/// Desired state of a `ClusterSecretStore`: the same fields as a [`SecretStoreSpec`].
///
/// It dereferences to [`SecretStoreSpec`], so code can handle both store kinds alike.
// Several printer columns legitimately repeat `type_ = "string"`.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "ClusterSecretStore",
    status = "SecretStoreStatus",
    derive = "PartialEq",
    shortname = "css",
    category = "external-secrets",
    doc = "A cluster-wide location to read secrets from, usable by ExternalSecrets in any (or the selected) namespaces.",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    )
)]
#[serde(transparent)]
#[schemars(
    description = "Desired state of a `ClusterSecretStore`: the same fields as a SecretStore's spec."
)]
pub struct ClusterSecretStoreSpec(pub SecretStoreSpec);

impl Deref for ClusterSecretStoreSpec {
    type Target = SecretStoreSpec;

    fn deref(&self) -> &SecretStoreSpec {
        &self.0
    }
}

impl DerefMut for ClusterSecretStoreSpec {
    fn deref_mut(&mut self) -> &mut SecretStoreSpec {
        &mut self.0
    }
}

impl From<SecretStoreSpec> for ClusterSecretStoreSpec {
    fn from(spec: SecretStoreSpec) -> Self {
        Self(spec)
    }
}

/// The provider block of a store. ESO allows exactly one key here.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct SecretStoreProvider {
    /// Read secrets from HashiCorp Vault's KV engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<VaultProvider>,
    /// Every other provider, keyed by its ESO name (`aws`, `gcpsm`, ...), kept verbatim.
    /// Ferry does not implement these and reports such stores as unsupported.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl SecretStoreProvider {
    /// Names of every provider that is set: `vault` first, then the others alphabetically.
    /// A valid store has exactly one.
    pub fn configured(&self) -> Vec<&str> {
        self.vault
            .as_ref()
            .map(|_| "vault")
            .into_iter()
            .chain(self.other.keys().map(String::as_str))
            .collect()
    }
}

/// Retry behaviour for provider requests.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreRetrySettings {
    /// Maximum number of retries of a failed request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i32>,
    /// Pause between retries, as a Go duration string such as `10s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<String>,
}

/// A rule selecting namespaces allowed to use a ClusterSecretStore. Matching any one of its
/// fields is enough (the fields are alternatives, not requirements).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSecretStoreCondition {
    /// Select namespaces by their labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Select namespaces by exact name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Select namespaces whose name matches any of these regular expressions (unanchored, as
    /// in ESO: anchor with `^...$` for a full match).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_regexes: Vec<String>,
}

/// Observed state of a store.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreStatus {
    /// Current conditions; `Ready` tells whether the store can be used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<StatusCondition>,
    /// What the store can do with secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<SecretStoreCapabilities>,
}

impl SecretStoreStatus {
    /// The `Ready` condition, if reported.
    pub fn ready_condition(&self) -> Option<&StatusCondition> {
        find_condition(&self.conditions, CONDITION_READY)
    }
}

/// Operations a store supports.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[schemars(transform = without_description)]
pub enum SecretStoreCapabilities {
    /// Secrets can only be read.
    ReadOnly,
    /// Secrets can only be written.
    WriteOnly,
    /// Secrets can be read and written (what Ferry reports for Vault).
    ReadWrite,
}
