//! The init bundle: Vault's unseal keys and initial root token, age-encrypted to the
//! `init.recipients` and written to a file (mode 0600 through a random-named `O_EXCL`
//! temporary file, fsync, rename, directory fsync) and/or a Kubernetes Secret (ciphertext
//! only) before Vault is unsealed.
//!
//! The plaintext exists only in memory that is zeroized on drop ([`InitBundle`]).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use ferry_config::{BootstrapConfig, SecretRef};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::BootstrapError;

/// The key of the bundle in its Secret.
pub const SECRET_KEY: &str = "vault-init.age";

/// The decrypted content of the bundle; zeroized on drop, redacted in `Debug`.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct InitBundle {
    /// Format version (1).
    pub version: u32,
    /// The Vault address it was created for (not secret).
    pub vault_address: String,
    /// Unseal key shares, hex.
    pub keys: Vec<String>,
    /// Shares needed to unseal.
    pub threshold: u32,
    /// The initial root token.
    pub root_token: String,
}

impl std::fmt::Debug for InitBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitBundle")
            .field("vault_address", &self.vault_address)
            .field("keys", &self.keys.len())
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

impl InitBundle {
    /// The unseal keys as secrets.
    pub fn unseal_keys(&self) -> Vec<SecretString> {
        self.keys
            .iter()
            .map(|k| SecretString::from(k.clone()))
            .collect()
    }

    /// The root token as a secret.
    pub fn root_token(&self) -> SecretString {
        SecretString::from(self.root_token.clone())
    }
}

/// Where a bundle is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleSource {
    /// A local file.
    File(PathBuf),
    /// A Secret, key [`SECRET_KEY`].
    Secret(SecretRef),
}

impl std::fmt::Display for BundleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Secret(s) => write!(f, "Secret {}/{}", s.namespace, s.name),
        }
    }
}

impl BundleSource {
    /// The configured source: the file if there is one, else the Secret.
    pub fn from_config(config: &BootstrapConfig) -> Option<BundleSource> {
        let bundle = &config.init.bundle;
        match (&bundle.file, &bundle.secret) {
            (Some(file), _) => Some(BundleSource::File(file.clone())),
            (None, Some(secret)) => Some(BundleSource::Secret(secret.clone())),
            (None, None) => None,
        }
    }
}

/// Encrypts `bundle` to the config's recipients (ASCII-armored age).
pub fn seal(config: &BootstrapConfig, bundle: &InitBundle) -> Result<Vec<u8>, BootstrapError> {
    let err = |reason: String| BootstrapError::SealBundle(reason);
    let recipients = config.init.age_recipients()?;
    let plain = Zeroizing::new(serde_json::to_vec(bundle).map_err(|e| err(e.to_string()))?);
    let encryptor = age::Encryptor::with_recipients(recipients.iter().map(|r| r.as_recipient()))
        .map_err(|e| err(e.to_string()))?;
    let mut out = Vec::new();
    let armor =
        ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).map_err(|e| err(e.to_string()))?;
    let mut writer = encryptor
        .wrap_output(armor)
        .map_err(|e| err(e.to_string()))?;
    writer.write_all(&plain).map_err(|e| err(e.to_string()))?;
    writer
        .finish()
        .and_then(|armor| armor.finish())
        .map_err(|e| err(e.to_string()))?;
    Ok(out)
}

/// Decrypts a sealed bundle with the identities in `identity_file` (age or SSH).
pub fn open(
    sealed: &[u8],
    identity_file: &Path,
    source: &BundleSource,
) -> Result<InitBundle, BootstrapError> {
    let err = |reason: String| BootstrapError::OpenBundle {
        source_name: source.to_string(),
        reason,
    };
    let identities = read_identities(identity_file).map_err(&err)?;
    let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(sealed))
        .map_err(|e| err(format!("not an age file ({e})")))?;
    let mut reader = decryptor
        .decrypt(identities.iter().map(|i| i.as_ref()))
        .map_err(|e| {
            err(format!(
                "the identity {} cannot decrypt it ({e})",
                identity_file.display()
            ))
        })?;
    let mut plain = Zeroizing::new(Vec::new());
    reader
        .read_to_end(&mut plain)
        .map_err(|e| err(e.to_string()))?;
    serde_json::from_slice(&plain).map_err(|_| err("the decrypted bundle is malformed".into()))
}

