//! `deletionPolicy: Delete`: removing what a PushSecret pushed and no longer pushes (an entry
//! or store taken out of the spec, or the PushSecret deleted). Exactly the places recorded in
//! `status.syncedPushSecrets` are removed: a property is taken out of its secret, and the
//! secret is deleted only when nothing else is left in it (see [`super::kv::Target::remove`]).

use std::collections::{BTreeMap, BTreeSet};

use ferry_api::push_secret::SyncedPushSecrets;
use ferry_api::{PushSecret, StoreKind};

use super::PushCtx;
use super::stores::{self, PushStore};

/// The places in `old` that `new` does not have, by store.
pub fn entries(old: &SyncedPushSecrets, new: &SyncedPushSecrets) -> SyncedPushSecrets {
    let mut out = SyncedPushSecrets::new();
    for (store, places) in old {
        let now = new.get(store);
        let gone: BTreeMap<_, _> = places
            .iter()
            .filter(|(key, _)| now.is_none_or(|n| !n.contains_key(*key)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !gone.is_empty() {
            out.insert(store.clone(), gone);
        }
    }
    out
}

/// Removes `stale` from the stores. Returns whether anything was written, and the places
/// that could not be removed (kept in the status, tried again at the next reconcile). A
/// store that no longer exists, or that belongs to another controller class now, cannot be
/// reached: its places are forgotten, with a warning.
pub async fn remove(
    ps: &PushSecret,
    pctx: &PushCtx,
    resolved: &[PushStore],
    stale: SyncedPushSecrets,
) -> (bool, SyncedPushSecrets) {
    let mut wrote = false;
    let mut kept = SyncedPushSecrets::new();
    for (key, places) in stale {
        let store = match resolved.iter().find(|s| s.key == key) {
            Some(s) => Ok(Some(s.clone())),
            None => lookup(pctx, ps, &key).await,
        };
        let store = match store {
            Ok(Some(store)) => store,
            Ok(None) => {
                tracing::warn!(store = %key, "a store pushed to earlier is gone; its values are left where they are");
                continue;
            }
            Err(err) => {
                tracing::warn!(store = %key, error = %err, "cannot remove pushed values yet");
                kept.insert(key, places);
                continue;
            }
        };
        match remove_from(pctx, &store, &places).await {
            Ok(w) => wrote |= w,
            Err(err) => {
                tracing::warn!(store = %key, error = %err, "removing pushed values failed");
                kept.insert(key, places);
            }
        }
    }
    (wrote, kept)
}

/// Resolves a `Kind/name` store key.
async fn lookup(pctx: &PushCtx, ps: &PushSecret, key: &str) -> crate::Result<Option<PushStore>> {
    let (kind, name) = match key.split_once('/') {
        Some(("SecretStore", name)) => (StoreKind::SecretStore, name),
        Some(("ClusterSecretStore", name)) => (StoreKind::ClusterSecretStore, name),
        _ => return Ok(None),
    };
    stores::one(&pctx.agent, ps, kind, name).await
}

/// Removes the places of one store, grouped by remote key.
async fn remove_from(
    pctx: &PushCtx,
    store: &PushStore,
    places: &BTreeMap<String, ferry_api::PushSecretData>,
) -> crate::Result<bool> {
    let mut by_key: BTreeMap<&str, BTreeSet<Option<String>>> = BTreeMap::new();
    for entry in places.values() {
        let r = &entry.match_.remote_ref;
        by_key
            .entry(r.remote_key.trim())
            .or_default()
            .insert(r.property().map(str::to_owned));
    }
    let (_, vault) = pctx.agent.sessions.get(&store.context).await?;
    let mut wrote = false;
    for (remote_key, ours) in by_key {
        let plan = super::plan::PathPlan {
            remote_key: remote_key.to_owned(),
            ..Default::default()
        };
        let target = super::reconcile::target(pctx, store, &vault, &plan);
        match target.remove(&ours).await {
            Ok(w) => wrote |= w,
            Err(failure) => {
                let field = "status.syncedPushSecrets".to_owned();
                return Err(super::failure(
                    failure,
                    field,
                    &target,
                    &store.key,
                    "removing from",
                ));
            }
        }
    }
    Ok(wrote)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn synced(value: serde_json::Value) -> SyncedPushSecrets {
        serde_json::from_value(value).unwrap_or_default()
    }

    #[test]
    fn stale_entries_are_those_no_longer_pushed() {
        let entry = |key: &str| json!({ "match": { "remoteRef": { "remoteKey": key } } });
        let old = synced(json!({
            "SecretStore/a": { "x": entry("x"), "y": entry("y") },
            "SecretStore/b": { "z": entry("z") },
        }));
        let new = synced(json!({ "SecretStore/a": { "x": entry("x") } }));
        let stale = entries(&old, &new);
        assert_eq!(stale.len(), 2);
        assert!(stale["SecretStore/a"].contains_key("y"));
        assert!(!stale["SecretStore/a"].contains_key("x"));
        assert!(stale["SecretStore/b"].contains_key("z"));
        assert!(entries(&old, &old).is_empty());
    }
}
