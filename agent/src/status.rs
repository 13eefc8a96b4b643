//! ExternalSecret and store status: a `Ready` condition that is always present, with
//! `observedGeneration`, so that Flux's kstatus health checks work. Status is patched only when
//! it changes, so an idle cluster sees no status writes.

use ferry_api::meta::reason;
use ferry_api::{
    CONDITION_READY, ConditionStatus, ExternalSecret, ExternalSecretStatus, StatusCondition,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::{AgentError, Result};
use crate::secret::Written;

/// The Ready condition a sync ends with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ready {
    /// Whether the object is Ready.
    pub ready: bool,
    /// ESO's reason string.
    pub reason: &'static str,
    /// A message for people; never a value.
    pub message: String,
}

impl Ready {
    /// Ready=True.
    pub fn synced(message: impl Into<String>) -> Self {
        Self {
            ready: true,
            reason: reason::SECRET_SYNCED,
            message: message.into(),
        }
    }

    /// Ready=False with `reason`.
    pub fn failed(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            ready: false,
            reason,
            message: message.into(),
        }
    }

    /// Ready=False for an error, with the reason ESO uses for it.
    pub fn from_error(err: &AgentError) -> Self {
        let reason = match err {
            AgentError::MergeTargetMissing { .. } => reason::SECRET_MISSING,
            _ => reason::SECRET_SYNCED_ERROR,
        };
        Self::failed(reason, err.to_string())
    }
}

/// `syncedResourceVersion` as ESO computes it: the generation plus a hash of the labels and
/// annotations, so that a change to either forces a refresh.
pub fn synced_version<K: Resource>(es: &K) -> String {
    use sha2::Digest;
    let meta = json!({ "labels": es.labels(), "annotations": es.annotations() });
    let digest = sha2::Sha256::digest(meta.to_string().as_bytes());
    format!(
        "{}-{}",
        es.meta().generation.unwrap_or(0),
        &hex::encode(digest)[..16]
    )
}

/// The status after a sync. `written` is `None` when the sync did not get as far as the Secret.
pub fn next_status(
    es: &ExternalSecret,
    ready: &Ready,
    written: Option<Written>,
) -> ExternalSecretStatus {
    let old = es.status.clone().unwrap_or_default();
    let wrote = matches!(written, Some(Written::Created | Written::Updated));
    let spec_synced =
        ready.ready && old.synced_resource_version.as_deref() != Some(&synced_version(es));
    ExternalSecretStatus {
        refresh_time: if wrote || spec_synced || old.refresh_time.is_none() && ready.ready {
            Some(Time(Timestamp::now()))
        } else {
            old.refresh_time.clone()
        },
        synced_resource_version: if ready.ready {
            Some(synced_version(es))
        } else {
            old.synced_resource_version.clone()
        },
        conditions: vec![condition(old.ready_condition(), ready)],
        binding: Some(ferry_api::meta::LocalObjectReference {
            name: es.target_name().to_string(),
        }),
        observed_generation: es.meta().generation,
    }
}

/// A Ready condition that keeps its lastTransitionTime while the status does not change.
pub fn condition(old: Option<&StatusCondition>, ready: &Ready) -> StatusCondition {
    let status = if ready.ready {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    let transition = match old {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Some(Time(Timestamp::now())),
    };
    StatusCondition {
        type_: CONDITION_READY.to_string(),
        status,
        reason: Some(ready.reason.to_string()),
        message: Some(ready.message.clone()),
        last_transition_time: transition,
    }
}

/// Patches the status subresource of `name` through `api` when `status` differs from
/// `current`. Returns whether it wrote.
pub async fn patch_if_changed<K, S>(
    api: &Api<K>,
    name: &str,
    current: Option<&S>,
    status: &S,
) -> Result<bool>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize + PartialEq,
{
    if current == Some(status) {
        return Ok(false);
    }
    let patch = Patch::Merge(json!({ "status": status }));
    api.patch_status(name, &PatchParams::default(), &patch)
        .await
        .map_err(|source| AgentError::PatchStatus {
            kind: static_kind::<K>(),
            name: name.to_string(),
            source: source.into(),
        })?;
    Ok(true)
}

fn static_kind<K: Resource<DynamicType = ()>>() -> &'static str {
    match K::kind(&()).as_ref() {
        "ExternalSecret" => "ExternalSecret",
        "SecretStore" => "SecretStore",
        "ClusterSecretStore" => "ClusterSecretStore",
        "PushSecret" => "PushSecret",
        "ClusterPushSecret" => "ClusterPushSecret",
        _ => "object",
    }
}
