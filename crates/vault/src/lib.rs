//! Ferry's Vault / OpenBao client layer, built on [`vaultrs`].
//!
//! [`Vault`] is a cheap-to-clone connection (optionally carrying a token)
//! exposing the operations Ferry needs: logins, token lifecycle, KV v1/v2,
//! `sys/` administration (init, unseal, mounts, policies) and auth method
//! configuration. Secret material is held in [`secrecy`] types and never
//! appears in `Debug` output or error messages; failures are reported as
//! [`VaultError`] with a bounded [`VaultError::category`].

mod auth;
mod cause;
mod client;
mod data;
mod error;
mod kv;
mod methods;
mod raw;
mod sys;
mod token;
mod util;

pub use auth::Login;
pub use client::{ClientIdentity, DEFAULT_TIMEOUT, Vault, VaultConfig};
pub use data::KvData;
pub use error::{Cause, ErrorKind, VaultError};
pub use kv::{KvMetadata, KvSecret, KvVersion, KvVersionInfo};
pub use methods::{JwtAuthConfig, JwtRole, KubernetesAuthConfig, KubernetesRole};
pub use sys::{InitRequest, InitResponse, MountInfo, SealStatus};
pub use token::{AuthInfo, TokenInfo, TokenRequest};

/// Re-exported so callers can name secret types without a direct dependency.
pub use secrecy::{ExposeSecret, SecretString};
