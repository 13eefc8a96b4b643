//! `ferry bootstrap` and `ferry unseal`: flags, progress output and exit codes around the
//! `ferry-bootstrap` crate.
//!
//! Exit codes (docs/bootstrap.md): 0 complete (or `--plan` printed), 1 a phase failed,
//! 2 bad input (config with line:column, flags, missing or malformed environment
//! variables, a different value already in KV), 3 Vault sealed or no admin token and no
//! `--identity`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use ferry_bootstrap::bundle::BundleSource;
use ferry_bootstrap::runner::{Inputs, RunOptions};
use ferry_bootstrap::session::VaultAccess;
use ferry_bootstrap::{BootstrapError, EnvValues, OutputMode, Progress, Timeouts};

/// Flags of `ferry bootstrap`.
#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Path to bootstrap.yaml (committed to Git; it holds no values).
    #[arg(long, env = "FERRY_BOOTSTRAP_CONFIG", default_value = "bootstrap.yaml")]
    pub config: PathBuf,
    /// Print the phases and steps that would run, and why, and change nothing.
    #[arg(long)]
    pub plan: bool,
    /// Re-run from this phase (1-5) even if it and the later ones are done.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5), default_value_t = 1)]
    pub from_phase: u8,
    /// Replace a value already in KV that differs from the one in the environment.
    #[arg(long)]
    pub overwrite: bool,
    /// An age identity (or unencrypted SSH private key) of an init.recipients entry: opens
    /// the init bundle to unseal Vault or mint a root token on a re-run.
    #[arg(long, env = "FERRY_AGE_IDENTITY")]
    pub identity: Option<PathBuf>,
    /// Progress on stderr: `text` (lines, a spinner on a terminal) or `json` (one event per
    /// line, for CI).
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// How long to wait for external controllers (ExternalSecrets Ready, Flux), in seconds.
    #[arg(long, default_value_t = 300)]
    pub wait_timeout: u64,
    /// Restrict phase 5's cluster check to this namespace (repeatable; default: every
    /// namespace).
    #[arg(long = "verify-namespace")]
    pub verify_namespaces: Vec<String>,
    /// Read the declared variables from the keys of this Secret (NAMESPACE/NAME) instead of
    /// the environment; bootstrap deletes that Secret once phase 2 has stored the values in
    /// Vault and read them back.
    #[arg(
        long,
        env = "FERRY_BOOTSTRAP_ENV_SECRET",
        value_name = "NAMESPACE/NAME"
    )]
    pub env_secret: Option<String>,
}

/// Progress format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Human-readable lines.
    Text,
    /// One JSON event per line.
    Json,
}

/// Flags of `ferry unseal`.
#[derive(Debug, Args)]
pub struct UnsealArgs {
    /// age identity file that can decrypt the sealed init bundle.
    #[arg(long, env = "FERRY_AGE_IDENTITY")]
    pub identity: Option<PathBuf>,
    /// Path to bootstrap.yaml (for the Vault address and the bundle's location).
    #[arg(long, env = "FERRY_BOOTSTRAP_CONFIG", default_value = "bootstrap.yaml")]
    pub config: PathBuf,
    /// Read the bundle from this file instead of `init.bundle`.
    #[arg(long, conflicts_with = "bundle_secret")]
    pub bundle: Option<PathBuf>,
    /// Read the bundle from this Secret (`namespace/name`) instead of `init.bundle`.
    #[arg(long)]
    pub bundle_secret: Option<String>,
}

/// Runs the five phases.
pub async fn run(args: BootstrapArgs) -> ExitCode {
    let mode = match args.output {
        Output::Text => OutputMode::Human,
        Output::Json => OutputMode::Json,
    };
    let progress = Progress::new(mode);
    match bootstrap(&args, &progress).await {
        Ok(()) => {
            progress.finished(if args.plan { "planned" } else { "complete" }, 0);
            ExitCode::SUCCESS
        }
        Err(err) => {
            let code = err.exit_code();
            match mode {
                OutputMode::Json => progress.note(&format!("error: {err}")),
                _ => eprintln!("ferry bootstrap: {err}"),
            }
            progress.finished("failed", code);
            ExitCode::from(code)
        }
    }
}

