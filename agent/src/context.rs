//! What every reconcile shares: configuration, clients, caches, metrics, per-object backoff
//! and the Event publisher.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use ferry_api::ExternalSecret;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource};

use crate::fetch::Fetcher;
use crate::metrics::Metrics;
use crate::secret::{SecretWriter, Written};
use crate::session::Sessions;
use crate::status::Ready;
use crate::store_resolve::StoreCaches;

/// The agent's settings (the binary maps its flags onto this).
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// Watch only this namespace; `None` watches all.
    pub namespace: Option<String>,
    /// Stores whose `spec.controller` is empty or equal to this are ours.
    pub controller_class: String,
    /// How many ExternalSecrets reconcile at once.
    pub concurrency: u16,
    /// Namespace of the agent itself, where its HMAC key Secret lives.
    pub own_namespace: String,
    /// Name of the Secret holding the HMAC key (created when missing).
    pub hmac_key_secret: String,
    /// The pod's service-account token file (Kubernetes auth without a serviceAccountRef).
    pub pod_token_path: Option<PathBuf>,
    /// First retry delay after a failure; doubles per consecutive failure.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Name reported on Events.
    pub reporter: String,
    /// Whether ExternalSecrets may ask for rollout restarts (`ferry.dev/restart`); off, the
    /// agent never reads or patches workloads.
    pub rollout_restarts: bool,
    /// Whether a template may produce a Secret of type `kubernetes.io/service-account-token`.
    pub allow_service_account_token_secrets: bool,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            namespace: None,
            controller_class: crate::store_resolve::DEFAULT_CONTROLLER_CLASS.into(),
            concurrency: 16,
            own_namespace: "ferry-system".into(),
            hmac_key_secret: "ferry-hmac-key".into(),
            pod_token_path: None,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            reporter: "ferry-agent".into(),
            rollout_restarts: true,
            allow_service_account_token_secrets: false,
        }
    }
}

/// Shared state of one agent process.
pub struct Ctx {
    /// The API client.
    pub client: Client,
    /// Settings.
    pub config: AgentConfig,
    /// Logged-in Vault sessions, one per store identity.
    pub sessions: Sessions,
    /// Single-flight, windowed KV reads.
    pub fetcher: Fetcher,
    /// Target Secret writes and the in-sync memory.
    pub secrets: SecretWriter,
    /// Store caches.
    pub stores: StoreCaches,
    /// The agent's metrics, recorded into by every part.
    pub metrics: Metrics,
    /// What `/metrics` shows of this agent: [`Ctx::metrics`] and the session gauges, built
    /// once.
    pub registry: prometheus_client::registry::Registry,
    /// Per-object retry delays.
    pub backoff: Backoff,
    /// Event publisher.
    pub events: Events,
    /// Whether the ExternalSecret and store caches have been filled (for `/readyz`).
    pub synced: std::sync::atomic::AtomicBool,
    /// Set when the agent shuts down: templates still rendering stop.
    pub cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Exponential backoff with jitter, per object; reset on success.
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// A backoff from `base` doubling up to `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            failures: Mutex::default(),
        }
    }

    /// Records a failure and returns how long to wait before the next try.
    pub fn failed<K: Resource>(&self, obj: &K) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = failures.entry(key(obj)).or_insert(0);
        *n = n.saturating_add(1);
        let exp = self.base.saturating_mul(1 << (*n - 1).min(16));
        let delay = exp.min(self.max);
        delay.mul_f64(0.8 + rand::random::<f64>() * 0.4)
    }

    /// Forgets the object's failures.
    pub fn succeeded<K: Resource>(&self, obj: &K) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&key(obj));
    }
}

fn key<K: Resource>(obj: &K) -> String {
    let meta = obj.meta();
    meta.uid.clone().unwrap_or_else(|| {
        format!(
            "{}/{}",
            meta.namespace.as_deref().unwrap_or(""),
            meta.name.as_deref().unwrap_or("")
        )
    })
}

/// Publishes Kubernetes Events: on create and update of a Secret, and on a failure whose
/// condition differs from the one already recorded (so a steady failure does not flood).
pub struct Events {
    recorder: Recorder,
}

impl Events {
    /// A publisher reporting as `reporter`.
    pub fn new(client: Client, reporter: &str) -> Self {
        let reporter = Reporter {
            controller: reporter.to_string(),
            instance: None,
        };
        Self {
            recorder: Recorder::new(client, reporter),
        }
    }

    /// Publishes what this sync is worth telling.
    pub async fn publish(&self, es: &ExternalSecret, ready: &Ready, written: Option<Written>) {
        let event = match written {
            Some(Written::Created) => normal("Created", "created the Secret"),
            Some(Written::Updated) => normal("Updated", "updated the Secret"),
            _ if ready.ready || !changed(es, ready) => return,
            _ => Event {
                type_: EventType::Warning,
                reason: ready.reason.to_string(),
                note: Some(ready.message.clone()),
                action: "Sync".into(),
                secondary: None,
            },
        };
        if let Err(err) = self.recorder.publish(&event, &es.object_ref(&())).await {
            tracing::debug!(error = %err, "could not publish an Event");
        }
    }
}

fn normal(reason: &str, note: &str) -> Event {
    Event {
        type_: EventType::Normal,
        reason: reason.into(),
        note: Some(note.into()),
        action: "Sync".into(),
        secondary: None,
    }
}

fn changed(es: &ExternalSecret, ready: &Ready) -> bool {
    let old = es.status.as_ref().and_then(|s| s.ready_condition());
    old.is_none_or(|c| {
        c.reason.as_deref() != Some(ready.reason) || c.message.as_deref() != Some(&ready.message)
    })
}
