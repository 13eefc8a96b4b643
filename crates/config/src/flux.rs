//! The `flux` section: which Secret holds Flux's Git credentials, and which `env`
//! entries supply them when phase 3 moves that Secret behind an ExternalSecret.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::env::TokenFormat;
use crate::git_auth::{GitAuth, SshFields, ValueRule, ValueSource};

/// Flux's Git source and the credentials Secret it reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FluxConfig {
    /// The namespace of Flux and of its credentials Secret.
    #[serde(default = "default_flux_name")]
    pub namespace: String,
    /// The credentials Secret referenced by the GitRepository's `secretRef`.
    #[serde(default = "default_flux_name")]
    pub secret_name: String,
    /// The GitRepository to reconcile and wait for once the credentials are Vault-backed.
    #[serde(default = "default_flux_name")]
    pub git_repository: String,
    /// How Flux authenticates to Git: exactly one of `https`, `ssh` and `githubApp`.
    pub auth: FluxAuth,
}

fn default_flux_name() -> String {
    "flux-system".to_owned()
}

/// How Flux authenticates to Git: HTTPS (`username`, `password`), SSH (`identity`,
/// `known_hosts`) or a GitHub App (`githubAppID`, `githubAppInstallationID` or
/// `githubAppInstallationOwner`, `githubAppPrivateKey`, Flux 2.5 and later).
pub type FluxAuth = GitAuth<SshAuth>;

/// SSH auth for Flux: the Secret gets `identity` and `known_hosts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SshAuth {
    /// The `env` entry holding the private key (PEM).
    pub identity_env: String,
    /// The `env` entry holding the `known_hosts` lines. Exactly one of `knownHostsEnv` and
    /// `knownHosts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts_env: Option<String>,
    /// The `known_hosts` lines themselves (public host keys are not secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<String>,
}

impl SshAuth {
    /// Where the `known_hosts` content comes from, if configured.
    pub fn known_hosts_source(&self) -> Option<ValueSource<'_>> {
        match (&self.known_hosts_env, &self.known_hosts) {
            (Some(env), _) => Some(ValueSource::Env(env)),
            (None, Some(lines)) => Some(ValueSource::Literal(lines)),
            (None, None) => None,
        }
    }
}

impl SshFields for SshAuth {
    fn env_fields(&self) -> Vec<(&'static str, &str, Option<ValueRule>)> {
        let key = Some(ValueRule::Format(TokenFormat::SshPrivateKey));
        let mut fields = vec![("identityEnv", self.identity_env.as_str(), key)];
        if let Some(env) = &self.known_hosts_env {
            fields.push(("knownHostsEnv", env, None));
        }
        fields
    }
}
