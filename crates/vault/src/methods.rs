//! Configuration of auth methods and their roles: Kubernetes, AppRole and
//! JWT.

use std::time::Duration;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use vaultrs::api::auth::approle::requests::{GenerateNewSecretIDRequest, SetAppRoleRequest};
use vaultrs::api::auth::kubernetes::requests::CreateKubernetesRoleRequest;
use vaultrs::api::auth::oidc::requests::{SetConfigurationRequest, SetRoleRequest};

use crate::client::Vault;
use crate::error::{Cause, VaultError};
use crate::util::{ClientResultExt, non_empty_path, vault_duration};

/// Configuration of a Kubernetes auth mount (`auth/<mount>/config`).
#[derive(Debug, Clone, Default)]
pub struct KubernetesAuthConfig {
    /// API server URL, e.g. `https://kubernetes.default.svc`.
    pub host: String,
    /// PEM CA of the API server.
    pub ca_cert_pem: Option<String>,
    /// JWT used to call the TokenReview API (redacted in `Debug`).
    pub token_reviewer_jwt: Option<SecretString>,
    /// Do not use the pod's own service account token and CA.
    pub disable_local_ca_jwt: bool,
    /// Expected `iss` of service account tokens.
    pub issuer: Option<String>,
}

/// A Kubernetes auth role (`auth/<mount>/role/<name>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubernetesRole {
    /// Allowed service account names (`*` for any).
    pub bound_service_account_names: Vec<String>,
    /// Allowed namespaces (`*` for any).
    pub bound_service_account_namespaces: Vec<String>,
    /// Policies of issued tokens.
    pub policies: Vec<String>,
    /// TTL of issued tokens.
    pub ttl: Option<Duration>,
    /// Required audience of the service account token.
    pub audience: Option<String>,
}

/// Configuration of a JWT auth mount (`auth/<mount>/config`): either
/// static public keys, a JWKS URL or an OIDC discovery URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwtAuthConfig {
    /// PEM public keys used to verify JWT signatures.
    pub jwt_validation_pubkeys: Vec<String>,
    /// JWKS endpoint.
    pub jwks_url: Option<String>,
    /// OIDC discovery URL (issuer).
    pub oidc_discovery_url: Option<String>,
    /// PEM CA for the JWKS or discovery URL.
    pub ca_pem: Option<String>,
    /// Required `iss` claim.
    pub bound_issuer: Option<String>,
}

/// A JWT auth role (`auth/<mount>/role/<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtRole {
    /// Role type; `jwt` (the default here) for non-interactive logins.
    pub role_type: String,
    /// Accepted `aud` values.
    pub bound_audiences: Vec<String>,
    /// Claim used as the identity alias name (default `sub`).
    pub user_claim: String,
    /// Required `sub` claim.
    pub bound_subject: Option<String>,
    /// Policies of issued tokens.
    pub policies: Vec<String>,
    /// TTL of issued tokens.
    pub ttl: Option<Duration>,
}

impl Default for JwtRole {
    fn default() -> Self {
        JwtRole {
            role_type: "jwt".to_owned(),
            bound_audiences: Vec::new(),
            user_claim: "sub".to_owned(),
            bound_subject: None,
            policies: Vec::new(),
            ttl: None,
        }
    }
}

/// Body of `auth/<mount>/config` for Kubernetes; sent raw because vaultrs'
/// request type has no `token_reviewer_jwt`.
#[derive(Serialize)]
struct KubernetesConfigBody<'a> {
    kubernetes_host: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kubernetes_ca_cert: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_reviewer_jwt: Option<&'a str>,
    disable_local_ca_jwt: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<&'a str>,
}

impl Vault {
    /// Configures a Kubernetes auth mount (raw call: vaultrs cannot send
    /// `token_reviewer_jwt`).
    pub async fn configure_kubernetes_auth(
        &self,
        mount: &str,
        cfg: &KubernetesAuthConfig,
    ) -> Result<(), VaultError> {
        let err = auth_config_err(mount, "config");
        let clean = non_empty_path(mount, "auth mount").map_err(&err)?;
        let body = KubernetesConfigBody {
            kubernetes_host: &cfg.host,
            kubernetes_ca_cert: cfg.ca_cert_pem.as_deref(),
            token_reviewer_jwt: cfg.token_reviewer_jwt.as_ref().map(|t| t.expose_secret()),
            disable_local_ca_jwt: cfg.disable_local_ca_jwt,
            issuer: cfg.issuer.as_deref(),
        };
        let bytes = serde_json::to_vec(&body).map_err(|e| err(Cause::from_json(&e)))?;
        self.send(Method::POST, &format!("auth/{clean}/config"), Some(bytes))
            .await
            .map(|_| ())
            .map_err(&err)
    }

    /// Creates or replaces a Kubernetes auth role.
    pub async fn write_kubernetes_role(
        &self,
        mount: &str,
        name: &str,
        role: &KubernetesRole,
    ) -> Result<(), VaultError> {
        let err = auth_config_err(mount, &format!("role/{name}"));
        let clean = non_empty_path(mount, "auth mount").map_err(&err)?;
        let name = non_empty_path(name, "role name").map_err(&err)?;
        let call = self.call().map_err(&err)?;
        let endpoint = CreateKubernetesRoleRequest {
            mount: clean,
            name,
            bound_service_account_names: role.bound_service_account_names.clone(),
            bound_service_account_namespaces: role.bound_service_account_namespaces.clone(),
            audience: role.audience.clone(),
            token_ttl: role.ttl.map(vault_duration),
            token_policies: Some(role.policies.clone()),
            ..Default::default()
        };
        vaultrs::api::exec_with_empty(&call, endpoint)
            .await
            .cause()
            .map_err(&err)
    }

