//! The run: read the state, plan, open Vault, then the phases in order, each recorded in
//! the state when it finishes. A failed run revokes its tokens (best effort); a killed
//! run leaves the state at the last finished phase, and the next run resumes there.

use std::sync::Arc;

use ferry_config::{BootstrapConfig, SecretRef};
use ferry_vault::Vault;

use crate::context::{PhaseContext, Timeouts};
use crate::env::EnvValues;
use crate::env_secret::EnvSecret;
use crate::error::BootstrapError;
use crate::phase::finish::Tokens;
use crate::phase::infra::VaultAccess;
use crate::plan::{Plan, fingerprints, plan, title};
use crate::progress::Progress;
use crate::session::{self, Admin, AdminSource};
use crate::state::{BOOTSTRAP_TOKEN_ACCESSOR, COMPLETED_AT, ROOT_TOKEN_ACCESSOR, StateStore};
use crate::steps;

/// The options of a run (the flags of `ferry bootstrap`).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `--plan`: print what would happen and change nothing.
    pub plan: bool,
    /// `--from-phase N`: re-run from phase N even if done (1 = only what is needed).
    pub from_phase: u8,
    /// `--overwrite`: replace a different value already in KV.
    pub overwrite: bool,
    /// How Vault is opened: `--identity` and `VAULT_TOKEN`.
    pub access: VaultAccess,
    /// Wait limits.
    pub timeouts: Timeouts,
    /// Namespaces phase 5's cluster check looks at (empty: every namespace).
    pub verify_namespaces: Vec<String>,
    /// `--env-secret`: read the values from this Secret's keys instead of the environment,
    /// and delete it once phase 2 has stored them in Vault.
    pub env_secret: Option<SecretRef>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            plan: false,
            from_phase: 1,
            overwrite: false,
            access: VaultAccess::default(),
            timeouts: Timeouts::default(),
            verify_namespaces: Vec::new(),
            env_secret: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The plan it followed (or, with `--plan`, would follow).
    pub plan: Plan,
    /// Whether it reached Complete (false for `--plan`).
    pub complete: bool,
    /// The `unset …` line for the operator's shell, when the config declares variables.
    pub unset: Option<String>,
}

/// Everything a run starts from.
pub struct Inputs {
    /// The validated `bootstrap.yaml`.
    pub config: BootstrapConfig,
    /// The kubeconfig in use (also the default Kubernetes auth host and CA).
    pub kube_config: kube::Config,
    /// The declared environment values, read once (ignored with `--env-secret`).
    pub values: EnvValues,
}

/// Runs `ferry bootstrap`.
pub async fn run(
    inputs: Inputs,
    options: &RunOptions,
    progress: &Progress,
) -> Result<Report, BootstrapError> {
    let Inputs {
        config,
        kube_config,
        values,
    } = inputs;
    if !(1..=5).contains(&options.from_phase) {
        return Err(BootstrapError::InvalidArgument {
            field: "--from-phase".into(),
            message: "must be 1 to 5".into(),
        });
    }
    let kube = kube::Client::try_from(kube_config.clone())
        .map_err(|e| BootstrapError::ConnectKube(e.to_string()))?;
    let vault = session::connect(&config)?;
    let store = StateStore::new(&kube, &config.agent.namespace);
    let state = store.read().await?;
    let initialised = vault.seal_status().await.ok().map(|s| s.initialized);
    let mut plan = plan(&config, &state, options.from_phase, initialised);
    let (values, env_secret) = match &options.env_secret {
        None => (values, None),
        Some(target) => {
            from_env_secret(&kube, target, &config, &mut plan, options.plan, progress).await?
        }
    };
    // With --env-secret the values were never in the operator's shell.
    let unset = match options.env_secret {
        Some(_) => None,
        None => crate::env::unset_line(&config),
    };
    if options.plan {
        return Ok(Report {
            plan,
            complete: false,
            unset,
        });
    }
    if plan.runs(2) {
        match &env_secret {
            Some(secret) => secret.check(&config, &values)?,
            None => values.check(&config)?,
        }
    }
    let session = Session {
        kube,
        vault,
        store,
        config,
        kube_config,
        values: Arc::new(values),
        progress: progress.clone(),
        options: options.clone(),
        env_secret,
    };
    session.execute(&plan).await?;
    Ok(Report {
        plan,
        complete: true,
        unset,
    })
}

