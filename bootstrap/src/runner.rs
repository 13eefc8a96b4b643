//! The run: read the state, plan, open Vault, then the phases in order, each recorded in
//! the state when it finishes. A failed run revokes its tokens (best effort); a killed
//! run leaves the state at the last finished phase, and the next run resumes there.
//!
//! [`run`] is the entry point; `Run::phases` is the order of events from the bootstrap
//! token to Complete, and reads like the table in docs/bootstrap.md.

use std::sync::Arc;
use std::time::Instant;

use ferry_config::{BootstrapConfig, SecretRef};
use ferry_vault::Vault;

use crate::context::{PhaseContext, Timeouts};
use crate::env::EnvValues;
use crate::env_secret::EnvSecret;
use crate::error::BootstrapError;
use crate::phase::{Phase, apps, finish, gitops, infra, secrets};
use crate::plan::{Plan, fingerprints, plan};
use crate::progress::Progress;
use crate::session::{self, Admin, AdminSource, Tokens, VaultAccess};
use crate::state::{BOOTSTRAP_TOKEN_ACCESSOR, COMPLETED_AT, ROOT_TOKEN_ACCESSOR, StateStore};
use crate::steps;

/// The options of a run (the flags of `ferry bootstrap`).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `--plan`: print what would happen and change nothing.
    pub plan: bool,
    /// `--from-phase N`: re-run from phase N even if done (1 = only what is needed); the
    /// number of a [`Phase`], 1 to 5.
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
    let from_phase =
        Phase::from_number(options.from_phase).ok_or_else(|| BootstrapError::InvalidArgument {
            field: "--from-phase".into(),
            message: "must be 1 to 5".into(),
        })?;
    let kube = kube::Client::try_from(kube_config.clone())
        .map_err(|e| BootstrapError::ConnectKube(e.to_string()))?;
    let vault = session::connect(&config)?;
    let store = StateStore::new(&kube, &config.agent.namespace);
    let mut plan = plan_run(&config, &store, &vault, from_phase).await?;
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
    if plan.runs(Phase::Secrets) {
        check_values(&config, &values, env_secret.as_ref())?;
    }
    let run = Run {
        prints: fingerprints(&config),
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
    run.execute(&plan).await?;
    Ok(Report {
        plan,
        complete: true,
        unset,
    })
}

/// The plan from the recorded state and whether Vault is initialised (`None`, and the state
/// decides, when Vault cannot be asked).
async fn plan_run(
    config: &BootstrapConfig,
    store: &StateStore,
    vault: &Vault,
    from_phase: Phase,
) -> Result<Plan, BootstrapError> {
    let state = store.read().await?;
    let initialised = vault.seal_status().await.ok().map(|s| s.initialized);
    Ok(plan(config, &state, from_phase, initialised))
}

/// Before any write, when phase 2 runs: every declared value is there and passes its check
/// (in the environment, or in the `--env-secret` Secret).
fn check_values(
    config: &BootstrapConfig,
    values: &EnvValues,
    env_secret: Option<&EnvSecret>,
) -> Result<(), BootstrapError> {
    match env_secret {
        Some(secret) => secret.check(config, values),
        None => values.check(config),
    }
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
                Phase::Secrets,
                &format!("the values Secret {label} still exists: its values go to KV first"),
            );
            Ok((values, Some(secret)))
        }
        None if plan.runs(Phase::Secrets) => {
            if plan_only {
                let note = format!("but the values Secret {label} does not exist");
                plan.annotate(Phase::Secrets, &note);
                return Ok((EnvValues::default(), None));
            }
            Err(BootstrapError::EnvSecretGone {
                secret: label,
                reason: plan.reason(Phase::Secrets),
            })
        }
        None => {
            progress.for_phase(Phase::Secrets).note(&format!(
                "the values Secret {label} is gone: phase 2 is done and its values are in Vault"
            ));
            Ok((EnvValues::default(), None))
        }
    }
}

/// A run past planning: the clients, the inputs and the options.
struct Run {
    kube: kube::Client,
    vault: Vault,
    store: StateStore,
    config: BootstrapConfig,
    /// The input fingerprint of each phase, recorded when it is done.
    prints: [String; 5],
    kube_config: kube::Config,
    values: Arc<EnvValues>,
    progress: Progress,
    options: RunOptions,
    /// `--env-secret`, when the Secret existed: deleted after phase 2.
    env_secret: Option<EnvSecret>,
}

