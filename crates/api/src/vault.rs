//! The HashiCorp Vault provider block of a store (`spec.provider.vault`), the only provider Ferry
//! implements.
//!
//! Auth methods Ferry does not implement (`iam`, `gcp`, and any method a newer ESO may add) are
//! still accepted and kept verbatim, so the agent can mark the store as unsupported instead of
//! the API server rejecting or silently pruning the configuration.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{SecretKeySelector, ServiceAccountSelector, base64_bytes, preserved_object};

/// Default mount path of the AppRole auth method.
pub const DEFAULT_APPROLE_PATH: &str = "approle";
/// Default mount path of the Kubernetes auth method.
pub const DEFAULT_KUBERNETES_MOUNT_PATH: &str = "kubernetes";
/// Default mount path of the JWT/OIDC auth method.
pub const DEFAULT_JWT_PATH: &str = "jwt";
/// Default mount path of the LDAP auth method.
pub const DEFAULT_LDAP_PATH: &str = "ldap";
/// Default mount path of the userpass auth method.
pub const DEFAULT_USERPASS_PATH: &str = "userpass";
/// Default mount path of the TLS certificate auth method.
pub const DEFAULT_CERT_PATH: &str = "cert";
/// Secret key read by Kubernetes auth when `secretRef.key` is omitted.
pub const DEFAULT_KUBERNETES_TOKEN_KEY: &str = "token";

/// The audience of the ServiceAccount tokens Ferry requests for Vault when a store names none
/// (ESO's default for JWT auth, and Ferry's for Kubernetes auth too). A Vault Kubernetes auth
/// role that admits such tokens sets `audience` to it.
pub const DEFAULT_TOKEN_AUDIENCE: &str = "vault";

/// Connection and authentication settings for a Vault server.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VaultProvider {
    /// How to log in to Vault. Exactly one method should be set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<VaultAuth>,
    /// Address of the Vault server, e.g. `https://vault.example.com:8200`.
    pub server: String,
    /// Mount path of the KV secrets engine, e.g. `secret`. For KV v2 the `/data` segment is
    /// added automatically when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Version of the KV secrets engine mounted at `path`.
    #[serde(default)]
    pub version: VaultKvVersion,
    /// Vault Enterprise namespace to operate in, e.g. `ns1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// PEM CA certificates (base64-encoded in the manifest) used to verify the server's TLS
    /// certificate. The system roots are used when neither this nor `caProvider` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "base64_bytes")]
    pub ca_bundle: Option<ByteString>,
    /// Secret or ConfigMap holding the PEM CA certificates used to verify the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_provider: Option<CaProvider>,
    /// Client certificate settings for mutual TLS. Accepted but not implemented by Ferry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserved_object")]
    pub tls: Option<serde_json::Value>,
    /// Send the replication state with each request so reads observe earlier writes
    /// (Vault Enterprise consistency).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_your_writes: bool,
    /// Ask standby nodes to forward inconsistent reads to the active node instead of retrying.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forward_inconsistent: bool,
    /// Extra HTTP headers sent with every Vault request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Check-and-set settings used when pushing secrets. Accepted but unused by Ferry, which
    /// only reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserved_object")]
    pub check_and_set: Option<serde_json::Value>,
}

/// Version of Vault's KV secrets engine.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum VaultKvVersion {
    /// KV version 1 (unversioned secrets).
    #[serde(rename = "v1")]
    V1,
    /// KV version 2 (versioned secrets with metadata).
    #[default]
    #[serde(rename = "v2")]
    V2,
}

/// Where to find the CA certificates used to verify a server.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CaProvider {
    /// Kind of object holding the certificates.
    #[serde(rename = "type")]
    pub type_: CaProviderType,
    /// Name of the Secret or ConfigMap.
    pub name: String,
    /// Key inside the object that holds the PEM data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Namespace of the object. Only allowed for a ClusterSecretStore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Kind of object a [`CaProvider`] points at.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CaProviderType {
    /// A Secret.
    #[default]
    Secret,
    /// A ConfigMap.
    ConfigMap,
}

/// How to authenticate to Vault. Exactly one method should be set; `namespace` may accompany it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VaultAuth {
    /// Vault Enterprise namespace to log in to, when it differs from the provider's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Use a static Vault token read from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<SecretKeySelector>,
    /// Log in with the AppRole method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_role: Option<VaultAppRole>,
    /// Log in with the Kubernetes method, presenting a ServiceAccount token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<VaultKubernetesAuth>,
    /// Log in with the JWT/OIDC method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<VaultJwtAuth>,
    /// Log in with the LDAP method, as a user whose password is read from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ldap: Option<VaultLdapAuth>,
    /// Log in with the userpass method, as a user whose password is read from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_pass: Option<VaultUserPassAuth>,
    /// Log in with the TLS certificate method, presenting a client certificate and key read
    /// from Secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<VaultCertAuth>,
    /// AWS IAM login. Accepted but not implemented by Ferry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserved_object")]
    pub iam: Option<serde_json::Value>,
    /// Google Cloud login. Accepted but not implemented by Ferry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserved_object")]
    pub gcp: Option<serde_json::Value>,
    /// Any other auth method, kept verbatim so it can be reported as unsupported.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl VaultAuth {
    /// Names (as spelled in the manifest) of every auth method that is set, in a fixed order:
    /// the typed methods first, then the untyped ones, then unknown keys alphabetically.
    pub fn configured_methods(&self) -> Vec<&str> {
        let known = [
            ("tokenSecretRef", self.token_secret_ref.is_some()),
            ("appRole", self.app_role.is_some()),
            ("kubernetes", self.kubernetes.is_some()),
            ("jwt", self.jwt.is_some()),
            ("ldap", self.ldap.is_some()),
            ("userPass", self.user_pass.is_some()),
            ("cert", self.cert.is_some()),
            ("iam", self.iam.is_some()),
            ("gcp", self.gcp.is_some()),
        ];
        known
            .into_iter()
            .filter_map(|(name, set)| set.then_some(name))
            .chain(self.other.keys().map(String::as_str))
            .collect()
    }
}

