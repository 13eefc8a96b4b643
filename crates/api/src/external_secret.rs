//! `ExternalSecret`: which values to read from a store and how to shape the Kubernetes Secret
//! that receives them.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::parse_duration;
use crate::error::ApiError;
use crate::meta::{
    CONDITION_READY, LocalObjectReference, StatusCondition, find_condition, without_description,
};

/// Refresh interval applied when an ExternalSecret does not set one.
pub const DEFAULT_REFRESH_INTERVAL: &str = "1h";

/// API version of generator resources referenced by `generatorRef` when none is given.
pub const DEFAULT_GENERATOR_API_VERSION: &str = "generators.external-secrets.io/v1alpha1";

/// Desired state of an `ExternalSecret`.
// Several printer columns legitimately repeat `type_ = "string"`.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "ExternalSecret",
    namespaced,
    status = "ExternalSecretStatus",
    derive = "PartialEq",
    shortname = "es",
    category = "external-secrets",
    doc = "Declares a Kubernetes Secret whose values are read from a SecretStore or ClusterSecretStore.",
    printcolumn(
        name = "Store",
        type_ = "string",
        json_path = ".spec.secretStoreRef.name"
    ),
    printcolumn(
        name = "Refresh Interval",
        type_ = "string",
        json_path = ".spec.refreshInterval"
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
pub struct ExternalSecretSpec {
    /// The store to read from, unless an entry overrides it with its own `sourceRef`.
    #[serde(default, skip_serializing_if = "SecretStoreRef::is_unset")]
    pub secret_store_ref: SecretStoreRef,
    /// The Secret to write and how to manage it.
    #[serde(default)]
    pub target: ExternalSecretTarget,
    /// When to re-read the provider. Without it, refreshes are periodic unless
    /// `refreshInterval` is zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_policy: Option<RefreshPolicy>,
    /// Time between two reads of the provider, as a Go duration string (`1h`, `2h30m`, `10s`).
    /// Zero means read once and never refresh.
    #[serde(default = "default_refresh_interval")]
    pub refresh_interval: String,
    /// Individual values to fetch, each stored under its own Secret key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<ExternalSecretData>,
    /// Remote secrets whose key/value pairs are all copied into the Secret. Later entries win
    /// on key collisions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_from: Vec<ExternalSecretDataFromRemoteRef>,
}

impl Default for ExternalSecretSpec {
    fn default() -> Self {
        Self {
            secret_store_ref: SecretStoreRef::default(),
            target: ExternalSecretTarget::default(),
            refresh_policy: None,
            refresh_interval: default_refresh_interval(),
            data: Vec::new(),
            data_from: Vec::new(),
        }
    }
}

impl ExternalSecretSpec {
    /// The refresh interval parsed; [`Duration::ZERO`] means "never refresh".
    pub fn refresh_interval(&self) -> Result<Duration, ApiError> {
        parse_duration(&self.refresh_interval)
    }

    /// The refresh policy in effect: the explicit one, otherwise `Periodic`.
    pub fn effective_refresh_policy(&self) -> RefreshPolicy {
        self.refresh_policy.unwrap_or(RefreshPolicy::Periodic)
    }
}

impl ExternalSecret {
    /// Name of the Secret to manage: `spec.target.name`, else the ExternalSecret's own name
    /// (empty only for an object without a name).
    pub fn target_name(&self) -> &str {
        self.spec
            .target
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .or(self.metadata.name.as_deref())
            .unwrap_or_default()
    }
}

/// Reference to the store an ExternalSecret reads from.
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash,
)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreRef {
    /// Name of the store.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Kind of the store; `SecretStore` when omitted.
    #[serde(default, skip_serializing_if = "StoreKind::is_default")]
    pub kind: StoreKind,
}

impl SecretStoreRef {
    /// True when no store is named (the field was absent or empty).
    pub fn is_unset(&self) -> bool {
        self.name.is_empty() && self.kind.is_default()
    }
}

/// Kind of store an ExternalSecret refers to.
#[derive(
    Serialize,
    Deserialize,
    JsonSchema,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
)]
pub enum StoreKind {
    /// A namespaced `SecretStore` in the ExternalSecret's namespace.
    #[default]
    SecretStore,
    /// A cluster-scoped `ClusterSecretStore`.
    ClusterSecretStore,
}

impl StoreKind {
    /// True for [`StoreKind::SecretStore`], the default.
    pub fn is_default(&self) -> bool {
        *self == Self::SecretStore
    }

    /// The kind as written in manifests.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::SecretStore => "SecretStore",
            Self::ClusterSecretStore => "ClusterSecretStore",
        }
    }
}

/// When an ExternalSecret is re-synchronised.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[schemars(transform = without_description)]
pub enum RefreshPolicy {
    /// Create the Secret once and never update it afterwards.
    CreatedOnce,
    /// Re-read the provider every `refreshInterval`.
    Periodic,
    /// Re-read only when the ExternalSecret itself changes.
    OnChange,
}

