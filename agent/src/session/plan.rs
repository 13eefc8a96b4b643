//! From a store's Vault provider block to a login plan: which server, Vault namespaces and CA
//! to use, which auth method, mount and role, and where (never what) each credential is.
//!
//! This module is pure. It applies ESO's defaults and precedence and enforces tenant
//! isolation: a namespaced SecretStore may only reference objects in its own namespace.
//! The resulting [`Plan`] is the identity of a session (see [`super::SessionKey`]). The
//! planner of each auth method is in the `auth` submodule (`plan_auth.rs`).

#[path = "plan_auth.rs"]
mod auth;

use ferry_api::SecretKeySelector;
use ferry_api::StoreKind;
use ferry_api::vault::CaProviderType;
use sha2::{Digest, Sha256};

use super::StoreContext;
use crate::error::{AgentError, Result};

/// Lifetime requested for ServiceAccount tokens when the spec gives none (ESO's default).
pub(crate) const DEFAULT_TOKEN_EXPIRATION_SECONDS: i64 = 600;

/// Audience requested for ServiceAccount tokens when the spec gives none: ESO's default for
/// JWT auth, and Ferry's for Kubernetes auth too (ESO asks for the API server's own audience
/// there), so that a token handed to a store's server is never valid against the API server.
pub(crate) const DEFAULT_JWT_AUDIENCE: &str = ferry_api::vault::DEFAULT_TOKEN_AUDIENCE;

const AUTH: &str = "spec.provider.vault.auth";

/// How to reach Vault and log in, with credentials given by their coordinates only.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Plan {
    /// Server address, without trailing slash.
    pub server: String,
    /// Vault namespace for reads (`X-Vault-Namespace`).
    pub namespace: Option<String>,
    /// Vault namespace for the login request when it differs from `namespace`.
    pub auth_namespace: Option<String>,
    /// Where the CA certificates come from.
    pub ca: CaSource,
    /// The auth method and its credential sources.
    pub method: Method,
}

/// Where the CA certificates that verify the server come from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum CaSource {
    /// The system roots.
    System,
    /// `caBundle`, identified by the SHA-256 of its bytes.
    Bundle {
        /// Hex digest of the bundle.
        sha256: String,
    },
    /// A key of a Secret.
    Secret(KeyRef),
    /// A key of a ConfigMap.
    ConfigMap(KeyRef),
}

/// One key of a namespaced object.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct KeyRef {
    /// The object's namespace (already resolved).
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// The key inside the object's data.
    pub key: String,
    /// JSON path of the spec field that names it (for error messages).
    pub field: String,
}

impl KeyRef {
    /// `Secret ns/name key k`, for error messages.
    pub(crate) fn describe(&self, kind: &str) -> String {
        format!(
            "{kind} {}/{} key {} ({})",
            self.namespace, self.name, self.key, self.field
        )
    }
}

/// Where a JWT comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum JwtSource {
    /// A key of a Secret.
    Secret(KeyRef),
    /// A TokenRequest for a ServiceAccount.
    TokenRequest {
        /// The ServiceAccount's namespace.
        namespace: String,
        /// The ServiceAccount's name.
        name: String,
        /// Requested audiences (never empty: [`DEFAULT_JWT_AUDIENCE`] when the spec gives none).
        audiences: Vec<String>,
        /// Requested lifetime.
        expiration_seconds: i64,
    },
    /// The agent pod's own token file.
    PodToken,
}

/// Where an AppRole role ID comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum RoleIdSource {
    /// Given inline (not a secret on its own).
    Literal(String),
    /// A key of a Secret.
    Secret(KeyRef),
}

/// An auth method with its mount, role and credential sources.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Method {
    /// A static token read from a Secret.
    Token {
        /// The Secret key holding the token.
        token: KeyRef,
    },
    /// AppRole login.
    AppRole {
        /// Auth mount.
        mount: String,
        /// The role ID.
        role_id: RoleIdSource,
        /// The Secret key holding the secret ID.
        secret_id: KeyRef,
    },
    /// Kubernetes login.
    Kubernetes {
        /// Auth mount.
        mount: String,
        /// Vault role.
        role: String,
        /// The ServiceAccount token presented.
        jwt: JwtSource,
    },
    /// JWT login.
    Jwt {
        /// Auth mount.
        mount: String,
        /// Vault role.
        role: String,
        /// The JWT presented.
        jwt: JwtSource,
    },
    /// Userpass login.
    UserPass {
        /// Auth mount.
        mount: String,
        /// The user name.
        username: String,
        /// The Secret key holding the password.
        password: KeyRef,
    },
    /// LDAP login.
    Ldap {
        /// Auth mount.
        mount: String,
        /// The LDAP user name.
        username: String,
        /// The Secret key holding the password.
        password: KeyRef,
    },
    /// TLS certificate login.
    Cert {
        /// Auth mount.
        mount: String,
        /// The certificate role, or every role of the mount.
        role: Option<String>,
        /// The Secret key holding the PEM client certificate.
        cert: KeyRef,
        /// The Secret key holding the PEM private key.
        key: KeyRef,
    },
}

