//! Git credentials as `bootstrap.yaml` names them, shared by the `flux` and `argocd`
//! sections: HTTPS basic auth, SSH (whose fields differ per engine, the type parameter of
//! [`GitAuth`]) and a GitHub App.
//!
//! Each credential field is either an `env` entry (its value reaches Vault in phase 2) or,
//! for what is not a secret (a user name, public host keys, a base URL), a literal.
//! [`GitAuth::env_refs`] lists the `env` references with the field path that makes each one,
//! and the [`ValueRule`] its value must pass beyond the entry's own `check`: bootstrap
//! applies those rules before anything is written.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::env::TokenFormat;

/// The user name used for HTTPS Git auth when neither `username` nor `usernameEnv` is set.
/// GitHub and GitLab accept any non-empty user name with a token.
pub const DEFAULT_GIT_USERNAME: &str = "git";

/// Where a credential field comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueSource<'a> {
    /// From the `env` entry of this name (its value is in KV after phase 2).
    Env(&'a str),
    /// Written literally in `bootstrap.yaml` (only for non-secret fields).
    Literal(&'a str),
}

/// What a value referenced by a credential field must look like, checked with the
/// environment before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRule {
    /// A well-formed key or token of this format.
    Format(TokenFormat),
    /// A positive decimal integer, such as a GitHub App ID or installation ID.
    NumericId,
    /// A GitHub user or organisation name: 1 to 39 of `[A-Za-z0-9-]`, not starting with `-`.
    GithubOwner,
}

/// One `*Env` field of a credential: its field path (e.g.
/// `flux.auth.githubApp.privateKeyEnv`), the `env` entry it names, and the rule its value
/// must pass, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvRef<'a> {
    /// The field's path in `bootstrap.yaml`.
    pub field: String,
    /// The `env` entry it names.
    pub env: &'a str,
    /// What the value must look like beyond the entry's own `check`.
    pub rule: Option<ValueRule>,
}

/// The SSH fields of one engine: Flux keeps `known_hosts` in its Secret, Argo CD does not.
pub trait SshFields {
    /// Each `*Env` field as (name under `ssh`, env entry, rule).
    fn env_fields(&self) -> Vec<(&'static str, &str, Option<ValueRule>)>;
}

/// How a GitOps engine authenticates to Git. Written in YAML as a map with exactly one
/// key: `https`, `ssh` or `githubApp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    try_from = "RawAuth<S>",
    into = "RawAuth<S>",
    bound = "S: Clone + Serialize + DeserializeOwned"
)]
#[schemars(rename = "GitAuth_{S}")]
pub enum GitAuth<S> {
    /// HTTPS basic auth: a user name and a password or token.
    Https(HttpsAuth),
    /// SSH with a private key.
    Ssh(S),
    /// A GitHub App: its ID, the installation and its private key.
    GithubApp(GithubAppAuth),
}

/// The YAML form of [`GitAuth`]: exactly one of its keys.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    bound(serialize = "S: Serialize", deserialize = "S: DeserializeOwned")
)]
#[schemars(
    rename = "GitAuth_{S}",
    description = "How the engine authenticates to Git; exactly one of `https`, `ssh` and `githubApp`.",
    extend("minProperties" = 1, "maxProperties" = 1)
)]
struct RawAuth<S> {
    /// HTTPS basic auth with a user name and a token or password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    https: Option<HttpsAuth>,
    /// SSH with a private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ssh: Option<S>,
    /// A GitHub App's credentials instead of a long-lived token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    github_app: Option<GithubAppAuth>,
}

impl<S> TryFrom<RawAuth<S>> for GitAuth<S> {
    type Error = String;

    fn try_from(raw: RawAuth<S>) -> Result<Self, Self::Error> {
        match (raw.https, raw.ssh, raw.github_app) {
            (Some(https), None, None) => Ok(Self::Https(https)),
            (None, Some(ssh), None) => Ok(Self::Ssh(ssh)),
            (None, None, Some(app)) => Ok(Self::GithubApp(app)),
            (None, None, None) => Err("auth needs one of `https`, `ssh` or `githubApp`".to_owned()),
            _ => Err("auth takes only one of `https`, `ssh` or `githubApp`".to_owned()),
        }
    }
}

impl<S> From<GitAuth<S>> for RawAuth<S> {
    fn from(auth: GitAuth<S>) -> Self {
        let mut raw = RawAuth {
            https: None,
            ssh: None,
            github_app: None,
        };
        match auth {
            GitAuth::Https(https) => raw.https = Some(https),
            GitAuth::Ssh(ssh) => raw.ssh = Some(ssh),
            GitAuth::GithubApp(app) => raw.github_app = Some(app),
        }
        raw
    }
}

impl<S: SshFields> GitAuth<S> {
    /// Every `*Env` reference, with field paths under `at` (e.g. `flux.auth`).
    pub fn env_refs(&self, at: &str) -> Vec<EnvRef<'_>> {
        let fields: Vec<(String, &str, Option<ValueRule>)> = match self {
            Self::Https(https) => https
                .username_env
                .iter()
                .map(|env| ("https.usernameEnv", env.as_str(), None))
                .chain([("https.passwordEnv", https.password_env.as_str(), None)])
                .map(|(f, e, r)| (f.to_owned(), e, r))
                .collect(),
            Self::Ssh(ssh) => ssh
                .env_fields()
                .into_iter()
                .map(|(f, e, r)| (format!("ssh.{f}"), e, r))
                .collect(),
            Self::GithubApp(app) => app
                .env_fields()
                .into_iter()
                .map(|(f, e, r)| (format!("githubApp.{f}"), e, Some(r)))
                .collect(),
        };
        fields
            .into_iter()
            .map(|(field, env, rule)| EnvRef {
                field: format!("{at}.{field}"),
                env,
                rule,
            })
            .collect()
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

/// A GitHub App's credentials. The private key, the app ID and the installation all come
/// from Vault, so the Secret is one unit there and no long-lived token exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GithubAppAuth {
    /// The `env` entry holding the App ID (a number).
    pub app_id_env: String,
    /// The `env` entry holding the installation ID (a number). Exactly one of
    /// `installationIdEnv` and `installationOwnerEnv` (the latter for Flux only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_id_env: Option<String>,
    /// The `env` entry holding the user or organisation the App is installed for; Flux looks
    /// the installation up by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_owner_env: Option<String>,
    /// The `env` entry holding the App's private key, a PEM RSA key as GitHub issues it.
    pub private_key_env: String,
    /// The GitHub Enterprise API URL, e.g. `https://github.example.com/api/v3`; omit it for
    /// github.com.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

impl GithubAppAuth {
    /// Each `*Env` field as (name under `githubApp`, env entry, rule).
    fn env_fields(&self) -> Vec<(&'static str, &str, ValueRule)> {
        let mut fields = vec![("appIdEnv", self.app_id_env.as_str(), ValueRule::NumericId)];
        if let Some(env) = &self.installation_id_env {
            fields.push(("installationIdEnv", env, ValueRule::NumericId));
        }
        if let Some(env) = &self.installation_owner_env {
            fields.push(("installationOwnerEnv", env, ValueRule::GithubOwner));
        }
        fields.push((
            "privateKeyEnv",
            &self.private_key_env,
            ValueRule::Format(TokenFormat::RsaPrivateKey),
        ));
        fields
    }
}
