//! Building blocks shared by the store and ExternalSecret types: references to Secrets and
//! ServiceAccounts, status conditions, the well-known condition reasons, and the schema helpers
//! used for fields Ferry accepts without interpreting.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Condition type reported on every ExternalSecret, SecretStore and ClusterSecretStore.
pub const CONDITION_READY: &str = "Ready";

/// Condition type set on an ExternalSecret whose target Secret was removed (ESO compatibility).
pub const CONDITION_DELETED: &str = "Deleted";

/// Condition reasons written by Ferry, spelled exactly as ESO spells them so dashboards and
/// alerts built for ESO keep working.
pub mod reason {
    /// ExternalSecret: the target Secret holds the values currently in the provider.
    pub const SECRET_SYNCED: &str = "SecretSynced";
    /// ExternalSecret: the last synchronisation attempt failed.
    pub const SECRET_SYNCED_ERROR: &str = "SecretSyncedError";
    /// ExternalSecret: the target Secret was deleted because of the deletion policy.
    pub const SECRET_DELETED: &str = "SecretDeleted";
    /// ExternalSecret: the target Secret is missing.
    pub const SECRET_MISSING: &str = "SecretMissing";
    /// Store: the configuration was validated successfully.
    pub const STORE_VALID: &str = "Valid";
    /// Store: the store object itself is malformed (for example no provider, or several).
    pub const INVALID_STORE_CONFIGURATION: &str = "InvalidStoreConfiguration";
    /// Store: the provider block is present but cannot be used (unsupported provider or auth).
    pub const INVALID_PROVIDER_CONFIG: &str = "InvalidProviderConfig";
    /// Store: contacting or authenticating to the provider failed.
    pub const VALIDATION_FAILED: &str = "ValidationFailed";
    /// Store: validation has not been possible yet.
    pub const VALIDATION_UNKNOWN: &str = "ValidationUnknown";
}

/// Points at one key of a Kubernetes Secret.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    /// Name of the Secret.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Namespace of the Secret. Only honoured for references made from a ClusterSecretStore;
    /// otherwise the namespace of the referring object is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Key inside the Secret's data. Some auth methods supply a default when it is omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl SecretKeySelector {
    /// The key to read, or `default` when none was given.
    pub fn key_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.key.as_deref().unwrap_or(default)
    }
}

/// Points at a Kubernetes ServiceAccount.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountSelector {
    /// Name of the ServiceAccount.
    pub name: String,
    /// Namespace of the ServiceAccount. Only honoured for references made from a
    /// ClusterSecretStore; otherwise the namespace of the referring object is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Audiences (`aud` claim) to request for tokens of this ServiceAccount.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
}

/// Reference to an object in the same namespace, by name.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LocalObjectReference {
    /// Name of the referenced object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// Truth value of a status condition.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// It is not known whether the condition holds.
    #[default]
    Unknown,
}

/// One entry of `status.conditions`, for stores and ExternalSecrets alike.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StatusCondition {
    /// Kind of condition, e.g. `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Whether the condition holds.
    pub status: ConditionStatus,
    /// Machine-readable, CamelCase reason for the last transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable explanation of the current state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When `status` last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
}

/// Finds the condition of the given type in a condition list.
pub fn find_condition<'a>(
    conditions: &'a [StatusCondition],
    type_: &str,
) -> Option<&'a StatusCondition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Schema for a field Ferry accepts and keeps verbatim without describing its contents: an
/// object whose unknown fields the API server must preserve rather than prune.
pub(crate) fn preserved_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// Schema transform dropping a type's own description, for enums used as `Option` fields:
/// there the type's description would replace the field's when kube flattens the `anyOf`.
pub(crate) fn without_description(schema: &mut Schema) {
    schema.remove("description");
}

/// Schema for base64-encoded binary data.
pub(crate) fn base64_bytes(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "format": "byte",
    })
}
