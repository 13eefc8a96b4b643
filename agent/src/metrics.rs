//! The agent's Prometheus metrics (prometheus-client): one [`Metrics`] per agent, held by its
//! context and handed to the parts that record (reconciles, the Vault fetcher and sessions,
//! the Secret writer), and one [`Registry`] built from it when the agent is created.
//!
//! Every label is bounded: results, reason strings and error categories from fixed sets,
//! operation names and auth methods; never the name of an object, a namespace or a Vault
//! path. The reference is `docs/metrics.md`.
//!
//! Each fact is counted once, and what the agent reports elsewhere ([`crate::Stats`], the
//! readiness check) reads these same counters: a Secret write in `ferry_secret_writes`, a
//! request to Vault in `ferry_vault_requests` (`ferry_vault_reads` is its `kv_read` part,
//! summed when scraped), a login attempt in `ferry_vault_logins`.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::session::Sessions;

/// A label set of two bounded labels.
type Labels = [(&'static str, &'static str); 2];

/// The agent's metric families; cheap to clone, every clone records into the same series.
#[derive(Clone, Debug)]
pub struct Metrics(Arc<Families>);

#[derive(Debug)]
struct Families {
    syncs: Family<Labels, Counter>,
    sync_seconds: Histogram,
    in_flight: Gauge,
    secret_writes: Counter,
    vault_requests: Counters,
    logins: Counters,
}

impl Default for Metrics {
    fn default() -> Self {
        Self(Arc::new(Families {
            syncs: Family::default(),
            // 5 ms to about 40 s.
            sync_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
            in_flight: Gauge::default(),
            secret_writes: Counter::default(),
            vault_requests: Counters::default(),
            logins: Counters::default(),
        }))
    }
}

impl Metrics {
    /// Records the end of one ExternalSecret sync: `ok` says whether it ended Ready, `reason`
    /// is the Ready reason (success) or the error category (failure), both from fixed sets.
    pub fn sync_finished(&self, ok: bool, reason: &'static str, elapsed: Duration) {
        let result = if ok { "success" } else { "error" };
        let labels = [("result", result), ("reason", reason)];
        self.0.syncs.get_or_create(&labels).inc();
        self.0.sync_seconds.observe(elapsed.as_secs_f64());
    }

    /// Counts a reconcile as in flight until the returned guard is dropped.
    pub fn reconcile_started(&self) -> InFlight {
        self.0.in_flight.inc();
        InFlight(self.0.in_flight.clone())
    }

    /// Records one Secret write (apply, patch or delete).
    pub fn secret_written(&self) {
        self.0.secret_writes.inc();
    }

    /// Records one request sent to Vault: `operation` (e.g. `kv_read`, `token_renew`) and
    /// `status` (`ok`, `not_found`, or the error's category).
    pub fn vault_request(&self, operation: &'static str, status: &'static str) {
        let labels = [("operation", operation), ("status", status)];
        self.0.vault_requests.inc(labels);
    }

    /// Records one Vault login attempt by auth `method`.
    pub fn login(&self, method: &'static str, ok: bool) {
        let result = if ok { "success" } else { "error" };
        self.0.logins.inc([("method", method), ("result", result)]);
    }

    /// Secret writes so far.
    pub fn secret_writes(&self) -> u64 {
        self.0.secret_writes.get()
    }

    /// KV reads sent to Vault so far.
    pub fn vault_reads(&self) -> u64 {
        self.0.vault_requests.sum(is_kv_read)
    }

    /// Writes sent to Vault so far (KV data and metadata writes and deletes, by pushes).
    pub fn vault_writes(&self) -> u64 {
        self.0.vault_requests.sum(is_kv_write)
    }

    /// Successful Vault logins so far.
    pub fn logins(&self) -> u64 {
        self.0.logins.sum(|labels| labels[1].1 == "success")
    }

    /// A registry of these families, for `/metrics`; the agent builds it once, when it is
    /// created, and adds [`session_gauges`].
    pub fn registry(&self) -> Registry {
        let mut registry = Registry::default();
        let m = &self.0;
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
        registry.register(
            "ferry_secret_writes",
            "Kubernetes Secret writes (apply, patch, delete)",
            m.secret_writes.clone(),
        );
        registry.register(
            "ferry_vault_reads",
            "KV read requests sent to Vault",
            KvReads(m.vault_requests.clone()),
        );
        registry
    }
}

