//! Phase 3, the Git auth switch: Flux's Git credentials Secret becomes Vault-backed.
//!
//! Steps, each idempotent (a re-run after a kill at any point converges):
//!
//! 1. write the agent's policy (the `agent` template rendered from `bootstrap.yaml`);
//! 2. create the agent's namespace and ServiceAccount;
//! 3. write the agent's Vault Kubernetes auth role, bound to that ServiceAccount;
//! 4. apply the SecretStore or ClusterSecretStore (Vault provider, Kubernetes auth);
//! 5. apply the ExternalSecret that takes over the Flux Secret ([`manifests`] explains how
//!    keys written literally in `bootstrap.yaml` are handled);
//! 6. wait until the ExternalSecret is Ready, the Secret is controlled by it, and the
//!    Secret's content matches Vault, comparing keyed hashes under a fresh random key (never
//!    the values themselves);
//! 7. request a Flux reconcile of the GitRepository and, when Flux's CRD is installed, wait
//!    for it to be Ready (steps 6 and 7 are waits on external controllers).
//!
//! Kubernetes objects are created or updated by server-side apply with bootstrap's field
//! manager; the Secret's data keys read from Vault belong to the agent's.

pub mod manifests;
mod wait;

use ferry_config::BootstrapConfig;
use ferry_policy::{PolicyParams, Template};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::core::ResourceExt;
use serde_json::json;

use crate::context::PhaseContext;
use crate::error::BootstrapError;
use crate::kubeutil::{FIELD_MANAGER, ensure_namespace};

pub use manifests::{Credentials, KeySource, credentials};

/// Runs phase 3.
pub async fn run(ctx: &PhaseContext) -> Result<(), BootstrapError> {
    let creds = credentials(&ctx.config)?;
    step(ctx, "write the agent policy", write_agent_policy(ctx)).await?;
    step(ctx, "create the agent ServiceAccount", service_account(ctx)).await?;
    step(ctx, "write the agent's Vault role", write_agent_role(ctx)).await?;
    step(ctx, "apply the secret store", apply_store(ctx)).await?;
    if !creds.has_literals() {
        let mark = mark_for_adoption(ctx);
        step(ctx, "mark the Flux Secret for adoption", mark).await?;
    }
    let es_uid = step(ctx, "apply the Flux ExternalSecret", apply_es(ctx, &creds)).await?;
    if creds.has_literals() {
        let literals = apply_literals(ctx, &creds, &es_uid);
        step(ctx, "write the Flux Secret's literal keys", literals).await?;
    }
    let guard = ctx
        .progress
        .wait_step("wait for the Flux Secret to match Vault");
    finish(
        guard,
        wait::secret_matches_vault(ctx, &creds, &es_uid).await,
    )?;
    wait::reconcile_git_repository(ctx).await
}

/// What phase 3 will do, for `--plan`.
pub fn planned_steps(config: &BootstrapConfig) -> Vec<String> {
    let (agent, flux) = (&config.agent, &config.flux);
    vec![
        format!(
            "policy and role {} for the agent; {} {}",
            agent.policy,
            agent.store_kind.as_str(),
            agent.store_name
        ),
        format!(
            "ExternalSecret for Secret {}/{}; await it matching Vault; reconcile GitRepository {}",
            flux.namespace, flux.secret_name, flux.git_repository
        ),
    ]
}

/// Runs `work` as a progress step named `name`, reporting how it ended.
async fn step<T>(
    ctx: &PhaseContext,
    name: &str,
    work: impl Future<Output = Result<T, BootstrapError>>,
) -> Result<T, BootstrapError> {
    let guard = ctx.progress.step(name);
    finish(guard, work.await)
}

/// Reports a step's result on its guard and passes the result on.
fn finish<T>(
    guard: crate::progress::StepGuard,
    result: Result<T, BootstrapError>,
) -> Result<T, BootstrapError> {
    match &result {
        Ok(_) => guard.done(),
        Err(e) => guard.failed(e),
    }
    result
}

/// Renders the `agent` policy template and writes it unless Vault already has that text.
async fn write_agent_policy(ctx: &PhaseContext) -> Result<(), BootstrapError> {
    let name = &ctx.config.agent.policy;
    let render_err = |source| BootstrapError::RenderPolicy {
        policy: name.clone(),
        source,
    };
    let params = PolicyParams::from_config(&ctx.config, None).map_err(render_err)?;
    let hcl = ferry_policy::render(Template::Agent, &params).map_err(render_err)?;
    let current = ctx
        .vault
        .read_policy(name)
        .await
        .map_err(BootstrapError::vault(format!("reading policy {name}")))?;
    if current.as_deref() == Some(hcl.as_str()) {
        return Ok(());
    }
    ctx.vault
        .write_policy(name, &hcl)
        .await
        .map_err(BootstrapError::vault(format!("writing policy {name}")))
}

/// Creates the agent's namespace and ServiceAccount (and, for a namespaced store, the
/// ServiceAccount of the same name in Flux's namespace).
async fn service_account(ctx: &PhaseContext) -> Result<(), BootstrapError> {
    let agent = &ctx.config.agent;
    let mut namespaces = vec![agent.namespace.as_str()];
    let store_ns = manifests::store_service_account_namespace(&ctx.config);
    if store_ns != agent.namespace {
        namespaces.push(store_ns);
    }
    for ns in namespaces {
        ensure_namespace(&ctx.kube, ns).await?;
        let body = json!({ "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": { "name": agent.service_account, "namespace": ns } });
        Api::<ServiceAccount>::namespaced(ctx.kube.clone(), ns)
            .patch(
                &agent.service_account,
                &apply_params(),
                &Patch::Apply(&body),
            )
            .await
            .map_err(BootstrapError::kube(format!(
                "applying ServiceAccount {ns}/{}",
                agent.service_account
            )))?;
    }
    Ok(())
}

