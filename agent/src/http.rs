//! The agent's HTTP surface, for Kubernetes' probes and Prometheus:
//!
//! - `/metrics`: Prometheus/OpenMetrics text ([`crate::metrics`]; the reference is
//!   `docs/metrics.md`).
//! - `/healthz`: the process is up and serving.
//! - `/readyz`: 200 once the agent can do its job (a standby replica is ready: it waits for
//!   the leader lease by design); 503 with the reason otherwise.

use std::net::SocketAddr;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::error::{AgentError, Result};
use crate::probe::Probe;

/// The content type of the `/metrics` body.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `/metrics`, `/healthz` and `/readyz` on `addr` until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    probe: Probe,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let ready = probe.clone();
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(move || readyz(ready.clone())))
        .route("/metrics", get(move || metrics(probe.clone())));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| AgentError::Start(format!("binding the metrics address {addr}: {e}")))?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| AgentError::Start(format!("serving metrics: {e}")))
}

async fn readyz(probe: Probe) -> axum::response::Response {
    match probe.readiness() {
        Ok(what) => (StatusCode::OK, what).into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why).into_response(),
    }
}

async fn metrics(probe: Probe) -> axum::response::Response {
    match probe.metrics() {
        Ok(body) => ([(header::CONTENT_TYPE, OPENMETRICS)], body).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