/// `--env-secret`: the values from the Secret when it exists (phase 2 then runs, to store or
/// compare them before the Secret is deleted). When it is gone, phase 2 must not need them:
/// a run stops with [`BootstrapError::EnvSecretGone`], `--plan` says so.
async fn from_env_secret(
    kube: &kube::Client,
    target: &SecretRef,
    config: &BootstrapConfig,
    plan: &mut Plan,
    plan_only: bool,
    progress: &Progress,
) -> Result<(EnvValues, Option<EnvSecret>), BootstrapError> {
    let label = format!("{}/{}", target.namespace, target.name);
    match crate::env_secret::read(kube, target, config).await? {
        Some((secret, values)) => {
            plan.force(
                2,
                &format!("the values Secret {label} still exists: its values go to KV first"),
            );
            Ok((values, Some(secret)))
        }
        None if plan.runs(2) => {
            if plan_only {
                plan.annotate(2, &format!("but the values Secret {label} does not exist"));
                return Ok((EnvValues::default(), None));
            }
            Err(BootstrapError::EnvSecretGone {
                secret: label,
                reason: plan.reason(2),
            })
        }
        None => {
            progress.for_phase(2).note(&format!(
                "the values Secret {label} is gone: phase 2 is done and its values are in Vault"
            ));
            Ok((EnvValues::default(), None))
        }
    }
}

struct Session {
    kube: kube::Client,
    vault: Vault,
    store: StateStore,
    config: BootstrapConfig,
    kube_config: kube::Config,
    values: Arc<EnvValues>,
    progress: Progress,
    options: RunOptions,
    /// `--env-secret`, when the Secret existed: deleted after phase 2.
    env_secret: Option<EnvSecret>,
}

impl Session {
    async fn execute(&self, plan: &Plan) -> Result<(), BootstrapError> {
        let prints = fingerprints(&self.config);
        let p1 = self.progress.for_phase(if plan.runs(1) { 1 } else { 0 });
        let started = std::time::Instant::now();
        if plan.runs(1) {
            p1.phase_started(title(1));
        }
        let admin = match self.open(&p1).await {
            Ok(admin) => admin,
            Err(e) => {
                p1.phase_failed(title(p1.phase()), &e);
                return Err(e);
            }
        };
        let mut tokens = Tokens {
            admin,
            bootstrap: None,
        };
        let result = self.phases(plan, &prints, &mut tokens, started).await;
        if result.is_err() {
            crate::phase::finish::revoke_all(&tokens).await;
        }
        result
    }

    /// Namespace, Vault opened, the root token's accessor recorded.
    async fn open(&self, progress: &Progress) -> Result<Admin, BootstrapError> {
        let ns = &self.config.agent.namespace;
        steps::run(progress, &format!("namespace {ns}"), || {
            crate::kubeutil::ensure_namespace(&self.kube, ns)
        })
        .await?;
        let admin = crate::phase::infra::open_vault(
            &self.kube,
            &self.vault,
            &self.config,
            &self.options.access,
            progress,
            &self.options.timeouts,
        )
        .await?;
        if admin.source == AdminSource::Root {
            self.store
                .set(ROOT_TOKEN_ACCESSOR, Some(&admin.accessor))
                .await?;
        }
        Ok(admin)
    }

