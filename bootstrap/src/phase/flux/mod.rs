//! Phase 3 for Flux: Flux's Git credentials Secret becomes Vault-backed.
//!
//! Steps, each idempotent (a re-run after a kill at any point converges):
//!
//! 1. the agent's access, shared with Argo CD ([`super::gitops::access`]);
//! 2. the ExternalSecret that takes over the Flux Secret ([`manifests`] says which key comes
//!    from where; [`super::gitops::takeover`] how keys written literally in `bootstrap.yaml`
//!    are handled);
//! 3. wait until the ExternalSecret is Ready, the Secret is controlled by it, and the
//!    Secret's content matches Vault, comparing keyed hashes under a fresh random key (never
//!    the values themselves; [`super::gitops::matches`]);
//! 4. request a Flux reconcile of the GitRepository and, when Flux's CRD is installed, wait
//!    for it to be Ready (steps 3 and 4 are waits on external controllers).

pub mod manifests;
mod wait;

use ferry_config::FluxConfig;

use crate::context::PhaseContext;
use crate::error::BootstrapError;
use crate::phase::gitops;
// The phase's step helpers, for this module's children.
use crate::phase::gitops::finish;

pub use manifests::{credentials, takeover};

/// What the checks before the switch leave for the switch.
#[derive(Debug)]
pub struct Prepared {
    creds: gitops::Credentials,
}

/// Before anything is written: the Flux Secret's keys resolve against `env`.
pub async fn prepare(ctx: &PhaseContext, _flux: &FluxConfig) -> Result<Prepared, BootstrapError> {
    let creds = credentials(&ctx.config)?;
    Ok(Prepared { creds })
}

/// Takes the Flux Secret over, then has Flux reconcile with it.
pub async fn switch(ctx: &PhaseContext, prepared: Prepared) -> Result<(), BootstrapError> {
    let target = takeover(&ctx.config, prepared.creds)?;
    gitops::take_over(ctx, &target).await?;
    wait::reconcile_git_repository(ctx).await
}

/// What phase 3 will do for Flux, for `--plan`.
pub fn planned_step(flux: &FluxConfig) -> String {
    format!(
        "ExternalSecret for Secret {}/{}; await it matching Vault; reconcile GitRepository {}",
        flux.namespace, flux.secret_name, flux.git_repository
    )
}

/// The `flux` section, which phase 3 only runs this module with.
fn config(ctx: &PhaseContext) -> Result<&FluxConfig, BootstrapError> {
    manifests::flux(&ctx.config)
}