/// Writes the agent's Kubernetes auth role (a write of the same role is a no-op in Vault).
async fn write_agent_role(ctx: &PhaseContext) -> Result<(), BootstrapError> {
    let mount = &ctx.config.kubernetes_auth.mount;
    let name = &ctx.config.agent.role;
    let role = manifests::agent_role(&ctx.config);
    ctx.vault
        .write_kubernetes_role(mount, name, &role)
        .await
        .map_err(BootstrapError::vault(format!(
            "writing role auth/{mount}/role/{name}"
        )))
}

/// Applies the store the ExternalSecret references.
async fn apply_store(ctx: &PhaseContext) -> Result<(), BootstrapError> {
    let ca = vault_ca(ctx)?;
    let body = manifests::store(&ctx.config, ca.as_deref());
    let agent = &ctx.config.agent;
    let kind = agent.store_kind.as_str();
    let api = match agent.store_kind {
        ferry_config::StoreKind::ClusterSecretStore => {
            Api::<DynamicObject>::all_with(ctx.kube.clone(), &eso_resource(kind))
        }
        ferry_config::StoreKind::SecretStore => Api::<DynamicObject>::namespaced_with(
            ctx.kube.clone(),
            &ctx.config.flux.namespace,
            &eso_resource(kind),
        ),
    };
    api.patch(&agent.store_name, &apply_params(), &Patch::Apply(&body))
        .await
        .map_err(BootstrapError::kube(format!(
            "applying {kind} {}",
            agent.store_name
        )))?;
    Ok(())
}

/// The PEM CA bundle for Vault from `vault.caFile` or `vault.caPem`, if configured.
fn vault_ca(ctx: &PhaseContext) -> Result<Option<Vec<u8>>, BootstrapError> {
    let vault = &ctx.config.vault;
    if let Some(file) = &vault.ca_file {
        let pem = std::fs::read(file).map_err(|e| BootstrapError::InvalidArgument {
            field: "vault.caFile".to_owned(),
            message: format!("reading {}: {e}", file.display()),
        })?;
        return Ok(Some(pem));
    }
    Ok(vault.ca_pem.as_ref().map(|pem| pem.as_bytes().to_vec()))
}

/// Applies the ExternalSecret and returns its uid.
async fn apply_es(ctx: &PhaseContext, creds: &Credentials) -> Result<String, BootstrapError> {
    let ns = &ctx.config.flux.namespace;
    ensure_namespace(&ctx.kube, ns).await?;
    let name = manifests::external_secret_name(&ctx.config);
    let body = manifests::external_secret(&ctx.config, creds);
    let api = Api::<DynamicObject>::namespaced_with(
        ctx.kube.clone(),
        ns,
        &eso_resource("ExternalSecret"),
    );
    let applied = api
        .patch(name, &apply_params(), &Patch::Apply(&body))
        .await
        .map_err(BootstrapError::kube(format!(
            "applying ExternalSecret {ns}/{name}"
        )))?;
    applied.uid().ok_or_else(|| BootstrapError::FluxObject {
        object: format!("ExternalSecret {ns}/{name}"),
        reason: "the API server returned it without a uid".to_owned(),
    })
}

/// Annotates the Flux Secret (when it exists) so that the agent, which never takes over a
/// Secret it does not manage unasked, adopts it under creationPolicy Owner.
async fn mark_for_adoption(ctx: &PhaseContext) -> Result<(), BootstrapError> {
    let flux = &ctx.config.flux;
    let api =
        Api::<k8s_openapi::api::core::v1::Secret>::namespaced(ctx.kube.clone(), &flux.namespace);
    let patch = serde_json::json!({
        "metadata": { "annotations": { ferry_api::ADOPT_ANNOTATION: "true" } }
    });
    match api
        .patch(
            &flux.secret_name,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(BootstrapError::kube(format!(
            "annotating Secret {}/{} for adoption",
            flux.namespace, flux.secret_name
        ))(e)),
    }
}

/// Writes the Secret's literal keys and makes the ExternalSecret its controlling owner.
async fn apply_literals(
    ctx: &PhaseContext,
    creds: &Credentials,
    es_uid: &str,
) -> Result<(), BootstrapError> {
    let flux = &ctx.config.flux;
    let body = manifests::secret_literals(&ctx.config, creds, es_uid);
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(ctx.kube.clone(), &flux.namespace)
        .patch(&flux.secret_name, &apply_params(), &Patch::Apply(&body))
        .await
        .map_err(BootstrapError::kube(format!(
            "applying the literal keys of Secret {}/{}",
            flux.namespace, flux.secret_name
        )))?;
    Ok(())
}

/// Server-side apply as bootstrap, taking over fields another manager set.
fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

/// The API resource of an external-secrets.io kind at the version phase 3 writes.
fn eso_resource(kind: &str) -> ApiResource {
    let plural = format!("{}s", kind.to_ascii_lowercase());
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(ferry_api::GROUP, "v1", kind),
        &plural,
    )
}
