//! The bootstrap state: the ConfigMap `ferry-bootstrap` in `agent.namespace`.
//!
//! Per phase it records whether the phase is done, when, and a fingerprint of the phase's
//! inputs (hashes of names and paths, never values), as JSON under the keys `phase1` …
//! `phase5`. It also holds `rootTokenAccessor` (the accessor of the root token bootstrap
//! created or minted, not a credential; `ferry verify` checks it is revoked),
//! `bootstrapTokenAccessor` (so a re-run revokes a token a killed run left behind) and
//! `completedAt`. Every write carries the resourceVersion read (optimistic concurrency).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde::{Deserialize, Serialize};

use crate::error::BootstrapError;
use crate::phase::Phase;

/// The ConfigMap's name.
pub const STATE_NAME: &str = "ferry-bootstrap";
/// The key `ferry verify` reads to check that the root token is revoked.
pub const ROOT_TOKEN_ACCESSOR: &str = "rootTokenAccessor";
/// The accessor of the current run's bootstrap token.
pub const BOOTSTRAP_TOKEN_ACCESSOR: &str = "bootstrapTokenAccessor";
/// When the last run reached Complete.
pub const COMPLETED_AT: &str = "completedAt";

/// The record of one phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseRecord {
    /// Whether the phase finished.
    pub done: bool,
    /// When it finished (RFC 3339).
    pub at: String,
    /// The fingerprint of its inputs then.
    pub fingerprint: String,
}

/// The state as read, with the resourceVersion to write against.
#[derive(Debug, Clone, Default)]
pub struct State {
    data: BTreeMap<String, String>,
    resource_version: Option<String>,
    exists: bool,
}

impl State {
    /// The record of `phase`, if any.
    pub fn phase(&self, phase: Phase) -> Option<PhaseRecord> {
        self.data
            .get(&phase_key(phase))
            .and_then(|text| serde_json::from_str(text).ok())
    }

    /// Whether `phase` is done with inputs of `fingerprint`.
    pub fn is_current(&self, phase: Phase, fingerprint: &str) -> bool {
        self.phase(phase)
            .is_some_and(|r| r.done && r.fingerprint == fingerprint)
    }

    /// A plain key (`rootTokenAccessor`, …).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.data.get(key).map(String::as_str)
    }
}

/// `phase1` … `phase5`.
fn phase_key(phase: Phase) -> String {
    format!("phase{}", phase.number())
}

/// Reads and writes the state ConfigMap in one namespace.
#[derive(Clone)]
pub struct StateStore {
    api: Api<ConfigMap>,
    namespace: String,
}

impl StateStore {
    /// The store in `namespace` (which must exist before the first write).
    pub fn new(kube: &kube::Client, namespace: &str) -> StateStore {
        StateStore {
            api: Api::namespaced(kube.clone(), namespace),
            namespace: namespace.to_owned(),
        }
    }

    fn err(&self, reason: impl std::fmt::Display) -> BootstrapError {
        BootstrapError::State {
            namespace: self.namespace.clone(),
            name: STATE_NAME.to_owned(),
            reason: reason.to_string(),
        }
    }

    /// Reads the state; an absent ConfigMap (or namespace) is an empty state.
    pub async fn read(&self) -> Result<State, BootstrapError> {
        match self.api.get_opt(STATE_NAME).await {
            Ok(Some(cm)) => Ok(State {
                data: cm.data.unwrap_or_default(),
                resource_version: cm.metadata.resource_version,
                exists: true,
            }),
            Ok(None) => Ok(State::default()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(State::default()),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Records `phase` as done now with `fingerprint`.
    pub async fn mark_done(&self, phase: Phase, fingerprint: &str) -> Result<(), BootstrapError> {
        let record = PhaseRecord {
            done: true,
            at: crate::kubeutil::now(),
            fingerprint: fingerprint.to_owned(),
        };
        let text = serde_json::to_string(&record).map_err(|e| self.err(e))?;
        self.update(|data| {
            data.insert(phase_key(phase), text.clone());
        })
        .await
    }

    /// Sets (or with `None` removes) a plain key.
    pub async fn set(&self, key: &str, value: Option<&str>) -> Result<(), BootstrapError> {
        self.update(|data| match value {
            Some(v) => {
                data.insert(key.to_owned(), v.to_owned());
            }
            None => {
                data.remove(key);
            }
        })
        .await
    }

    /// Read-modify-write with the resourceVersion; retried on a conflict.
    async fn update(
        &self,
        change: impl Fn(&mut BTreeMap<String, String>),
    ) -> Result<(), BootstrapError> {
        for _ in 0..5 {
            let state = self.read().await?;
            let mut data = state.data.clone();
            change(&mut data);
            if state.exists && data == state.data {
                return Ok(());
            }
            let mut cm = ConfigMap::default();
            cm.metadata.name = Some(STATE_NAME.to_owned());
            cm.metadata.labels = Some(
                [(
                    "app.kubernetes.io/managed-by".to_owned(),
                    "ferry".to_owned(),
                )]
                .into(),
            );
            cm.metadata.resource_version = state.resource_version.clone();
            cm.data = Some(data);
            let result = if state.exists {
                self.api
                    .replace(STATE_NAME, &PostParams::default(), &cm)
                    .await
            } else {
                self.api.create(&PostParams::default(), &cm).await
            };
            match result {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(status)) if status.code == 409 => continue,
                Err(e) => return Err(self.err(e)),
            }
        }
        Err(self.err("kept conflicting with concurrent writers"))
    }
}
