//! The session around the phases (phase 0 in events): reaching Vault and holding the run's
//! tokens. Connecting; opening Vault ([`open_vault`]: init, unseal, the admin token); a root
//! token from the init bundle ([`root_from_bundle`]: its own, or a fresh one minted with its
//! unseal keys by `sys/generate-root` when the bundled one is revoked); the short-lived
//! bootstrap token the phases write with ([`bootstrap_token`]).

mod open;
mod root;

pub use open::{VaultAccess, open_vault};
pub use root::{generate_root, open_bundle, root_from_bundle};

use std::time::Duration;

use ferry_config::BootstrapConfig;
use ferry_vault::{ErrorKind, SecretString, TokenRequest, Vault, VaultConfig, VaultError};
use reqwest::Method;
use serde_json::json;

use crate::error::BootstrapError;
use crate::poll::{self, Check, Wait};

/// How often the waits for Vault look again.
const VAULT_POLL: Duration = Duration::from_millis(100);

/// The TTL of the bootstrap token; a killed run's token expires by itself after it.
pub const BOOTSTRAP_TOKEN_TTL: Duration = Duration::from_secs(30 * 60);

/// Where the admin token comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminSource {
    /// The operator's `VAULT_TOKEN`: used, never revoked.
    Operator,
    /// A root token bootstrap created (init, the bundle, or generate-root): revoked in
    /// phase 5.
    Root,
}

/// The admin token of the run.
#[derive(Debug, Clone)]
pub struct Admin {
    /// Vault with the admin token.
    pub vault: Vault,
    /// Where the token came from.
    pub source: AdminSource,
    /// The token's accessor (not a credential).
    pub accessor: String,
}

/// The tokens of a run.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The admin token (root or the operator's).
    pub admin: Admin,
    /// The bootstrap token, once created.
    pub bootstrap: Option<Admin>,
}

/// Builds the Vault client from `vault:` in the config.
pub fn connect(config: &BootstrapConfig) -> Result<Vault, BootstrapError> {
    connect_with_timeout(config, ferry_vault::DEFAULT_TIMEOUT)
}

/// [`connect`] with a per-request timeout of `timeout`.
pub fn connect_with_timeout(
    config: &BootstrapConfig,
    timeout: std::time::Duration,
) -> Result<Vault, BootstrapError> {
    let vault = &config.vault;
    let mut cfg = VaultConfig::new(vault.address.clone()).with_timeout(timeout);
    if let Some(file) = &vault.ca_file {
        let pem = std::fs::read(file).map_err(|e| {
            BootstrapError::ConnectVault(format!("reading vault.caFile {}: {e}", file.display()))
        })?;
        cfg = cfg.with_ca_bundle(pem);
    } else if let Some(pem) = &vault.ca_pem {
        cfg = cfg.with_ca_bundle(pem.as_bytes().to_vec());
    }
    if let Some(ns) = &vault.namespace {
        cfg = cfg.with_namespace(ns.clone());
    }
    Vault::connect(&cfg).map_err(|e| BootstrapError::ConnectVault(e.to_string()))
}

/// Submits unseal keys until Vault reports unsealed.
pub async fn unseal(vault: &Vault, keys: &[SecretString]) -> Result<(), BootstrapError> {
    for key in keys {
        let status = vault
            .unseal(key)
            .await
            .map_err(|e| BootstrapError::Unseal(e.to_string()))?;
        if !status.sealed {
            return Ok(());
        }
    }
    Err(BootstrapError::Unseal(format!(
        "still sealed after {} key(s)",
        keys.len()
    )))
}

/// Waits until Vault answers `sys/health` as the active, unsealed node.
pub async fn wait_active(vault: &Vault, timeout: Duration) -> Result<(), BootstrapError> {
    let anonymous = vault.without_token();
    let wait = Wait {
        what: "Vault to become the active node".into(),
        timeout,
        interval: VAULT_POLL,
    };
    poll::until(wait, async || {
        Ok(match anonymous.raw(Method::GET, "sys/health", None).await {
            Ok(_) => Check::Done(()),
            Err(e) => Check::NotYet(Some(e.to_string())),
        })
    })
    .await
}

