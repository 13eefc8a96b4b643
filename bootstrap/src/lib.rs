//! The five-phase bootstrap behind `ferry bootstrap` and `ferry unseal`.
//!
//! It takes a cluster from environment variables to zero secrets. A reading order:
//!
//! 1. [`runner`]: the run from start to Complete. It reads the state ([`state`], a
//!    ConfigMap), decides what runs ([`plan`]), opens Vault and creates the bootstrap token
//!    ([`session`], phase 0 in events), then runs the phases in order.
//! 2. [`phase`]: the five phases, [`Phase`](phase::Phase) and a module each:
//!    [`infra`](phase::infra) (KV, Kubernetes auth, CRDs), [`secrets`](phase::secrets) (the
//!    values to KV once), [`gitops`](phase::gitops) (the Git credentials of
//!    [`flux`](phase::flux) and [`argocd`](phase::argocd) made Vault-backed),
//!    [`apps`](phase::apps) (the apps' policies, roles and ExternalSecrets),
//!    [`finish`](phase::finish) (verify, revoke the tokens).
//! 3. What they share: [`context`] (what a phase runs with), [`steps`] and [`progress`]
//!    (a step reported as stderr lines or JSON events), [`poll`] (waiting on another
//!    controller), [`kubeutil`], [`error`] (the one error type).
//!
//! The values: [`env`](mod@env) (read once from the environment) or [`env_secret`] (from a
//! Secret, deleted after phase 2). The init bundle (unseal keys and root token sealed to age
//! recipients): [`bundle`]; `ferry unseal`: [`unseal`].

pub mod bundle;
pub mod context;
pub mod env;
pub mod env_secret;
pub mod error;
pub mod kubeutil;
pub mod phase;
pub mod plan;
pub mod poll;
pub mod progress;
pub mod runner;
pub mod session;
pub mod state;
pub mod steps;
pub mod unseal;

#[cfg(test)]
mod tests;

pub use context::{PhaseContext, Timeouts};
pub use env::EnvValues;
pub use error::BootstrapError;
pub use progress::{OutputMode, Progress, StepGuard};
