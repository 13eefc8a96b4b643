//! Logging in: [`Login`] methods and [`Vault::login`].

use secrecy::{ExposeSecret, SecretString};

use crate::client::Vault;
use crate::error::{Cause, VaultError};
use crate::token::AuthInfo;
use crate::util::{ClientResultExt, non_empty_path};

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
}

impl Login {
    /// The auth mount this login goes through (`token` for token logins).
    pub fn mount(&self) -> &str {
        match self {
            Login::Token(_) => "token",
            Login::AppRole { mount, .. }
            | Login::Kubernetes { mount, .. }
            | Login::Jwt { mount, .. } => mount,
        }
    }

    /// A short name of the method: `token`, `approle`, `kubernetes`, `jwt`.
    pub fn method(&self) -> &'static str {
        match self {
            Login::Token(_) => "token",
            Login::AppRole { .. } => "approle",
            Login::Kubernetes { .. } => "kubernetes",
            Login::Jwt { .. } => "jwt",
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
        }
    }
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
    }
}
