//! The five-phase bootstrap behind `ferry bootstrap` and `ferry unseal`.
//!
//! It takes a cluster from environment variables to zero secrets: init and unseal Vault
//! with the keys sealed to age recipients ([`bundle`], [`infra`]), write the values to KV
//! once ([`secrets`]), switch Flux's Git credentials to a Vault-backed Secret ([`flux`]),
//! write the apps' policies and roles and await their ExternalSecrets ([`apps`]), verify
//! and revoke the root and bootstrap tokens ([`finish`]). Progress is recorded in a
//! ConfigMap ([`state`]) so that a re-run, even after a kill, skips what is done; the
//! [`runner`] decides what runs.
//!
//! Other modules: [`context`] (what a phase runs with), [`progress`] (stderr lines or JSON
//! events), [`env`](mod@env) (the values, read once), [`env_secret`] (the values from a
//! Secret, deleted after phase 2), [`session`] (Vault access and
//! tokens), [`steps`], [`kubeutil`], [`error`].

pub mod apps;
pub mod bundle;
pub mod context;
pub mod env;
pub mod env_secret;
pub mod error;
pub mod finish;
pub mod flux;
pub mod infra;
pub mod kubeauth;
pub mod kubeutil;
pub mod plan;
pub mod progress;
pub mod runner;
pub mod secrets;
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