    /// Creates or replaces an AppRole role with the given token policies and
    /// TTL.
    pub async fn write_approle_role(
        &self,
        mount: &str,
        name: &str,
        policies: &[String],
        token_ttl: Option<Duration>,
    ) -> Result<(), VaultError> {
        let err = auth_config_err(mount, &format!("role/{name}"));
        let clean = non_empty_path(mount, "auth mount").map_err(&err)?;
        let name = non_empty_path(name, "role name").map_err(&err)?;
        let call = self.call().map_err(&err)?;
        let endpoint = SetAppRoleRequest {
            mount: clean,
            role_name: name,
            token_policies: Some(policies.to_vec()),
            token_ttl: token_ttl.map(vault_duration),
            ..Default::default()
        };
        vaultrs::api::exec_with_empty(&call, endpoint)
            .await
            .cause()
            .map_err(&err)
    }

    /// Reads the role ID of an AppRole role.
    pub async fn approle_role_id(&self, mount: &str, name: &str) -> Result<String, VaultError> {
        let err = auth_config_err(mount, &format!("role/{name}/role-id"));
        let clean = non_empty_path(mount, "auth mount").map_err(&err)?;
        let name = non_empty_path(name, "role name").map_err(&err)?;
        let call = self.call().map_err(&err)?;
        vaultrs::auth::approle::role::read_id(&call, &clean, &name)
            .await
            .cause()
            .map(|r| r.role_id)
            .map_err(&err)
    }

    /// Generates a new secret ID for an AppRole role.
    pub async fn approle_secret_id(
        &self,
        mount: &str,
        name: &str,
    ) -> Result<SecretString, VaultError> {
        let err = auth_config_err(mount, &format!("role/{name}/secret-id"));
        let clean = non_empty_path(mount, "auth mount").map_err(&err)?;
        let name = non_empty_path(name, "role name").map_err(&err)?;
        let call = self.call().map_err(&err)?;
        let endpoint = GenerateNewSecretIDRequest {
            mount: clean,
            role_name: name,
            ..Default::default()
        };
        vaultrs::api::exec_with_result(&call, endpoint)
            .await
            .cause()
            .map(|r| SecretString::from(r.secret_id))
            .map_err(&err)
    }

    /// Configures a JWT auth mount.
    pub async fn configure_jwt_auth(
        &self,
        mount: &str,
        cfg: &JwtAuthConfig,
    ) -> Result<(), VaultError> {
        let err = auth_config_err(mount, "config");
        let clean = non_empty_path(mount, "auth mount").map_err(&err)?;
        let call = self.call().map_err(&err)?;
        let (jwks_ca_pem, oidc_discovery_ca_pem) = if cfg.jwks_url.is_some() {
            (cfg.ca_pem.clone(), None)
        } else if cfg.oidc_discovery_url.is_some() {
            (None, cfg.ca_pem.clone())
        } else {
            (None, None)
        };
        let endpoint = SetConfigurationRequest {
            mount: clean,
            bound_issuer: cfg.bound_issuer.clone(),
            jwks_url: cfg.jwks_url.clone(),
            jwks_ca_pem,
            oidc_discovery_url: cfg.oidc_discovery_url.clone(),
            oidc_discovery_ca_pem,
            jwt_validation_pubkeys: (!cfg.jwt_validation_pubkeys.is_empty())
                .then(|| cfg.jwt_validation_pubkeys.clone()),
            ..Default::default()
        };
        vaultrs::api::exec_with_empty(&call, endpoint)
            .await
            .cause()
            .map_err(&err)
    }

    /// Creates or replaces a JWT auth role.
    pub async fn write_jwt_role(
        &self,
        mount: &str,
        name: &str,
        role: &JwtRole,
    ) -> Result<(), VaultError> {
        let err = auth_config_err(mount, &format!("role/{name}"));
        let clean = non_empty_path(mount, "auth mount").map_err(&err)?;
        let name = non_empty_path(name, "role name").map_err(&err)?;
        let call = self.call().map_err(&err)?;
        let endpoint = SetRoleRequest {
            mount: clean,
            name,
            role_type: Some(role.role_type.clone()),
            user_claim: role.user_claim.clone(),
            bound_audiences: (!role.bound_audiences.is_empty())
                .then(|| role.bound_audiences.clone()),
            bound_subject: role.bound_subject.clone(),
            token_policies: Some(role.policies.clone()),
            token_ttl: role.ttl.map(vault_duration),
            ..Default::default()
        };
        vaultrs::api::exec_with_empty(&call, endpoint)
            .await
            .cause()
            .map_err(&err)
    }
}

/// The error constructor of an auth configuration step.
fn auth_config_err(mount: &str, item: &str) -> impl Fn(Cause) -> VaultError + use<> {
    let mount = mount.to_owned();
    let item = item.to_owned();
    move |cause| VaultError::AuthConfig {
        mount: mount.clone(),
        item: item.clone(),
        cause,
    }
}
