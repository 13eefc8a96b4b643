//! Validation of the GitOps engines' sections, `flux` and `argocd`: at least one of them,
//! their names, their repository URLs, and every credential field's `env` reference.
//! [`BootstrapConfig::credential_env_refs`] lists those references with the rule each value
//! must pass, for the check bootstrap runs on the values before it writes anything.

use std::collections::HashMap;

use crate::argocd::{ArgoCdConfig, ArgoCdRepository};
use crate::flux::FluxConfig;
use crate::git_auth::{EnvRef, GitAuth, SshFields};
use crate::rules::{self, GitUrl};
use crate::schema::BootstrapConfig;
use crate::validate::Checker;

impl BootstrapConfig {
    /// Every credential field of `flux` and `argocd` that names an `env` entry, with its
    /// field path and the rule its value must pass (a GitHub App's key must be an RSA key,
    /// its IDs numbers, an SSH identity a private key).
    pub fn credential_env_refs(&self) -> Vec<EnvRef<'_>> {
        let mut refs = Vec::new();
        if let Some(flux) = &self.flux {
            refs.extend(flux.auth.env_refs("flux.auth"));
        }
        if let Some(argocd) = &self.argocd {
            for (at, repo, _) in argocd.secrets() {
                refs.extend(repo.auth.env_refs(&format!("{at}.auth")));
            }
        }
        refs
    }

    /// The Secrets phase 3 takes over, as ((namespace, name), field path of the name).
    pub(crate) fn git_secrets(&self) -> Vec<((&str, &str), String)> {
        let mut out = Vec::new();
        if let Some(flux) = &self.flux {
            let key = (flux.namespace.as_str(), flux.secret_name.as_str());
            out.push((key, "flux.secretName".to_owned()));
        }
        if let Some(argocd) = &self.argocd {
            for (at, repo, _) in argocd.secrets() {
                let key = (argocd.namespace.as_str(), repo.name.as_str());
                out.push((key, format!("{at}.name")));
            }
        }
        out
    }

    /// Checks `flux` and `argocd`.
    pub(crate) fn check_gitops(&self, c: &mut Checker) {
        if self.flux.is_none() && self.argocd.is_none() {
            c.fail(
                "flux",
                "give `flux`, `argocd` or both: phase 3 switches the Git credentials of at least one GitOps engine",
            );
        }
        if let Some(flux) = &self.flux {
            self.check_flux(c, flux);
        }
        if let Some(argocd) = &self.argocd {
            self.check_argocd(c, argocd);
        }
        let mut seen: HashMap<(&str, &str), String> = HashMap::new();
        for (key, field) in self.git_secrets() {
            if let Some(first) = seen.get(&key) {
                c.fail(field, format!("the same Secret as {first}"));
            } else {
                seen.insert(key, field);
            }
        }
    }

    fn check_flux(&self, c: &mut Checker, flux: &FluxConfig) {
        c.rule("flux.namespace", rules::dns_label(&flux.namespace));
        c.rule("flux.secretName", rules::dns_subdomain(&flux.secret_name));
        c.rule(
            "flux.gitRepository",
            rules::dns_subdomain(&flux.git_repository),
        );
        self.check_auth(c, "flux.auth", &flux.auth);
        if let GitAuth::Ssh(ssh) = &flux.auth {
            match (&ssh.known_hosts, &ssh.known_hosts_env) {
                (Some(_), Some(_)) => c.fail(
                    "flux.auth.ssh.knownHosts",
                    "give only one of `knownHosts` and `knownHostsEnv`",
                ),
                (None, None) => c.fail(
                    "flux.auth.ssh",
                    "needs `knownHosts` or `knownHostsEnv`: Flux verifies the Git server's host key",
                ),
                (Some(lines), None) if lines.trim().is_empty() => {
                    c.fail("flux.auth.ssh.knownHosts", "must not be empty");
                }
                _ => {}
            }
        }
        if let GitAuth::GithubApp(app) = &flux.auth
            && app.installation_id_env.is_some() == app.installation_owner_env.is_some()
        {
            c.fail(
                "flux.auth.githubApp",
                "needs exactly one of `installationIdEnv` and `installationOwnerEnv`",
            );
        }
    }

    fn check_argocd(&self, c: &mut Checker, argocd: &ArgoCdConfig) {
        c.rule("argocd.namespace", rules::dns_label(&argocd.namespace));
        if argocd.repositories.is_empty() && argocd.repo_creds.is_empty() {
            c.fail(
                "argocd",
                "needs at least one entry in `repositories` or `repoCreds`",
            );
        }
        for (at, repo, _) in argocd.secrets() {
            self.check_argocd_repository(c, &at, repo);
        }
    }

    fn check_argocd_repository(&self, c: &mut Checker, at: &str, repo: &ArgoCdRepository) {
        c.rule(format!("{at}.name"), rules::dns_subdomain(&repo.name));
        if let Some(project) = &repo.project {
            c.rule(format!("{at}.project"), rules::dns_subdomain(project));
        }
        let auth_at = format!("{at}.auth");
        self.check_auth(c, &auth_at, &repo.auth);
        if let GitAuth::GithubApp(app) = &repo.auth {
            if app.installation_owner_env.is_some() {
                c.fail(
                    format!("{auth_at}.githubApp.installationOwnerEnv"),
                    "Argo CD takes the installation ID only; give `installationIdEnv`",
                );
            } else if app.installation_id_env.is_none() {
                c.fail(format!("{auth_at}.githubApp"), "needs `installationIdEnv`");
            }
        }
        match (rules::git_url(&repo.url), &repo.auth) {
            (Err(reason), _) => c.fail(format!("{at}.url"), reason),
            (Ok(GitUrl::Ssh), GitAuth::Https(_) | GitAuth::GithubApp(_)) => c.fail(
                format!("{at}.url"),
                "HTTPS and GitHub App credentials need an https:// URL",
            ),
            (Ok(GitUrl::Http), GitAuth::Ssh(_)) => c.fail(
                format!("{at}.url"),
                "SSH credentials need an ssh:// or user@host:path URL",
            ),
            (Ok(_), _) => {}
        }
    }

    /// The checks every engine's credentials share: `env` references, the user name, the
    /// GitHub App's base URL.
    fn check_auth<S: SshFields>(&self, c: &mut Checker, at: &str, auth: &GitAuth<S>) {
        for r in auth.env_refs(at) {
            if rules::env_name(r.env).is_err() {
                c.fail(r.field, "must name an `env` entry ([A-Z_][A-Z0-9_]*)");
            } else if self.env_entry(r.env).is_none() {
                c.fail(r.field, "names no entry of `env`");
            }
        }
        match auth {
            GitAuth::Https(https) => {
                if https.username.is_some() && https.username_env.is_some() {
                    c.fail(
                        format!("{at}.https.username"),
                        "give at most one of `username` and `usernameEnv`",
                    );
                }
                if https.username.as_ref().is_some_and(|u| u.trim().is_empty()) {
                    c.fail(format!("{at}.https.username"), "must not be empty");
                }
            }
            GitAuth::GithubApp(app) => {
                if let Some(url) = &app.base_url {
                    c.rule(format!("{at}.githubApp.baseUrl"), rules::http_url(url));
                }
            }
            GitAuth::Ssh(_) => {}
        }
    }
}
