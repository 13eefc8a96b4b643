//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several agent replicas only
//! one writes.
//!
//! The protocol is the one client-go's leader election uses: the holder writes its identity
//! and renews `renewTime` every third of the lease duration; every write carries the
//! resourceVersion it read, so two candidates never both win. A candidate takes the Lease only
//! when its record has not changed for a whole lease duration *as measured on the candidate's
//! own clock* (so clock skew between nodes does not matter). A holder that cannot renew for
//! two thirds of the duration gives up leadership before anybody else may take it over.
//!
//! Why not a crate: of the Lease crates for kube-rs, kube-leader-election (0.44) is built for
//! kube 4 and kube-coordinate (2.0.0-rc.0) for kube 2, and this agent is on kube 5.
//! kube-lease-manager (0.13) is on kube 5, but judges expiry by the holder's `renewTime`
//! against the local wall clock (so skew between nodes changes when a standby takes over) and
//! writes with patches not guarded by the resourceVersion. The protocol here is a few hundred
//! lines, and tests/it/agent/leader.rs exercises it with two real processes.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Client, ResourceExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{AgentError, Result};

/// Where the Lease is and who we are.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// The Lease's namespace (the agent's own).
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This candidate's identity (the pod name).
    pub identity: String,
    /// How long a holder's lease lasts without renewal.
    pub duration: Duration,
}

impl LeaseConfig {
    /// How often the holder renews, and a standby retries: a third of the lease.
    pub fn renew_every(&self) -> Duration {
        (self.duration / 3).max(Duration::from_millis(200))
    }

    /// How long the holder keeps leading without a successful renewal.
    pub fn renew_deadline(&self) -> Duration {
        self.duration * 2 / 3
    }
}

/// What a candidate last saw of the Lease, and when (on its own clock).
struct Observed {
    /// The Lease's resourceVersion; a change means its holder is alive.
    version: Option<String>,
    /// When the version was first seen.
    since: Instant,
}

/// One candidate for the Lease.
pub struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    observed: Option<Observed>,
}

/// The outcome of one attempt to take or renew the Lease.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// We hold the Lease.
    Held,
    /// Somebody else holds a Lease that has not expired.
    Taken,
}

