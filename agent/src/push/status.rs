//! PushSecret and ClusterPushSecret status and Events: the status after a push, patched only
//! when it changed, and Events only when something was written or a failure changed.
//!
//! Their statuses hold maps and lists that shrink (`syncedPushSecrets`, `failedNamespaces`),
//! which a plain JSON merge patch of the new status would never remove; the patch here sets
//! to `null` whatever the old status had and the new one does not.

use ferry_api::PushSecret;
use ferry_api::PushSecretStatus;
use ferry_api::push_secret::SyncedPushSecrets;
use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::PushCtx;
use crate::error::{AgentError, Result};
use crate::status::{self, Ready};

/// The status after a push; `refreshTime` moves only when something was written (or the spec
/// was pushed for the first time), so an idle refresh writes nothing.
pub fn next_status(
    ps: &PushSecret,
    ready: &Ready,
    synced: SyncedPushSecrets,
    wrote: bool,
) -> PushSecretStatus {
    let old = ps.status.clone().unwrap_or_default();
    let version = status::synced_version(ps);
    let first = ready.ready && old.synced_resource_version.as_deref() != Some(version.as_str());
    PushSecretStatus {
        refresh_time: if wrote || first {
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::now(),
            ))
        } else {
            old.refresh_time.clone()
        },
        synced_resource_version: if ready.ready {
            Some(version)
        } else {
            old.synced_resource_version.clone()
        },
        synced_push_secrets: synced,
        conditions: vec![status::condition(old.ready_condition(), ready)],
        observed_generation: ps.meta().generation,
    }
}

/// Events: `Synced` when something was written, `Errored` when a failure's message changes.
pub async fn publish(pctx: &PushCtx, ps: &PushSecret, ready: &Ready, wrote: bool) {
    let old = ps.status.as_ref().and_then(|s| s.ready_condition());
    let changed = old.is_none_or(|c| c.message.as_deref() != Some(ready.message.as_str()));
    let (type_, note) = match (ready.ready, wrote) {
        (true, true) => (
            EventType::Normal,
            "pushed the Secret's values to the stores".to_owned(),
        ),
        (false, _) if changed => (EventType::Warning, ready.message.clone()),
        _ => return,
    };
    let event = Event {
        type_,
        reason: ready.reason.into(),
        note: Some(note),
        action: "Push".into(),
        secondary: None,
    };
    if let Err(err) = pctx.recorder.publish(&event, &ps.object_ref(&())).await {
        tracing::debug!(error = %err, "could not publish an Event");
    }
}

/// Patches the status subresource of `name` when `next` differs from `current`, removing
/// what `current` has and `next` does not. Returns whether it wrote.
pub async fn patch<K, S>(api: &Api<K>, name: &str, current: Option<&S>, next: &S) -> Result<bool>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize + PartialEq,
{
    if current == Some(next) {
        return Ok(false);
    }
    let failed = |what: &str| AgentError::PatchStatus {
        kind: "PushSecret",
        name: format!("{name} ({what})"),
        source: crate::error::KubeCause {
            code: None,
            reason: "the status could not be encoded".into(),
        },
    };
    let old = current
        .map(serde_json::to_value)
        .transpose()
        .map_err(|_| failed("old"))?;
    let new = serde_json::to_value(next).map_err(|_| failed("new"))?;
    let body = json!({ "status": merge_patch(old.as_ref().unwrap_or(&Value::Null), &new) });
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&body))
        .await
        .map_err(|source| AgentError::PatchStatus {
            kind: static_kind::<K>(),
            name: name.to_owned(),
            source: source.into(),
        })?;
    Ok(true)
}

fn static_kind<K: Resource<DynamicType = ()>>() -> &'static str {
    match K::kind(&()).as_ref() {
        "ClusterPushSecret" => "ClusterPushSecret",
        _ => "PushSecret",
    }
}

/// A JSON merge patch (RFC 7386) turning `old` into `new`: `new`, with `null` for every key
/// of an object in `old` that `new` lacks, at any depth.
pub fn merge_patch(old: &Value, new: &Value) -> Value {
    let (Value::Object(old), Value::Object(new)) = (old, new) else {
        return new.clone();
    };
    let mut out = Map::new();
    for (key, value) in new {
        let patched = match old.get(key) {
            Some(before) => merge_patch(before, value),
            None => value.clone(),
        };
        out.insert(key.clone(), patched);
    }
    for key in old.keys().filter(|k| !new.contains_key(*k)) {
        out.insert(key.clone(), Value::Null);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_keys_become_null_at_any_depth() {
        let old = json!({ "synced": { "a": { "x": 1 }, "b": { "y": 2, "z": 3 } }, "list": [1, 2], "t": "1" });
        let new = json!({ "synced": { "b": { "y": 2 } }, "t": "2" });
        assert_eq!(
            merge_patch(&old, &new),
            json!({ "synced": { "a": null, "b": { "y": 2, "z": null } }, "list": null, "t": "2" })
        );
        assert_eq!(merge_patch(&Value::Null, &new), new);
    }
}
