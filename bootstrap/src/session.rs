//! Reaching Vault and holding an admin token for the run: connecting, unsealing with the
//! init bundle's keys, minting a fresh root token with them (`sys/generate-root`) when the
//! bundled one is revoked, and the short-lived bootstrap token.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use ferry_config::BootstrapConfig;
use ferry_vault::{
    ErrorKind, ExposeSecret, SecretString, TokenRequest, Vault, VaultConfig, VaultError,
};
use reqwest::Method;
use serde_json::json;
use zeroize::Zeroizing;

use crate::bundle::{BundleSource, InitBundle};
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

/// Reads and decrypts the init bundle with `identity`.
pub async fn open_bundle(
    kube: &kube::Client,
    config: &BootstrapConfig,
    identity: &Path,
) -> Result<InitBundle, BootstrapError> {
    let source =
        BundleSource::from_config(config).ok_or_else(|| BootstrapError::InvalidArgument {
            field: "init.bundle".into(),
            message: "names neither a file nor a Secret".into(),
        })?;
    let sealed = crate::bundle::load(kube, &source).await?;
    crate::bundle::open(&sealed, identity, &source)
}

/// A working root token from the bundle: its own if still valid, else a fresh one minted
/// with its unseal keys.
pub async fn root_from_bundle(vault: &Vault, bundle: &InitBundle) -> Result<Admin, BootstrapError> {
    let candidate = vault.with_token(bundle.root_token());
    match candidate.lookup_self().await {
        Ok(info) => {
            return Ok(Admin {
                vault: candidate,
                source: AdminSource::Root,
                accessor: info.accessor,
            });
        }
        // Revoked (the normal state after a completed run): mint a new one below.
        Err(e) if says_token_invalid(&e) => {}
        Err(e) => {
            return Err(BootstrapError::vault("looking up the bundled root token")(
                e,
            ));
        }
    }
    let token = generate_root(vault, &bundle.unseal_keys()).await?;
    let minted = vault.with_token(token);
    let info = minted
        .lookup_self()
        .await
        .map_err(|e| BootstrapError::GenerateRoot(format!("the new token: {e}")))?;
    Ok(Admin {
        vault: minted,
        source: AdminSource::Root,
        accessor: info.accessor,
    })
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

/// OpenBao's / Vault's generate-root flow with the unseal keys: start an attempt (the
/// server picks the one-time password), submit keys until complete, then XOR the encoded
/// token with the OTP.
pub async fn generate_root(
    vault: &Vault,
    keys: &[SecretString],
) -> Result<SecretString, BootstrapError> {
    let err = |m: String| BootstrapError::GenerateRoot(m);
    let anon = vault.without_token();
    // A stale attempt (a killed run) would reject ours: cancel it first.
    let _ = anon
        .raw(Method::DELETE, "sys/generate-root/attempt", None)
        .await;
    let started = anon
        .raw(Method::PUT, "sys/generate-root/attempt", Some(&json!({})))
        .await
        .map_err(|e| {
            if e.status() == Some(405) {
                err(
                    "the server refuses sys/generate-root (OpenBao 2.5.3 and later disable it \
                     unless a listener sets disable_unauthed_generate_root_endpoints = false); \
                     enable it on a loopback listener, or set VAULT_TOKEN"
                        .into(),
                )
            } else {
                err(format!("starting: {e}"))
            }
        })?
        .ok_or_else(|| err("empty answer when starting".into()))?;
    let nonce = started["nonce"].as_str().unwrap_or_default().to_owned();
    let otp = Zeroizing::new(started["otp"].as_str().unwrap_or_default().to_owned());
    if otp.is_empty() {
        return Err(err("the server did not return a one-time password".into()));
    }
    for key in keys {
        let body = json!({"key": key.expose_secret(), "nonce": nonce});
        let answer = anon
            .raw(Method::PUT, "sys/generate-root/update", Some(&body))
            .await
            .map_err(|e| err(format!("submitting a key: {e}")))?
            .ok_or_else(|| err("empty answer to a key".into()))?;
        if answer["complete"].as_bool() == Some(true) {
            let encoded = answer["encoded_token"]
                .as_str()
                .or_else(|| answer["encoded_root_token"].as_str())
                .ok_or_else(|| err("no encoded token in the answer".into()))?;
            return decode_root(encoded, &otp).map_err(err);
        }
    }
    Err(err(format!(
        "not complete after {} key(s); the bundle holds fewer keys than the threshold",
        keys.len()
    )))
}

/// XORs the base64-encoded token with the OTP.
fn decode_root(encoded: &str, otp: &str) -> Result<SecretString, String> {
    let engines = [
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::STANDARD,
    ];
    let trimmed = encoded.trim_end_matches('=');
    let bytes = Zeroizing::new(
        engines
            .iter()
            .find_map(|e| e.decode(trimmed).ok())
            .ok_or("the encoded token is not base64")?,
    );
    if bytes.len() != otp.len() {
        return Err("the encoded token and the one-time password differ in length".into());
    }
    let plain: Zeroizing<Vec<u8>> = Zeroizing::new(
        bytes
            .iter()
            .zip(otp.as_bytes())
            .map(|(a, b)| a ^ b)
            .collect(),
    );
    let text = String::from_utf8(plain.to_vec()).map_err(|_| "the decoded token is not text")?;
    Ok(SecretString::from(text))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_an_xored_token() {
        let otp = "abcdefghijklmnopqrstuvwxyz12";
        let token = "s.0123456789abcdefghijklmnop";
        let xored: Vec<u8> = token.bytes().zip(otp.bytes()).map(|(a, b)| a ^ b).collect();
        let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(xored);
        let decoded = decode_root(&encoded, otp).unwrap();
        assert_eq!(decoded.expose_secret(), token);
        assert!(decode_root("!!", otp).is_err());
    }
}
