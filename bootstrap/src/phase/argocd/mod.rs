//! Phase 3 for Argo CD: each repository and credential-template (`repo-creds`) Secret of
//! `argocd` becomes Vault-backed, then the Applications that use them are refreshed.
//!
//! Argo CD finds its repository Secrets by the label `argocd.argoproj.io/secret-type` and
//! reads the keys `url`, `type`, `name`, `project` and the credentials: `username` and
//! `password`, `sshPrivateKey`, or `githubAppID`, `githubAppInstallationID`,
//! `githubAppPrivateKey` (and `githubAppEnterpriseBaseUrl`). Each Secret is taken over by
//! an ExternalSecret of the same name whose template carries the label and the keys that
//! are not secrets; the credentials come from Vault ([`takeovers`]). Once every Secret
//! matches Vault, the Applications whose source uses one of the repositories get the
//! `argocd.argoproj.io/refresh: normal` annotation, so Argo CD fetches with the new
//! credentials now rather than at its next poll ([`refresh`]).

mod refresh;

use std::collections::BTreeMap;

use ferry_config::{ArgoCdConfig, ArgoCdRepository, BootstrapConfig, GitAuth, ValueSource};

use crate::context::PhaseContext;
use crate::error::BootstrapError;
use crate::phase::gitops::{self, Credentials, Literals, Takeover};

/// The label Argo CD finds its repository Secrets by.
pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";

/// The Secrets of `argocd`, in file order: repositories, then credential templates.
pub fn takeovers(
    config: &BootstrapConfig,
    argocd: &ArgoCdConfig,
) -> Result<Vec<Takeover>, BootstrapError> {
    argocd
        .secrets()
        .map(|(at, repo, template)| takeover(config, argocd, &at, repo, template))
        .collect()
}

/// One repository (or, with `template`, credential template) Secret.
fn takeover(
    config: &BootstrapConfig,
    argocd: &ArgoCdConfig,
    at: &str,
    repo: &ArgoCdRepository,
    template: bool,
) -> Result<Takeover, BootstrapError> {
    let kind = if template { "repo-creds" } else { "repository" };
    let mut creds = Credentials::default();
    let mut add = |key: &str, field: &str, source: ValueSource<'_>| {
        creds.add(config, key, &format!("{at}.{field}"), source)
    };
    add("url", "url", ValueSource::Literal(&repo.url))?;
    add(
        "type",
        "type",
        ValueSource::Literal(repo.repo_type.as_str()),
    )?;
    if !template {
        add("name", "name", ValueSource::Literal(&repo.name))?;
    }
    if let Some(project) = &repo.project {
        add("project", "project", ValueSource::Literal(project))?;
    }
    match &repo.auth {
        GitAuth::Https(https) => {
            add(
                "username",
                "auth.https.usernameEnv",
                https.username_source(),
            )?;
            let password = ValueSource::Env(&https.password_env);
            add("password", "auth.https.passwordEnv", password)?;
        }
        GitAuth::Ssh(ssh) => {
            let key = ValueSource::Env(&ssh.private_key_env);
            add("sshPrivateKey", "auth.ssh.privateKeyEnv", key)?;
        }
        GitAuth::GithubApp(app) => {
            let id = ValueSource::Env(&app.app_id_env);
            add("githubAppID", "auth.githubApp.appIdEnv", id)?;
            let installation = app.installation_id_env.as_deref().ok_or_else(|| {
                BootstrapError::InvalidArgument {
                    field: format!("{at}.auth.githubApp.installationIdEnv"),
                    message: "Argo CD needs the installation ID".to_owned(),
                }
            })?;
            let installation = ValueSource::Env(installation);
            add(
                "githubAppInstallationID",
                "auth.githubApp.installationIdEnv",
                installation,
            )?;
            let key = ValueSource::Env(&app.private_key_env);
            add("githubAppPrivateKey", "auth.githubApp.privateKeyEnv", key)?;
            if let Some(url) = &app.base_url {
                let url = ValueSource::Literal(url);
                add("githubAppEnterpriseBaseUrl", "auth.githubApp.baseUrl", url)?;
            }
        }
    }
    Ok(Takeover {
        label: format!("Argo CD {kind} {}", repo.name),
        namespace: argocd.namespace.clone(),
        name: repo.name.clone(),
        creds,
        literals: Literals::Templated {
            labels: BTreeMap::from([(SECRET_TYPE_LABEL.to_owned(), kind.to_owned())]),
        },
    })
}

/// Takes every Secret over, then refreshes the Applications that use them.
pub async fn switch(ctx: &PhaseContext, targets: &[Takeover]) -> Result<(), BootstrapError> {
    for target in targets {
        gitops::take_over(ctx, target).await?;
    }
    let Some(argocd) = &ctx.config.argocd else {
        return Ok(());
    };
    refresh::refresh_applications(ctx, argocd).await
}

/// What phase 3 will do for Argo CD, for `--plan`.
pub fn planned_steps(argocd: &ArgoCdConfig) -> Vec<String> {
    let names = |list: &[ArgoCdRepository]| {
        list.iter()
            .map(|r| format!("{}/{}", argocd.namespace, r.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut steps = Vec::new();
    if !argocd.repositories.is_empty() {
        steps.push(format!(
            "ExternalSecrets for Argo CD repository Secrets {}; await them matching Vault",
            names(&argocd.repositories)
        ));
    }
    if !argocd.repo_creds.is_empty() {
        steps.push(format!(
            "ExternalSecrets for Argo CD repo-creds Secrets {}; await them matching Vault",
            names(&argocd.repo_creds)
        ));
    }
    steps.push("refresh the Argo CD Applications that use them".to_owned());
    steps
}

#[cfg(test)]
mod tests;
