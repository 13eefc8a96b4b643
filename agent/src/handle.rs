//! A handle on a running agent for the process around it (the probes, `/metrics`, tests):
//! its counters, its readiness and its metrics registry.

use std::sync::Arc;

use prometheus_client::registry::Registry;

use crate::context::Ctx;

/// Counters of what the agent has done, read from its metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Secret writes (apply, patch, delete).
    pub secret_writes: u64,
    /// Successful Vault logins.
    pub logins: u64,
    /// KV requests sent to Vault.
    pub vault_reads: u64,
    /// KV writes sent to Vault (pushes: data, metadata, deletes).
    pub vault_writes: u64,
}

/// A cheap handle that reads the agent's state while it runs.
#[derive(Clone)]
pub struct StatsHandle(pub(crate) Arc<Ctx>);

impl StatsHandle {
    /// `/readyz` for a running agent (see [`crate::readiness`]).
    pub fn readiness(&self) -> std::result::Result<&'static str, &'static str> {
        crate::readiness::readiness(&self.0)
    }

    /// The counters now.
    pub fn get(&self) -> Stats {
        let metrics = &self.0.metrics;
        Stats {
            secret_writes: metrics.secret_writes(),
            logins: metrics.logins(),
            vault_reads: metrics.vault_reads(),
            vault_writes: metrics.vault_writes(),
        }
    }

    /// The agent's metrics registry, for `/metrics`.
    pub fn registry(&self) -> &Registry {
        &self.0.registry
    }
}
