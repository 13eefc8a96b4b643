//! `sys/` operations: seal status, initialization, (un)sealing, secrets
//! engine and auth method mounts, policies.

use std::collections::{BTreeMap, HashMap};

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use vaultrs::api::sys::requests::{EnableAuthRequest, EnableEngineRequest};

use crate::client::Vault;
use crate::error::{Cause, VaultError};
use crate::util::{ClientResultExt, non_empty_path, none_if_not_found};

/// Seal state of the server (`sys/seal-status`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SealStatus {
    /// Whether the server is sealed.
    pub sealed: bool,
    /// Whether the server has been initialized.
    pub initialized: bool,
    /// Number of key shares needed to unseal.
    #[serde(default)]
    pub t: u64,
    /// Total number of key shares.
    #[serde(default)]
    pub n: u64,
    /// Number of shares submitted so far in the current unseal attempt.
    #[serde(default)]
    pub progress: u64,
    /// Server version.
    #[serde(default)]
    pub version: String,
}

/// Parameters of `sys/init`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitRequest {
    /// Number of unseal key shares to create.
    pub secret_shares: u64,
    /// Number of shares needed to unseal.
    pub secret_threshold: u64,
}

impl Default for InitRequest {
    fn default() -> Self {
        InitRequest {
            secret_shares: 1,
            secret_threshold: 1,
        }
    }
}

/// The answer of `sys/init`: unseal keys and the root token (all secret,
/// redacted in `Debug`).
#[derive(Debug, Clone)]
pub struct InitResponse {
    /// Unseal key shares, hex encoded.
    pub keys: Vec<SecretString>,
    /// Unseal key shares, base64 encoded.
    pub keys_base64: Vec<SecretString>,
    /// The initial root token.
    pub root_token: SecretString,
}

/// A secrets engine or auth method mount.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountInfo {
    /// Engine / method type (`kv`, `approle`, `kubernetes`, ...).
    pub kind: String,
    /// Mount options (e.g. `version` = `2` for KV v2).
    pub options: BTreeMap<String, String>,
}

impl Vault {
    /// Reads the seal status (`sys/seal-status`; unauthenticated; raw call,
    /// vaultrs has no such endpoint).
    pub async fn seal_status(&self) -> Result<SealStatus, VaultError> {
        let err = |cause| VaultError::SealStatus { cause };
        self.without_token()
            .send_json::<SealStatus>(Method::GET, "sys/seal-status", None)
            .await
            .map_err(err)?
            .ok_or_else(|| err(Cause::decode("empty seal status")))
    }

    /// Initializes the server (`sys/init`).
    pub async fn init(&self, req: &InitRequest) -> Result<InitResponse, VaultError> {
        let err = |cause| VaultError::Init { cause };
        let call = self.anonymous_call();
        let resp = vaultrs::sys::start_initialization(
            &call,
            req.secret_shares,
            req.secret_threshold,
            None,
        )
        .await
        .cause()
        .map_err(err)?;
        Ok(InitResponse {
            keys: resp.keys.into_iter().map(SecretString::from).collect(),
            keys_base64: resp
                .keys_base64
                .into_iter()
                .map(SecretString::from)
                .collect(),
            root_token: SecretString::from(resp.root_token),
        })
    }

    /// Submits one unseal key share (`sys/unseal`) and returns the new
    /// status.
    pub async fn unseal(&self, key: &SecretString) -> Result<SealStatus, VaultError> {
        let err = |cause| VaultError::Unseal { cause };
        let call = self.anonymous_call();
        let resp = vaultrs::sys::unseal(&call, Some(key.expose_secret().to_owned()), None, None)
            .await
            .cause()
            .map_err(err)?;
        Ok(SealStatus {
            sealed: resp.sealed,
            initialized: true,
            t: resp.threshold,
            n: resp.n_shares,
            progress: resp.progress,
            version: resp.version,
        })
    }

    /// Seals the server (`sys/seal`; needs sudo).
    pub async fn seal(&self) -> Result<(), VaultError> {
        let err = |cause| VaultError::Seal { cause };
        let call = self.call().map_err(err)?;
        vaultrs::sys::seal(&call).await.cause().map_err(err)
    }

    /// Lists secrets engine mounts (`sys/mounts`). Keys are the mount paths
    /// as Vault returns them, with a trailing `/` (e.g. `secret/`).
    pub async fn list_mounts(&self) -> Result<BTreeMap<String, MountInfo>, VaultError> {
        let err = |cause| VaultError::Mount {
            path: "*".to_owned(),
            cause,
        };
        let call = self.call().map_err(err)?;
        let mounts = vaultrs::sys::mount::list(&call)
            .await
            .cause()
            .map_err(err)?;
        Ok(mounts
            .into_iter()
            .map(|(path, m)| (path, mount_info(m.mount_type, m.options)))
            .collect())
    }

