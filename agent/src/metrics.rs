//! The agent's HTTP surface: `/metrics` in Prometheus text format (prometheus-client), and
//! `/healthz`. Labels are bounded: counters carry no per-object or per-path labels.

use std::net::SocketAddr;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::registry::Registry;

use crate::controller::StatsHandle;
use crate::error::{AgentError, Result};

/// Reads the agent's counters at scrape time.
#[derive(Clone)]
struct StatsCollector(StatsHandle);

impl std::fmt::Debug for StatsCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatsCollector")
    }
}

impl Collector for StatsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::result::Result<(), std::fmt::Error> {
        let stats = self.0.get();
        let counters = [
            (
                "ferry_secret_writes",
                "Kubernetes Secret writes (apply, patch, delete)",
                stats.secret_writes,
            ),
            (
                "ferry_vault_logins",
                "Successful Vault logins",
                stats.logins,
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
        Ok(())
    }
}

/// Serves `/metrics` and `/healthz` on `addr` until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    stats: StatsHandle,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(StatsCollector(stats)));
    let registry = std::sync::Arc::new(registry);
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move {
                    let mut body = String::new();
                    match prometheus_client::encoding::text::encode(&mut body, &registry) {
                        Ok(()) => (
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
