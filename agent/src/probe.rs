//! What the process tells Kubernetes and Prometheus about itself: whether it is starting,
//! stands by for the leader Lease or runs the agent (`/readyz`, the `ferry_leader` gauge), and
//! the `/metrics` text: the process's own registry, then the running agent's.

use std::sync::{Arc, RwLock};

use prometheus_client::encoding::text;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::handle::StatsHandle;

/// The process's state, shared by the HTTP server and the code that starts the agent.
#[derive(Clone)]
pub struct Probe(Arc<Inner>);

struct Inner {
    role: RwLock<Role>,
    leader: Gauge,
    registry: Registry,
}

enum Role {
    Starting,
    Standby,
    Running(StatsHandle),
}

impl Default for Probe {
    fn default() -> Self {
        let leader = Gauge::default();
        let mut registry = Registry::default();
        registry.register(
            "ferry_leader",
            "1 when this replica runs the controllers (leads), 0 when it stands by",
            leader.clone(),
        );
        Self(Arc::new(Inner {
            role: RwLock::new(Role::Starting),
            leader,
            registry,
        }))
    }
}

impl Probe {
    /// A probe for a process that is starting.
    pub fn new() -> Self {
        Self::default()
    }

    /// The replica waits for the leader lease.
    pub fn standby(&self) {
        *self.0.role.write().unwrap_or_else(|p| p.into_inner()) = Role::Standby;
        self.0.leader.set(0);
    }

    /// The replica runs the agent (it leads, or leader election is off).
    pub fn running(&self, agent: StatsHandle) {
        *self.0.role.write().unwrap_or_else(|p| p.into_inner()) = Role::Running(agent);
        self.0.leader.set(1);
    }

    /// `Ok(what)` when ready, `Err(why)` when not.
    pub fn readiness(&self) -> std::result::Result<&'static str, &'static str> {
        match &*self.0.role.read().unwrap_or_else(|p| p.into_inner()) {
            Role::Standby => Ok("standby: waiting for the leader lease"),
            Role::Running(agent) => agent.readiness(),
            Role::Starting => Err("starting"),
        }
    }

    /// The `/metrics` body (OpenMetrics text).
    pub fn metrics(&self) -> std::result::Result<String, std::fmt::Error> {
        let role = self.0.role.read().unwrap_or_else(|p| p.into_inner());
        let agent = match &*role {
            Role::Running(agent) => Some(agent.registry()),
            _ => None,
        };
        render(&self.0.registry, agent)
    }
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Probe")
    }
}

/// The process's registry, then the agent's when it runs, as one exposition.
fn render(
    process: &Registry,
    agent: Option<&Registry>,
) -> std::result::Result<String, std::fmt::Error> {
    let mut body = String::new();
    text::encode_registry(&mut body, process)?;
    if let Some(agent) = agent {
        text::encode_registry(&mut body, agent)?;
    }
    text::encode_eof(&mut body)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::Metrics;

    #[test]
    fn families_render_with_bounded_labels() {
        let metrics = Metrics::default();
        metrics.sync_finished(true, "SecretSynced", Duration::from_millis(12));
        metrics.sync_finished(false, "vault_sealed", Duration::from_millis(3));
        metrics.vault_request("kv_read", "ok");
        metrics.login("kubernetes", false);
        let guard = metrics.reconcile_started();
        let probe = Probe::new();
        let body = render(&probe.0.registry, Some(&metrics.registry())).expect("metrics render");
        drop(guard);
        for line in [
            "ferry_sync_total{result=\"success\",reason=\"SecretSynced\"}",
            "ferry_sync_total{result=\"error\",reason=\"vault_sealed\"}",
            "ferry_vault_requests_total{operation=\"kv_read\",status=\"ok\"}",
            "ferry_vault_logins_total{method=\"kubernetes\",result=\"error\"}",
            "ferry_sync_duration_seconds_bucket{le=\"0.005\"}",
            "ferry_reconciles_in_flight ",
            "ferry_leader 0",
        ] {
            assert!(body.contains(line), "missing {line} in\n{body}");
        }
        assert_eq!(body.matches("# EOF").count(), 1, "{body}");
    }

    #[test]
    fn a_starting_process_is_not_ready_and_a_standby_is() {
        let probe = Probe::new();
        assert_eq!(probe.readiness(), Err("starting"));
        probe.standby();
        assert!(probe.readiness().is_ok());
        let body = probe.metrics().expect("metrics render");
        assert!(body.contains("ferry_leader 0"), "{body}");
        assert!(!body.contains("ferry_secret_writes"), "{body}");
    }
}