impl Method {
    /// Short name of the method, as in [`ferry_vault::Login::method`].
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Method::Token { .. } => "token",
            Method::AppRole { .. } => "approle",
            Method::Kubernetes { .. } => "kubernetes",
            Method::Jwt { .. } => "jwt",
            Method::UserPass { .. } => "userpass",
            Method::Ldap { .. } => "ldap",
            Method::Cert { .. } => "cert",
        }
    }

    /// The auth mount (`token` for static tokens).
    pub(crate) fn mount(&self) -> &str {
        match self {
            Method::Token { .. } => "token",
            Method::AppRole { mount, .. }
            | Method::Kubernetes { mount, .. }
            | Method::Jwt { mount, .. }
            | Method::UserPass { mount, .. }
            | Method::Ldap { mount, .. }
            | Method::Cert { mount, .. } => mount,
        }
    }
}

impl Plan {
    /// Every Secret key the plan reads (credentials and the CA bundle).
    pub(crate) fn secret_refs(&self) -> Vec<&KeyRef> {
        let mut refs = Vec::new();
        if let CaSource::Secret(r) = &self.ca {
            refs.push(r);
        }
        match &self.method {
            Method::Token { token } => refs.push(token),
            Method::AppRole {
                role_id, secret_id, ..
            } => {
                if let RoleIdSource::Secret(r) = role_id {
                    refs.push(r);
                }
                refs.push(secret_id);
            }
            Method::Kubernetes { jwt, .. } | Method::Jwt { jwt, .. } => {
                if let JwtSource::Secret(r) = jwt {
                    refs.push(r);
                }
            }
            Method::UserPass { password, .. } | Method::Ldap { password, .. } => {
                refs.push(password);
            }
            Method::Cert { cert, key, .. } => {
                refs.push(cert);
                refs.push(key);
            }
        }
        refs
    }
}

/// Builds the plan of a store, validating what can be validated without I/O.
pub(crate) fn plan(store: &StoreContext) -> Result<Plan> {
    let p = &store.provider;
    let server = p.server.trim().trim_end_matches('/').to_owned();
    if server.is_empty() {
        return Err(invalid("spec.provider.vault.server", "must not be empty"));
    }
    let namespace = vault_namespace(p.namespace.as_deref());
    let auth = p
        .auth
        .as_ref()
        .ok_or_else(|| invalid(AUTH, "no auth method is configured"))?;
    let auth_namespace =
        vault_namespace(auth.namespace.as_deref()).filter(|ns| Some(ns) != namespace.as_ref());
    let method = method(store)?;
    if matches!(method, Method::Cert { .. }) && !server.to_ascii_lowercase().starts_with("https://")
    {
        return Err(invalid(
            "spec.provider.vault.server",
            "TLS certificate auth needs an https:// server",
        ));
    }
    Ok(Plan {
        server,
        namespace,
        auth_namespace,
        ca: ca_source(store)?,
        method,
    })
}

/// Normalizes a Vault namespace: surrounding slashes and blanks dropped, empty is none.
fn vault_namespace(ns: Option<&str>) -> Option<String> {
    ns.map(|n| n.trim().trim_matches('/'))
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
}

