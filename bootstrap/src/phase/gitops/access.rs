//! The agent's access, set up at the start of phase 3 for every engine's Secrets: its Vault
//! policy, its ServiceAccount, its Kubernetes auth role, and the store the ExternalSecrets
//! name.
//!
//! A `ClusterSecretStore` serves every namespace and names the agent's ServiceAccount in the
//! agent's own namespace. A namespaced `SecretStore` can only serve, and name a
//! ServiceAccount of, its own namespace, so with `storeKind: SecretStore` each engine's
//! namespace (Flux's, Argo CD's) gets a store and a ServiceAccount of the same name, and the
//! role is bound in each of them.

use ferry_config::{BootstrapConfig, KvVersion, StoreKind};
use ferry_policy::{PolicyParams, Template};
use ferry_vault::KubernetesRole;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, DynamicObject, Patch};
use serde_json::{Value, json};

use super::takeover::ESO_API_VERSION;
use super::{apply_params, eso_resource, step};
use crate::context::PhaseContext;
use crate::error::BootstrapError;
use crate::kubeutil::ensure_namespace;

/// The TTL of the agent's Vault tokens; the agent renews them before they run out.
pub const AGENT_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// The four steps, in order.
pub async fn run(ctx: &PhaseContext) -> Result<(), BootstrapError> {
    step(ctx, "write the agent policy", write_agent_policy(ctx)).await?;
    step(ctx, "create the agent ServiceAccount", service_account(ctx)).await?;
    step(ctx, "write the agent's Vault role", write_agent_role(ctx)).await?;
    step(ctx, "apply the secret store", apply_stores(ctx)).await
}

/// The namespaces that hold a namespaced store: each engine's, without repeats; none for a
/// `ClusterSecretStore`.
pub fn store_namespaces(config: &BootstrapConfig) -> Vec<&str> {
    if config.agent.store_kind == StoreKind::ClusterSecretStore {
        return Vec::new();
    }
    let mut namespaces = Vec::new();
    let engines = [
        config.flux.as_ref().map(|f| f.namespace.as_str()),
        config.argocd.as_ref().map(|a| a.namespace.as_str()),
    ];
    for ns in engines.into_iter().flatten() {
        if !namespaces.contains(&ns) {
            namespaces.push(ns);
        }
    }
    namespaces
}

/// The namespaces the agent's ServiceAccount is created in and its role is bound to: its
/// own, and each namespaced store's.
pub fn service_account_namespaces(config: &BootstrapConfig) -> Vec<&str> {
    let mut namespaces = vec![config.agent.namespace.as_str()];
    for ns in store_namespaces(config) {
        if !namespaces.contains(&ns) {
            namespaces.push(ns);
        }
    }
    namespaces
}

/// The Vault Kubernetes auth role of the agent: its ServiceAccount in those namespaces.
pub fn agent_role(config: &BootstrapConfig) -> KubernetesRole {
    let agent = &config.agent;
    KubernetesRole {
        bound_service_account_names: vec![agent.service_account.clone()],
        bound_service_account_namespaces: service_account_namespaces(config)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        policies: vec![agent.policy.clone()],
        ttl: Some(AGENT_TOKEN_TTL),
        // Ferry requests the agent's tokens for this audience, never the API server's.
        audience: Some(ferry_api::vault::DEFAULT_TOKEN_AUDIENCE.to_owned()),
    }
}

/// The store's manifest: the Vault provider with Kubernetes auth as the agent's
/// ServiceAccount. `namespace` is the namespaced store's (`None` for a
/// `ClusterSecretStore`); `ca_pem` is the PEM bundle from `vault.caFile` / `vault.caPem`.
pub fn store(config: &BootstrapConfig, namespace: Option<&str>, ca_pem: Option<&[u8]>) -> Value {
    use base64::Engine;
    let agent = &config.agent;
    let mut metadata = json!({ "name": agent.store_name });
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    let mut vault = json!({
        "server": config.vault.address,
        "path": config.kv.mount,
        "version": match config.kv.version { KvVersion::V1 => "v1", KvVersion::V2 => "v2" },
        "auth": { "kubernetes": {
            "mountPath": config.kubernetes_auth.mount,
            "role": agent.role,
            "serviceAccountRef": {
                "name": agent.service_account,
                "namespace": namespace.unwrap_or(&agent.namespace),
            },
        } },
    });
    if let Some(ns) = &config.vault.namespace {
        vault["namespace"] = json!(ns);
    }
    if let Some(pem) = ca_pem {
        vault["caBundle"] = json!(base64::engine::general_purpose::STANDARD.encode(pem));
    }
    let mut spec = json!({ "provider": { "vault": vault } });
    if let Some(class) = &agent.controller_class {
        spec["controller"] = json!(class);
    }
    json!({
        "apiVersion": ESO_API_VERSION,
        "kind": agent.store_kind.as_str(),
        "metadata": metadata,
        "spec": spec,
    })
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

/// Creates the agent's ServiceAccount in each of [`service_account_namespaces`].
async fn service_account(ctx: &PhaseContext) -> Result<(), BootstrapError> {
    let agent = &ctx.config.agent;
    for ns in service_account_namespaces(&ctx.config) {
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
    let role = agent_role(&ctx.config);
    ctx.vault
        .write_kubernetes_role(mount, name, &role)
        .await
        .map_err(BootstrapError::vault(format!(
            "writing role auth/{mount}/role/{name}"
        )))
}

/// Applies the store the ExternalSecrets reference (one per namespace when namespaced).
async fn apply_stores(ctx: &PhaseContext) -> Result<(), BootstrapError> {
    let ca = vault_ca(ctx)?;
    let agent = &ctx.config.agent;
    let kind = agent.store_kind.as_str();
    let resource = eso_resource(kind);
    let namespaces: Vec<Option<&str>> = match agent.store_kind {
        StoreKind::ClusterSecretStore => vec![None],
        StoreKind::SecretStore => store_namespaces(&ctx.config)
            .into_iter()
            .map(Some)
            .collect(),
    };
    for ns in namespaces {
        let body = store(&ctx.config, ns, ca.as_deref());
        let api = match ns {
            None => Api::<DynamicObject>::all_with(ctx.kube.clone(), &resource),
            Some(ns) => {
                ensure_namespace(&ctx.kube, ns).await?;
                Api::<DynamicObject>::namespaced_with(ctx.kube.clone(), ns, &resource)
            }
        };
        let what = match ns {
            None => format!("{kind} {}", agent.store_name),
            Some(ns) => format!("{kind} {ns}/{}", agent.store_name),
        };
        api.patch(&agent.store_name, &apply_params(), &Patch::Apply(&body))
            .await
            .map_err(BootstrapError::kube(format!("applying {what}")))?;
    }
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
