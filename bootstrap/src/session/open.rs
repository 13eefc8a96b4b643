//! Opening Vault, on every run before the phases: `sys/init` when Vault is uninitialised
//! (the init bundle sealed to `init.recipients` and stored before anything else), unsealing
//! when it is sealed, and the admin token of the run ([`open_vault`]).

use std::path::PathBuf;

use ferry_config::BootstrapConfig;
use ferry_vault::{InitRequest, SecretString, Vault};

use super::{Admin, root_from_bundle};
use crate::bundle::InitBundle;
use crate::error::BootstrapError;
use crate::progress::Progress;
use crate::steps;

/// What [`open_vault`] needs besides the config.
#[derive(Debug, Clone, Default)]
pub struct VaultAccess {
    /// `--identity`: an age or SSH identity that opens the init bundle.
    pub identity: Option<PathBuf>,
    /// `VAULT_TOKEN`: the operator's admin token.
    pub operator_token: Option<SecretString>,
}

/// Brings Vault to unsealed-and-active and returns the admin token of the run: init (and
/// seal the bundle to the recipients before unsealing) when uninitialised; unseal with the
/// bundle's keys when sealed; the operator's token, else the bundle's root token (or a
/// fresh one from `sys/generate-root`).
pub async fn open_vault(
    kube: &kube::Client,
    vault: &Vault,
    config: &BootstrapConfig,
    access: &VaultAccess,
    progress: &Progress,
    timeouts: &crate::Timeouts,
) -> Result<Admin, BootstrapError> {
    let status = steps::run(progress, "reach Vault", || async {
        vault
            .seal_status()
            .await
            .map_err(BootstrapError::vault(format!(
                "reading the seal status of {}",
                vault.address()
            )))
    })
    .await?;
    let fresh = if status.initialized {
        None
    } else {
        let step = "initialise Vault and seal the init bundle";
        Some(steps::run(progress, step, || init(kube, config)).await?)
    };
    let mut opened = None;
    if status.sealed || fresh.is_some() {
        opened = steps::run(progress, "unseal Vault", || {
            unseal(kube, vault, config, access, fresh.as_ref(), timeouts)
        })
        .await?;
    }
    steps::run(progress, "obtain an admin token", || async {
        let admin = match &fresh {
            // A Vault initialised just now only knows its own root token.
            Some(bundle) => root_from_bundle(vault, bundle).await?,
            None => admin_token(kube, vault, config, access, opened.as_ref()).await?,
        };
        super::wait_writable(&admin.vault, timeouts.vault_active).await?;
        Ok(admin)
    })
    .await
}

/// Unseals with the fresh init's keys or, without them, the bundle opened with
/// `--identity`, which is returned for the admin-token step.
async fn unseal(
    kube: &kube::Client,
    vault: &Vault,
    config: &BootstrapConfig,
    access: &VaultAccess,
    fresh: Option<&InitBundle>,
    timeouts: &crate::Timeouts,
) -> Result<Option<InitBundle>, BootstrapError> {
    let (keys, opened) = match fresh {
        Some(bundle) => (bundle.unseal_keys(), None),
        None => {
            let identity = access.identity.as_ref().ok_or(BootstrapError::Sealed)?;
            let bundle = super::open_bundle(kube, config, identity).await?;
            (bundle.unseal_keys(), Some(bundle))
        }
    };
    super::unseal(vault, &keys).await?;
    super::wait_active(vault, timeouts.vault_active).await?;
    Ok(opened)
}

/// The operator's `VAULT_TOKEN` if given (never revoked by us), else the root token from
/// the bundle (already opened to unseal, or opened now with `--identity`).
async fn admin_token(
    kube: &kube::Client,
    vault: &Vault,
    config: &BootstrapConfig,
    access: &VaultAccess,
    bundle: Option<&InitBundle>,
) -> Result<Admin, BootstrapError> {
    if let Some(token) = &access.operator_token {
        return super::operator_admin(vault, token.clone()).await;
    }
    if let Some(bundle) = bundle {
        return root_from_bundle(vault, bundle).await;
    }
    let identity = access
        .identity
        .as_ref()
        .ok_or(BootstrapError::NoAdminToken)?;
    let bundle = super::open_bundle(kube, config, identity).await?;
    root_from_bundle(vault, &bundle).await
}

/// How long `sys/init` may take before bootstrap gives up on the answer.
const INIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// `sys/init`, then the bundle sealed and stored before anything else happens.
async fn init(kube: &kube::Client, config: &BootstrapConfig) -> Result<InitBundle, BootstrapError> {
    // Check the recipients before Vault hands out keys that could then not be sealed.
    config.init.age_recipients()?;
    // Its own client with a long timeout: `sys/init` can take seconds on a busy server, and a
    // client that gives up while the server finishes would lose the only copy of the keys.
    let vault = super::connect_with_timeout(config, INIT_TIMEOUT)?;
    let request = InitRequest {
        secret_shares: u64::from(config.init.key_shares),
        secret_threshold: u64::from(config.init.key_threshold),
    };
    let response = vault
        .init(&request)
        .await
        .map_err(BootstrapError::vault("initialising Vault"))?;
    let bundle = InitBundle {
        version: 1,
        vault_address: config.vault.address.clone(),
        keys: response
            .keys
            .iter()
            .map(|k| ferry_vault::ExposeSecret::expose_secret(k).to_owned())
            .collect(),
        threshold: u32::from(config.init.key_threshold),
        root_token: ferry_vault::ExposeSecret::expose_secret(&response.root_token).to_owned(),
    };
    let sealed = crate::bundle::seal(config, &bundle)?;
    crate::bundle::store(kube, config, &sealed).await?;
    Ok(bundle)
}
