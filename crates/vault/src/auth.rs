//! Logging in: [`Login`] methods and [`Vault::login`].
//!
//! Token, AppRole, Kubernetes, JWT and userpass logins go through vaultrs. LDAP (which vaultrs
//! lacks) and TLS certificate logins are raw calls: vaultrs' certificate login sends the role
//! as `cert_name`, a field Vault ignores, so it could not select a role. A certificate login
//! presents the client certificate of the connection ([`crate::VaultConfig::with_client_identity`]).

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::client::Vault;
use crate::error::{Cause, VaultError};
use crate::token::AuthInfo;
use crate::util::{ClientResultExt, clean_path, non_empty_path};

/// A way to obtain a Vault token.
///
/// `Debug` redacts every credential.
#[derive(Debug, Clone)]
pub enum Login {
    /// An existing token; "logging in" looks it up.
    Token(SecretString),
    /// AppRole (`auth/<mount>/login` with `role_id` / `secret_id`).
    AppRole {
        /// Auth mount, usually `approle`.
        mount: String,
        /// The role ID (not secret on its own).
        role_id: String,
        /// The secret ID.
        secret_id: SecretString,
    },
    /// Kubernetes service account token (`auth/<mount>/login` with
    /// `role` / `jwt`).
    Kubernetes {
        /// Auth mount, usually `kubernetes`.
        mount: String,
        /// The Vault role.
        role: String,
        /// The service account JWT.
        jwt: SecretString,
    },
    /// JWT auth method (`auth/<mount>/login` with `role` / `jwt`).
    Jwt {
        /// Auth mount, usually `jwt`.
        mount: String,
        /// The Vault role.
        role: String,
        /// The JWT.
        jwt: SecretString,
    },
    /// Userpass (`auth/<mount>/login/<username>` with `password`).
    UserPass {
        /// Auth mount, usually `userpass`.
        mount: String,
        /// The user name (not secret).
        username: String,
        /// The password.
        password: SecretString,
    },
    /// LDAP (`auth/<mount>/login/<username>` with `password`).
    Ldap {
        /// Auth mount, usually `ldap`.
        mount: String,
        /// The LDAP user name (not secret).
        username: String,
        /// The password.
        password: SecretString,
    },
    /// TLS certificate (`auth/<mount>/login`, optionally with the role `name`); the client
    /// certificate is the connection's.
    Cert {
        /// Auth mount, usually `cert`.
        mount: String,
        /// The certificate role; every role of the mount is tried when `None`.
        role: Option<String>,
    },
}

impl Login {
    /// The auth mount this login goes through (`token` for token logins).
    pub fn mount(&self) -> &str {
        match self {
            Login::Token(_) => "token",
            Login::AppRole { mount, .. }
            | Login::Kubernetes { mount, .. }
            | Login::Jwt { mount, .. }
            | Login::UserPass { mount, .. }
            | Login::Ldap { mount, .. }
            | Login::Cert { mount, .. } => mount,
        }
    }

    /// A short name of the method: `token`, `approle`, `kubernetes`, `jwt`, `userpass`, `ldap`,
    /// `cert`.
    pub fn method(&self) -> &'static str {
        match self {
            Login::Token(_) => "token",
            Login::AppRole { .. } => "approle",
            Login::Kubernetes { .. } => "kubernetes",
            Login::Jwt { .. } => "jwt",
            Login::UserPass { .. } => "userpass",
            Login::Ldap { .. } => "ldap",
            Login::Cert { .. } => "cert",
        }
    }
}