impl Elector {
    /// A candidate for the Lease in `config`.
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// Waits until this candidate holds the Lease (`Ok(true)`) or `shutdown` is cancelled
    /// first (`Ok(false)`). API errors are logged and retried.
    pub async fn acquire(&mut self, shutdown: &CancellationToken) -> Result<bool> {
        let mut logged_standby = false;
        loop {
            if shutdown.is_cancelled() {
                return Ok(false);
            }
            match self.attempt().await {
                Ok(Attempt::Held) => {
                    tracing::info!(lease = %self.config.name, identity = %self.config.identity, "acquired the leader lease");
                    return Ok(true);
                }
                Ok(Attempt::Taken) if !logged_standby => {
                    tracing::info!(lease = %self.config.name, "another replica leads; standing by");
                    logged_standby = true;
                }
                Ok(Attempt::Taken) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "leader election: could not read or write the lease")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.config.renew_every()) => {}
                () = shutdown.cancelled() => return Ok(false),
            }
        }
    }

    /// Renews the Lease until `shutdown` is cancelled (returns `Ok(())`) or leadership is
    /// lost (returns an error): another holder took it, or renewal failed for the renew
    /// deadline.
    pub async fn hold(&mut self, shutdown: &CancellationToken) -> Result<()> {
        let mut renewed = Instant::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.config.renew_every()) => {}
                () = shutdown.cancelled() => return Ok(()),
            }
            match self.attempt().await {
                Ok(Attempt::Held) => renewed = Instant::now(),
                Ok(Attempt::Taken) => return Err(self.lost("another replica holds the lease")),
                Err(err) => {
                    tracing::warn!(error = %err, "leader election: renewing the lease failed");
                    if renewed.elapsed() >= self.config.renew_deadline() {
                        return Err(self.lost("the lease could not be renewed in time"));
                    }
                }
            }
        }
    }

    /// Gives the Lease up (after a graceful shutdown), so that a standby takes over at its
    /// next retry instead of waiting for the lease to expire. Best effort.
    pub async fn release(&self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now());
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => tracing::info!(lease = %self.config.name, "released the leader lease"),
            Err(err) => tracing::warn!(error = %err, "could not release the leader lease"),
        }
    }

    fn lost(&self, why: &str) -> AgentError {
        tracing::error!(lease = %self.config.name, reason = why, "lost the leader lease; stopping");
        AgentError::LeaderElection(format!("lease {}: {why}", self.config.name))
    }

    /// One read-modify-write of the Lease, guarded by its resourceVersion.
    async fn attempt(&mut self) -> Result<Attempt> {
        let name = self.config.name.clone();
        let fail = |op: &str, e: kube::Error| {
            AgentError::LeaderElection(format!("{op} lease {name}: {e}"))
        };
        let Some(lease) = self
            .api
            .get_opt(&name)
            .await
            .map_err(|e| fail("reading", e))?
        else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    ..Default::default()
                },
                spec: Some(self.spec_taking(None)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Attempt::Held),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(Attempt::Taken),
                Err(e) => Err(fail("creating", e)),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let ours = spec.holder_identity.as_deref() == Some(self.config.identity.as_str());
        if !ours && !self.expired(&lease, &spec) {
            return Ok(Attempt::Taken);
        }
        let next_spec = if ours {
            LeaseSpec {
                renew_time: Some(now()),
                lease_duration_seconds: Some(self.duration_seconds()),
                ..spec
            }
        } else {
            self.spec_taking(Some(&spec))
        };
        let next = Lease {
            metadata: lease.metadata.clone(),
            spec: Some(next_spec),
        };
        match self.api.replace(&name, &PostParams::default(), &next).await {
            Ok(written) => {
                self.observe(written.resource_version());
                Ok(Attempt::Held)
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Attempt::Taken),
            Err(e) => Err(fail("updating", e)),
        }
    }

    /// Whether the holder has let the Lease lapse: no holder, or its record unchanged for
    /// longer than the duration it declared, on our clock.
    fn expired(&mut self, lease: &Lease, spec: &LeaseSpec) -> bool {
        self.observe(lease.resource_version());
        if spec
            .holder_identity
            .as_deref()
            .unwrap_or_default()
            .is_empty()
        {
            return true;
        }
        let declared = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.config.duration, Duration::from_secs);
        self.observed
            .as_ref()
            .is_some_and(|o| o.since.elapsed() >= declared)
    }

    fn observe(&mut self, version: Option<String>) {
        let same = self.observed.as_ref().is_some_and(|o| o.version == version);
        if !same {
            self.observed = Some(Observed {
                version,
                since: Instant::now(),
            });
        }
    }

    fn spec_taking(&self, previous: Option<&LeaseSpec>) -> LeaseSpec {
        let transitions = previous.and_then(|p| p.lease_transitions).unwrap_or(0);
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(self.duration_seconds()),
            acquire_time: Some(now()),
            renew_time: Some(now()),
            lease_transitions: Some(if previous.is_some() {
                transitions.saturating_add(1)
            } else {
                0
            }),
            ..Default::default()
        }
    }

    fn duration_seconds(&self) -> i32 {
        i32::try_from(self.config.duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }
}

fn now() -> MicroTime {
    MicroTime(Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::LeaseConfig;
    use std::time::Duration;

    #[test]
    fn renewal_and_deadline_fit_inside_the_lease() {
        let config = LeaseConfig {
            namespace: "ns".into(),
            name: "ferry".into(),
            identity: "pod-a".into(),
            duration: Duration::from_secs(15),
        };
        assert_eq!(config.renew_every(), Duration::from_secs(5));
        assert_eq!(config.renew_deadline(), Duration::from_secs(10));
        assert!(config.renew_deadline() < config.duration);
    }
}
