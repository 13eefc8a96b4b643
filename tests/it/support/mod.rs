//! Helpers of the integration tests (the servers themselves come from `ferry-testenv`).

pub mod agent_process;
pub mod bootstrap;
pub mod chart;
pub mod common;
pub mod eso;
pub mod vault_auth;