fn ca_source(store: &StoreContext) -> Result<CaSource> {
    let p = &store.provider;
    if let Some(bundle) = p.ca_bundle.as_ref().filter(|b| !b.0.is_empty()) {
        let sha256 = hex::encode(Sha256::digest(&bundle.0));
        return Ok(CaSource::Bundle { sha256 });
    }
    let Some(cp) = &p.ca_provider else {
        return Ok(CaSource::System);
    };
    let field = "spec.provider.vault.caProvider";
    let name = required(&cp.name, &format!("{field}.name"))?;
    let key = match cp.key.as_deref().map(str::trim) {
        Some(k) if !k.is_empty() => k.to_owned(),
        _ => return Err(invalid(&format!("{field}.key"), "is required")),
    };
    let requested = cp.namespace.as_deref().filter(|n| !n.is_empty());
    if store.kind == StoreKind::ClusterSecretStore && requested.is_none() {
        // ESO refuses a ClusterSecretStore caProvider without a namespace.
        return Err(invalid(
            &format!("{field}.namespace"),
            "is required for a ClusterSecretStore",
        ));
    }
    let kind = match cp.type_ {
        CaProviderType::Secret => "Secret",
        CaProviderType::ConfigMap => "ConfigMap",
    };
    let namespace = ref_namespace(store, requested, || {
        format!(
            "{kind} {}/{name} key {key} ({field})",
            requested.unwrap_or("")
        )
    })?;
    let r = KeyRef {
        namespace,
        name,
        key,
        field: field.to_owned(),
    };
    Ok(match cp.type_ {
        CaProviderType::Secret => CaSource::Secret(r),
        CaProviderType::ConfigMap => CaSource::ConfigMap(r),
    })
}

/// Picks the auth method with ESO's precedence: tokenSecretRef, appRole, kubernetes, ldap,
/// userPass, jwt, cert, iam, gcp; the first one set wins.
fn method(store: &StoreContext) -> Result<Method> {
    let Some(auth) = &store.provider.auth else {
        return Err(invalid(AUTH, "no auth method is configured"));
    };
    if let Some(r) = &auth.token_secret_ref {
        let token = secret_key(store, r, &format!("{AUTH}.tokenSecretRef"), None)?;
        return Ok(Method::Token { token });
    }
    if let Some(a) = &auth.app_role {
        return auth::app_role(store, a);
    }
    if let Some(k) = &auth.kubernetes {
        return auth::kubernetes(store, k);
    }
    if let Some(l) = &auth.ldap {
        return auth::ldap(store, l);
    }
    if let Some(u) = &auth.user_pass {
        return auth::user_pass(store, u);
    }
    if let Some(j) = &auth.jwt {
        return auth::jwt(store, j);
    }
    if let Some(c) = &auth.cert {
        return auth::cert(store, c);
    }
    let unsupported = |m: &str| AgentError::Unsupported {
        field: format!("{AUTH}.{m}"),
        feature: format!("Vault auth method {m}"),
    };
    for (set, m) in [(auth.iam.is_some(), "iam"), (auth.gcp.is_some(), "gcp")] {
        if set {
            return Err(unsupported(m));
        }
    }
    match auth.other.keys().next() {
        Some(m) => Err(unsupported(m)),
        None => Err(invalid(AUTH, "no auth method is configured")),
    }
}

/// Resolves a Secret key reference; `default_key` applies when the key is omitted.
fn secret_key(
    store: &StoreContext,
    r: &SecretKeySelector,
    field: &str,
    default_key: Option<&str>,
) -> Result<KeyRef> {
    let name = required(&r.name, &format!("{field}.name"))?;
    let key = match (r.key.as_deref().filter(|k| !k.is_empty()), default_key) {
        (Some(k), _) | (None, Some(k)) => k.to_owned(),
        (None, None) => return Err(invalid(&format!("{field}.key"), "is required")),
    };
    let requested = r.namespace.as_deref().filter(|n| !n.is_empty());
    let namespace = ref_namespace(store, requested, || {
        format!(
            "Secret {}/{name} key {key} ({field})",
            requested.unwrap_or("")
        )
    })?;
    Ok(KeyRef {
        namespace,
        name,
        key,
        field: field.to_owned(),
    })
}

/// The namespace a credential reference resolves in. A SecretStore may only reference its own
/// namespace; a ClusterSecretStore's reference uses its namespace or else `ref_namespace`.
fn ref_namespace(
    store: &StoreContext,
    requested: Option<&str>,
    what: impl FnOnce() -> String,
) -> Result<String> {
    match (store.kind, requested) {
        (StoreKind::SecretStore, Some(ns)) if ns != store.ref_namespace => {
            Err(AgentError::ReadCredential {
                what: what(),
                reason: format!(
                    "cross-namespace references are not allowed from SecretStore {}/{}",
                    store.ref_namespace, store.name
                ),
            })
        }
        (_, Some(ns)) => Ok(ns.to_owned()),
        (_, None) => Ok(store.ref_namespace.clone()),
    }
}

fn mount_path(path: &str, field: &str) -> Result<String> {
    let m = path.trim().trim_matches('/');
    if m.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    Ok(m.to_owned())
}

fn required(value: &str, field: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(invalid(field, "is required"));
    }
    Ok(v.to_owned())
}

fn invalid(field: &str, message: &str) -> AgentError {
    AgentError::ValidateSpec {
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