impl Run {
    /// Opens Vault, then runs the phases; on failure, revokes the run's tokens.
    async fn execute(&self, plan: &Plan) -> Result<(), BootstrapError> {
        let started = Instant::now();
        // Opening Vault is reported under phase 1 when it runs, else as session steps.
        let opening = if plan.runs(Phase::Infra) {
            let p = self.progress.for_phase(Phase::Infra);
            p.phase_started();
            p
        } else {
            self.progress.for_session()
        };
        let admin = self
            .open(&opening)
            .await
            .inspect_err(|e| opening.phase_failed(e))?;
        let mut tokens = Tokens {
            admin,
            bootstrap: None,
        };
        let result = self.phases(plan, &mut tokens, started).await;
        if result.is_err() {
            finish::revoke_all(&tokens).await;
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
        let admin = session::open_vault(
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

    /// The phases in order, the bootstrap token between phase 1 and phase 2; then the run is
    /// recorded as Complete.
    async fn phases(
        &self,
        plan: &Plan,
        tokens: &mut Tokens,
        started: Instant,
    ) -> Result<(), BootstrapError> {
        self.infra(plan, &tokens.admin, started).await?;
        let bootstrap = self.bootstrap_token(&tokens.admin).await?;
        let ctx = self.context(&tokens.admin, &bootstrap);
        tokens.bootstrap = Some(bootstrap);
        let tokens = &*tokens;
        self.phase(plan, Phase::Secrets, &ctx, secrets::run).await?;
        self.phase(plan, Phase::Flux, &ctx, gitops::run).await?;
        self.phase(plan, Phase::Apps, &ctx, apps::run).await?;
        let finish = async |ctx: &PhaseContext| finish::run(ctx, tokens).await;
        self.phase(plan, Phase::Finish, &ctx, finish).await?;
        self.store
            .set(COMPLETED_AT, Some(&crate::kubeutil::now()))
            .await?;
        self.store.set(BOOTSTRAP_TOKEN_ACCESSOR, None).await
    }

    /// Phase 1, with the admin token (the bootstrap token does not exist yet). When it
    /// runs, its start was reported before Vault was opened, and its time counts from there.
    async fn infra(
        &self,
        plan: &Plan,
        admin: &Admin,
        started: Instant,
    ) -> Result<(), BootstrapError> {
        let p = self.progress.for_phase(Phase::Infra);
        if !plan.runs(Phase::Infra) {
            p.phase_skipped(&plan.reason(Phase::Infra));
            return Ok(());
        }
        infra::run(
            &self.kube,
            &admin.vault,
            &self.config,
            &self.kube_config,
            &p,
        )
        .await
        .inspect_err(|e| p.phase_failed(e))?;
        self.store
            .mark_done(Phase::Infra, &self.prints[Phase::Infra.index()])
            .await?;
        p.phase_done(started.elapsed());
        Ok(())
    }

    /// Phases 2 to 5: skipped as planned, or `work` run with `ctx` bound to the phase and
    /// the phase recorded as done.
    async fn phase(
        &self,
        plan: &Plan,
        phase: Phase,
        ctx: &PhaseContext,
        work: impl AsyncFnOnce(&PhaseContext) -> Result<(), BootstrapError>,
    ) -> Result<(), BootstrapError> {
        let p = self.progress.for_phase(phase);
        if !plan.runs(phase) {
            p.phase_skipped(&plan.reason(phase));
            return Ok(());
        }
        let begun = Instant::now();
        p.phase_started();
        let ctx = PhaseContext {
            progress: p.clone(),
            ..ctx.clone()
        };
        work(&ctx).await.inspect_err(|e| p.phase_failed(e))?;
        self.store
            .mark_done(phase, &self.prints[phase.index()])
            .await?;
        // Recorded as done first: a kill before the delete re-runs phase 2 (the Secret
        // is still there), a kill after it finds phase 2 done and the Secret gone.
        if phase == Phase::Secrets
            && let Some(secret) = &self.env_secret
        {
            self.retire(secret, &ctx)
                .await
                .inspect_err(|e| p.phase_failed(e))?;
        }
        p.phase_done(begun.elapsed());
        Ok(())
    }

    /// Deletes the `--env-secret` Secret once its values are read back from KV.
    async fn retire(&self, secret: &EnvSecret, ctx: &PhaseContext) -> Result<(), BootstrapError> {
        let name = format!("delete the values Secret {}", secret.label());
        steps::run(&ctx.progress, &name, || {
            secret.retire(&self.kube, &ctx.admin, &self.config, &self.values)
        })
        .await
    }

    /// Writes the bootstrap policy for this config, revokes a token a killed run left
    /// behind, and creates this run's bootstrap token (its accessor recorded first).
    async fn bootstrap_token(&self, admin: &Admin) -> Result<Admin, BootstrapError> {
        let p = self.progress.for_session();
        steps::run(&p, "bootstrap policy and token", || async {
            let name = ferry_policy::Template::Bootstrap.policy_name(None);
            let hcl =
                session::render_policy(&self.config, ferry_policy::Template::Bootstrap, None)?;
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

    /// What phases 2 to 5 run with (the progress reporter is bound per phase).
    fn context(&self, admin: &Admin, bootstrap: &Admin) -> PhaseContext {
        PhaseContext {
            kube: self.kube.clone(),
            vault: bootstrap.vault.clone(),
            admin: admin.vault.clone(),
            config: self.config.clone(),
            values: Arc::clone(&self.values),
            progress: self.progress.clone(),
            timeouts: self.options.timeouts,
            overwrite: self.options.overwrite,
            verify_namespaces: self.options.verify_namespaces.clone(),
        }
    }
}
