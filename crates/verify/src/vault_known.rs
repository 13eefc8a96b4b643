//! Known values read from Vault: the entries bootstrap.yaml's `env` section wrote (a KV path and
//! a key each), read back with the caller's token and handed to [`crate::Scanner::with_labels`].
//!
//! Values stay in [`SecretString`]s from the Vault client to the matcher; the labels
//! (`mount/path#key`) are not secret and are what findings show. A missing secret or key is an
//! error naming the path and key. Values shorter than [`crate::MIN_KNOWN_VALUE_LEN`] bytes (a Git
//! user name such as `git`) would match everywhere, so they are left out and their labels
//! reported in [`VaultKnown::too_short`].

use ferry_config::BootstrapConfig;
use ferry_vault::{KvVersion, Vault};
use secrecy::{ExposeSecret, SecretString};

use crate::{KnownValue, MIN_KNOWN_VALUE_LEN, VerifyError};

/// One KV entry to read: a secret path (relative to the mount) and a key in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownEntry {
    /// The secret path, relative to the KV mount (`flux/git`).
    pub path: String,
    /// The key inside that secret.
    pub key: String,
}

/// The known values read from Vault.
#[derive(Debug, Default)]
pub struct VaultKnown {
    /// The values, labelled `mount/path#key`, ready for [`crate::Scanner::with_labels`].
    pub values: Vec<KnownValue>,
    /// Labels of the values left out for being shorter than [`MIN_KNOWN_VALUE_LEN`] bytes.
    pub too_short: Vec<String>,
}

/// The `(path, key)` of every `env` entry of `config`, in file order, without duplicates.
pub fn known_entries(config: &BootstrapConfig) -> Vec<KnownEntry> {
    let mut out: Vec<KnownEntry> = Vec::with_capacity(config.env.len());
    for e in &config.env {
        let entry = KnownEntry {
            path: e.path.clone(),
            key: e.key.clone(),
        };
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out
}

/// Reads every entry from the KV engine at `mount` (`version` 1 or 2) with `vault`'s token. Each
/// secret is read once however many keys of it are listed. Errors name the mount, path and key
/// ([`VerifyError::ReadVault`], [`VerifyError::MissingKnownValue`]), never a value. A non-string
/// JSON value (a number, say) is matched by its JSON text.
pub async fn read_known_values(
    vault: &Vault,
    mount: &str,
    version: KvVersion,
    entries: &[KnownEntry],
) -> Result<VaultKnown, VerifyError> {
    let mut out = VaultKnown::default();
    let mut done: Vec<&str> = Vec::new();
    for entry in entries {
        if done.contains(&entry.path.as_str()) {
            continue;
        }
        done.push(&entry.path);
        let secret = vault
            .kv_read(mount, &entry.path, version, None)
            .await
            .map_err(|source| VerifyError::ReadVault {
                mount: mount.to_owned(),
                path: entry.path.clone(),
                source: Box::new(source),
            })?;
        for wanted in entries.iter().filter(|e| e.path == entry.path) {
            let missing = || VerifyError::MissingKnownValue {
                mount: mount.to_owned(),
                path: wanted.path.clone(),
                key: wanted.key.clone(),
            };
            let secret = secret.as_ref().ok_or_else(missing)?;
            let value = secret.data.get(&wanted.key).ok_or_else(missing)?;
            let value = match value {
                serde_json::Value::String(s) => SecretString::from(s.clone()),
                other => SecretString::from(other.to_string()),
            };
            let label = format!("{mount}/{}#{}", wanted.path, wanted.key);
            if value.expose_secret().len() < MIN_KNOWN_VALUE_LEN {
                out.too_short.push(label);
            } else {
                out.values.push(KnownValue::labelled(label, value));
            }
        }
    }
    Ok(out)
}

/// The Vault client's KV version for bootstrap.yaml's `kv.version`.
pub fn kv_version(version: ferry_config::KvVersion) -> KvVersion {
    match version {
        ferry_config::KvVersion::V1 => KvVersion::V1,
        ferry_config::KvVersion::V2 => KvVersion::V2,
    }
}
