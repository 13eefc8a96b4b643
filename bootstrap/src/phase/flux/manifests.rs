//! The pure half of the Flux switch: which key of the Flux Secret comes from where, per
//! `flux.auth`.
//!
//! | `flux.auth` | Secret keys |
//! |---|---|
//! | `https` | `username` (a literal, or from Vault), `password` |
//! | `ssh` | `identity`, `known_hosts` (a literal, or from Vault) |
//! | `githubApp` | `githubAppID`, `githubAppInstallationID` or `githubAppInstallationOwner`, `githubAppPrivateKey`, and the literal `githubAppBaseURL` with `baseUrl` (the key names of Flux 2.5 and later) |
//!
//! Literal keys are written by bootstrap and the ExternalSecret merges
//! ([`Literals::Written`]), as `flux bootstrap` left a Secret Flux already reads.

use ferry_config::{BootstrapConfig, FluxAuth, FluxConfig, ValueSource};

use crate::error::BootstrapError;
use crate::phase::gitops::{Credentials, Literals, Takeover};

/// The `flux` section; an error when there is none (phase 3 only runs the Flux switch
/// with one).
pub fn flux(config: &BootstrapConfig) -> Result<&FluxConfig, BootstrapError> {
    config
        .flux
        .as_ref()
        .ok_or_else(|| BootstrapError::InvalidArgument {
            field: "flux".to_owned(),
            message: "is not configured".to_owned(),
        })
}

/// Where each key of the Flux Secret comes from, per `flux.auth`.
pub fn credentials(config: &BootstrapConfig) -> Result<Credentials, BootstrapError> {
    let mut creds = Credentials::default();
    let mut add = |name: &str, field: &str, source: ValueSource<'_>| {
        creds.add(config, name, &format!("flux.auth.{field}"), source)
    };
    match &flux(config)?.auth {
        FluxAuth::Https(https) => {
            add("username", "https.usernameEnv", https.username_source())?;
            let password = ValueSource::Env(&https.password_env);
            add("password", "https.passwordEnv", password)?;
        }
        FluxAuth::Ssh(ssh) => {
            add(
                "identity",
                "ssh.identityEnv",
                ValueSource::Env(&ssh.identity_env),
            )?;
            if let Some(source) = ssh.known_hosts_source() {
                add("known_hosts", "ssh.knownHostsEnv", source)?;
            }
        }
        FluxAuth::GithubApp(app) => {
            add(
                "githubAppID",
                "githubApp.appIdEnv",
                ValueSource::Env(&app.app_id_env),
            )?;
            if let Some(env) = &app.installation_id_env {
                let source = ValueSource::Env(env);
                add(
                    "githubAppInstallationID",
                    "githubApp.installationIdEnv",
                    source,
                )?;
            }
            if let Some(env) = &app.installation_owner_env {
                let source = ValueSource::Env(env);
                add(
                    "githubAppInstallationOwner",
                    "githubApp.installationOwnerEnv",
                    source,
                )?;
            }
            let key = ValueSource::Env(&app.private_key_env);
            add("githubAppPrivateKey", "githubApp.privateKeyEnv", key)?;
            if let Some(url) = &app.base_url {
                add(
                    "githubAppBaseURL",
                    "githubApp.baseUrl",
                    ValueSource::Literal(url),
                )?;
            }
        }
    }
    Ok(creds)
}

/// The name of the ExternalSecret that manages the Flux Secret: the Secret's own name.
pub fn external_secret_name(config: &BootstrapConfig) -> &str {
    config.flux.as_ref().map_or("", |f| f.secret_name.as_str())
}

/// The Flux Secret as phase 3 takes it over, with `creds` from [`credentials`].
pub fn takeover(config: &BootstrapConfig, creds: Credentials) -> Result<Takeover, BootstrapError> {
    let flux = flux(config)?;
    Ok(Takeover {
        label: "Flux".to_owned(),
        namespace: flux.namespace.clone(),
        name: flux.secret_name.clone(),
        creds,
        literals: Literals::Written,
    })
}

#[cfg(test)]
#[path = "manifests_tests.rs"]
mod tests;