/// `ferry_vault_sessions` and `ferry_vault_token_ttl_seconds`, read from `sessions` at scrape
/// time.
pub fn session_gauges(sessions: Sessions) -> Box<dyn Collector> {
    Box::new(SessionGauges(sessions))
}

fn is_kv_read(labels: &Labels) -> bool {
    labels[0] == ("operation", "kv_read")
}

fn is_kv_write(labels: &Labels) -> bool {
    matches!(
        labels[0],
        ("operation", "kv_write" | "kv_metadata_write" | "kv_delete")
    )
}

/// Keeps one reconcile counted in `ferry_reconciles_in_flight`.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A counter family that can also be summed (prometheus-client's `Family` cannot be read
/// back); encoded like one, and omitted while it has no series.
#[derive(Clone, Debug, Default)]
struct Counters(Arc<RwLock<BTreeMap<Labels, Counter>>>);

impl Counters {
    fn inc(&self, labels: Labels) {
        let known = self.read().get(&labels).map(Counter::inc).is_some();
        if !known {
            let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
            map.entry(labels).or_default().inc();
        }
    }

    fn sum(&self, filter: impl Fn(&Labels) -> bool) -> u64 {
        let map = self.read();
        map.iter()
            .filter(|(l, _)| filter(l))
            .map(|(_, c)| c.get())
            .sum()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Labels, Counter>> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }
}

impl EncodeMetric for Counters {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, counter) in self.read().iter() {
            counter.encode(encoder.encode_family(labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }

    fn is_empty(&self) -> bool {
        self.read().is_empty()
    }
}

/// `ferry_vault_reads`: the `kv_read` requests of `ferry_vault_requests`, summed.
#[derive(Debug)]
struct KvReads(Counters);

impl EncodeMetric for KvReads {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&self.0.sum(is_kv_read), None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// `ferry_vault_sessions` and `ferry_vault_token_ttl_seconds`, read from the session cache
/// at scrape time (the TTL is absent while no token has one).
#[derive(Debug)]
struct SessionGauges(Sessions);

impl Collector for SessionGauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let sessions = ConstGauge::new(i64::try_from(self.0.len()).unwrap_or(i64::MAX));
        sessions.encode(encoder.encode_descriptor(
            "ferry_vault_sessions",
            "Cached Vault sessions (one per store identity)",
            None,
            sessions.metric_type(),
        )?)?;
        if let Some(ttl) = self.0.min_ttl() {
            let gauge = ConstGauge::new(ttl.as_secs_f64());
            gauge.encode(encoder.encode_descriptor(
                "ferry_vault_token_ttl_seconds",
                "Shortest remaining TTL among the agent's Vault tokens, in seconds",
                None,
                gauge.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_what_they_expose() {
        let metrics = Metrics::default();
        metrics.vault_request("kv_read", "ok");
        metrics.vault_request("kv_read", "not_found");
        metrics.vault_request("kv_read", "ok");
        metrics.vault_request("token_renew", "ok");
        metrics.login("kubernetes", true);
        metrics.login("kubernetes", false);
        metrics.secret_written();
        assert_eq!(metrics.vault_reads(), 3);
        assert_eq!(metrics.logins(), 1);
        assert_eq!(metrics.secret_writes(), 1);
        let mut body = String::new();
        prometheus_client::encoding::text::encode(&mut body, &metrics.registry())
            .expect("metrics encode");
        for line in [
            "ferry_vault_requests_total{operation=\"kv_read\",status=\"ok\"} 2",
            "ferry_vault_requests_total{operation=\"token_renew\",status=\"ok\"} 1",
            "ferry_vault_reads_total 3",
            "ferry_vault_logins_total{method=\"kubernetes\",result=\"success\"} 1",
            "ferry_secret_writes_total 1",
        ] {
            assert!(body.contains(line), "missing {line} in\n{body}");
        }
    }
}
