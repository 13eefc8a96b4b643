//! The in-cluster sync controller behind `ferry agent`.
//!
//! It reconciles `external-secrets.io` ExternalSecret, SecretStore and ClusterSecretStore
//! (Vault provider) into Kubernetes Secrets; `docs/concepts.md` describes what it does.
//!
//! A reading order, from the outside in:
//!
//! 1. [`controller`]: the wiring of one agent ([`Agent`]): caches, [`watches`] (what
//!    triggers a reconcile), the controllers, the [`janitor`], shutdown.
//! 2. [`reconcile`]: one ExternalSecret sync, step by step; [`store_status`] is the same for
//!    the stores.
//! 3. What a sync calls, in order: [`store_resolve`] (which store, and may this namespace use
//!    it), [`session`] (a logged-in Vault client per store identity), [`fetch`] and
//!    [`vault_find`] (KV reads), [`template_sources`] and [`render`] (the Secret's content,
//!    built by the pure [`shape`] functions), [`secret`] (the write, only when the keyed
//!    [`hmac`] differs), [`restart`] (rollout restarts), [`status`] (the Ready condition).
//! 4. Around it: [`context`] (what every reconcile shares), [`error`], [`metrics`],
//!    [`hmac_key`] (the HMAC key Secret), and for the process: [`leader`] (the Lease),
//!    [`probe`], [`http`] (`/metrics`, `/healthz`, `/readyz`), [`handle`], [`readiness`].
//!
//! The other direction, a Secret's values pushed to Vault, is [`push`] (PushSecret and
//! ClusterPushSecret), with a reading order of its own.
//!
//! Layering: [`shape`] and [`hmac`] (from `ferry-secret`) are pure; [`session`], [`fetch`]
//! and [`vault_find`] talk to Vault; the rest talks to the API server and orchestrates.

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
pub mod push;
pub mod readiness;
pub mod reconcile;
pub mod render;
pub mod restart;
pub mod secret;
pub mod session;
pub mod shape;
pub mod sources;
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