    async fn phases(
        &self,
        plan: &Plan,
        prints: &[String; 5],
        tokens: &mut Tokens,
        started: std::time::Instant,
    ) -> Result<(), BootstrapError> {
        if plan.runs(1) {
            let p = self.progress.for_phase(1);
            self.guard(&p, 1, async {
                crate::phase::infra::run(
                    &self.kube,
                    &tokens.admin.vault,
                    &self.config,
                    &self.kube_config,
                    &p,
                )
                .await
            })
            .await?;
            self.store.mark_done(1, &prints[0]).await?;
            p.phase_done(title(1), started.elapsed());
        } else {
            self.progress
                .for_phase(1)
                .phase_skipped(title(1), &reason(plan, 1));
        }
        tokens.bootstrap = Some(self.bootstrap_token(&tokens.admin).await?);
        let ctx = self.context(tokens)?;
        for phase in 2..=5u8 {
            let p = self.progress.for_phase(phase);
            if !plan.runs(phase) {
                p.phase_skipped(title(phase), &reason(plan, phase));
                continue;
            }
            let begun = std::time::Instant::now();
            p.phase_started(title(phase));
            let ctx = PhaseContext {
                progress: p.clone(),
                ..ctx.clone()
            };
            self.guard(&p, phase, async {
                match phase {
                    2 => crate::phase::secrets::run(&ctx).await,
                    3 => crate::phase::flux::run(&ctx).await,
                    4 => crate::phase::apps::run(&ctx).await,
                    _ => crate::phase::finish::run(&ctx, tokens).await,
                }
            })
            .await?;
            self.store
                .mark_done(phase, &prints[usize::from(phase - 1)])
                .await?;
            // Recorded as done first: a kill before the delete re-runs phase 2 (the Secret
            // is still there), a kill after it finds phase 2 done and the Secret gone.
            if phase == 2
                && let Some(secret) = &self.env_secret
            {
                self.guard(&p, phase, self.retire(&p, secret, &ctx)).await?;
            }
            p.phase_done(title(phase), begun.elapsed());
        }
        self.store
            .set(COMPLETED_AT, Some(&crate::kubeutil::now()))
            .await?;
        self.store.set(BOOTSTRAP_TOKEN_ACCESSOR, None).await
    }

    /// Deletes the `--env-secret` Secret once its values are read back from KV.
    async fn retire(
        &self,
        progress: &Progress,
        secret: &EnvSecret,
        ctx: &PhaseContext,
    ) -> Result<(), BootstrapError> {
        let name = format!("delete the values Secret {}", secret.label());
        steps::run(progress, &name, || {
            secret.retire(&self.kube, &ctx.admin, &self.config, &self.values)
        })
        .await
    }

    /// Reports a phase failure on `progress` before passing the error on.
    async fn guard(
        &self,
        progress: &Progress,
        phase: u8,
        work: impl Future<Output = Result<(), BootstrapError>>,
    ) -> Result<(), BootstrapError> {
        work.await
            .inspect_err(|e| progress.phase_failed(title(phase), e))
    }

    /// Writes the bootstrap policy for this config, revokes a token a killed run left
    /// behind, and creates this run's bootstrap token (its accessor recorded first).
    async fn bootstrap_token(&self, admin: &Admin) -> Result<Admin, BootstrapError> {
        let p = self.progress.for_phase(0);
        steps::run(&p, "bootstrap policy and token", || async {
            let name = ferry_policy::Template::Bootstrap.policy_name(None);
            let hcl =
                crate::phase::infra::render(&self.config, ferry_policy::Template::Bootstrap, None)?;
            admin
                .vault
                .write_policy(&name, &hcl)
                .await
                .map_err(BootstrapError::vault(format!("writing policy {name}")))?;
            if let Some(stale) = self.store.read().await?.get(BOOTSTRAP_TOKEN_ACCESSOR) {
                session::revoke_accessor(&admin.vault, stale).await?;
            }
            let token = session::bootstrap_token(&admin.vault, &name).await?;
            self.store
                .set(BOOTSTRAP_TOKEN_ACCESSOR, Some(&token.accessor))
                .await?;
            Ok(token)
        })
        .await
    }

    fn context(&self, tokens: &Tokens) -> Result<PhaseContext, BootstrapError> {
        let bootstrap = tokens
            .bootstrap
            .as_ref()
            .ok_or(BootstrapError::NoAdminToken)?;
        Ok(PhaseContext {
            kube: self.kube.clone(),
            vault: bootstrap.vault.clone(),
            admin: tokens.admin.vault.clone(),
            config: self.config.clone(),
            values: Arc::clone(&self.values),
            progress: self.progress.clone(),
            timeouts: self.options.timeouts,
            overwrite: self.options.overwrite,
            verify_namespaces: self.options.verify_namespaces.clone(),
        })
    }
}

fn reason(plan: &Plan, phase: u8) -> String {
    plan.phases
        .iter()
        .find(|p| p.phase == phase)
        .map(|p| p.reason.clone())
        .unwrap_or_default()
}