/// Waits until `admin` can write (create and revoke a child token): right after unsealing,
/// integrated storage may answer reads before it has elected itself leader.
pub async fn wait_writable(admin: &Vault, timeout: Duration) -> Result<(), BootstrapError> {
    let wait = Wait {
        what: "Vault to accept writes".into(),
        timeout,
        interval: VAULT_POLL,
    };
    poll::until(wait, async || {
        let attempt = async {
            let child = admin
                .create_token(&TokenRequest {
                    ttl: Some(Duration::from_secs(60)),
                    ..TokenRequest::default()
                })
                .await?;
            admin.revoke_token(&child.client_token).await
        };
        Ok(match attempt.await {
            Ok(()) => Check::Done(()),
            Err(e) => Check::NotYet(Some(e.to_string())),
        })
    })
    .await
}

/// Whether `err` is Vault's definite answer that the token used is invalid (revoked or
/// expired): HTTP 403 "permission denied" to a call every valid token may make
/// (`lookup-self`, `revoke-self`). Timeouts, a sealed or unreachable Vault and 5xx are not.
pub fn says_token_invalid(err: &VaultError) -> bool {
    err.kind() == ErrorKind::Forbidden && err.status() == Some(403)
}

/// The operator's token (`VAULT_TOKEN`), checked with a lookup.
pub async fn operator_admin(vault: &Vault, token: SecretString) -> Result<Admin, BootstrapError> {
    let admin = vault.with_token(token);
    let info = admin
        .lookup_self()
        .await
        .map_err(BootstrapError::vault("looking up VAULT_TOKEN"))?;
    Ok(Admin {
        vault: admin,
        source: AdminSource::Operator,
        accessor: info.accessor,
    })
}

/// Creates the short-lived bootstrap token with the `ferry-bootstrap` policy.
pub async fn bootstrap_token(admin: &Vault, policy: &str) -> Result<Admin, BootstrapError> {
    let request = TokenRequest {
        policies: vec![policy.to_owned()],
        ttl: Some(BOOTSTRAP_TOKEN_TTL),
        orphan: false,
        renewable: false,
        display_name: Some("ferry-bootstrap".into()),
        num_uses: None,
    };
    let auth = admin
        .create_token(&request)
        .await
        .map_err(BootstrapError::vault("creating the bootstrap token"))?;
    Ok(Admin {
        vault: admin.with_token(auth.client_token),
        source: AdminSource::Operator,
        accessor: auth.accessor,
    })
}

/// Revokes the token with `accessor` (`auth/token/revoke-accessor`); an unknown or
/// already revoked accessor is fine.
pub async fn revoke_accessor(admin: &Vault, accessor: &str) -> Result<(), BootstrapError> {
    let body = json!({ "accessor": accessor });
    match admin
        .raw(Method::POST, "auth/token/revoke-accessor", Some(&body))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.status() == Some(400) || e.is_not_found() => Ok(()),
        Err(e) => Err(BootstrapError::vault("revoking a token by accessor")(e)),
    }
}

/// Renders (and lints) a compiled-in policy template for this config: the bootstrap policy,
/// and in phase 4 the apps' policies.
pub fn render_policy(
    config: &BootstrapConfig,
    template: ferry_policy::Template,
    app: Option<&str>,
) -> Result<String, BootstrapError> {
    let name = template.policy_name(app);
    let err = |source| BootstrapError::RenderPolicy {
        policy: name.clone(),
        source,
    };
    let params = ferry_policy::PolicyParams::from_config(config, app).map_err(err)?;
    ferry_policy::render_checked(template, template.source(), &params).map_err(err)
}
