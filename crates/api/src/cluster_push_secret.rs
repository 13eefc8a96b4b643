//! `ClusterPushSecret` (`external-secrets.io/v1alpha1`, cluster-scoped): one PushSecret spec
//! stamped into every namespace whose labels match a selector, as ESO defines it.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{CONDITION_READY, StatusCondition, find_condition};
use crate::push_secret::PushSecretSpec;

/// Desired state of a `ClusterPushSecret`.
#[derive(CustomResource, Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "external-secrets.io",
    version = "v1alpha1",
    kind = "ClusterPushSecret",
    status = "ClusterPushSecretStatus",
    derive = "PartialEq",
    category = "external-secrets",
    doc = "Creates the same PushSecret in every namespace whose labels match a selector.",
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
pub struct ClusterPushSecretSpec {
    /// The spec of every PushSecret created.
    pub push_secret_spec: PushSecretSpec,
    /// How often the namespaces are checked again without any change, as a Go duration
    /// string; namespace changes are seen at once in any case.
    #[serde(
        rename = "refreshTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_time: Option<String>,
    /// Name of the PushSecrets created; the ClusterPushSecret's name when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_secret_name: Option<String>,
    /// Labels and annotations put on the PushSecrets created.
    #[serde(default, skip_serializing_if = "PushSecretMetadata::is_empty")]
    pub push_secret_metadata: PushSecretMetadata,
    /// Namespaces to create the PushSecret in: those matching any of these label selectors
    /// (an empty selector matches every namespace; no selector matches none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_selectors: Vec<LabelSelector>,
}

impl ClusterPushSecret {
    /// Name of the PushSecrets to create: `spec.pushSecretName`, else the object's own name.
    pub fn push_secret_name(&self) -> &str {
        self.spec
            .push_secret_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .or(self.metadata.name.as_deref())
            .unwrap_or_default()
    }
}

/// Labels and annotations of the PushSecrets a ClusterPushSecret creates.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PushSecretMetadata {
    /// Annotations to set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Labels to set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl PushSecretMetadata {
    /// True when neither labels nor annotations are set.
    pub fn is_empty(&self) -> bool {
        self.annotations.is_empty() && self.labels.is_empty()
    }
}

/// A namespace where the PushSecret could not be created or updated.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPushSecretNamespaceFailure {
    /// The namespace.
    pub namespace: String,
    /// Why (never a value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Observed state of a `ClusterPushSecret`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPushSecretStatus {
    /// Namespaces where the PushSecret could not be created or updated, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_namespaces: Vec<ClusterPushSecretNamespaceFailure>,
    /// Namespaces that hold the PushSecret, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provisioned_namespaces: Vec<String>,
    /// Name of the PushSecrets created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_secret_name: Option<String>,
    /// Current conditions; `Ready` tells whether every matching namespace has the PushSecret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<StatusCondition>,
}

impl ClusterPushSecretStatus {
    /// The `Ready` condition, if reported.
    pub fn ready_condition(&self) -> Option<&StatusCondition> {
        find_condition(&self.conditions, CONDITION_READY)
    }
}
