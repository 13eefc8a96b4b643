//! `PushSecret` (`external-secrets.io/v1alpha1`): the reverse of an ExternalSecret. It reads a
//! Kubernetes Secret of its own namespace and writes its values to one or more stores.
//!
//! The field names and defaults are ESO's; `ClusterPushSecret`, which stamps a PushSecret into
//! every matching namespace, is in [`crate::cluster_push_secret`].

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::duration::parse_duration;
use crate::error::ApiError;
use crate::external_secret::{ExternalSecretTemplate, GeneratorRef, StoreKind};
use crate::meta::{CONDITION_READY, StatusCondition, find_condition, preserved_object};

/// The API version PushSecret and ClusterPushSecret are served at.
pub const PUSH_SECRET_VERSION: &str = "v1alpha1";

/// Refresh interval applied when a PushSecret does not set one (ESO's default).
pub const DEFAULT_PUSH_REFRESH_INTERVAL: &str = "1h";

/// The finalizer ESO puts on a PushSecret with `deletionPolicy: Delete`; Ferry uses the same
/// one, so a PushSecret created under ESO is cleaned up by Ferry and the other way round.
pub const PUSH_SECRET_FINALIZER: &str = "pushsecret.externalsecrets.io/finalizer";

/// Condition reasons of PushSecret and ClusterPushSecret, spelled as ESO spells them.
pub mod push_reason {
    /// The values are in every store.
    pub const SYNCED: &str = "Synced";
    /// The last push failed.
    pub const ERRORED: &str = "Errored";
}

/// Desired state of a `PushSecret`.
#[derive(CustomResource, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[kube(
    group = "external-secrets.io",
    version = "v1alpha1",
    kind = "PushSecret",
    namespaced,
    status = "PushSecretStatus",
    derive = "PartialEq",
    shortname = "ps",
    category = "external-secrets",
    doc = "Pushes the values of a Kubernetes Secret of its namespace to one or more stores.",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretSpec {
    /// Time between two pushes, as a Go duration string (`1h`, `10m`, `30s`); zero pushes
    /// only when the PushSecret changes.
    #[serde(default = "default_refresh_interval")]
    pub refresh_interval: String,
    /// The stores to push to, by name or by label selector.
    #[serde(default)]
    pub secret_store_refs: Vec<PushSecretStoreRef>,
    /// Whether a value already present in the store is overwritten (`Replace`, the default)
    /// or left as it is (`IfNotExists`).
    #[serde(default)]
    pub update_policy: PushSecretUpdatePolicy,
    /// What happens in the stores when an entry is removed or the PushSecret is deleted:
    /// `None` (the default) keeps what was pushed, `Delete` removes it.
    #[serde(default)]
    pub deletion_policy: PushSecretDeletionPolicy,
    /// Where the values come from: a Secret of this namespace (by name or label selector).
    pub selector: PushSecretSelector,
    /// What to push: each entry maps a key of the Secret (or the whole Secret) to a place in
    /// the store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<PushSecretData>,
    /// Bulk push rules (ESO's `dataTo`). Accepted and kept; not supported by Ferry yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "preserved_objects")]
    pub data_to: Vec<serde_json::Value>,
    /// Reshapes the Secret's data with templates before it is pushed, as an ExternalSecret's
    /// `target.template` shapes the Secret it writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ExternalSecretTemplate>,
}

impl Default for PushSecretSpec {
    fn default() -> Self {
        Self {
            refresh_interval: default_refresh_interval(),
            secret_store_refs: Vec::new(),
            update_policy: PushSecretUpdatePolicy::default(),
            deletion_policy: PushSecretDeletionPolicy::default(),
            selector: PushSecretSelector::default(),
            data: Vec::new(),
            data_to: Vec::new(),
            template: None,
        }
    }
}

impl PushSecretSpec {
    /// The refresh interval parsed; [`Duration::ZERO`] means "only on change".
    pub fn refresh_interval(&self) -> Result<Duration, ApiError> {
        parse_duration(&self.refresh_interval)
    }
}

/// Schema for a list of objects whose fields the API server keeps as they are.
fn preserved_objects(generator: &mut SchemaGenerator) -> Schema {
    let item = preserved_object(generator);
    json_schema!({ "type": "array", "items": item })
}

/// One entry of `secretStoreRefs`: a store by name, or every store matching a label selector.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretStoreRef {
    /// Name of the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Every store of `kind` whose labels match (SecretStores of the PushSecret's namespace, or
    /// ClusterSecretStores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Kind of the store; `SecretStore` when omitted.
    #[serde(default)]
    pub kind: StoreKind,
}

