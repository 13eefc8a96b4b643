//! The `argocd` section: Argo CD's repository and repository-credential (`repo-creds`)
//! Secrets, and the `env` entries that supply their credentials when phase 3 moves them
//! behind ExternalSecrets.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::env::TokenFormat;
use crate::git_auth::{GitAuth, SshFields, ValueRule};

/// Argo CD's namespace and the Secrets in it that hold Git credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgoCdConfig {
    /// The namespace Argo CD runs in, where its repository Secrets live.
    #[serde(default = "default_argocd_namespace")]
    pub namespace: String,
    /// Repositories: one Secret each, labelled `argocd.argoproj.io/secret-type: repository`.
    #[serde(default)]
    pub repositories: Vec<ArgoCdRepository>,
    /// Credential templates: one Secret each, labelled
    /// `argocd.argoproj.io/secret-type: repo-creds`, used by every repository whose URL
    /// starts with `url`.
    #[serde(default)]
    pub repo_creds: Vec<ArgoCdRepository>,
}

fn default_argocd_namespace() -> String {
    "argocd".to_owned()
}

/// One repository or credential template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgoCdRepository {
    /// The Secret's name (and, for a repository, its `name` key).
    pub name: String,
    /// The repository URL, or for `repoCreds` the URL prefix: `https://…`, `ssh://…` or
    /// `user@host:path`.
    pub url: String,
    /// The repository type.
    #[serde(default, rename = "type")]
    pub repo_type: RepoType,
    /// The Argo CD project the Secret is scoped to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// How Argo CD authenticates: exactly one of `https`, `ssh` and `githubApp`.
    pub auth: ArgoCdAuth,
}

/// The repository type Argo CD records in the Secret's `type` key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RepoType {
    /// A Git repository.
    #[default]
    Git,
}

impl RepoType {
    /// The value of the Secret's `type` key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Git => "git",
        }
    }
}

/// How Argo CD authenticates to Git: HTTPS (`username`, `password`), SSH
/// (`sshPrivateKey`) or a GitHub App (`githubAppID`, `githubAppInstallationID`,
/// `githubAppPrivateKey`).
pub type ArgoCdAuth = GitAuth<ArgoCdSshAuth>;

/// SSH auth for Argo CD: the Secret gets `sshPrivateKey`. Argo CD reads known host keys
/// from its `argocd-ssh-known-hosts-cm` ConfigMap, not from this Secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgoCdSshAuth {
    /// The `env` entry holding the private key (PEM).
    pub private_key_env: String,
}

impl SshFields for ArgoCdSshAuth {
    fn env_fields(&self) -> Vec<(&'static str, &str, Option<ValueRule>)> {
        let key = Some(ValueRule::Format(TokenFormat::SshPrivateKey));
        vec![("privateKeyEnv", self.private_key_env.as_str(), key)]
    }
}

impl ArgoCdConfig {
    /// Every repository and credential template with its field path (`argocd.repositories[0]`,
    /// `argocd.repoCreds[1]`) and whether it is a template.
    pub fn secrets(&self) -> impl Iterator<Item = (String, &ArgoCdRepository, bool)> {
        let repos = self.repositories.iter().enumerate();
        let creds = self.repo_creds.iter().enumerate();
        repos
            .map(|(i, r)| (format!("argocd.repositories[{i}]"), r, false))
            .chain(creds.map(|(i, r)| (format!("argocd.repoCreds[{i}]"), r, true)))
    }
}
