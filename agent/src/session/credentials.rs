//! Fetching what a [`Plan`] points at: Secret and ConfigMap keys, ServiceAccount tokens from
//! the TokenRequest API and the pod's own token file; then connecting to Vault and logging in.
//!
//! Credential values go straight into [`SecretString`]s; the other values of a Secret that was
//! read are zeroized. Errors name the object and key, never a value.

use std::path::Path;

use base64::Engine;
use ferry_vault::{AuthInfo, Login, SecretString, Vault, VaultConfig};
use k8s_openapi::api::authentication::v1::{
    TokenRequest, TokenRequestSpec, TokenReview, TokenReviewSpec,
};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use kube::api::PostParams;
use kube::{Api, Client};
use zeroize::{Zeroize, Zeroizing};

use super::StoreContext;
use super::plan::{CaSource, JwtSource, KeyRef, Method, Plan, RoleIdSource};
use crate::error::{AgentError, Result};

#[path = "client_cert.rs"]
mod client_cert;

/// A fresh login: the clients to use and the token's details.
pub(crate) struct LoggedIn {
    /// Client for reads (provider namespace), carrying the token.
    pub vault: Vault,
    /// Client for the token's own operations (login namespace), carrying the token.
    pub auth_vault: Vault,
    /// The login's answer (lease, renewability).
    pub auth: AuthInfo,
}

/// Connects (a new connection per login, so each session's client is distinct) and logs in.
pub(crate) async fn login(
    kube: &Client,
    pod_token_path: &Path,
    store: &StoreContext,
    plan: &Plan,
) -> Result<LoggedIn> {
    let ca = ca_bundle(kube, store, &plan.ca).await?;
    let identity = client_cert::identity(kube, &plan.method).await?;
    let config = |namespace: Option<&String>| {
        let mut cfg = VaultConfig::new(plan.server.clone());
        if let Some(ns) = namespace {
            cfg = cfg.with_namespace(ns.clone());
        }
        if let Some(pem) = &ca {
            cfg = cfg.with_ca_bundle(pem.clone());
        }
        if let Some(identity) = &identity {
            cfg = cfg.with_client_identity(identity.clone());
        }
        cfg
    };
    let vault = Vault::connect(&config(plan.namespace.as_ref()))
        .map_err(|e| AgentError::ConnectVault(Box::new(e)))?;
    let auth_client = match &plan.auth_namespace {
        Some(ns) => {
            Vault::connect(&config(Some(ns))).map_err(|e| AgentError::ConnectVault(Box::new(e)))?
        }
        None => vault.clone(),
    };
    let request = login_request(kube, pod_token_path, &plan.method).await?;
    let auth = auth_client
        .login(&request)
        .await
        .map_err(|source| AgentError::Login {
            method: request.method(),
            mount: request.mount().to_owned(),
            source: Box::new(source),
        })?;
    Ok(LoggedIn {
        vault: vault.with_token(auth.client_token.clone()),
        auth_vault: auth_client.with_token(auth.client_token.clone()),
        auth,
    })
}

/// Builds the login request, fetching every credential it needs.
async fn login_request(kube: &Client, pod_token_path: &Path, method: &Method) -> Result<Login> {
    Ok(match method {
        Method::Token { token } => Login::Token(secret_value(kube, token).await?),
        Method::AppRole {
            mount,
            role_id,
            secret_id,
        } => {
            let role_id = match role_id {
                RoleIdSource::Literal(id) => id.clone(),
                RoleIdSource::Secret(r) => {
                    // A role ID is not secret on its own; ferry_vault takes it as a String.
                    let id = secret_value(kube, r).await?;
                    ferry_vault::ExposeSecret::expose_secret(&id).to_owned()
                }
            };
            Login::AppRole {
                mount: mount.clone(),
                role_id,
                secret_id: secret_value(kube, secret_id).await?,
            }
        }
        Method::Kubernetes { mount, role, jwt } => Login::Kubernetes {
            mount: mount.clone(),
            role: role.clone(),
            jwt: jwt_value(kube, pod_token_path, jwt).await?,
        },
        Method::Jwt { mount, role, jwt } => Login::Jwt {
            mount: mount.clone(),
            role: role.clone(),
            jwt: jwt_value(kube, pod_token_path, jwt).await?,
        },
        Method::UserPass {
            mount,
            username,
            password,
        } => Login::UserPass {
            mount: mount.clone(),
            username: username.clone(),
            password: secret_value(kube, password).await?,
        },
        Method::Ldap {
            mount,
            username,
            password,
        } => Login::Ldap {
            mount: mount.clone(),
            username: username.clone(),
            password: secret_value(kube, password).await?,
        },
        // The certificate and key were read before connecting: they are the connection's.
        Method::Cert { mount, role, .. } => Login::Cert {
            mount: mount.clone(),
            role: role.clone(),
        },
    })
}

