//! The agent's HTTP surface and its Prometheus metrics (prometheus-client).
//!
//! - `/metrics`: Prometheus/OpenMetrics text. Every label is bounded: results, reason strings
//!   and error categories from fixed sets, operation names and auth methods; never the name of
//!   an object, a namespace or a Vault path. The reference is `docs/metrics.md`.
//! - `/healthz`: the process is up and serving.
//! - `/readyz`: 200 once the agent can do its job (a standby replica is ready: it waits for
//!   the leader lease by design); 503 with the reason otherwise.
//!
//! The counters are process-wide (one agent per process); the reconcile, fetch and session code
//! records into them through the small functions below.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::controller::StatsHandle;
use crate::error::{AgentError, Result};

/// A label set of two bounded labels.
type Labels = [(&'static str, &'static str); 2];

/// The process-wide metric families.
struct Metrics {
    syncs: Family<Labels, Counter>,
    sync_seconds: Histogram,
    vault_requests: Family<Labels, Counter>,
    logins: Family<Labels, Counter>,
    in_flight: Gauge<i64, AtomicI64>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    syncs: Family::default(),
    // 5 ms to about 40 s.
    sync_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
    vault_requests: Family::default(),
    logins: Family::default(),
    in_flight: Gauge::default(),
});

/// Records the end of one ExternalSecret sync: `ok` says whether it ended Ready, `reason` is
/// the Ready reason (success) or the error category (failure), both from fixed sets.
pub fn sync_finished(ok: bool, reason: &'static str, elapsed: Duration) {
    let result = if ok { "success" } else { "error" };
    METRICS
        .syncs
        .get_or_create(&[("result", result), ("reason", reason)])
        .inc();
    METRICS.sync_seconds.observe(elapsed.as_secs_f64());
}

/// Records one request sent to Vault: `operation` (e.g. `kv_read`, `token_renew`) and
/// `status` (`ok`, `not_found`, or the error's category).
pub fn vault_request(operation: &'static str, status: &'static str) {
    METRICS
        .vault_requests
        .get_or_create(&[("operation", operation), ("status", status)])
        .inc();
}

/// The `status` label of a KV read's answer.
pub fn read_status<T>(
    answer: &std::result::Result<Option<T>, ferry_vault::VaultError>,
) -> &'static str {
    match answer {
        Ok(Some(_)) => "ok",
        Ok(None) => "not_found",
        Err(e) => e.category(),
    }
}

/// Records one Vault login attempt by auth `method`.
pub fn login(method: &'static str, ok: bool) {
    let result = if ok { "success" } else { "error" };
    METRICS
        .logins
        .get_or_create(&[("method", method), ("result", result)])
        .inc();
}

/// Counts a reconcile as in flight until the returned guard is dropped.
pub fn reconcile_started() -> InFlight {
    METRICS.in_flight.inc();
    InFlight(())
}

/// Keeps one reconcile counted in `ferry_reconciles_in_flight`.
#[derive(Debug)]
pub struct InFlight(());

impl Drop for InFlight {
    fn drop(&mut self) {
        METRICS.in_flight.dec();
    }
}

/// What the process is doing, for `/readyz` and the `ferry_leader` gauge.
#[derive(Clone, Default)]
pub struct Probe(Arc<ProbeInner>);

#[derive(Default)]
struct ProbeInner {
    role: AtomicU8,
    agent: RwLock<Option<StatsHandle>>,
}

// Role 0 (the default) is "starting".
const STANDBY: u8 = 1;
const LEADING: u8 = 2;

impl Probe {
    /// A probe for a process that is starting.
    pub fn new() -> Self {
        Self::default()
    }

    /// The replica waits for the leader lease.
    pub fn standby(&self) {
        self.0.role.store(STANDBY, Ordering::Relaxed);
    }

    /// The replica runs the agent (it leads, or leader election is off).
    pub fn running(&self, agent: StatsHandle) {
        *self.0.agent.write().unwrap_or_else(|p| p.into_inner()) = Some(agent);
        self.0.role.store(LEADING, Ordering::Relaxed);
    }

    fn agent(&self) -> Option<StatsHandle> {
        self.0
            .agent
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// `Ok(what)` when ready, `Err(why)` when not.
    pub fn readiness(&self) -> std::result::Result<&'static str, &'static str> {
        match (self.0.role.load(Ordering::Relaxed), self.agent()) {
            (STANDBY, _) => Ok("standby: waiting for the leader lease"),
            (LEADING, Some(agent)) => agent.readiness(),
            _ => Err("starting"),
        }
    }
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Probe")
    }
}

