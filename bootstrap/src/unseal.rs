//! `ferry unseal`: decrypt the init bundle with an operator's identity and submit its
//! unseal keys until Vault is unsealed (after a restart, say).

use std::path::Path;

use ferry_config::BootstrapConfig;

use crate::bundle::BundleSource;
use crate::error::BootstrapError;

/// What `ferry unseal` found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsealOutcome {
    /// Vault was sealed and is now unsealed.
    Unsealed,
    /// Vault was not sealed; nothing was submitted.
    AlreadyUnsealed,
}

/// Unseals Vault (from `config.vault`) with the keys in the bundle at `source`. `kube` is
/// needed only for a bundle stored in a Secret.
pub async fn unseal(
    kube: Option<&kube::Client>,
    config: &BootstrapConfig,
    identity: &Path,
    source: &BundleSource,
) -> Result<UnsealOutcome, BootstrapError> {
    let vault = crate::session::connect(config)?;
    let status = vault
        .seal_status()
        .await
        .map_err(BootstrapError::vault(format!(
            "reading the seal status of {}",
            vault.address()
        )))?;
    if !status.initialized {
        return Err(BootstrapError::Unseal(
            "Vault is not initialised; run ferry bootstrap".into(),
        ));
    }
    if !status.sealed {
        return Ok(UnsealOutcome::AlreadyUnsealed);
    }
    let sealed = match (source, kube) {
        (BundleSource::File(path), _) => {
            std::fs::read(path).map_err(|e| BootstrapError::OpenBundle {
                source_name: source.to_string(),
                reason: e.to_string(),
            })?
        }
        (BundleSource::Secret(_), Some(kube)) => crate::bundle::load(kube, source).await?,
        (BundleSource::Secret(_), None) => {
            return Err(BootstrapError::ConnectKube(
                "a Kubernetes client is needed to read the bundle Secret".into(),
            ));
        }
    };
    let bundle = crate::bundle::open(&sealed, identity, source)?;
    crate::session::unseal(&vault, &bundle.unseal_keys()).await?;
    Ok(UnsealOutcome::Unsealed)
}
