//! Reconciling one ExternalSecret: validate, resolve the store, read Vault through the shared
//! session cache and single-flight fetcher, build the data with pure functions, write the
//! Secret only when its keyed HMAC differs, then patch the status only when it changed.
//!
//! A failure never touches the Secret: only a real "not found" from Vault acts, and only as
//! the deletionPolicy says.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_api::meta::reason;
use ferry_api::{DeletionPolicy, ExternalSecret, RefreshPolicy, SecretStoreRef, VaultKvVersion};
use ferry_vault::{KvSecret, KvVersion};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use crate::context::Ctx;
use crate::error::{AgentError, Result};
use crate::fetch::mount_and_path;
use crate::secret::{Written, target};
use crate::shape::{self, RemoteKey};
use crate::sources::{self, ResolvedStores, Stores};
use crate::status::{self, Ready};
use crate::{render, restart, template_sources, vault_find};

/// How a sync ended, short of an error.
enum Outcome {
    /// The store belongs to another controller class: leave the object alone.
    NotOurs,
    /// The sync finished with this Ready condition.
    Done(Ready, Option<Written>),
}

/// The controller's reconcile function for ExternalSecrets. Its span carries the object's
/// namespace and name, so the log lines of one sync need not repeat them.
#[tracing::instrument(
    name = "reconcile",
    skip_all,
    fields(namespace = %es.namespace().unwrap_or_default(), name = %es.name_any())
)]
pub async fn reconcile(es: Arc<ExternalSecret>, ctx: Arc<Ctx>) -> Result<Action> {
    if es.meta().deletion_timestamp.is_some() {
        let (ns, name) = target(&es);
        ctx.secrets.forget(&ns, &name);
        return Ok(Action::await_change());
    }
    let started = std::time::Instant::now();
    let _in_flight = ctx.metrics.reconcile_started();
    let result = sync(&es, &ctx).await;
    if result.is_err() && ctx.cancel.load(std::sync::atomic::Ordering::Relaxed) {
        // Stopped by the shutdown (a render cancelled): nothing to report.
        return Ok(Action::await_change());
    }
    let (ready, written) = match &result {
        Ok(Outcome::NotOurs) => return Ok(Action::await_change()),
        Ok(Outcome::Done(ready, written)) => (ready.clone(), *written),
        Err(err) => (Ready::from_error(err), None),
    };
    let label = result
        .as_ref()
        .err()
        .map_or(ready.reason, AgentError::category);
    ctx.metrics
        .sync_finished(ready.ready, label, started.elapsed());
    let next = status::next_status(&es, &ready, written);
    let api = kube::Api::<ExternalSecret>::namespaced(
        ctx.client.clone(),
        &es.namespace().unwrap_or_default(),
    );
    status::patch_if_changed(&api, &es.name_any(), es.status.as_ref(), &next).await?;
    ctx.events.publish(&es, &ready, written).await;
    tracing::debug!(
        reason = ready.reason,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "reconciled ExternalSecret"
    );
    Ok(match result {
        Err(err) if err.is_permanent() => Action::await_change(),
        Err(err) => {
            tracing::warn!(category = err.category(), error = %err, "sync failed");
            Action::requeue(ctx.backoff.failed(es.as_ref()))
        }
        Ok(_) => {
            ctx.backoff.succeeded(es.as_ref());
            requeue_after_success(&es)
        }
    })
}

/// Requeue for a reconcile that itself errored (status patch failed): back off per object.
/// kube-runtime calls it outside the reconcile's span, so it names the object itself.
pub fn error_policy(es: Arc<ExternalSecret>, err: &AgentError, ctx: Arc<Ctx>) -> Action {
    tracing::warn!(
        namespace = %es.namespace().unwrap_or_default(),
        name = %es.name_any(),
        category = err.category(),
        error = %err,
        "reconcile failed"
    );
    Action::requeue(ctx.backoff.failed(es.as_ref()))
}

