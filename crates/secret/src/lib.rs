//! What a Kubernetes Secret holds, and the keyed fingerprints Ferry computes over it.
//!
//! - [`SecretData`]: a Secret's keys and byte values, zeroized on drop and never printed.
//! - [`hmac`]: HMAC-SHA256 fingerprints of that data (the agent's `ferry.dev/data-hmac`
//!   annotation, per-ExternalSecret keys, rollout-restart fingerprints), key generation and a
//!   constant-time comparison of tags.
//!
//! Both the agent and bootstrap use these, so they live here, above `ferry-api` and below
//! both. The crate does no I/O and has no error type: nothing in it can fail.

mod data;
pub mod hmac;

pub use data::SecretData;