impl Vault {
    /// Logs in and returns the new token's details. `self` is not changed
    /// and its token (if any) is not sent; use
    /// `vault.with_token(auth.client_token.clone())` afterwards.
    pub async fn login(&self, login: &Login) -> Result<AuthInfo, VaultError> {
        let err = |cause| VaultError::Login {
            mount: login.mount().to_owned(),
            cause,
        };
        match login {
            Login::Token(token) => self.login_token(token).await.map_err(err),
            Login::AppRole {
                mount,
                role_id,
                secret_id,
            } => {
                let mount = non_empty_path(mount, "auth mount").map_err(err)?;
                require(role_id, "role_id").map_err(err)?;
                require(secret_id.expose_secret(), "secret_id").map_err(err)?;
                let call = self.anonymous_call();
                vaultrs::auth::approle::login(&call, &mount, role_id, secret_id.expose_secret())
                    .await
                    .cause()
                    .map(AuthInfo::from_vaultrs)
                    .map_err(err)
            }
            Login::Kubernetes { mount, role, jwt } => {
                let mount = non_empty_path(mount, "auth mount").map_err(err)?;
                require(role, "role").map_err(err)?;
                require(jwt.expose_secret(), "jwt").map_err(err)?;
                let call = self.anonymous_call();
                vaultrs::auth::kubernetes::login(&call, &mount, role, jwt.expose_secret())
                    .await
                    .cause()
                    .map(AuthInfo::from_vaultrs)
                    .map_err(err)
            }
            Login::Jwt { mount, role, jwt } => {
                let mount = non_empty_path(mount, "auth mount").map_err(err)?;
                require(role, "role").map_err(err)?;
                require(jwt.expose_secret(), "jwt").map_err(err)?;
                let call = self.anonymous_call();
                vaultrs::auth::oidc::login(&call, &mount, jwt.expose_secret(), Some(role.clone()))
                    .await
                    .cause()
                    .map(AuthInfo::from_vaultrs)
                    .map_err(err)
            }
            Login::UserPass {
                mount,
                username,
                password,
            } => {
                let mount = non_empty_path(mount, "auth mount").map_err(err)?;
                user_name(username).map_err(err)?;
                require(password.expose_secret(), "password").map_err(err)?;
                let call = self.anonymous_call();
                let password = password.expose_secret();
                vaultrs::auth::userpass::login(&call, &mount, username, password)
                    .await
                    .cause()
                    .map(AuthInfo::from_vaultrs)
                    .map_err(err)
            }
            Login::Ldap {
                mount,
                username,
                password,
            } => {
                let mount = non_empty_path(mount, "auth mount").map_err(err)?;
                user_name(username).map_err(err)?;
                require(password.expose_secret(), "password").map_err(err)?;
                let body = PasswordBody {
                    password: password.expose_secret(),
                };
                let path = format!("auth/{mount}/login/{username}");
                self.raw_login(&path, &body).await.map_err(err)
            }
            Login::Cert { mount, role } => {
                let mount = non_empty_path(mount, "auth mount").map_err(err)?;
                let body = CertBody {
                    name: role.as_deref().filter(|r| !r.is_empty()),
                };
                let path = format!("auth/{mount}/login");
                self.raw_login(&path, &body).await.map_err(err)
            }
        }
    }

    /// A login vaultrs cannot make: POSTs `body` without a token and reads the `auth` block.
    async fn raw_login(&self, path: &str, body: &impl Serialize) -> Result<AuthInfo, Cause> {
        // The body (a password) goes to the HTTP client, whose buffers Ferry cannot wipe.
        let bytes = serde_json::to_vec(body).map_err(|e| Cause::from_json(&e))?;
        let answer: Option<LoginAnswer> = self
            .without_token()
            .send_json(Method::POST, path, Some(bytes))
            .await?;
        match answer.and_then(|a| a.auth) {
            Some(auth) => Ok(AuthInfo::from_vaultrs(auth)),
            None => Err(Cause::decode("the login answer carries no auth block")),
        }
    }
}

/// The body of a password login.
#[derive(Serialize)]
struct PasswordBody<'a> {
    password: &'a str,
}

/// The body of a certificate login: the role, when one is named.
#[derive(Serialize)]
struct CertBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

/// The part of a login answer Ferry reads.
#[derive(Deserialize)]
struct LoginAnswer {
    auth: Option<vaultrs::api::AuthInfo>,
}

/// A user name goes into the login path: one non-empty segment.
fn user_name(username: &str) -> Result<(), Cause> {
    require(username, "username")?;
    if username.contains('/') || clean_path(username)? != username {
        return Err(Cause::invalid("username must be a single path segment"));
    }
    Ok(())
}

/// Rejects empty credentials before sending them.
fn require(value: &str, what: &str) -> Result<(), Cause> {
    if value.is_empty() {
        Err(Cause::invalid(format!("{what} must not be empty")))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_debug_is_redacted() {
        let l = Login::AppRole {
            mount: "approle".into(),
            role_id: "rid".into(),
            secret_id: SecretString::from("sid-value"),
        };
        let dbg = format!("{l:?}");
        assert!(!dbg.contains("sid-value"));
        assert_eq!(l.mount(), "approle");
        assert_eq!(l.method(), "approle");
        let l = Login::Token(SecretString::from("hvs.secret"));
        assert!(!format!("{l:?}").contains("hvs.secret"));
        assert_eq!(l.mount(), "token");
        for l in [
            Login::UserPass {
                mount: "userpass".into(),
                username: "app".into(),
                password: SecretString::from("pw-value".to_owned()),
            },
            Login::Ldap {
                mount: "ldap".into(),
                username: "app".into(),
                password: SecretString::from("pw-value".to_owned()),
            },
        ] {
            assert!(!format!("{l:?}").contains("pw-value"));
        }
    }

    #[test]
    fn user_names_are_one_path_segment() {
        assert!(user_name("alice").is_ok());
        assert!(user_name("alice.smith@corp").is_ok());
        for bad in ["", "a/b", "..", "/a", "a\nb"] {
            assert!(user_name(bad).is_err(), "{bad:?}");
        }
    }
}
