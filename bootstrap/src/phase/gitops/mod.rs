//! Phase 3, the Git auth switch: the Git credentials of every GitOps engine `bootstrap.yaml`
//! names (Flux, Argo CD or both) become Vault-backed.
//!
//! Steps, each idempotent (a re-run after a kill at any point converges):
//!
//! 1. each engine's checks before any write (Flux: a running Flux must fetch with the
//!    Secret it has; every engine: the keys resolve against `env`);
//! 2. the agent's access ([`access`]): policy, ServiceAccount, Vault role, store;
//! 3. each Secret taken over ([`take_over`]): marked for adoption when the ExternalSecret
//!    will own it outright, the ExternalSecret applied ([`takeover`] says how literal keys
//!    are written), and a wait until the Secret matches Vault ([`matches`]);
//! 4. each engine told to use it: Flux reconciles its GitRepository
//!    ([`super::flux`]), Argo CD refreshes the Applications of the repository
//!    ([`super::argocd`]).
//!
//! Kubernetes objects are created or updated by server-side apply with bootstrap's field
//! manager; the Secret's data keys read from Vault belong to the agent's.

pub mod access;
pub mod matches;
pub mod takeover;
#[cfg(test)]
mod tests;

use ferry_config::BootstrapConfig;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::core::ResourceExt;

use crate::context::PhaseContext;
use crate::error::BootstrapError;
use crate::kubeutil::{FIELD_MANAGER, ensure_namespace};
use crate::phase::{argocd, flux};

pub use takeover::{Credentials, KeySource, Literals, Takeover};

/// Runs phase 3.
pub async fn run(ctx: &PhaseContext) -> Result<(), BootstrapError> {
    let flux = match &ctx.config.flux {
        Some(config) => Some(flux::prepare(ctx, config).await?),
        None => None,
    };
    let argocd = match &ctx.config.argocd {
        Some(config) => Some(argocd::takeovers(&ctx.config, config)?),
        None => None,
    };
    access::run(ctx).await?;
    if let Some(prepared) = flux {
        flux::switch(ctx, prepared).await?;
    }
    if let Some(takeovers) = argocd {
        argocd::switch(ctx, &takeovers).await?;
    }
    Ok(())
}

/// What phase 3 will do, for `--plan`.
pub fn planned_steps(config: &BootstrapConfig) -> Vec<String> {
    let agent = &config.agent;
    let mut steps = vec![format!(
        "policy and role {} for the agent; {} {}",
        agent.policy,
        agent.store_kind.as_str(),
        agent.store_name
    )];
    if let Some(flux) = &config.flux {
        steps.push(flux::planned_step(flux));
    }
    if let Some(argocd) = &config.argocd {
        steps.extend(argocd::planned_steps(argocd));
    }
    steps
}

/// Takes `target` over: marks an existing Secret for adoption when the ExternalSecret will
/// own it outright, applies the ExternalSecret, writes the literal keys when bootstrap
/// writes them, and waits until the Secret matches Vault.
pub async fn take_over(ctx: &PhaseContext, target: &Takeover) -> Result<(), BootstrapError> {
    let label = &target.label;
    if target.owns_outright() {
        let mark = mark_for_adoption(ctx, target);
        step(ctx, &format!("mark the {label} Secret for adoption"), mark).await?;
    }
    let apply = apply_external_secret(ctx, target);
    let es_uid = step(ctx, &format!("apply the {label} ExternalSecret"), apply).await?;
    if target.writes_literals() {
        let literals = apply_literals(ctx, target, &es_uid);
        step(
            ctx,
            &format!("write the {label} Secret's literal keys"),
            literals,
        )
        .await?;
    }
    let guard = ctx
        .progress
        .wait_step(&format!("wait for the {label} Secret to match Vault"));
    finish(
        guard,
        matches::secret_matches_vault(ctx, target, &es_uid).await,
    )
}

/// Runs `work` as a progress step named `name`, reporting how it ended.
pub(crate) async fn step<T>(
    ctx: &PhaseContext,
    name: &str,
    work: impl Future<Output = Result<T, BootstrapError>>,
) -> Result<T, BootstrapError> {
    let guard = ctx.progress.step(name);
    finish(guard, work.await)
}

/// Reports a step's result on its guard and passes the result on.
pub(crate) fn finish<T>(
    guard: crate::progress::StepGuard,
    result: Result<T, BootstrapError>,
) -> Result<T, BootstrapError> {
    match &result {
        Ok(_) => guard.done(),
        Err(e) => guard.failed(e),
    }
    result
}

/// Applies the ExternalSecret of `target` and returns its uid.
async fn apply_external_secret(
    ctx: &PhaseContext,
    target: &Takeover,
) -> Result<String, BootstrapError> {
    let ns = &target.namespace;
    ensure_namespace(&ctx.kube, ns).await?;
    let body = target.external_secret(&ctx.config);
    let api = Api::<DynamicObject>::namespaced_with(
        ctx.kube.clone(),
        ns,
        &eso_resource("ExternalSecret"),
    );
    let object = format!("ExternalSecret {ns}/{}", target.name);
    let applied = api
        .patch(&target.name, &apply_params(), &Patch::Apply(&body))
        .await
        .map_err(BootstrapError::kube(format!("applying {object}")))?;
    applied.uid().ok_or_else(|| BootstrapError::GitOpsObject {
        object,
        reason: "the API server returned it without a uid".to_owned(),
    })
}

/// Annotates the Secret (when it exists) so that the agent, which never takes over a Secret
/// it does not manage unasked, adopts it under creationPolicy Owner.
async fn mark_for_adoption(ctx: &PhaseContext, target: &Takeover) -> Result<(), BootstrapError> {
    let api = Api::<Secret>::namespaced(ctx.kube.clone(), &target.namespace);
    let patch = serde_json::json!({
        "metadata": { "annotations": { ferry_api::ADOPT_ANNOTATION: "true" } }
    });
    match api
        .patch(&target.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(BootstrapError::kube(format!(
            "annotating Secret {} for adoption",
            target.secret()
        ))(e)),
    }
}

/// Writes the Secret's literal keys and makes the ExternalSecret its controlling owner.
async fn apply_literals(
    ctx: &PhaseContext,
    target: &Takeover,
    es_uid: &str,
) -> Result<(), BootstrapError> {
    let body = target.secret_literals(es_uid);
    Api::<Secret>::namespaced(ctx.kube.clone(), &target.namespace)
        .patch(&target.name, &apply_params(), &Patch::Apply(&body))
        .await
        .map_err(BootstrapError::kube(format!(
            "applying the literal keys of Secret {}",
            target.secret()
        )))?;
    Ok(())
}

/// Server-side apply as bootstrap, taking over fields another manager set.
pub(crate) fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

/// The API resource of an external-secrets.io kind at the version phase 3 writes.
pub(crate) fn eso_resource(kind: &str) -> ApiResource {
    let plural = format!("{}s", kind.to_ascii_lowercase());
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(ferry_api::GROUP, "v1", kind),
        &plural,
    )
}
