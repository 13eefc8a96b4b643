//! Reconciling one PushSecret: validate, resolve the stores (tenant rules), read the source
//! Secret of the PushSecret's namespace, apply the template, push each remote key through
//! each store (check-and-set, no write when the keyed HMAC matches), remove what is no longer
//! pushed when `deletionPolicy` is `Delete`, then patch the status only when it changed.
//!
//! A failure never removes anything: only an entry taken out of the spec (or the PushSecret's
//! deletion) removes what it pushed, and only with `deletionPolicy: Delete`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ferry_api::push_secret::{PUSH_SECRET_FINALIZER, SyncedPushSecrets, push_reason};
use ferry_api::{PushSecret, PushSecretDeletionPolicy, VaultKvVersion};
use ferry_vault::KvVersion;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::kv::{KvFailure, Target};
use super::plan::{self, PathPlan};
use super::stores::{self, PushStore};
use super::{PushCtx, source, template};
use crate::error::{AgentError, Result};
use crate::fetch::mount_and_path;
use crate::status::{self, Ready};

/// What one push ended with: what is in the stores because of this PushSecret, and whether
/// anything was written.
struct Pushed {
    synced: SyncedPushSecrets,
    wrote: bool,
}

/// A push that failed, with what is in the stores anyway (for the status).
struct Failed {
    err: AgentError,
    synced: SyncedPushSecrets,
}

impl From<AgentError> for Failed {
    fn from(err: AgentError) -> Self {
        Failed {
            err,
            synced: SyncedPushSecrets::new(),
        }
    }
}

/// The controller's reconcile function for PushSecrets.
#[tracing::instrument(
    name = "reconcile_push",
    skip_all,
    fields(namespace = %ps.namespace().unwrap_or_default(), name = %ps.name_any())
)]
pub async fn reconcile(ps: Arc<PushSecret>, pctx: Arc<PushCtx>) -> Result<Action> {
    if ps.meta().deletion_timestamp.is_some() {
        return finalize(&ps, &pctx).await;
    }
    let stores = match plan::validate(&ps.spec) {
        Ok(()) => stores::resolve(&pctx.agent, &ps).await,
        Err(err) => Err(err),
    };
    if matches!(&stores, Ok(s) if s.is_empty()) {
        // Every store belongs to another controller class: not ours to report on.
        return Ok(Action::await_change());
    }
    keep_finalizer(&ps, &pctx).await?;
    if !due(&ps) {
        return Ok(requeue(&ps));
    }
    let old = ps.status.clone().unwrap_or_default().synced_push_secrets;
    let result = match stores {
        Ok(stores) => push(&ps, &pctx, &stores).await,
        Err(err) => Err(Failed {
            err,
            synced: old.clone(),
        }),
    };
    let (ready, synced, wrote) = match result {
        Ok(p) => (
            Ready {
                ready: true,
                reason: push_reason::SYNCED,
                message: synced_message(&ps),
            },
            p.synced,
            p.wrote,
        ),
        Err(f) => (
            Ready::failed(push_reason::ERRORED, f.err.to_string()),
            f.synced,
            false,
        ),
    };
    let next = super::status::next_status(&ps, &ready, synced, wrote);
    let api = Api::<PushSecret>::namespaced(
        pctx.agent.client.clone(),
        &ps.namespace().unwrap_or_default(),
    );
    super::status::patch(&api, &ps.name_any(), ps.status.as_ref(), &next).await?;
    super::status::publish(&pctx, &ps, &ready, wrote).await;
    if ready.ready {
        pctx.agent.backoff.succeeded(ps.as_ref());
        return Ok(requeue(&ps));
    }
    tracing::warn!(error = %ready.message, "push failed");
    Ok(Action::requeue(pctx.agent.backoff.failed(ps.as_ref())))
}

/// Requeue for a reconcile that itself errored (status patch, finalizer): back off.
pub fn error_policy(ps: Arc<PushSecret>, err: &AgentError, pctx: Arc<PushCtx>) -> Action {
    tracing::warn!(
        namespace = %ps.namespace().unwrap_or_default(),
        name = %ps.name_any(),
        category = err.category(),
        error = %err,
        "PushSecret reconcile failed"
    );
    Action::requeue(pctx.agent.backoff.failed(ps.as_ref()))
}

