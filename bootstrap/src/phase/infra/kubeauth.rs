//! Kubernetes auth in Vault: the mount enabled and pointed at the API server (host and CA
//! from `kubernetesAuth`, else from the kubeconfig), with a TokenReview ServiceAccount for
//! a Vault that runs outside the cluster (`kubernetesAuth.reviewerServiceAccount`).

use base64::Engine;
use ferry_config::BootstrapConfig;
use ferry_vault::{SecretString, Vault};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::error::BootstrapError;
use crate::kubeutil::FIELD_MANAGER;

/// How long the reviewer's token is requested for; a re-run of phase 1 issues a new one.
const REVIEWER_TOKEN_SECONDS: i64 = 365 * 24 * 3600;

/// Enables (if needed) and configures the Kubernetes auth mount.
pub async fn configure(
    kube: &kube::Client,
    admin: &Vault,
    config: &BootstrapConfig,
    kube_config: &kube::Config,
) -> Result<(), BootstrapError> {
    let auth = &config.kubernetes_auth;
    let methods = admin
        .list_auth_methods()
        .await
        .map_err(BootstrapError::vault("listing auth methods"))?;
    if !methods.contains_key(&format!("{}/", auth.mount)) {
        admin
            .enable_auth(&auth.mount, "kubernetes")
            .await
            .map_err(BootstrapError::vault(format!(
                "enabling Kubernetes auth at auth/{}",
                auth.mount
            )))?;
    }
    let host = match &auth.host {
        Some(host) => host.clone(),
        None => kube_config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_owned(),
    };
    let ca_cert_pem =
        match &auth.ca_file {
            Some(file) => Some(std::fs::read_to_string(file).map_err(|e| {
                BootstrapError::InvalidArgument {
                    field: "kubernetesAuth.caFile".into(),
                    message: format!("reading {}: {e}", file.display()),
                }
            })?),
            None => kube_config.root_cert.as_ref().map(|ders| pem_bundle(ders)),
        };
    let token_reviewer_jwt = match &auth.reviewer_service_account {
        Some(sa) => Some(reviewer_token(kube, &config.agent.namespace, sa).await?),
        None => None,
    };
    let cfg = ferry_vault::KubernetesAuthConfig {
        host,
        ca_cert_pem,
        disable_local_ca_jwt: token_reviewer_jwt.is_some(),
        token_reviewer_jwt,
        issuer: None,
    };
    admin
        .configure_kubernetes_auth(&auth.mount, &cfg)
        .await
        .map_err(BootstrapError::vault(format!(
            "configuring auth/{}/config",
            auth.mount
        )))
}

/// PEM `CERTIFICATE` blocks for DER certificates.
fn pem_bundle(ders: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for der in ders {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

fn invalid(e: serde_json::Error) -> BootstrapError {
    BootstrapError::InvalidArgument {
        field: "kubernetesAuth.reviewerServiceAccount".into(),
        message: e.to_string(),
    }
}

/// The TokenReview ServiceAccount: applied, bound to `system:auth-delegator`, and a token
/// issued for it.
async fn reviewer_token(
    kube: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<SecretString, BootstrapError> {
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    let sa: ServiceAccount = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": { "name": name, "namespace": namespace }
    }))
    .map_err(invalid)?;
    let sas = Api::<ServiceAccount>::namespaced(kube.clone(), namespace);
    sas.patch(name, &apply, &Patch::Apply(&sa))
        .await
        .map_err(BootstrapError::kube(format!(
            "creating ServiceAccount {namespace}/{name}"
        )))?;
    let binding_name = format!("ferry-token-review-{namespace}-{name}");
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": { "name": binding_name },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "system:auth-delegator" },
        "subjects": [{ "kind": "ServiceAccount", "name": name, "namespace": namespace }],
    }))
    .map_err(invalid)?;
    Api::<ClusterRoleBinding>::all(kube.clone())
        .patch(&binding_name, &apply, &Patch::Apply(&binding))
        .await
        .map_err(BootstrapError::kube(format!(
            "binding {namespace}/{name} to system:auth-delegator"
        )))?;
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: Vec::new(),
            expiration_seconds: Some(REVIEWER_TOKEN_SECONDS),
            bound_object_ref: None,
        },
        ..Default::default()
    };
    let answer = sas
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .map_err(BootstrapError::kube(format!(
            "requesting a token for {namespace}/{name}"
        )))?;
    let token = answer.status.map(|s| s.token).unwrap_or_default();
    Ok(SecretString::from(token))
}