    /// Enables a secrets engine of type `kind` at `path` (`sys/mounts/<path>`),
    /// e.g. `("secret", "kv", {"version": "2"})`.
    pub async fn enable_mount(
        &self,
        path: &str,
        kind: &str,
        options: BTreeMap<String, String>,
    ) -> Result<(), VaultError> {
        let err = |cause| VaultError::Mount {
            path: path.to_owned(),
            cause,
        };
        let clean = non_empty_path(path, "mount path").map_err(err)?;
        let call = self.call().map_err(err)?;
        let endpoint = EnableEngineRequest {
            path: clean,
            engine_type: Some(kind.to_owned()),
            options: (!options.is_empty()).then(|| options.into_iter().collect()),
            ..Default::default()
        };
        vaultrs::api::exec_with_empty(&call, endpoint)
            .await
            .cause()
            .map_err(err)
    }

    /// Lists auth methods (`sys/auth`). Keys carry a trailing `/` (e.g.
    /// `token/`).
    pub async fn list_auth_methods(&self) -> Result<BTreeMap<String, MountInfo>, VaultError> {
        let err = |cause| VaultError::AuthMethod {
            path: "*".to_owned(),
            cause,
        };
        let call = self.call().map_err(err)?;
        let methods = vaultrs::sys::auth::list(&call).await.cause().map_err(err)?;
        Ok(methods
            .into_iter()
            .map(|(path, m)| (path, mount_info(m.mount_type, m.options)))
            .collect())
    }

    /// Enables an auth method of type `kind` at `path` (`sys/auth/<path>`).
    pub async fn enable_auth(&self, path: &str, kind: &str) -> Result<(), VaultError> {
        let err = |cause| VaultError::AuthMethod {
            path: path.to_owned(),
            cause,
        };
        let clean = non_empty_path(path, "auth path").map_err(err)?;
        let call = self.call().map_err(err)?;
        let endpoint = EnableAuthRequest {
            path: clean,
            engine_type: Some(kind.to_owned()),
            ..Default::default()
        };
        vaultrs::api::exec_with_empty(&call, endpoint)
            .await
            .cause()
            .map_err(err)
    }

    /// Creates or replaces an ACL policy (`sys/policy/<name>`).
    pub async fn write_policy(&self, name: &str, hcl: &str) -> Result<(), VaultError> {
        let err = |cause| VaultError::Policy {
            name: name.to_owned(),
            cause,
        };
        let clean = non_empty_path(name, "policy name").map_err(err)?;
        let call = self.call().map_err(err)?;
        vaultrs::sys::policy::set(&call, &clean, hcl)
            .await
            .cause()
            .map_err(err)
    }

    /// Reads an ACL policy's HCL; `Ok(None)` if it does not exist.
    pub async fn read_policy(&self, name: &str) -> Result<Option<String>, VaultError> {
        let err = |cause| VaultError::Policy {
            name: name.to_owned(),
            cause,
        };
        let clean = non_empty_path(name, "policy name").map_err(err)?;
        let call = self.call().map_err(err)?;
        let resp = vaultrs::sys::policy::read(&call, &clean).await.cause();
        Ok(none_if_not_found(resp).map_err(err)?.map(|p| p.rules))
    }

    /// Deletes an ACL policy (missing policies are not an error).
    pub async fn delete_policy(&self, name: &str) -> Result<(), VaultError> {
        let err = |cause| VaultError::Policy {
            name: name.to_owned(),
            cause,
        };
        let clean = non_empty_path(name, "policy name").map_err(err)?;
        let call = self.call().map_err(err)?;
        let resp = vaultrs::sys::policy::delete(&call, &clean).await.cause();
        none_if_not_found(resp).map_err(err).map(|_| ())
    }

    /// Lists ACL policy names (including `default` and `root`).
    pub async fn list_policies(&self) -> Result<Vec<String>, VaultError> {
        let err = |cause| VaultError::Policy {
            name: "*".to_owned(),
            cause,
        };
        let call = self.call().map_err(err)?;
        vaultrs::sys::policy::list(&call)
            .await
            .cause()
            .map(|r| r.policies)
            .map_err(err)
    }
}

/// Builds a [`MountInfo`] from vaultrs' fields.
fn mount_info(kind: String, options: Option<HashMap<String, String>>) -> MountInfo {
    MountInfo {
        kind,
        options: options.unwrap_or_default().into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_status_parses_openbao_answer() -> Result<(), serde_json::Error> {
        let s: SealStatus = serde_json::from_str(
            r#"{"type":"shamir","initialized":true,"sealed":true,"t":3,"n":5,"progress":1,
                "nonce":"x","version":"2.4.0","build_date":"","migration":false,
                "recovery_seal":false,"storage_type":"file"}"#,
        )?;
        assert!(s.sealed && s.initialized);
        assert_eq!((s.t, s.n, s.progress), (3, 5, 1));
        let s: SealStatus = serde_json::from_str(r#"{"initialized":false,"sealed":true}"#)?;
        assert_eq!(s.t, 0);
        Ok(())
    }

    #[test]
    fn init_response_debug_is_redacted() {
        let r = InitResponse {
            keys: vec![SecretString::from("key-one")],
            keys_base64: vec![SecretString::from("a2V5")],
            root_token: SecretString::from("s.root"),
        };
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("key-one") && !dbg.contains("s.root") && !dbg.contains("a2V5"));
    }
}
