//! No plaintext init material: the init bundle (unseal keys and root token) may exist only as
//! age ciphertext, no ConfigMap or unowned Secret may hold a Vault/OpenBao token, and the root
//! token must be revoked.
//!
//! # The root-token check
//!
//! The root token is a credential, so nothing records it; its **accessor** is not one (an
//! accessor can look a token up or revoke it, given a policy allowing that, but cannot
//! authenticate). Bootstrap, right after `sys/init`, writes the root token's accessor into its
//! state ConfigMap [`BOOTSTRAP_STATE_CONFIGMAP`] in the agent namespace under the key
//! [`ROOT_TOKEN_ACCESSOR_KEY`], and revokes the token at the end. [`check_root_token`] reads that
//! key and calls `auth/token/lookup-accessor` with the Vault token `ferry verify` was given:
//!
//! - Vault answers "invalid accessor" (HTTP 400): the token is gone → [`RootToken::Revoked`];
//! - Vault returns the token's properties: it is alive → [`RootToken::Live`], a
//!   [`rules::ROOT_TOKEN_NOT_REVOKED`] finding;
//! - the given token may not call the endpoint (HTTP 403) → [`RootToken::Skipped`], reported
//!   as skipped, not as a failure (the token needs `update` on `auth/token/lookup-accessor`);
//! - no ConfigMap or no key → [`RootToken::NotRecorded`] (bootstrap did not initialise this
//!   Vault, or has not reached that point).

use std::path::Path;

use ferry_vault::{ErrorKind, Vault};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use reqwest::Method;

use crate::cluster_content::{ObjRef, scan_field};
use crate::{Finding, Location, Scanner, VerifyError, rules};

/// The ConfigMap in the agent namespace where bootstrap keeps its (non-secret) state.
pub const BOOTSTRAP_STATE_CONFIGMAP: &str = "ferry-bootstrap";

/// The key of [`BOOTSTRAP_STATE_CONFIGMAP`] holding the root token's accessor.
pub const ROOT_TOKEN_ACCESSOR_KEY: &str = "rootTokenAccessor";

/// The binary age header.
const AGE_HEADER: &[u8] = b"age-encryption.org/v1";
/// The ASCII-armored age header.
const AGE_ARMOR: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";

/// Whether `bytes` is age ciphertext (binary or armored), leading whitespace allowed.
pub fn is_age_ciphertext(bytes: &[u8]) -> bool {
    let b = bytes.trim_ascii_start();
    b.starts_with(AGE_HEADER) || b.starts_with(AGE_ARMOR)
}

/// Every `data` value of the init bundle Secret must be age ciphertext.
pub(crate) fn check_bundle_secret(r: &ObjRef, secret: &Secret, out: &mut Vec<Finding>) {
    for (key, value) in secret.data.iter().flatten() {
        if !is_age_ciphertext(&value.0) {
            out.push(Finding::new(
                rules::INIT_MATERIAL_PLAINTEXT,
                r.location(Some(format!("data.{key}"))),
                "the init bundle Secret holds something other than age ciphertext",
            ));
        }
    }
}

/// The init bundle file (bootstrap.yaml `init.bundle.file`) must be age ciphertext. A missing
/// file is not a finding (it may live on another machine); an unreadable one is an error.
pub fn check_init_bundle_file(path: &Path) -> Result<Vec<Finding>, VerifyError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => zeroize::Zeroizing::new(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(VerifyError::ReadFile {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if is_age_ciphertext(&bytes) {
        return Ok(Vec::new());
    }
    Ok(vec![Finding::new(
        rules::INIT_MATERIAL_PLAINTEXT,
        Location::File {
            path: path.display().to_string(),
            line: None,
        },
        "the init bundle file is not age ciphertext",
    )])
}

/// A Secret no ExternalSecret owns must not hold a Vault/OpenBao token (`tokens` is a scanner
/// without known values: an unowned Secret may legitimately hold other credentials).
pub(crate) fn scan_unowned_secret(
    tokens: &Scanner,
    r: &ObjRef,
    secret: &Secret,
    out: &mut Vec<Finding>,
) {
    let mut found = Vec::new();
    for (key, value) in secret.data.iter().flatten() {
        scan_field(
            tokens,
            r,
            format!("data.{key}"),
            &value.0,
            false,
            &mut found,
        );
    }
    out.extend(found.into_iter().filter(|f| f.rule == rules::VAULT_TOKEN));
}

/// What the root-token check concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootToken {
    /// Vault no longer knows the recorded accessor: the root token is revoked.
    Revoked,
    /// The root token is still valid.
    Live,
    /// Bootstrap recorded no accessor (not initialised by bootstrap, or not that far yet).
    NotRecorded,
    /// The check could not be made; the reason says why (no value in it).
    Skipped {
        /// Why, in words.
        reason: String,
    },
}

impl RootToken {
    /// The finding for [`RootToken::Live`], located at the state ConfigMap's key.
    pub fn finding(&self, state_namespace: &str) -> Option<Finding> {
        (self == &Self::Live).then(|| {
            Finding::new(
                rules::ROOT_TOKEN_NOT_REVOKED,
                Location::Object {
                    kind: "ConfigMap".to_owned(),
                    namespace: Some(state_namespace.to_owned()),
                    name: BOOTSTRAP_STATE_CONFIGMAP.to_owned(),
                    field: Some(format!("data.{ROOT_TOKEN_ACCESSOR_KEY}")),
                },
                "the root token whose accessor bootstrap recorded is still valid in Vault; \
                 revoke it (bao token revoke -accessor)",
            )
        })
    }
}

/// Reads the accessor bootstrap recorded in `state_namespace` and asks Vault about it with
/// `vault`'s token (see the module docs for the outcomes).
pub async fn check_root_token(
    client: &kube::Client,
    vault: &Vault,
    state_namespace: &str,
) -> Result<RootToken, VerifyError> {
    let cm = Api::<ConfigMap>::namespaced(client.clone(), state_namespace)
        .get_opt(BOOTSTRAP_STATE_CONFIGMAP)
        .await
        .map_err(|source| VerifyError::Kube {
            what: format!("ConfigMap {state_namespace}/{BOOTSTRAP_STATE_CONFIGMAP}"),
            source: Box::new(source),
        })?;
    let accessor = cm
        .and_then(|cm| cm.data)
        .and_then(|mut d| d.remove(ROOT_TOKEN_ACCESSOR_KEY))
        .filter(|a| !a.trim().is_empty());
    let Some(accessor) = accessor else {
        return Ok(RootToken::NotRecorded);
    };
    lookup_accessor(vault, accessor.trim()).await
}

/// `auth/token/lookup-accessor` for `accessor`, classified.
pub async fn lookup_accessor(vault: &Vault, accessor: &str) -> Result<RootToken, VerifyError> {
    let body = serde_json::json!({ "accessor": accessor });
    match vault
        .raw(Method::POST, "auth/token/lookup-accessor", Some(&body))
        .await
    {
        Ok(_) => Ok(RootToken::Live),
        Err(e)
            if e.kind() == ErrorKind::InvalidRequest
                && e.cause().detail().contains("invalid accessor") =>
        {
            Ok(RootToken::Revoked)
        }
        Err(e) if e.kind() == ErrorKind::Forbidden => Ok(RootToken::Skipped {
            reason: "the Vault token given may not call auth/token/lookup-accessor".to_owned(),
        }),
        Err(e) => Err(VerifyError::LookupAccessor(Box::new(e))),
    }
}
