//! Token operations: lookup, renewal, revocation and creation, plus the
//! [`AuthInfo`] / [`TokenInfo`] types they return.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use vaultrs::api::token::requests::{CreateOrphanTokenRequest, CreateTokenRequest};
use vaultrs::api::token::responses::LookupTokenResponse;

use crate::client::Vault;
use crate::error::{Cause, VaultError};
use crate::util::{ClientResultExt, vault_duration};

/// The result of a login, renewal or token creation.
#[derive(Debug, Clone)]
pub struct AuthInfo {
    /// The token (use with [`Vault::with_token`]).
    pub client_token: SecretString,
    /// The token's accessor (not secret).
    pub accessor: String,
    /// Policies attached to the token.
    pub policies: Vec<String>,
    /// Lease duration (TTL) of the token; zero for non-expiring tokens.
    pub lease_duration: Duration,
    /// Whether the token can be renewed.
    pub renewable: bool,
}

impl AuthInfo {
    /// Converts vaultrs' auth block, moving the token into a secret.
    pub(crate) fn from_vaultrs(auth: vaultrs::api::AuthInfo) -> AuthInfo {
        let vaultrs::api::AuthInfo {
            client_token,
            accessor,
            policies,
            lease_duration,
            renewable,
            ..
        } = auth;
        AuthInfo {
            client_token: SecretString::from(client_token),
            accessor,
            policies,
            lease_duration: Duration::from_secs(lease_duration),
            renewable,
        }
    }
}

/// Properties of a token, from `auth/token/lookup-self`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The token's accessor.
    pub accessor: String,
    /// Policies attached to the token.
    pub policies: Vec<String>,
    /// Remaining time to live; zero for non-expiring tokens (root).
    pub ttl: Duration,
    /// Whether the token can be renewed.
    pub renewable: bool,
    /// Display name (e.g. `token`, `approle`, `kubernetes-ns-sa`).
    pub display_name: String,
    /// Whether the token has no parent.
    pub orphan: bool,
    /// Expiry time (RFC 3339) if the token expires.
    pub expire_time: Option<String>,
    /// Remaining uses; zero means unlimited.
    pub num_uses: u64,
    /// Creation path (e.g. `auth/approle/login`).
    pub path: String,
    /// Token metadata (e.g. the service account of a Kubernetes login).
    pub meta: BTreeMap<String, String>,
}

impl From<LookupTokenResponse> for TokenInfo {
    fn from(r: LookupTokenResponse) -> Self {
        let LookupTokenResponse {
            accessor,
            display_name,
            expire_time,
            mut id,
            meta,
            num_uses,
            orphan,
            path,
            policies,
            renewable,
            ttl,
            ..
        } = r;
        zeroize::Zeroize::zeroize(&mut id);
        TokenInfo {
            accessor,
            policies,
            ttl: Duration::from_secs(ttl),
            renewable: renewable.unwrap_or(false),
            display_name,
            orphan,
            expire_time,
            num_uses,
            path,
            meta: meta.unwrap_or_default().into_iter().collect(),
        }
    }
}

/// Parameters of a new token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRequest {
    /// Policies of the new token (must be a subset of the parent's unless
    /// the caller is root).
    pub policies: Vec<String>,
    /// TTL; `None` uses the mount default.
    pub ttl: Option<Duration>,
    /// Create the token without parent (`auth/token/create-orphan`; needs
    /// sudo).
    pub orphan: bool,
    /// Whether the token may be renewed.
    pub renewable: bool,
    /// Display name.
    pub display_name: Option<String>,
    /// Maximum number of uses; `None` or `0` is unlimited.
    pub num_uses: Option<u64>,
}

impl Vault {
    /// Looks up the current token (`auth/token/lookup-self`).
    pub async fn lookup_self(&self) -> Result<TokenInfo, VaultError> {
        let err = |cause| VaultError::TokenLookup { cause };
        let call = self.call().map_err(err)?;
        vaultrs::token::lookup_self(&call)
            .await
            .cause()
            .map(TokenInfo::from)
            .map_err(err)
    }

    /// Renews the current token (`auth/token/renew-self`), optionally asking
    /// for a new TTL.
    pub async fn renew_self(&self, increment: Option<Duration>) -> Result<AuthInfo, VaultError> {
        let err = |cause| VaultError::TokenRenew { cause };
        let call = self.call().map_err(err)?;
        let increment = increment.map(vault_duration);
        vaultrs::token::renew_self(&call, increment.as_deref())
            .await
            .cause()
            .map(AuthInfo::from_vaultrs)
            .map_err(err)
    }

    /// Revokes the current token and its children (`auth/token/revoke-self`).
    pub async fn revoke_self(&self) -> Result<(), VaultError> {
        let err = |cause| VaultError::TokenRevoke {
            target: "self",
            cause,
        };
        let call = self.call().map_err(err)?;
        vaultrs::token::revoke_self(&call)
            .await
            .cause()
            .map_err(err)
    }

    /// Revokes another token and its children (`auth/token/revoke`).
    pub async fn revoke_token(&self, token: &SecretString) -> Result<(), VaultError> {
        let err = |cause| VaultError::TokenRevoke {
            target: "other",
            cause,
        };
        let call = self.call().map_err(err)?;
        vaultrs::token::revoke(&call, token.expose_secret())
            .await
            .cause()
            .map_err(err)
    }

    /// Creates a token (`auth/token/create` or `create-orphan`).
    pub async fn create_token(&self, req: &TokenRequest) -> Result<AuthInfo, VaultError> {
        let err = |cause| VaultError::TokenCreate {
            policies: req.policies.join(","),
            cause,
        };
        let call = self.call().map_err(err)?;
        let ttl = req.ttl.map(vault_duration);
        let result = if req.orphan {
            let endpoint = CreateOrphanTokenRequest {
                display_name: req.display_name.clone(),
                num_uses: req.num_uses,
                policies: Some(req.policies.clone()),
                renewable: Some(req.renewable),
                ttl,
                ..Default::default()
            };
            vaultrs::api::auth(&call, endpoint).await
        } else {
            let endpoint = CreateTokenRequest {
                display_name: req.display_name.clone(),
                num_uses: req.num_uses,
                policies: Some(req.policies.clone()),
                renewable: Some(req.renewable),
                ttl,
                ..Default::default()
            };
            vaultrs::api::auth(&call, endpoint).await
        };
        result.cause().map(AuthInfo::from_vaultrs).map_err(err)
    }

    /// Token "login": looks the token up with its own credentials.
    pub(crate) async fn login_token(&self, token: &SecretString) -> Result<AuthInfo, Cause> {
        let session = self.with_token(token.clone());
        let call = session.call()?;
        let info = vaultrs::token::lookup_self(&call).await.cause()?;
        let info = TokenInfo::from(info);
        Ok(AuthInfo {
            client_token: session
                .token_secret()
                .cloned()
                .unwrap_or_else(|| token.clone()),
            accessor: info.accessor,
            policies: info.policies,
            lease_duration: info.ttl,
            renewable: info.renewable,
        })
    }
}
