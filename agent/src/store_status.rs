//! Store status: SecretStore and ClusterSecretStore get a Ready condition. `Valid` when the
//! provider configuration is usable (for a SecretStore, a login through the shared session
//! cache succeeded), `InvalidProviderConfig` when it cannot work as written, and
//! `ValidationFailed` when Vault refused the login.

use std::sync::Arc;
use std::time::Duration;

use ferry_api::meta::reason;
use ferry_api::store::SecretStoreCapabilities;
use ferry_api::{ClusterSecretStore, SecretStore, SecretStoreSpec, SecretStoreStatus, StoreKind};
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};

use crate::context::Ctx;
use crate::error::{AgentError, Result};
use crate::session::StoreContext;
use crate::status::{self, Ready};
use crate::store_resolve::{is_our_class, vault_provider};

/// How often a store's validity is re-checked when nothing changes.
const RECHECK: Duration = Duration::from_secs(300);

/// Reconciles a namespaced SecretStore's status.
#[tracing::instrument(
    name = "reconcile_store",
    skip_all,
    fields(namespace = %store.namespace().unwrap_or_default(), name = %store.name_any())
)]
pub async fn reconcile_store(store: Arc<SecretStore>, ctx: Arc<Ctx>) -> Result<Action> {
    if !is_our_class(&store.spec, &ctx.config.controller_class) {
        return Ok(Action::await_change());
    }
    let ns = store.namespace().unwrap_or_default();
    let ready = check(
        &ctx,
        &store.spec,
        StoreKind::SecretStore,
        &store.name_any(),
        Some(ns),
    )
    .await;
    let next = next_status(store.status.as_ref(), &ready);
    let api =
        Api::<SecretStore>::namespaced(ctx.client.clone(), &store.namespace().unwrap_or_default());
    status::patch_if_changed(&api, &store.name_any(), store.status.as_ref(), &next).await?;
    Ok(Action::requeue(RECHECK))
}

/// Reconciles a ClusterSecretStore's status. Its credentials may depend on the namespace of
/// each ExternalSecret, so only the configuration is checked here.
#[tracing::instrument(name = "reconcile_cluster_store", skip_all, fields(name = %store.name_any()))]
pub async fn reconcile_cluster_store(
    store: Arc<ClusterSecretStore>,
    ctx: Arc<Ctx>,
) -> Result<Action> {
    if !is_our_class(&store.spec, &ctx.config.controller_class) {
        return Ok(Action::await_change());
    }
    let kind = StoreKind::ClusterSecretStore;
    let ready = check(&ctx, &store.spec, kind, &store.name_any(), None).await;
    let next = next_status(store.status.as_ref(), &ready);
    let api = Api::<ClusterSecretStore>::all(ctx.client.clone());
    status::patch_if_changed(&api, &store.name_any(), store.status.as_ref(), &next).await?;
    Ok(Action::requeue(RECHECK))
}

/// Requeue after a store reconcile that errored (called outside the reconcile's span).
pub fn store_error_policy<K: Resource>(store: Arc<K>, err: &AgentError, _ctx: Arc<Ctx>) -> Action {
    tracing::warn!(
        namespace = store.namespace().unwrap_or_default(),
        name = %store.name_any(),
        category = err.category(),
        error = %err,
        "store status update failed"
    );
    Action::requeue(Duration::from_secs(10))
}

async fn check(
    ctx: &Ctx,
    spec: &SecretStoreSpec,
    kind: StoreKind,
    name: &str,
    namespace: Option<String>,
) -> Ready {
    let provider = match vault_provider(spec, kind, name) {
        Ok(p) => p,
        Err(err) => return Ready::failed(reason::INVALID_PROVIDER_CONFIG, err.to_string()),
    };
    if provider.server.trim().is_empty() {
        let msg = "spec.provider.vault.server: must be set";
        return Ready::failed(reason::INVALID_PROVIDER_CONFIG, msg);
    }
    let Some(namespace) = namespace else {
        return valid("store configuration is valid; credentials are checked per ExternalSecret");
    };
    let store = StoreContext {
        kind,
        name: name.to_string(),
        provider,
        ref_namespace: namespace,
    };
    match ctx.sessions.get(&store).await {
        Ok(_) => valid("store validated: logged in to Vault"),
        Err(err @ (AgentError::Unsupported { .. } | AgentError::ValidateSpec { .. })) => {
            Ready::failed(reason::INVALID_PROVIDER_CONFIG, err.to_string())
        }
        Err(err) => Ready::failed(reason::VALIDATION_FAILED, err.to_string()),
    }
}

fn valid(message: &str) -> Ready {
    Ready {
        ready: true,
        reason: reason::STORE_VALID,
        message: message.to_string(),
    }
}

fn next_status(old: Option<&SecretStoreStatus>, ready: &Ready) -> SecretStoreStatus {
    SecretStoreStatus {
        conditions: vec![status::condition(
            old.and_then(|s| s.ready_condition()),
            ready,
        )],
        // Vault stores are read (ExternalSecrets) and written (PushSecrets), as in ESO.
        capabilities: Some(SecretStoreCapabilities::ReadWrite),
    }
}
