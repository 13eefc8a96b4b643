//! The five-phase bootstrap behind `ferry bootstrap` and `ferry unseal`.
//!
//! It takes a cluster from environment variables to zero secrets: init and unseal Vault
//! with the keys sealed to age recipients ([`bundle`], [`phase::infra`]), write the values to
//! KV once ([`phase::secrets`]), switch Flux's Git credentials to a Vault-backed Secret
//! ([`phase::flux`]), write the apps' policies and roles and await their ExternalSecrets
//! ([`phase::apps`]), verify and revoke the root and bootstrap tokens ([`phase::finish`]). Progress is recorded in a
//! ConfigMap ([`state`]) so that a re-run, even after a kill, skips what is done; the
//! [`runner`] decides what runs.
//!
//! Other modules: [`context`] (what a phase runs with), [`progress`] (stderr lines or JSON
//! events), [`env`](mod@env) (the values, read once), [`env_secret`] (the values from a
//! Secret, deleted after phase 2), [`session`] (Vault access and
//! tokens), [`steps`], [`kubeutil`], [`error`].

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
