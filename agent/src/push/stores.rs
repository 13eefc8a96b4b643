//! The stores a PushSecret pushes through: `secretStoreRefs` by name or label selector,
//! resolved with the same rules as an ExternalSecret's store (controller class, a
//! ClusterSecretStore's namespace conditions), plus one rule of its own: a push never goes
//! through the agent's own identity (Kubernetes auth with the agent pod's token).

use ferry_api::{ClusterSecretStore, PushSecret, SecretStore, SecretStoreSpec, StoreKind};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use crate::context::Ctx;
use crate::error::{AgentError, KubeCause, Result};
use crate::session::StoreContext;
use crate::store_resolve::{admits, is_our_class, selector_matches, vault_provider};

/// One store to push through.
#[derive(Clone)]
pub struct PushStore {
    /// `Kind/name`, the store's key in `status.syncedPushSecrets`.
    pub key: String,
    /// What the session cache logs in with.
    pub context: StoreContext,
    /// The `secretStoreRefs` entry that selected it, for errors.
    pub field: String,
}

/// Resolves every `secretStoreRefs` entry. Stores of another controller class are left out
/// (another controller pushes through them); an empty result means none is ours.
pub async fn resolve(ctx: &Ctx, ps: &PushSecret) -> Result<Vec<PushStore>> {
    let ns = ps.namespace().unwrap_or_default();
    let mut out: Vec<PushStore> = Vec::new();
    for (i, r) in ps.spec.secret_store_refs.iter().enumerate() {
        let field = format!("spec.secretStoreRefs[{i}]");
        for (name, spec) in candidates(ctx, &ns, r, &field).await? {
            let key = super::plan::store_key(r.kind, &name);
            if out.iter().any(|s| s.key == key) {
                continue;
            }
            if let Some(store) = checked(ctx, &ns, r.kind, name, &spec, &field).await? {
                out.push(store);
            }
        }
    }
    Ok(out)
}

/// One store by kind and name (a store something was pushed through earlier), with the same
/// checks; `None` when it no longer exists or belongs to another controller class.
pub async fn one(
    ctx: &Ctx,
    ps: &PushSecret,
    kind: StoreKind,
    name: &str,
) -> Result<Option<PushStore>> {
    let ns = ps.namespace().unwrap_or_default();
    let Some(spec) = by_name(ctx, &ns, kind, name).await? else {
        return Ok(None);
    };
    checked(
        ctx,
        &ns,
        kind,
        name.to_owned(),
        &spec,
        "status.syncedPushSecrets",
    )
    .await
}

/// The tenant rules for one store: ours (controller class), admitting the namespace (a
/// ClusterSecretStore's conditions), a Vault provider, not the agent's own identity.
async fn checked(
    ctx: &Ctx,
    ns: &str,
    kind: StoreKind,
    name: String,
    spec: &SecretStoreSpec,
    field: &str,
) -> Result<Option<PushStore>> {
    if !is_our_class(spec, &ctx.config.controller_class) {
        return Ok(None);
    }
    if kind == StoreKind::ClusterSecretStore && !admits(&spec.conditions, &ctx.client, ns).await? {
        return Err(AgentError::StoreNotAllowed {
            store: name,
            namespace: ns.to_owned(),
        });
    }
    let provider = vault_provider(spec, kind, &name)?;
    refuse_agent_identity(&provider, kind, &name)?;
    let key = super::plan::store_key(kind, &name);
    let context = StoreContext {
        kind,
        name,
        provider,
        ref_namespace: ns.to_owned(),
    };
    Ok(Some(PushStore {
        key,
        context,
        field: field.to_owned(),
    }))
}

/// The stores one entry selects, as (name, spec).
async fn candidates(
    ctx: &Ctx,
    ns: &str,
    r: &ferry_api::PushSecretStoreRef,
    field: &str,
) -> Result<Vec<(String, SecretStoreSpec)>> {
    if let Some(name) = r.name.as_deref().filter(|n| !n.is_empty()) {
        let spec =
            by_name(ctx, ns, r.kind, name)
                .await?
                .ok_or_else(|| AgentError::ResolveStore {
                    kind: r.kind.as_str(),
                    name: name.to_owned(),
                    reason: "not found".into(),
                })?;
        return Ok(vec![(name.to_owned(), spec)]);
    }
    let Some(selector) = &r.label_selector else {
        return Ok(Vec::new());
    };
    let sel_field = format!("{field}.labelSelector");
    let mut found = Vec::new();
    match r.kind {
        StoreKind::SecretStore => {
            for s in ctx.stores.namespaced.state() {
                if s.namespace().as_deref() == Some(ns)
                    && selector_matches(selector, s.labels(), &sel_field)?
                {
                    found.push((s.name_any(), s.spec.clone()));
                }
            }
        }
        StoreKind::ClusterSecretStore => {
            for s in ctx.stores.cluster.state() {
                if selector_matches(selector, s.labels(), &sel_field)? {
                    found.push((s.name_any(), s.spec.0.clone()));
                }
            }
        }
    }
    if found.is_empty() {
        return Err(AgentError::SelectObjects {
            field: sel_field,
            reason: format!("no {} matches the selector", r.kind.as_str()),
        });
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// A store by name: from the watch cache, else from the API server (a store created just
/// before the PushSecret may not be in the cache yet); `None` when it does not exist.
async fn by_name(
    ctx: &Ctx,
    ns: &str,
    kind: StoreKind,
    name: &str,
) -> Result<Option<SecretStoreSpec>> {
    let failed = |e: kube::Error| AgentError::ResolveStore {
        kind: kind.as_str(),
        name: name.to_owned(),
        reason: KubeCause::from(e).to_string(),
    };
    match kind {
        StoreKind::SecretStore => {
            if let Some(s) = ctx.stores.namespaced.get(&ObjectRef::new(name).within(ns)) {
                return Ok(Some(s.spec.clone()));
            }
            let api = Api::<SecretStore>::namespaced(ctx.client.clone(), ns);
            Ok(api.get_opt(name).await.map_err(failed)?.map(|s| s.spec))
        }
        StoreKind::ClusterSecretStore => {
            if let Some(s) = ctx.stores.cluster.get(&ObjectRef::new(name)) {
                return Ok(Some(s.spec.0.clone()));
            }
            let api = Api::<ClusterSecretStore>::all(ctx.client.clone());
            Ok(api.get_opt(name).await.map_err(failed)?.map(|s| s.spec.0))
        }
    }
}

/// A store that would log in with the agent pod's own token (Kubernetes auth without
/// `serviceAccountRef` or `secretRef`) never serves a push: the agent's Vault identity is
/// not a tenant's to write with.
fn refuse_agent_identity(
    provider: &ferry_api::VaultProvider,
    kind: StoreKind,
    name: &str,
) -> Result<()> {
    let pod_token = provider
        .auth
        .as_ref()
        .filter(|a| a.token_secret_ref.is_none() && a.app_role.is_none())
        .and_then(|a| a.kubernetes.as_ref())
        .is_some_and(|k| k.service_account_ref.is_none() && k.secret_ref.is_none());
    if pod_token {
        return Err(AgentError::ResolveStore {
            kind: kind.as_str(),
            name: name.to_owned(),
            reason: "it logs in with the agent's own ServiceAccount token, which never serves a \
                     push; give the store a serviceAccountRef or secretRef"
                .into(),
        });
    }
    Ok(())
}