async fn bootstrap(args: &BootstrapArgs, progress: &Progress) -> Result<(), BootstrapError> {
    let config = ferry_config::load(&args.config)?;
    let env_secret = args
        .env_secret
        .as_deref()
        .map(ferry_bootstrap::env_secret::parse_ref)
        .transpose()?;
    // The values are read exactly once: here, or from the Secret by the run.
    let values = match env_secret {
        Some(_) => EnvValues::default(),
        None => EnvValues::from_process(&config),
    };
    let operator_token = std::env::var("VAULT_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .map(secrecy::SecretString::from);
    let kube_config = kube::Config::infer()
        .await
        .map_err(|e| BootstrapError::ConnectKube(e.to_string()))?;
    let options = RunOptions {
        plan: args.plan,
        from_phase: args.from_phase,
        overwrite: args.overwrite,
        access: VaultAccess {
            identity: args.identity.clone(),
            operator_token,
        },
        timeouts: Timeouts {
            ready: Duration::from_secs(args.wait_timeout),
            ..Timeouts::default()
        },
        verify_namespaces: args.verify_namespaces.clone(),
        env_secret,
    };
    let inputs = Inputs {
        config,
        kube_config,
        values,
    };
    let report = ferry_bootstrap::runner::run(inputs, &options, progress).await?;
    if args.plan {
        match args.output {
            Output::Text => print!("{}", report.plan.render()),
            Output::Json => println!(
                "{}",
                serde_json::to_string(&report.plan).unwrap_or_default()
            ),
        }
        return Ok(());
    }
    if let Some(line) = report.unset {
        eprintln!("Complete. Remove the values from your shell:");
        println!("{line}");
    }
    Ok(())
}

/// Decrypts the sealed init bundle and unseals Vault.
pub async fn unseal(args: UnsealArgs) -> ExitCode {
    match unseal_inner(&args).await {
        Ok(ferry_bootstrap::unseal::UnsealOutcome::Unsealed) => {
            eprintln!("ferry unseal: Vault is unsealed");
            ExitCode::SUCCESS
        }
        Ok(ferry_bootstrap::unseal::UnsealOutcome::AlreadyUnsealed) => {
            eprintln!("ferry unseal: Vault was not sealed; nothing to do");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("ferry unseal: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

async fn unseal_inner(
    args: &UnsealArgs,
) -> Result<ferry_bootstrap::unseal::UnsealOutcome, BootstrapError> {
    let config = ferry_config::load(&args.config)?;
    let identity = args.identity.as_ref().ok_or(BootstrapError::Sealed)?;
    let source = match (&args.bundle, &args.bundle_secret) {
        (Some(file), _) => BundleSource::File(file.clone()),
        (None, Some(text)) => {
            let (namespace, name) =
                text.split_once('/')
                    .ok_or_else(|| BootstrapError::InvalidArgument {
                        field: "--bundle-secret".into(),
                        message: "expected namespace/name".into(),
                    })?;
            BundleSource::Secret(ferry_config::SecretRef {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            })
        }
        (None, None) => {
            BundleSource::from_config(&config).ok_or_else(|| BootstrapError::InvalidArgument {
                field: "init.bundle".into(),
                message: "names neither a file nor a Secret".into(),
            })?
        }
    };
    let kube = match &source {
        BundleSource::Secret(_) => Some(
            kube::Client::try_default()
                .await
                .map_err(|e| BootstrapError::ConnectKube(e.to_string()))?,
        ),
        BundleSource::File(_) => None,
    };
    ferry_bootstrap::unseal::unseal(kube.as_ref(), &config, identity, &source).await
}