/// Reads age identities (`AGE-SECRET-KEY-…` lines) or an unencrypted SSH private key.
fn read_identities(path: &Path) -> Result<Vec<Box<dyn age::Identity>>, String> {
    let text = Zeroizing::new(
        std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?,
    );
    if let Ok(file) = age::IdentityFile::from_buffer(&text[..])
        && let Ok(ids) = file.into_identities()
        && !ids.is_empty()
    {
        return Ok(ids);
    }
    let ssh = age::ssh::Identity::from_buffer(&text[..], Some(path.display().to_string()))
        .map_err(|_| {
            format!(
                "{} holds no age identity and no SSH private key",
                path.display()
            )
        })?;
    match ssh {
        age::ssh::Identity::Unencrypted(_) => Ok(vec![Box::new(ssh)]),
        _ => Err(format!(
            "{}: passphrase-protected or unsupported SSH keys are not supported; \
             decrypt a copy with ssh-keygen -p first",
            path.display()
        )),
    }
}

/// Writes the sealed bundle to every configured destination.
pub async fn store(
    kube: &kube::Client,
    config: &BootstrapConfig,
    sealed: &[u8],
) -> Result<(), BootstrapError> {
    if let Some(file) = &config.init.bundle.file {
        write_file(file, sealed)?;
    }
    if let Some(secret) = &config.init.bundle.secret {
        write_secret(kube, secret, sealed).await?;
    }
    Ok(())
}

/// Writes `bytes` to `path` with mode 0600: a temporary file beside it with a random name,
/// created with `O_CREAT|O_EXCL` (so a planted file or symlink makes the create fail
/// instead of being followed) and mode 0600 from the start, then fsync, rename over `path`
/// (which replaces a symlink at `path` rather than writing through it), and fsync of the
/// directory.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), BootstrapError> {
    let err = |reason: String| BootstrapError::WriteBundle {
        target: path.display().to_string(),
        reason,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| err("not a file path".into()))?;
    let mut builder = tempfile::Builder::new();
    let prefix = format!(".{}.", name.to_string_lossy());
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600));
    let mut tmp = builder.tempfile_in(&dir).map_err(|e| {
        err(format!(
            "creating a temporary file in {}: {e}",
            dir.display()
        ))
    })?;
    tmp.write_all(bytes)
        .map_err(|e| err(format!("writing the temporary file: {e}")))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| err(format!("syncing the temporary file: {e}")))?;
    // On failure the temporary file is removed when `PersistError` drops it.
    tmp.persist(path)
        .map_err(|e| err(format!("renaming the temporary file: {}", e.error)))?;
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| err(format!("syncing the directory {}: {e}", dir.display())))?;
    Ok(())
}

async fn write_secret(
    kube: &kube::Client,
    target: &SecretRef,
    sealed: &[u8],
) -> Result<(), BootstrapError> {
    crate::kubeutil::ensure_namespace(kube, &target.namespace).await?;
    let api = Api::<Secret>::namespaced(kube.clone(), &target.namespace);
    let mut secret = Secret::default();
    secret.metadata.name = Some(target.name.clone());
    secret.metadata.labels = Some(
        [(
            "app.kubernetes.io/managed-by".to_owned(),
            "ferry".to_owned(),
        )]
        .into(),
    );
    secret.data = Some([(SECRET_KEY.to_owned(), ByteString(sealed.to_vec()))].into());
    api.patch(
        &target.name,
        &PatchParams::apply(crate::kubeutil::FIELD_MANAGER).force(),
        &Patch::Apply(&secret),
    )
    .await
    .map_err(|e| BootstrapError::WriteBundle {
        target: format!("Secret {}/{}", target.namespace, target.name),
        reason: e.to_string(),
    })?;
    Ok(())
}

/// Reads the sealed bundle from `source`.
pub async fn load(kube: &kube::Client, source: &BundleSource) -> Result<Vec<u8>, BootstrapError> {
    let err = |reason: String| BootstrapError::OpenBundle {
        source_name: source.to_string(),
        reason,
    };
    match source {
        BundleSource::File(path) => std::fs::read(path).map_err(|e| err(e.to_string())),
        BundleSource::Secret(target) => {
            let api = Api::<Secret>::namespaced(kube.clone(), &target.namespace);
            let secret = api
                .get_opt(&target.name)
                .await
                .map_err(|e| err(e.to_string()))?
                .ok_or_else(|| err("not found".into()))?;
            secret
                .data
                .and_then(|mut d| d.remove(SECRET_KEY))
                .map(|b| b.0)
                .ok_or_else(|| err(format!("has no key {SECRET_KEY}")))
        }
    }
}
