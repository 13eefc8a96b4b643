//! PushSecret and ClusterPushSecret (`external-secrets.io/v1alpha1`): the values of a
//! Kubernetes Secret pushed to Vault, as ESO's PushSecret controller and Vault provider do.
//!
//! - [`plan`] (pure): is the spec valid and supported, and what does it want at each remote
//!   key, from the Secret's data.
//! - [`source`]: the Secret (own namespace only; never the HMAC key or a token Secret);
//!   [`template`]: `spec.template`; [`stores`]: which stores, with the tenant rules.
//! - [`kv`]: one Vault path: check-and-set writes, property merges, ownership, no write when
//!   the keyed HMAC matches; removal of what was pushed.
//! - [`reconcile`]: one PushSecret, start to status; [`stale`]: `deletionPolicy: Delete`;
//!   [`status`]: statuses (patched only when changed) and Events.
//! - [`cluster`]: ClusterPushSecret, a PushSecret per matching namespace.
//! - [`controllers`]: the watches and controllers, run by [`crate::controller`].

pub mod cluster;
pub mod controllers;
pub mod kv;
pub mod plan;
pub mod reconcile;
pub mod source;
pub mod stale;
pub mod status;
pub mod stores;
pub mod template;

use std::sync::Arc;

use kube::runtime::events::{Recorder, Reporter};

use crate::context::Ctx;
use crate::error::AgentError;
use kv::{KvFailure, Target};

/// What every PushSecret reconcile shares, besides the agent's own context.
pub struct PushCtx {
    /// The agent's context: clients, sessions, store caches, metrics, backoff.
    pub agent: Arc<Ctx>,
    /// The key Vault's and the desired data are compared under. It is never stored or sent
    /// anywhere, so a random key per process serves.
    pub hmac_key: zeroize::Zeroizing<Vec<u8>>,
    /// Publishes Events on PushSecrets.
    pub recorder: Recorder,
}

impl PushCtx {
    /// The push context of an agent.
    pub fn new(agent: Arc<Ctx>) -> PushCtx {
        let reporter = Reporter {
            controller: agent.config.reporter.clone(),
            instance: None,
        };
        PushCtx {
            recorder: Recorder::new(agent.client.clone(), reporter),
            hmac_key: ferry_secret::hmac::generate_key(),
            agent,
        }
    }
}

/// The agent error for a failed push or removal at one path, naming the spec field, the
/// path and the store, with Vault's answer reduced to its kind and status.
pub(crate) fn failure(
    failure: KvFailure,
    field: String,
    target: &Target<'_>,
    store: &str,
    op: &'static str,
) -> AgentError {
    let path = format!("{} (through {store})", target.describe());
    match failure {
        KvFailure::Vault(source) => AgentError::PushVault {
            field,
            op,
            path,
            source: Box::new(source),
        },
        KvFailure::NotManaged => AgentError::PushConflict {
            field,
            path,
            reason: "the secret exists and is not managed by a push (its custom metadata has no \
                     managed-by=external-secrets); Ferry neither overwrites nor deletes it"
                .into(),
        },
        KvFailure::Contended => AgentError::PushConflict {
            field,
            path,
            reason: format!(
                "check-and-set refused {} writes in a row: another writer keeps changing the \
                 secret; trying again later",
                kv::CAS_ATTEMPTS
            ),
        },
    }
}