/// The Secret an ExternalSecret writes.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretTarget {
    /// Name of the Secret; the ExternalSecret's name when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Who creates and owns the Secret.
    #[serde(default)]
    pub creation_policy: CreationPolicy,
    /// What happens to the Secret when the provider no longer has the values.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Shapes the Secret (type, metadata, templated data) instead of copying values as-is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<ExternalSecretTemplate>,
    /// Create the Secret as immutable.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub immutable: bool,
}

/// Who creates the target Secret and whether it is owned by the ExternalSecret.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CreationPolicy {
    /// Create the Secret with an owner reference, so it is garbage-collected with the
    /// ExternalSecret.
    #[default]
    Owner,
    /// Create the Secret without an owner reference; it outlives the ExternalSecret.
    Orphan,
    /// Never create the Secret; only merge values into one that already exists.
    Merge,
    /// Do not write any Secret.
    None,
}

/// What happens to the target Secret once the provider values are gone.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DeletionPolicy {
    /// Delete the Secret.
    Delete,
    /// Remove the managed keys but keep the Secret.
    Merge,
    /// Keep the Secret untouched and report an error.
    #[default]
    Retain,
}

/// Blueprint for the target Secret.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretTemplate {
    /// Kubernetes Secret type, e.g. `kubernetes.io/dockerconfigjson`; `Opaque` when omitted.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Template engine used to render `data` and `templateFrom`.
    #[serde(default)]
    pub engine_version: TemplateEngineVersion,
    /// Labels and annotations to put on the Secret.
    #[serde(
        default,
        skip_serializing_if = "ExternalSecretTemplateMetadata::is_empty"
    )]
    pub metadata: ExternalSecretTemplateMetadata,
    /// Whether templated data replaces the fetched values or is merged with them.
    #[serde(default)]
    pub merge_policy: TemplateMergePolicy,
    /// Secret keys mapped to templates rendered over the fetched values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    /// Further templates, taken from ConfigMaps, Secrets or inline literals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub template_from: Vec<TemplateFrom>,
}

/// Template engine generation.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TemplateEngineVersion {
    /// The legacy engine of ESO's v1beta1 API. Accepted so old manifests apply; not supported
    /// by Ferry.
    #[serde(rename = "v1")]
    V1,
    /// The current engine (Go templates with Sprig-style functions).
    #[default]
    #[serde(rename = "v2")]
    V2,
}

/// How templated data combines with the fetched values.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TemplateMergePolicy {
    /// Only the templated keys end up in the Secret.
    #[default]
    Replace,
    /// Templated keys are added to the fetched values.
    Merge,
}

/// Labels and annotations for the target Secret.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretTemplateMetadata {
    /// Annotations to set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Labels to set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl ExternalSecretTemplateMetadata {
    /// True when neither labels nor annotations are set.
    pub fn is_empty(&self) -> bool {
        self.annotations.is_empty() && self.labels.is_empty()
    }
}

/// A source of templates. Exactly one of `configMap`, `secret` or `literal` should be set.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TemplateFrom {
    /// Templates stored in a ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<TemplateRef>,
    /// Templates stored in a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<TemplateRef>,
    /// Part of the Secret the rendered output goes to.
    #[serde(default)]
    pub target: TemplateTarget,
    /// An inline template whose output is a YAML map of keys to values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub literal: Option<String>,
}

/// Part of the target Secret a template writes to.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TemplateTarget {
    /// The Secret's data.
    #[default]
    Data,
    /// The Secret's annotations.
    Annotations,
    /// The Secret's labels.
    Labels,
}

/// Templates held in a ConfigMap or Secret in the ExternalSecret's namespace.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRef {
    /// Name of the ConfigMap or Secret.
    pub name: String,
    /// Keys of the object to use as templates.
    pub items: Vec<TemplateRefItem>,
}

/// One template taken from a ConfigMap or Secret.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRefItem {
    /// Key of the ConfigMap or Secret holding the template.
    pub key: String,
    /// Whether only the value is a template, or the whole entry (keys and values).
    #[serde(default)]
    pub template_as: TemplateScope,
}

/// What part of a template entry is rendered.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TemplateScope {
    /// The entry's value is a template; its key is used literally.
    #[default]
    Values,
    /// The entry renders to a YAML map whose keys and values are both used.
    KeysAndValues,
}

/// One provider value copied to one key of the Secret.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretData {
    /// Key in the target Secret.
    pub secret_key: String,
    /// The provider value to fetch.
    pub remote_ref: ExternalSecretDataRemoteRef,
    /// Read this value from another store than `spec.secretStoreRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<StoreSourceRef>,
}

/// Location of a value at the provider.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretDataRemoteRef {
    /// Path of the secret at the provider (for Vault, relative to the store's KV mount).
    pub key: String,
    /// Whether to fetch the secret's metadata instead of its data.
    #[serde(default)]
    pub metadata_policy: MetadataPolicy,
    /// Field of the secret to use; the whole secret (as JSON) when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// Version of the secret to read; the latest when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// How fetched keys are converted to valid Secret keys.
    #[serde(default)]
    pub conversion_strategy: ConversionStrategy,
    /// How fetched values are decoded before being stored.
    #[serde(default)]
    pub decoding_strategy: DecodingStrategy,
}

