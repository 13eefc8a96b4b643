//! The typed schema of `bootstrap.yaml`, the declarative file an operator commits to
//! Git for `ferry bootstrap`, `ferry policy render` and `ferry verify`.
//!
//! The file holds no secret values: [`env`](BootstrapConfig::env) names the environment
//! variables that supply them at bootstrap time, and where each goes in KV. This crate
//! never reads a value; [`check_value`] only inspects one it is handed.
//!
//! - [`load`] / [`parse`]: YAML → [`BootstrapConfig`], then [`BootstrapConfig::validate`].
//!   Shape errors (syntax, unknown keys, wrong types) are [`ConfigError::Parse`] with the
//!   field path, line and column; rule violations are all reported together as
//!   [`ConfigError::Validate`], each [`Problem`] with its field path, line and column.
//! - [`check_value`]: an `env[].check` against a value, failing with a [`CheckFailure`].
//! - [`BootstrapConfig::fingerprint`] / [`fingerprint_of`]: hashes of the effective config.
//! - [`json_schema`]: the JSON Schema, committed as `docs/bootstrap.schema.json`.
//!
//! Modules: [`schema`] (top level, vault, init, kv, kubernetesAuth, agent), [`env`](mod@env),
//! [`flux`] and [`argocd`] (with the credentials they share, [`git_auth`]), [`apps`], [`check`], [`recipient`], [`error`]; unknown keys in errors are shown
//! only when plainly misspelt field names (`suggest`).

pub mod apps;
pub mod argocd;
pub mod check;
pub mod env;
pub mod error;
mod fingerprint;
pub mod flux;
pub mod git_auth;
mod locate;
mod parse;
pub mod recipient;
mod rules;
pub mod schema;
mod suggest;
mod validate;
mod validate_gitops;

#[cfg(test)]
mod tests;

pub use apps::{AppConfig, AppExternalSecret, CreateSpec, DataItem};
pub use argocd::{ArgoCdAuth, ArgoCdConfig, ArgoCdRepository, ArgoCdSshAuth, RepoType};
pub use check::{
    CheckFailure, GITHUB_PAT_PREFIX, TOKEN_PREFIXES, check_rule, check_value, github_checksum,
    looks_like_secret,
};
pub use env::{EnvCheck, EnvEntry, TokenFormat};
pub use error::{ConfigError, Location, Problem};
pub use fingerprint::fingerprint_of;
pub use flux::{FluxAuth, FluxConfig, SshAuth};
pub use git_auth::{
    DEFAULT_GIT_USERNAME, EnvRef, GitAuth, GithubAppAuth, HttpsAuth, ValueRule, ValueSource,
};
pub use parse::{load, parse};
pub use recipient::{AgeRecipient, parse_recipient};
pub use schema::{
    AgentConfig, BootstrapConfig, BundleConfig, InitConfig, KubernetesAuthConfig, KvConfig,
    KvVersion, SecretRef, StoreKind, VaultConfig,
};

/// Path of the committed JSON Schema, relative to the repository root.
pub const JSON_SCHEMA_PATH: &str = "docs/bootstrap.schema.json";

/// The JSON Schema (draft 2020-12) of `bootstrap.yaml`, with every field described.
pub fn json_schema() -> serde_json::Value {
    serde_json::Value::from(schemars::schema_for!(BootstrapConfig))
}