async fn jwt_value(
    kube: &Client,
    pod_token_path: &Path,
    source: &JwtSource,
) -> Result<SecretString> {
    match source {
        JwtSource::Secret(r) => secret_value(kube, r).await,
        JwtSource::TokenRequest {
            namespace,
            name,
            audiences,
            expiration_seconds,
        } => {
            let request = TokenRequest {
                spec: TokenRequestSpec {
                    audiences: audiences.clone(),
                    expiration_seconds: Some(*expiration_seconds),
                    bound_object_ref: None,
                },
                ..TokenRequest::default()
            };
            let issued = Api::<ServiceAccount>::namespaced(kube.clone(), namespace)
                .create_token_request(name, &PostParams::default(), &request)
                .await
                .map_err(|source| AgentError::RequestToken {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    source: source.into(),
                })?;
            let token = match issued.status {
                Some(status) if !status.token.is_empty() => SecretString::from(status.token),
                _ => {
                    return Err(AgentError::ReadCredential {
                        what: format!("ServiceAccount {namespace}/{name} token"),
                        reason: "the TokenRequest returned no token".to_owned(),
                    });
                }
            };
            refuse_api_server_audience(kube, namespace, name, &token).await?;
            Ok(token)
        }
        JwtSource::PodToken => {
            let what = || format!("service-account token file {}", pod_token_path.display());
            let bytes = Zeroizing::new(tokio::fs::read(pod_token_path).await.map_err(|e| {
                AgentError::ReadCredential {
                    what: what(),
                    reason: e.kind().to_string(),
                }
            })?);
            let text = std::str::from_utf8(&bytes).map_err(|_| AgentError::ReadCredential {
                what: what(),
                reason: "not UTF-8".to_owned(),
            })?;
            let token = text.trim();
            if token.is_empty() {
                return Err(AgentError::ReadCredential {
                    what: what(),
                    reason: "the file is empty".to_owned(),
                });
            }
            Ok(SecretString::from(token.to_owned()))
        }
    }
}

/// Refuses a token the API server itself would accept. A store's `server` may be anyone's
/// listener; a token valid against the API server would hand it the ServiceAccount's
/// Kubernetes rights, so the token's audiences (set by the store's spec) are checked with a
/// TokenReview for the API server's own audiences before the token is sent anywhere.
async fn refuse_api_server_audience(
    kube: &Client,
    namespace: &str,
    name: &str,
    token: &SecretString,
) -> Result<()> {
    use ferry_vault::ExposeSecret;
    let review = TokenReview {
        spec: TokenReviewSpec {
            token: Some(token.expose_secret().to_owned()),
            audiences: None,
        },
        ..TokenReview::default()
    };
    let what = || format!("ServiceAccount {namespace}/{name} token");
    let answer = Api::<TokenReview>::all(kube.clone())
        .create(&PostParams::default(), &review)
        .await;
    let mut review = review;
    if let Some(t) = review.spec.token.as_mut() {
        t.zeroize();
    }
    match answer {
        Ok(r) if r.status.as_ref().and_then(|s| s.authenticated) == Some(true) => {
            Err(AgentError::ReadCredential {
                what: what(),
                reason: "its requested audiences include one the API server accepts; such a \
                         token is never sent to a store's server (set serviceAccountRef.audiences \
                         to the Vault role's audience)"
                    .to_owned(),
            })
        }
        Ok(_) => Ok(()),
        Err(source) => Err(AgentError::RequestToken {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            source: source.into(),
        }),
    }
}