async fn sync(es: &ExternalSecret, ctx: &Ctx) -> Result<Outcome> {
    shape::validate(&es.spec)?;
    shape::unsupported(&es.spec)?;
    refuse_hmac_key_secret(es, ctx)?;
    let (restarts, synced) = restart_targets(es, ctx)?;
    let stores = match sources::resolve(es, ctx).await? {
        ResolvedStores::OtherClass => return Ok(Outcome::NotOurs),
        ResolvedStores::Ours(stores) => stores,
    };
    let Some(max_age) = refresh_window(es, ctx) else {
        return Ok(Outcome::Done(
            Ready::synced(synced),
            Some(Written::Unchanged),
        ));
    };
    let keys = shape::remote_keys(&es.spec);
    let fetched = fetch_all(ctx, &stores, &keys, max_age).await?;
    let found = vault_find::find_all(ctx, &stores, &es.spec, max_age).await?;
    let nothing = fetched.is_empty() && found.values().all(|f| f.is_empty());
    if let Some(missing) = keys.iter().find(|k| !fetched.contains_key(*k)) {
        let err = AgentError::NotFound {
            field: field_of(es, missing),
            what: format!("key {:?}", missing.key),
        };
        return not_found(ctx, es, err, nothing).await;
    }
    if nothing && let Some(i) = es.spec.data_from.iter().position(|d| d.find.is_some()) {
        let err = AgentError::NotFound {
            field: format!("spec.dataFrom[{i}].find"),
            what: "any secret matching the find".into(),
        };
        return not_found(ctx, es, err, true).await;
    }
    let sources = template_sources::read(ctx, es).await?;
    let inputs = render::Inputs {
        spec: es.spec.clone(),
        fetched,
        found,
        sources,
    };
    let rendered = render::render(inputs, &ctx.cancel).await?;
    let policy = shape::WritePolicy {
        allow_service_account_tokens: ctx.config.allow_service_account_token_secrets,
    };
    shape::check_rendered(es, &rendered, policy)?;
    let tracked = restarts != restart::Targets::None;
    let (written, changed) = ctx.secrets.sync(es, &rendered, tracked).await?;
    let fingerprint = ctx.secrets.restart_fingerprint(es, &rendered.data);
    restart::after_sync(ctx, es, &restarts, &fingerprint, written, changed).await?;
    Ok(Outcome::Done(Ready::synced(synced), Some(written)))
}

/// The workloads to restart, and the Ready message: with rollout restarts switched off
/// (`--rollout-restarts=false`) the annotation is ignored, and the message says so.
fn restart_targets(es: &ExternalSecret, ctx: &Ctx) -> Result<(restart::Targets, &'static str)> {
    let targets = restart::targets(es)?;
    if targets != restart::Targets::None && !ctx.config.rollout_restarts {
        let note = "secret synced; ferry.dev/restart is ignored: rollout restarts are switched \
                    off in this installation (--rollout-restarts=false)";
        return Ok((restart::Targets::None, note));
    }
    Ok((targets, "secret synced"))
}

/// Refuses an ExternalSecret that would write or read the agent's own HMAC key Secret
/// (possible only from the agent's namespace).
fn refuse_hmac_key_secret(es: &ExternalSecret, ctx: &Ctx) -> Result<()> {
    let config = &ctx.config;
    if es.namespace().as_deref() != Some(config.own_namespace.as_str()) {
        return Ok(());
    }
    let key = config.hmac_key_secret.as_str();
    let from = es
        .spec
        .target
        .template
        .iter()
        .flat_map(|t| &t.template_from);
    let field = if es.target_name() == key {
        Some("spec.target.name".to_owned())
    } else {
        from.enumerate()
            .find(|(_, t)| t.secret.as_ref().is_some_and(|s| s.name == key))
            .map(|(i, _)| format!("spec.target.template.templateFrom[{i}].secret.name"))
    };
    match field {
        Some(field) => Err(AgentError::ValidateSpec {
            field,
            message: "names the agent's own HMAC key Secret".into(),
        }),
        None => Ok(()),
    }
}

/// How fresh the Vault data must be for this reconcile, or `None` when no refresh is due.
/// A change to the spec, labels or annotations (force-sync included) forces a fresh read.
fn refresh_window(es: &ExternalSecret, ctx: &Ctx) -> Option<Duration> {
    let synced = es
        .status
        .as_ref()
        .and_then(|s| s.synced_resource_version.as_deref());
    let changed = synced != Some(status::synced_version(es).as_str());
    let (ns, name) = target(es);
    let exists = ctx.secrets.exists(&ns, &name)
        || es.spec.target.creation_policy == ferry_api::CreationPolicy::None;
    if changed {
        return Some(Duration::ZERO);
    }
    let interval = es.spec.refresh_interval().unwrap_or_default();
    match es.spec.effective_refresh_policy() {
        RefreshPolicy::Periodic if !interval.is_zero() => Some(interval),
        _ if exists => None,
        _ => Some(Duration::ZERO),
    }
}

fn requeue_after_success(es: &ExternalSecret) -> Action {
    let interval = es.spec.refresh_interval().unwrap_or_default();
    match es.spec.effective_refresh_policy() {
        RefreshPolicy::Periodic if !interval.is_zero() => {
            // Up to 10% jitter spreads a cold start's refreshes over time.
            let jitter = interval.mul_f64(rand::random::<f64>() * 0.1);
            Action::requeue(interval + jitter)
        }
        _ => Action::await_change(),
    }
}