/// Whether a push overwrites what the store already holds.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PushSecretUpdatePolicy {
    /// Write the value whatever the store holds.
    #[default]
    Replace,
    /// Write only where the store has nothing yet (the property, or the secret for a
    /// whole-secret push); never overwrite.
    IfNotExists,
}

/// What happens to pushed values when they are no longer pushed.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PushSecretDeletionPolicy {
    /// Remove what this PushSecret pushed (its properties; the secret when nothing else is
    /// left in it).
    Delete,
    /// Leave the store as it is.
    #[default]
    None,
}

/// Where the pushed values come from. Exactly one field should be set.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretSelector {
    /// A Secret of the PushSecret's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<PushSecretSecret>,
    /// A generator producing the values. Accepted and kept; not supported by Ferry yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_ref: Option<GeneratorRef>,
}

/// The source Secret: by name, or every Secret of the namespace matching a label selector.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretSecret {
    /// Name of the Secret, in the PushSecret's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Every Secret of the PushSecret's namespace whose labels match; their data is merged in
    /// name order (a later Secret wins a key both have).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// One value to push.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretData {
    /// Which key of the Secret goes where in the store.
    #[serde(rename = "match")]
    pub match_: PushSecretMatch,
    /// Provider-specific settings; for Vault KV v2 a `PushSecretMetadata` object whose
    /// `spec.customMetadata` is set on the secret (`spec.mergePolicy` `Merge`, the default,
    /// or `Replace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserved_object")]
    pub metadata: Option<serde_json::Value>,
    /// How the Secret's keys are converted before they are matched: `None`, or
    /// `ReverseUnicode` (undoes an ExternalSecret's `Unicode` conversion).
    #[serde(default)]
    pub conversion_strategy: PushSecretConversionStrategy,
}

/// A key of the Secret and its place in the store.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretMatch {
    /// The Secret key whose value is pushed; without it, the whole Secret is pushed as a
    /// JSON object of its keys and (UTF-8) values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// Where the value goes.
    pub remote_ref: PushSecretRemoteRef,
}

impl PushSecretMatch {
    /// The Secret key, or `None` for a whole-Secret push (an empty key counts as none).
    pub fn secret_key(&self) -> Option<&str> {
        self.secret_key.as_deref().filter(|k| !k.is_empty())
    }
}

/// A place in the store.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretRemoteRef {
    /// Path of the secret in the store (for Vault, relative to the store's KV mount).
    pub remote_key: String,
    /// Property of the secret to set; without it the value replaces the whole secret and
    /// must then be a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
}

impl PushSecretRemoteRef {
    /// The property, or `None` when unset or empty.
    pub fn property(&self) -> Option<&str> {
        self.property.as_deref().filter(|p| !p.is_empty())
    }

    /// The key of this place in `status.syncedPushSecrets`: `remoteKey`, or
    /// `remoteKey/property` (as ESO writes it).
    pub fn status_key(&self) -> String {
        match self.property() {
            Some(p) => format!("{}/{p}", self.remote_key),
            None => self.remote_key.clone(),
        }
    }
}

/// How Secret keys are converted before matching.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PushSecretConversionStrategy {
    /// Keys are used as they are.
    #[default]
    None,
    /// `_UXXXX_` sequences (from an ExternalSecret's `Unicode` conversion) become the
    /// characters they stand for.
    ReverseUnicode,
}

/// What was pushed, by store (`Kind/name`) then by place (`remoteKey` or
/// `remoteKey/property`), with the entry that pushed it.
pub type SyncedPushSecrets = BTreeMap<String, BTreeMap<String, PushSecretData>>;

/// Observed state of a `PushSecret`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretStatus {
    /// When values were last written to a store (unchanged while nothing needs writing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_time: Option<Time>,
    /// The generation, labels and annotations (hashed) of the PushSecret last pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_resource_version: Option<String>,
    /// What is in the stores because of this PushSecret, by store (`Kind/name`) and place
    /// (`remoteKey` or `remoteKey/property`); `deletionPolicy: Delete` removes exactly these.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub synced_push_secrets: SyncedPushSecrets,
    /// Current conditions; `Ready` tells whether every value is in every store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<StatusCondition>,
    /// `metadata.generation` this status describes (a Ferry addition, for kstatus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl PushSecretStatus {
    /// The `Ready` condition, if reported.
    pub fn ready_condition(&self) -> Option<&StatusCondition> {
        find_condition(&self.conditions, CONDITION_READY)
    }
}

fn default_refresh_interval() -> String {
    DEFAULT_PUSH_REFRESH_INTERVAL.to_owned()
}
