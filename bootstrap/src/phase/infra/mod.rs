//! Phase 1, infrastructure, with the admin token: the KV engine mounted; Kubernetes auth
//! enabled and pointed at the API server ([`kubeauth`]); the CRDs installed.
//!
//! Before it, on every run, Vault is opened: initialised (the init bundle sealed and stored
//! first) when uninitialised, unsealed when sealed, and an admin token obtained
//! ([`crate::session::open_vault`]). Those steps are reported under phase 1 when phase 1
//! runs and as session steps (phase 0) otherwise, so `--plan` lists them here.

pub mod kubeauth;

use std::collections::BTreeMap;

use ferry_config::BootstrapConfig;
use ferry_vault::Vault;

use crate::error::BootstrapError;
use crate::progress::Progress;
use crate::steps;

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
        ferry_api::install_crds(kube)
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