/// AppRole login: a role ID plus a secret ID read from a Secret.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VaultAppRole {
    /// Mount path of the AppRole auth method.
    #[serde(default = "default_approle_path")]
    pub path: String,
    /// The role ID, given inline. Either this or `roleRef` is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<String>,
    /// Secret key holding the role ID, as an alternative to `roleId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_ref: Option<SecretKeySelector>,
    /// Secret key holding the secret ID.
    pub secret_ref: SecretKeySelector,
}

impl Default for VaultAppRole {
    fn default() -> Self {
        Self {
            path: default_approle_path(),
            role_id: None,
            role_ref: None,
            secret_ref: SecretKeySelector::default(),
        }
    }
}

/// Kubernetes login: a ServiceAccount token is exchanged for a Vault token bound to `role`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VaultKubernetesAuth {
    /// Mount path of the Kubernetes auth method.
    #[serde(default = "default_kubernetes_mount_path")]
    pub mount_path: String,
    /// ServiceAccount for which a short-lived token is requested and presented. Takes precedence
    /// over `secretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_ref: Option<ServiceAccountSelector>,
    /// Secret key holding a ServiceAccount token to present (key defaults to `token`). When
    /// neither this nor `serviceAccountRef` is set, the agent's own token is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
    /// Vault role to log in as.
    pub role: String,
}

impl Default for VaultKubernetesAuth {
    fn default() -> Self {
        Self {
            mount_path: default_kubernetes_mount_path(),
            service_account_ref: None,
            secret_ref: None,
            role: String::new(),
        }
    }
}

/// JWT/OIDC login with a token read from a Secret or requested for a ServiceAccount.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VaultJwtAuth {
    /// Mount path of the JWT/OIDC auth method.
    #[serde(default = "default_jwt_path")]
    pub path: String,
    /// Vault role to log in as; the method's default role when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Secret key holding the JWT to present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeySelector>,
    /// Request a short-lived ServiceAccount token and present it as the JWT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_service_account_token: Option<VaultKubernetesServiceAccountTokenAuth>,
}

impl Default for VaultJwtAuth {
    fn default() -> Self {
        Self {
            path: default_jwt_path(),
            role: None,
            secret_ref: None,
            kubernetes_service_account_token: None,
        }
    }
}

/// Parameters of the TokenRequest made for JWT login.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VaultKubernetesServiceAccountTokenAuth {
    /// ServiceAccount to request the token for.
    pub service_account_ref: ServiceAccountSelector,
    /// Audiences to request (deprecated in ESO in favour of `serviceAccountRef.audiences`);
    /// `vault` when neither is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audiences: Option<Vec<String>>,
    /// Requested token lifetime in seconds (deprecated in ESO); 600 when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_seconds: Option<i64>,
}

/// LDAP login: a user name and a password read from a Secret.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VaultLdapAuth {
    /// Mount path of the LDAP auth method.
    #[serde(default = "default_ldap_path")]
    pub path: String,
    /// The LDAP user to log in as.
    #[serde(default)]
    pub username: String,
    /// Secret key holding the user's password.
    #[serde(default)]
    pub secret_ref: SecretKeySelector,
}

impl Default for VaultLdapAuth {
    fn default() -> Self {
        Self {
            path: default_ldap_path(),
            username: String::new(),
            secret_ref: SecretKeySelector::default(),
        }
    }
}

/// Userpass login: a user name and a password read from a Secret.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VaultUserPassAuth {
    /// Mount path of the userpass auth method.
    #[serde(default = "default_userpass_path")]
    pub path: String,
    /// The user to log in as.
    #[serde(default)]
    pub username: String,
    /// Secret key holding the user's password.
    #[serde(default)]
    pub secret_ref: SecretKeySelector,
}

impl Default for VaultUserPassAuth {
    fn default() -> Self {
        Self {
            path: default_userpass_path(),
            username: String::new(),
            secret_ref: SecretKeySelector::default(),
        }
    }
}

/// TLS certificate login: the connection presents a client certificate, and Vault maps it to
/// a certificate role.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VaultCertAuth {
    /// Mount path of the TLS certificate auth method.
    #[serde(default = "default_cert_path")]
    pub path: String,
    /// The certificate role to log in as; every role of the mount is tried when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_role: Option<String>,
    /// Secret key holding the PEM client certificate (with any intermediates after it).
    #[serde(default)]
    pub client_cert: SecretKeySelector,
    /// Secret key holding the PEM private key of the client certificate.
    #[serde(default)]
    pub secret_ref: SecretKeySelector,
}

impl Default for VaultCertAuth {
    fn default() -> Self {
        Self {
            path: default_cert_path(),
            vault_role: None,
            client_cert: SecretKeySelector::default(),
            secret_ref: SecretKeySelector::default(),
        }
    }
}

fn default_ldap_path() -> String {
    DEFAULT_LDAP_PATH.to_owned()
}

fn default_userpass_path() -> String {
    DEFAULT_USERPASS_PATH.to_owned()
}

fn default_cert_path() -> String {
    DEFAULT_CERT_PATH.to_owned()
}

fn default_approle_path() -> String {
    DEFAULT_APPROLE_PATH.to_owned()
}

fn default_kubernetes_mount_path() -> String {
    DEFAULT_KUBERNETES_MOUNT_PATH.to_owned()
}

fn default_jwt_path() -> String {
    DEFAULT_JWT_PATH.to_owned()
}