/// Reads the source, renders the template and pushes every remote key through every store;
/// then, with `deletionPolicy: Delete`, removes what earlier pushes put where the spec no
/// longer pushes.
async fn push(
    ps: &PushSecret,
    pctx: &PushCtx,
    stores: &[PushStore],
) -> std::result::Result<Pushed, Failed> {
    let ctx = &pctx.agent;
    let old = ps.status.clone().unwrap_or_default().synced_push_secrets;
    let data = source::read(ctx, ps).await.map_err(|err| Failed {
        err,
        synced: old.clone(),
    })?;
    let data = template::apply(ctx, ps, data).await.map_err(|err| Failed {
        err,
        synced: old.clone(),
    })?;
    let plans = plan::plan(&ps.spec, &data).map_err(|err| Failed {
        err,
        synced: old.clone(),
    })?;
    drop(data);
    let mut pushed = Pushed {
        synced: SyncedPushSecrets::new(),
        wrote: false,
    };
    for store in stores {
        let kept = old.get(&store.key).cloned().unwrap_or_default();
        match push_store(ps, pctx, store, &plans, &kept).await {
            Ok((entries, wrote)) => {
                pushed.wrote |= wrote;
                pushed.synced.insert(store.key.clone(), entries);
            }
            Err((err, entries)) => {
                pushed.synced.insert(store.key.clone(), entries);
                return Err(Failed {
                    err,
                    synced: merged(pushed.synced, &old),
                });
            }
        }
    }
    if ps.spec.deletion_policy == PushSecretDeletionPolicy::Delete {
        let stale = super::stale::entries(&old, &pushed.synced);
        let (wrote, kept) = super::stale::remove(ps, pctx, stores, stale).await;
        pushed.wrote |= wrote;
        for (store, entries) in kept {
            pushed.synced.entry(store).or_default().extend(entries);
        }
    }
    Ok(pushed)
}

type StoreEntries = BTreeMap<String, ferry_api::PushSecretData>;

/// Pushes every plan through one store; a 403 drops the session and retries once with a
/// fresh login. Returns the entries now in the store and whether anything was written.
async fn push_store(
    ps: &PushSecret,
    pctx: &PushCtx,
    store: &PushStore,
    plans: &[PathPlan],
    kept: &StoreEntries,
) -> std::result::Result<(StoreEntries, bool), (AgentError, StoreEntries)> {
    let ctx = &pctx.agent;
    let mut retried = false;
    'session: loop {
        let (session, vault) = ctx
            .sessions
            .get(&store.context)
            .await
            .map_err(|e| (e, kept.clone()))?;
        let mut entries = StoreEntries::new();
        let mut wrote = false;
        for plan in plans {
            let target = target(pctx, store, &vault, plan);
            match target.push(plan, ps.spec.update_policy).await {
                Ok(done) => {
                    wrote |= done.wrote;
                    record(ps, plan, &done.entries, kept, &mut entries);
                }
                Err(KvFailure::Vault(err)) if err.is_forbidden() && !retried => {
                    ctx.sessions.invalidate(&session, &vault).await;
                    retried = true;
                    continue 'session;
                }
                Err(failure) => {
                    let err = super::failure(failure, plan.field(), &target, &store.key, "writing");
                    entries.extend(kept.clone());
                    return Err((err, entries));
                }
            }
        }
        return Ok((entries, wrote));
    }
}

/// The KV target of one plan in one store.
pub(super) fn target<'a>(
    pctx: &'a PushCtx,
    store: &PushStore,
    vault: &'a ferry_vault::Vault,
    plan: &PathPlan,
) -> Target<'a> {
    let provider = &store.context.provider;
    let (mount, path) = mount_and_path(provider, &plan.remote_key);
    Target {
        vault,
        mount,
        path,
        engine: match provider.version {
            VaultKvVersion::V1 => KvVersion::V1,
            VaultKvVersion::V2 => KvVersion::V2,
        },
        metrics: &pctx.agent.metrics,
        hmac_key: &pctx.hmac_key,
    }
}

/// Records the entries of `plan` that are in the store because of this PushSecret: those
/// pushed now, and those `IfNotExists` skipped that an earlier push of ours had put there.
fn record(
    ps: &PushSecret,
    plan: &PathPlan,
    pushed: &BTreeSet<usize>,
    kept: &StoreEntries,
    out: &mut StoreEntries,
) {
    let indexes = plan
        .whole
        .iter()
        .map(|w| w.index)
        .chain(plan.properties.values().map(|p| p.index));
    for i in indexes {
        let Some(entry) = ps.spec.data.get(i) else {
            continue;
        };
        let key = entry.match_.remote_ref.status_key();
        if pushed.contains(&i) || kept.contains_key(&key) {
            out.insert(key, entry.clone());
        }
    }
}

