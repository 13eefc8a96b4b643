//! The in-cluster sync controller behind `ferry agent`.
//!
//! It reconciles `external-secrets.io` ExternalSecret, SecretStore and ClusterSecretStore
//! (Vault provider) into Kubernetes Secrets. Layering inside the crate: pure modules
//! ([`shape`], and [`hmac`] from `ferry-secret`) know nothing of I/O; [`session`] and
//! [`fetch`] talk to Vault; the controller modules talk to the API server and orchestrate.

pub mod context;
pub mod controller;
pub mod error;
pub mod fetch;
pub mod handle;
pub mod hmac_key;
pub mod http;
pub mod janitor;
pub mod leader;
pub mod metrics;
pub mod probe;
pub mod readiness;
pub mod reconcile;
pub mod render;
pub mod restart;
pub mod secret;
pub mod session;
pub mod shape;
pub mod status;
pub mod store_resolve;
pub mod store_status;
pub mod template_sources;
pub mod vault_find;
pub mod watches;

pub use ferry_secret::hmac;

pub use context::AgentConfig;
pub use controller::Agent;
pub use error::{AgentError, Result};
pub use handle::{Stats, StatsHandle};