/// Reads one key of a Secret as a secret string; every value of the Secret is zeroized after.
async fn secret_value(kube: &Client, r: &KeyRef) -> Result<SecretString> {
    let mut bytes = secret_bytes(kube, r).await?;
    let raw = std::mem::take(&mut *bytes);
    match String::from_utf8(raw) {
        Ok(s) => Ok(SecretString::from(s)),
        Err(e) => {
            e.into_bytes().zeroize();
            Err(AgentError::ReadCredential {
                what: r.describe("Secret"),
                reason: "the value is not UTF-8".to_owned(),
            })
        }
    }
}

/// Reads one key of a Secret; every other value of the Secret is zeroized.
pub(super) async fn secret_bytes(kube: &Client, r: &KeyRef) -> Result<Zeroizing<Vec<u8>>> {
    let secret = Api::<Secret>::namespaced(kube.clone(), &r.namespace)
        .get_opt(&r.name)
        .await
        .map_err(|source| AgentError::GetObject {
            kind: "Secret",
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            source: source.into(),
        })?
        .ok_or_else(|| AgentError::ReadCredential {
            what: r.describe("Secret"),
            reason: "the Secret does not exist".to_owned(),
        })?;
    let mut data = secret.data.unwrap_or_default();
    let value = data.remove(&r.key).map(|v| Zeroizing::new(v.0));
    for (_, mut other) in data {
        other.0.zeroize();
    }
    // `kubectl apply` keeps a copy of the whole Secret in an annotation.
    let annotations = secret.metadata.annotations.into_iter().flatten();
    let string_data = secret.string_data.into_iter().flatten();
    for (_, mut v) in annotations.chain(string_data) {
        v.zeroize();
    }
    value.ok_or_else(|| AgentError::ReadCredential {
        what: r.describe("Secret"),
        reason: "the key is not present".to_owned(),
    })
}

/// The PEM bundle to trust, if the store names one. Like ESO, a bundle that is not PEM is
/// tried once more as base64 of PEM.
async fn ca_bundle(
    kube: &Client,
    store: &StoreContext,
    source: &CaSource,
) -> Result<Option<Vec<u8>>> {
    let raw = match source {
        CaSource::System => return Ok(None),
        CaSource::Bundle { .. } => store
            .provider
            .ca_bundle
            .as_ref()
            .map(|b| b.0.clone())
            .unwrap_or_default(),
        CaSource::Secret(r) => secret_bytes(kube, r).await?.to_vec(),
        CaSource::ConfigMap(r) => {
            let cm = Api::<ConfigMap>::namespaced(kube.clone(), &r.namespace)
                .get_opt(&r.name)
                .await
                .map_err(|source| AgentError::GetObject {
                    kind: "ConfigMap",
                    namespace: r.namespace.clone(),
                    name: r.name.clone(),
                    source: source.into(),
                })?
                .ok_or_else(|| AgentError::ReadCredential {
                    what: r.describe("ConfigMap"),
                    reason: "the ConfigMap does not exist".to_owned(),
                })?;
            let text = cm.data.and_then(|mut d| d.remove(&r.key));
            let binary = || cm_binary(cm.binary_data.as_ref(), &r.key);
            match text.map(String::into_bytes).or_else(binary) {
                Some(v) => v,
                None => {
                    return Err(AgentError::ReadCredential {
                        what: r.describe("ConfigMap"),
                        reason: "the key is not present".to_owned(),
                    });
                }
            }
        }
    };
    Ok(Some(pem_or_base64(raw)))
}

fn cm_binary(
    data: Option<&std::collections::BTreeMap<String, k8s_openapi::ByteString>>,
    key: &str,
) -> Option<Vec<u8>> {
    data.and_then(|d| d.get(key)).map(|b| b.0.clone())
}

/// Returns PEM as is; otherwise decodes base64 when that yields PEM.
pub(crate) fn pem_or_base64(raw: Vec<u8>) -> Vec<u8> {
    const MARKER: &[u8] = b"-----BEGIN";
    let is_pem = |b: &[u8]| b.windows(MARKER.len()).any(|w| w == MARKER);
    if is_pem(&raw) {
        return raw;
    }
    let compact: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    match base64::engine::general_purpose::STANDARD.decode(compact) {
        Ok(decoded) if is_pem(&decoded) => decoded,
        _ => raw,
    }
}