/// `new` with the stores and places of `old` it does not have (a failed push forgets
/// nothing it may have put somewhere).
fn merged(mut new: SyncedPushSecrets, old: &SyncedPushSecrets) -> SyncedPushSecrets {
    for (store, entries) in old {
        let into = new.entry(store.clone()).or_default();
        for (key, entry) in entries {
            into.entry(key.clone()).or_insert_with(|| entry.clone());
        }
    }
    new
}

/// Whether a push is due: always, except with `refreshInterval: 0` once the current spec
/// has been pushed (then only a change to the PushSecret pushes again).
fn due(ps: &PushSecret) -> bool {
    let interval = ps.spec.refresh_interval().unwrap_or_default();
    let synced = ps
        .status
        .as_ref()
        .and_then(|s| s.synced_resource_version.as_deref());
    !(interval.is_zero() && synced == Some(status::synced_version(ps).as_str()))
}

fn requeue(ps: &PushSecret) -> Action {
    match ps.spec.refresh_interval().unwrap_or_default() {
        d if d.is_zero() => Action::await_change(),
        d => Action::requeue(d + d.mul_f64(rand::random::<f64>() * 0.1)),
    }
}

fn synced_message(ps: &PushSecret) -> String {
    match ps.spec.update_policy {
        ferry_api::PushSecretUpdatePolicy::Replace => "PushSecret synced successfully".into(),
        ferry_api::PushSecretUpdatePolicy::IfNotExists => {
            "PushSecret synced successfully; values already in a store were left unchanged".into()
        }
    }
}

/// Keeps ESO's finalizer on a PushSecret exactly while `deletionPolicy` is `Delete`, so that
/// deleting it first removes what it pushed.
async fn keep_finalizer(ps: &PushSecret, pctx: &PushCtx) -> Result<()> {
    let want = ps.spec.deletion_policy == PushSecretDeletionPolicy::Delete;
    let has = ps.finalizers().iter().any(|f| f == PUSH_SECRET_FINALIZER);
    if want == has {
        return Ok(());
    }
    let mut finalizers: Vec<String> = ps
        .finalizers()
        .iter()
        .filter(|f| *f != PUSH_SECRET_FINALIZER)
        .cloned()
        .collect();
    if want {
        finalizers.push(PUSH_SECRET_FINALIZER.to_owned());
    }
    patch_finalizers(ps, pctx, finalizers).await
}

/// The PushSecret is being deleted: with `deletionPolicy: Delete`, remove what it pushed;
/// then let it go. A store that cannot be reached keeps the finalizer (and the status says
/// why) until it can.
async fn finalize(ps: &PushSecret, pctx: &PushCtx) -> Result<Action> {
    if !ps.finalizers().iter().any(|f| f == PUSH_SECRET_FINALIZER) {
        return Ok(Action::await_change());
    }
    if ps.spec.deletion_policy == PushSecretDeletionPolicy::Delete {
        let old = ps.status.clone().unwrap_or_default().synced_push_secrets;
        let stale = super::stale::entries(&old, &SyncedPushSecrets::new());
        let (_, kept) = super::stale::remove(ps, pctx, &[], stale).await;
        if !kept.is_empty() {
            let ready = Ready::failed(
                push_reason::ERRORED,
                "could not remove every pushed value from its store; retrying",
            );
            let next = super::status::next_status(ps, &ready, kept, false);
            let api = Api::<PushSecret>::namespaced(
                pctx.agent.client.clone(),
                &ps.namespace().unwrap_or_default(),
            );
            super::status::patch(&api, &ps.name_any(), ps.status.as_ref(), &next).await?;
            return Ok(Action::requeue(pctx.agent.backoff.failed(ps)));
        }
    }
    let rest = ps
        .finalizers()
        .iter()
        .filter(|f| *f != PUSH_SECRET_FINALIZER)
        .cloned()
        .collect();
    patch_finalizers(ps, pctx, rest).await?;
    Ok(Action::await_change())
}

/// Sets the finalizer list, conditional on the resourceVersion read (a concurrent change is
/// a conflict, retried with backoff, never overwritten).
async fn patch_finalizers(ps: &PushSecret, pctx: &PushCtx, finalizers: Vec<String>) -> Result<()> {
    let ns = ps.namespace().unwrap_or_default();
    let api = Api::<PushSecret>::namespaced(pctx.agent.client.clone(), &ns);
    let patch = json!({ "metadata": { "finalizers": finalizers, "resourceVersion": ps.resource_version() } });
    api.patch(
        &ps.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(|source| AgentError::WriteObject {
        kind: "PushSecret",
        namespace: ns,
        name: ps.name_any(),
        source: source.into(),
    })?;
    Ok(())
}
