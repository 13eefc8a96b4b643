//! A root token from the init bundle: the bundled one while it is valid, else a fresh one
//! minted with the bundle's unseal keys (`sys/generate-root`).

use std::path::Path;

use base64::Engine;
use ferry_config::BootstrapConfig;
use ferry_vault::{ExposeSecret, SecretString, Vault};
use reqwest::Method;
use serde_json::json;
use zeroize::Zeroizing;

use super::{Admin, AdminSource, says_token_invalid};
use crate::bundle::{BundleSource, InitBundle};
use crate::error::BootstrapError;

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