/// Reads the agent's counters and gauges at scrape time.
#[derive(Clone, Debug)]
struct StatsCollector(Probe);

impl Collector for StatsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::result::Result<(), std::fmt::Error> {
        let leading = i64::from(self.0.0.role.load(Ordering::Relaxed) == LEADING);
        let gauge = ConstGauge::new(leading);
        let help = "1 when this replica runs the controllers (leads), 0 when it stands by";
        gauge.encode(encoder.encode_descriptor(
            "ferry_leader",
            help,
            None,
            gauge.metric_type(),
        )?)?;
        let Some(agent) = self.0.agent() else {
            return Ok(());
        };
        let stats = agent.get();
        let counters = [
            (
                "ferry_secret_writes",
                "Kubernetes Secret writes (apply, patch, delete)",
                stats.secret_writes,
            ),
            (
                "ferry_vault_reads",
                "KV read requests sent to Vault",
                stats.vault_reads,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            let metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(metric)?;
        }
        let sessions = ConstGauge::new(i64::try_from(agent.sessions()).unwrap_or(i64::MAX));
        let help = "Cached Vault sessions (one per store identity)";
        let metric = encoder.encode_descriptor(
            "ferry_vault_sessions",
            help,
            None,
            sessions.metric_type(),
        )?;
        sessions.encode(metric)?;
        if let Some(ttl) = agent.min_token_ttl() {
            let gauge = ConstGauge::new(ttl.as_secs_f64());
            let help = "Shortest remaining TTL among the agent's Vault tokens, in seconds";
            let metric = encoder.encode_descriptor(
                "ferry_vault_token_ttl_seconds",
                help,
                None,
                gauge.metric_type(),
            )?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}

/// The registry behind `/metrics`.
fn registry(probe: Probe) -> Registry {
    let mut registry = Registry::default();
    let m = &*METRICS;
    registry.register(
        "ferry_sync",
        "ExternalSecret syncs by result and reason (Ready reason or error category)",
        m.syncs.clone(),
    );
    registry.register(
        "ferry_sync_duration_seconds",
        "Time one ExternalSecret sync takes",
        m.sync_seconds.clone(),
    );
    registry.register(
        "ferry_vault_requests",
        "Requests sent to Vault by operation and status",
        m.vault_requests.clone(),
    );
    registry.register(
        "ferry_vault_logins",
        "Vault login attempts by auth method and result",
        m.logins.clone(),
    );
    registry.register(
        "ferry_reconciles_in_flight",
        "ExternalSecret reconciles running now (at most --concurrency)",
        m.in_flight.clone(),
    );
    registry.register_collector(Box::new(StatsCollector(probe)));
    registry
}

/// The `/metrics` body, as served.
pub fn render(probe: &Probe) -> Result<String> {
    let mut body = String::new();
    prometheus_client::encoding::text::encode(&mut body, &registry(probe.clone()))
        .map_err(|e| AgentError::Start(format!("encoding metrics: {e}")))?;
    Ok(body)
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `addr` until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    probe: Probe,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let ready = probe.clone();
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let probe = ready.clone();
                async move {
                    match probe.readiness() {
                        Ok(what) => (StatusCode::OK, what).into_response(),
                        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why).into_response(),
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let probe = probe.clone();
                async move {
                    match render(&probe) {
                        Ok(body) => (
                            [(
                                header::CONTENT_TYPE,
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            )],
                            body,
                        )
                            .into_response(),
                        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| AgentError::Start(format!("binding the metrics address {addr}: {e}")))?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| AgentError::Start(format!("serving metrics: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_with_bounded_labels() {
        sync_finished(true, "SecretSynced", Duration::from_millis(12));
        sync_finished(false, "vault_sealed", Duration::from_millis(3));
        vault_request("kv_read", "ok");
        login("kubernetes", false);
        let guard = reconcile_started();
        let body = render(&Probe::new()).expect("metrics render");
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
    }

    #[test]
    fn a_starting_process_is_not_ready_and_a_standby_is() {
        let probe = Probe::new();
        assert_eq!(probe.readiness(), Err("starting"));
        probe.standby();
        assert!(probe.readiness().is_ok());
    }
}
