//! Phase 1, infrastructure: Vault initialised, unsealed and reachable with an admin token;
//! the KV engine mounted; Kubernetes auth enabled and pointed at the API server; the CRDs
//! installed; the bootstrap policy written.
//!
//! [`open_vault`] (init, unseal, admin token) runs on every run, reported under phase 1
//! when phase 1 runs and under phase 0 otherwise; [`run`] is the rest of the phase.

pub mod kubeauth;

use std::collections::BTreeMap;
use std::path::PathBuf;

use ferry_config::BootstrapConfig;
use ferry_vault::{InitRequest, SecretString, Vault};

use crate::bundle::InitBundle;
use crate::error::BootstrapError;
use crate::progress::Progress;
use crate::session::{self, Admin};
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
            Some(bundle) => session::root_from_bundle(vault, bundle).await?,
            None => admin_token(kube, vault, config, access, opened.as_ref()).await?,
        };
        session::wait_writable(&admin.vault, timeouts.vault_active).await?;
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
            let bundle = session::open_bundle(kube, config, identity).await?;
            (bundle.unseal_keys(), Some(bundle))
        }
    };
    session::unseal(vault, &keys).await?;
    session::wait_active(vault, timeouts.vault_active).await?;
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
        return session::operator_admin(vault, token.clone()).await;
    }
    if let Some(bundle) = bundle {
        return session::root_from_bundle(vault, bundle).await;
    }
    let identity = access
        .identity
        .as_ref()
        .ok_or(BootstrapError::NoAdminToken)?;
    let bundle = session::open_bundle(kube, config, identity).await?;
    session::root_from_bundle(vault, &bundle).await
}

/// How long `sys/init` may take before bootstrap gives up on the answer.
const INIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// `sys/init`, then the bundle sealed and stored before anything else happens.
async fn init(kube: &kube::Client, config: &BootstrapConfig) -> Result<InitBundle, BootstrapError> {
    // Check the recipients before Vault hands out keys that could then not be sealed.
    config.init.age_recipients()?;
    // Its own client with a long timeout: `sys/init` can take seconds on a busy server, and a
    // client that gives up while the server finishes would lose the only copy of the keys.
    let vault = session::connect_with_timeout(config, INIT_TIMEOUT)?;
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

/// What phase 1 will do, for `--plan` (opening Vault included: it is reported under phase 1
/// when phase 1 runs).
pub fn planned_steps(config: &BootstrapConfig) -> Vec<String> {
    let kv = match config.kv.version {
        ferry_config::KvVersion::V1 => "v1",
        ferry_config::KvVersion::V2 => "v2",
    };
    vec![
        format!("create namespace {}", config.agent.namespace),
        "initialise Vault if uninitialised; seal the init bundle; unseal".into(),
        format!("mount KV {kv} at {}/", config.kv.mount),
        format!(
            "enable and configure Kubernetes auth at auth/{}",
            config.kubernetes_auth.mount
        ),
        "install the external-secrets.io CRDs".into(),
    ]
}

/// The rest of phase 1, with the admin token: KV mount, Kubernetes auth, CRDs.
pub async fn run(
    kube: &kube::Client,
    admin: &Vault,
    config: &BootstrapConfig,
    kube_config: &kube::Config,
    progress: &Progress,
) -> Result<(), BootstrapError> {
    steps::run(
        progress,
        &format!("mount KV at {}/", config.kv.mount),
        || mount_kv(admin, config),
    )
    .await?;
    steps::run(
        progress,
        &format!("Kubernetes auth at auth/{}", config.kubernetes_auth.mount),
        || kubeauth::configure(kube, admin, config, kube_config),
    )
    .await?;
    steps::run(progress, "install the CRDs", || async {
        ferry_agent::controller::install_crds(kube)
            .await
            .map_err(|e| BootstrapError::InstallCrds(e.to_string()))
    })
    .await
}

async fn mount_kv(admin: &Vault, config: &BootstrapConfig) -> Result<(), BootstrapError> {
    let mount = &config.kv.mount;
    let want = match config.kv.version {
        ferry_config::KvVersion::V1 => "1",
        ferry_config::KvVersion::V2 => "2",
    };
    let mounts = admin
        .list_mounts()
        .await
        .map_err(BootstrapError::vault("listing secrets engines"))?;
    if let Some(info) = mounts.get(&format!("{mount}/")) {
        let version = info.options.get("version").map_or("1", String::as_str);
        if info.kind != "kv" || version != want {
            return Err(BootstrapError::InvalidArgument {
                field: "kv".into(),
                message: format!(
                    "{mount}/ is already mounted as {} version {version}, not kv version {want}",
                    info.kind
                ),
            });
        }
        return Ok(());
    }
    let options = BTreeMap::from([("version".to_owned(), want.to_owned())]);
    admin
        .enable_mount(mount, "kv", options)
        .await
        .map_err(BootstrapError::vault(format!("mounting KV at {mount}/")))
}

/// Renders (and lints) a compiled-in template for this config.
pub fn render(
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