/// Whether secret metadata is fetched.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MetadataPolicy {
    /// Fetch the secret's data.
    #[default]
    None,
    /// Fetch the secret's metadata (for Vault KV v2, its custom metadata).
    Fetch,
}

/// Conversion of fetched keys into Secret keys.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ConversionStrategy {
    /// Keep keys as they are.
    #[default]
    Default,
    /// Replace characters not allowed in Secret keys by their Unicode code point.
    Unicode,
}

/// Decoding applied to fetched values.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DecodingStrategy {
    /// Decode base64 or base64url when the value is valid in one of them, else keep it.
    Auto,
    /// Decode standard base64.
    Base64,
    /// Decode URL-safe base64.
    #[serde(rename = "Base64URL")]
    Base64Url,
    /// Keep values as they are.
    #[default]
    None,
}

/// A bulk fetch: every key/value pair of one or more provider secrets.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretDataFromRemoteRef {
    /// Copy all fields of a single provider secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<ExternalSecretDataRemoteRef>,
    /// Copy provider secrets selected by path, name or tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub find: Option<ExternalSecretFind>,
    /// Key rewrites applied, in order, to the fetched keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrite: Vec<ExternalSecretRewrite>,
    /// Read from another store than `spec.secretStoreRef`, or from a generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<StoreSourceRef>,
}

/// Selection of several provider secrets.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretFind {
    /// Only consider secrets below this path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Select secrets by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<FindName>,
    /// Select secrets carrying all of these tags (for Vault, custom metadata).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// How fetched keys are converted to valid Secret keys.
    #[serde(default)]
    pub conversion_strategy: ConversionStrategy,
    /// How fetched values are decoded before being stored.
    #[serde(default)]
    pub decoding_strategy: DecodingStrategy,
}

/// Name filter of a find.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FindName {
    /// Regular expression the secret name must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<String>,
}

/// One key rewrite. Exactly one field should be set.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct ExternalSecretRewrite {
    /// Merge the values of several fetched secrets into one key space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<ExternalSecretRewriteMerge>,
    /// Rewrite keys with a regular-expression replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regexp: Option<ExternalSecretRewriteRegexp>,
    /// Rewrite keys with a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<ExternalSecretRewriteTransform>,
}

/// Merge rewrite settings.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretRewriteMerge {
    /// Key receiving the merged result; needed with the `JSON` strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub into: Option<String>,
    /// Keys that win conflicts, highest priority first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority: Vec<String>,
    /// What to do when two secrets provide the same key.
    #[serde(default)]
    pub conflict_policy: RewriteMergeConflictPolicy,
    /// How values are merged.
    #[serde(default)]
    pub strategy: RewriteMergeStrategy,
}

/// Conflict handling of a merge rewrite.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RewriteMergeConflictPolicy {
    /// Keep the first value seen.
    Ignore,
    /// Fail the synchronisation.
    #[default]
    Error,
}

/// Strategy of a merge rewrite.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RewriteMergeStrategy {
    /// Merge the extracted key/value pairs.
    #[default]
    Extract,
    /// Merge the values as JSON objects into the key named by `into`.
    #[serde(rename = "JSON")]
    Json,
}

/// Regular-expression key rewrite.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretRewriteRegexp {
    /// Pattern to look for in each key.
    pub source: String,
    /// Replacement; may refer to capture groups.
    pub target: String,
}

/// Template key rewrite.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretRewriteTransform {
    /// Template producing the new key; the original key is available as `.value`.
    pub template: String,
}

/// Alternative source for one entry: another store, or a generator. Exactly one field should
/// be set.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StoreSourceRef {
    /// The store to read this entry from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_ref: Option<SecretStoreRef>,
    /// A generator producing the values. Not supported by Ferry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_ref: Option<GeneratorRef>,
}

/// Reference to an ESO generator resource.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorRef {
    /// API version of the generator.
    #[serde(default = "default_generator_api_version")]
    pub api_version: String,
    /// Kind of the generator, e.g. `Password`.
    pub kind: String,
    /// Name of the generator.
    pub name: String,
}

/// Observed state of an `ExternalSecret`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretStatus {
    /// When the provider was last read and the Secret updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_time: Option<Time>,
    /// Version of the ExternalSecret (`metadata.resourceVersion`) last synchronised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_resource_version: Option<String>,
    /// Current conditions; `Ready` tells whether the Secret is in sync.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<StatusCondition>,
    /// The Secret written, in the form of a servicebinding.io provisioned-service reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<LocalObjectReference>,
    /// `metadata.generation` of the ExternalSecret this status describes (a Ferry addition,
    /// used by kstatus-style readiness checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl ExternalSecretStatus {
    /// The `Ready` condition, if reported.
    pub fn ready_condition(&self) -> Option<&StatusCondition> {
        find_condition(&self.conditions, CONDITION_READY)
    }
}

fn default_refresh_interval() -> String {
    DEFAULT_REFRESH_INTERVAL.to_owned()
}

fn default_generator_api_version() -> String {
    DEFAULT_GENERATOR_API_VERSION.to_owned()
}
