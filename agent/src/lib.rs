//! The in-cluster sync controller behind `ferry agent`.
//!
//! It reconciles `external-secrets.io` ExternalSecret, SecretStore and ClusterSecretStore
//! (Vault provider) into Kubernetes Secrets. Layering inside the crate: pure modules
//! ([`shape`], [`hmac`]) know nothing of I/O; [`session`] and [`fetch`] talk to Vault; the
//! controller modules talk to the API server and orchestrate.

pub mod error;
pub mod fetch;
pub mod hmac;
pub mod session;
pub mod shape;

pub use error::{AgentError, Result};
