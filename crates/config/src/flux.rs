//! The `flux` section: which Secret holds Flux's Git credentials, and which `env`
//! entries supply them when phase 3 moves that Secret behind an ExternalSecret.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The user name used for HTTPS Git auth when neither `username` nor `usernameEnv` is set.
/// GitHub and GitLab accept any non-empty user name with a token.
pub const DEFAULT_GIT_USERNAME: &str = "git";

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
    /// How Flux authenticates to Git.
    pub auth: FluxAuth,
}

fn default_flux_name() -> String {
    "flux-system".to_owned()
}

/// How Flux authenticates to Git. Written in YAML as a map with exactly one key:
/// `https` or `ssh`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "RawAuth", into = "RawAuth")]
pub enum FluxAuth {
    /// HTTPS basic auth: the Secret gets `username` and `password`.
    Https(HttpsAuth),
    /// SSH: the Secret gets `identity` and `known_hosts`.
    Ssh(SshAuth),
}

/// The YAML form of [`FluxAuth`]: exactly one of its keys.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    title = "FluxAuth",
    description = "How Flux authenticates to Git; exactly one of `https` and `ssh`.",
    extend("minProperties" = 1, "maxProperties" = 1)
)]
struct RawAuth {
    /// HTTPS basic auth with a user name and a token or password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    https: Option<HttpsAuth>,
    /// SSH with a private key and the server's public host keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ssh: Option<SshAuth>,
}

impl TryFrom<RawAuth> for FluxAuth {
    type Error = String;

    fn try_from(raw: RawAuth) -> Result<Self, Self::Error> {
        match (raw.https, raw.ssh) {
            (Some(https), None) => Ok(Self::Https(https)),
            (None, Some(ssh)) => Ok(Self::Ssh(ssh)),
            (None, None) => Err("auth needs one of `https` or `ssh`".to_owned()),
            (Some(_), Some(_)) => Err("auth takes only one of `https` or `ssh`".to_owned()),
        }
    }
}

impl From<FluxAuth> for RawAuth {
    fn from(auth: FluxAuth) -> Self {
        match auth {
            FluxAuth::Https(https) => Self {
                https: Some(https),
                ssh: None,
            },
            FluxAuth::Ssh(ssh) => Self {
                https: None,
                ssh: Some(ssh),
            },
        }
    }
}

/// HTTPS basic auth for Git.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpsAuth {
    /// The `env` entry holding the user name. At most one of `usernameEnv` and `username`;
    /// with neither, the user name is `git`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_env: Option<String>,
    /// The user name itself (a user name is not a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The `env` entry holding the password or token.
    pub password_env: String,
}

/// SSH auth for Git.
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

/// Where a credential field comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueSource<'a> {
    /// From the `env` entry of this name (its value is in KV after phase 2).
    Env(&'a str),
    /// Written literally in `bootstrap.yaml` (only for non-secret fields).
    Literal(&'a str),
}

impl HttpsAuth {
    /// Where the user name comes from: `usernameEnv`, `username`, or the default `git`.
    pub fn username_source(&self) -> ValueSource<'_> {
        match (&self.username_env, &self.username) {
            (Some(env), _) => ValueSource::Env(env),
            (None, Some(name)) => ValueSource::Literal(name),
            (None, None) => ValueSource::Literal(DEFAULT_GIT_USERNAME),
        }
    }
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

impl FluxAuth {
    /// Every `*Env` reference as (field path under `flux.auth`, env name), e.g.
    /// (`https.passwordEnv`, `GITHUB_TOKEN`).
    pub fn env_refs(&self) -> Vec<(&'static str, &str)> {
        let mut refs = Vec::new();
        match self {
            Self::Https(https) => {
                if let Some(name) = &https.username_env {
                    refs.push(("https.usernameEnv", name.as_str()));
                }
                refs.push(("https.passwordEnv", https.password_env.as_str()));
            }
            Self::Ssh(ssh) => {
                refs.push(("ssh.identityEnv", ssh.identity_env.as_str()));
                if let Some(name) = &ssh.known_hosts_env {
                    refs.push(("ssh.knownHostsEnv", name.as_str()));
                }
            }
        }
        refs
    }
}
