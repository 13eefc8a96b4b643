//! [`PhaseContext`]: what every phase runs with.

use std::sync::Arc;
use std::time::Duration;

use ferry_config::BootstrapConfig;
use ferry_vault::Vault;

use crate::env::EnvValues;
use crate::progress::Progress;

/// How long the waiting steps wait, and how often they poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// How long to wait for an external controller (an ExternalSecret to be Ready, a
    /// Secret to match Vault, Flux to reconcile).
    pub ready: Duration,
    /// The polling interval of those waits.
    pub poll: Duration,
    /// How long to wait for Vault to answer as an active node after unsealing.
    pub vault_active: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            ready: Duration::from_secs(120),
            poll: Duration::from_millis(250),
            vault_active: Duration::from_secs(30),
        }
    }
}

/// The inputs and handles of one phase.
#[derive(Clone)]
pub struct PhaseContext {
    /// The Kubernetes client (the operator's kubeconfig).
    pub kube: kube::Client,
    /// Vault, logged in with the short-lived bootstrap token (the `bootstrap` policy).
    pub vault: Vault,
    /// Vault with the admin token (the root token bootstrap holds, or the operator's
    /// `VAULT_TOKEN`). Only for what the bootstrap policy does not grant, such as reading
    /// back a value to compare it.
    pub admin: Vault,
    /// The validated `bootstrap.yaml`.
    pub config: BootstrapConfig,
    /// The environment values read at start (empty on a re-run without them).
    pub values: Arc<EnvValues>,
    /// Progress reporting, bound to the running phase.
    pub progress: Progress,
    /// Wait limits.
    pub timeouts: Timeouts,
    /// `--overwrite`: replace a different value already in KV.
    pub overwrite: bool,
    /// Namespaces phase 5's cluster check looks at (empty: every namespace).
    pub verify_namespaces: Vec<String>,
}

impl std::fmt::Debug for PhaseContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhaseContext")
            .field("vault", &self.vault)
            .field("progress", &self.progress)
            .field("timeouts", &self.timeouts)
            .field("overwrite", &self.overwrite)
            .finish_non_exhaustive()
    }
}