/// Reads every remote key, each from its store; a key missing from the result means Vault
/// said "not found".
async fn fetch_all(
    ctx: &Ctx,
    stores: &Stores,
    keys: &[RemoteKey],
    max_age: Duration,
) -> Result<BTreeMap<RemoteKey, KvSecret>> {
    let mut by_store: BTreeMap<Option<&SecretStoreRef>, Vec<RemoteKey>> = BTreeMap::new();
    for key in keys {
        by_store
            .entry(key.store.as_ref())
            .or_default()
            .push(key.clone());
    }
    let mut out = BTreeMap::new();
    for (store_ref, keys) in by_store {
        out.append(&mut fetch_from(ctx, stores, store_ref, &keys, max_age).await?);
    }
    Ok(out)
}

/// Reads `keys` from one store. A 403 drops the session and retries once with a fresh login.
async fn fetch_from(
    ctx: &Ctx,
    stores: &Stores,
    store_ref: Option<&SecretStoreRef>,
    keys: &[RemoteKey],
    max_age: Duration,
) -> Result<BTreeMap<RemoteKey, KvSecret>> {
    let store = stores.get(store_ref)?;
    let engine = match store.provider.version {
        VaultKvVersion::V1 => KvVersion::V1,
        VaultKvVersion::V2 => KvVersion::V2,
    };
    let mut retried = false;
    'session: loop {
        let (session, vault) = stores.session(ctx, store_ref).await?;
        let mut out = BTreeMap::new();
        for key in keys {
            let (mount, path) = mount_and_path(&store.provider, &key.key);
            let version = kv_version(key, engine)?;
            let read = if key.metadata {
                vault_find::read_metadata(&vault, &mount, &path).await
            } else {
                let f = &ctx.fetcher;
                f.read(&session, &vault, &mount, &path, engine, version, max_age)
                    .await
            };
            match read {
                Ok(Some(secret)) => {
                    out.insert(key.clone(), secret.as_ref().clone());
                }
                Ok(None) => {}
                Err(err) if err.is_forbidden() && !retried => {
                    ctx.sessions.invalidate(&session, &vault).await;
                    retried = true;
                    continue 'session;
                }
                Err(source) => {
                    return Err(AgentError::ReadVault {
                        path: format!("{mount}/{path}"),
                        source: Box::new(source),
                    });
                }
            }
        }
        return Ok(out);
    }
}

fn kv_version(key: &RemoteKey, engine: KvVersion) -> Result<Option<u64>> {
    if key.metadata && engine == KvVersion::V1 {
        return Err(AgentError::BuildSecret {
            field: format!("remoteRef {:?} metadataPolicy", key.key),
            message: "metadataPolicy Fetch needs a KV v2 store".into(),
        });
    }
    match (&key.version, engine) {
        (Some(v), KvVersion::V2) => {
            shape::parse_version(v)
                .map(Some)
                .ok_or_else(|| AgentError::BuildSecret {
                    field: format!("remoteRef {:?} version", key.key),
                    message: "a KV v2 version must be a positive integer".into(),
                })
        }
        _ => Ok(None),
    }
}

/// Vault said "not found" for at least one key, or no find selected anything: act as the
/// deletionPolicy says (`missing` is the error to report otherwise).
async fn not_found(
    ctx: &Ctx,
    es: &ExternalSecret,
    missing: AgentError,
    all_missing: bool,
) -> Result<Outcome> {
    match es.spec.target.deletion_policy {
        DeletionPolicy::Delete if all_missing => {
            ctx.secrets.delete(es).await?;
            let ready = Ready::failed(
                reason::SECRET_DELETED,
                "every referenced secret is gone from Vault; the Secret was deleted",
            );
            Ok(Outcome::Done(ready, None))
        }
        DeletionPolicy::Merge if all_missing => {
            ctx.secrets.remove_our_keys(es).await?;
            let ready = Ready::failed(
                reason::SECRET_DELETED,
                "every referenced secret is gone from Vault; its keys were removed from the Secret",
            );
            Ok(Outcome::Done(ready, None))
        }
        _ => Err(missing),
    }
}

/// The JSON path of the first field that references `key`.
fn field_of(es: &ExternalSecret, key: &RemoteKey) -> String {
    if let Some(i) = es
        .spec
        .data
        .iter()
        .position(|d| RemoteKey::at(&d.remote_ref, d.source_ref.as_ref()) == *key)
    {
        return format!("spec.data[{i}].remoteRef.key");
    }
    let extract = |d: &ferry_api::ExternalSecretDataFromRemoteRef| {
        let at = |e| RemoteKey::at(e, d.source_ref.as_ref());
        d.extract.as_ref().is_some_and(|e| at(e) == *key)
    };
    match es.spec.data_from.iter().position(extract) {
        Some(i) => format!("spec.dataFrom[{i}].extract.key"),
        None => "spec".to_string(),
    }
}
