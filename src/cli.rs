//! Command-line surface of `ferry`: clap-derive definitions, logging set-up and dispatch.
//!
//! Every flag that an operator may want to set from a Deployment or CI also reads an
//! environment variable (`env =`). Exit codes: 0 success, 1 failure or findings, 2 usage
//! error or a command that is not built yet.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit code for usage errors and commands that are not built yet.
pub const EXIT_ERROR: u8 = 2;

/// Ferry takes a GitOps cluster to zero secrets: Vault holds every value, Kubernetes Secrets
/// are derived copies kept in sync, and nothing secret is left in Git or the environment.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Logging options shared by every subcommand.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log filter in tracing's EnvFilter syntax, e.g. `info` or `ferry_agent=debug`.
    #[arg(
        long,
        global = true,
        env = "FERRY_LOG",
        default_value = "info,rustify=off,vaultrs=off"
    )]
    pub log_level: String,
    /// Log line format.
    #[arg(long, global = true, env = "FERRY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The four parts of Ferry, plus unsealing a restarted Vault.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// One-shot, five-phase, resumable bootstrap from environment variables to zero secrets.
    Bootstrap(BootstrapArgs),
    /// Run the in-cluster controller that syncs Vault KV into Kubernetes Secrets
    /// (External Secrets Operator API, Vault provider).
    Agent(AgentArgs),
    /// Check Git history, the cluster and the environment for plaintext secrets.
    Verify(VerifyArgs),
    /// Render and lint the least-privilege Vault policy templates.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Decrypt the age-sealed init bundle and unseal a restarted Vault.
    Unseal(UnsealArgs),
}

/// Flags of `ferry bootstrap`.
#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Path to bootstrap.yaml (committed to Git; it holds no values).
    #[arg(long, env = "FERRY_BOOTSTRAP_CONFIG", default_value = "bootstrap.yaml")]
    pub config: std::path::PathBuf,
}

/// Flags of `ferry agent`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Kubeconfig file; in-cluster configuration is used when unset.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Watch only this namespace (ExternalSecrets, SecretStores, Secrets); all when unset.
    #[arg(long, env = "FERRY_WATCH_NAMESPACE")]
    pub namespace: Option<String>,
    /// Reconcile stores whose spec.controller is empty or equal to this class.
    #[arg(long, env = "FERRY_CONTROLLER_CLASS", default_value = "default")]
    pub controller_class: String,
    /// How many ExternalSecrets reconcile at once.
    #[arg(long, env = "FERRY_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Address for /metrics and /healthz.
    #[arg(long, env = "FERRY_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: std::net::SocketAddr,
    /// The agent's own namespace, where its HMAC key Secret lives.
    #[arg(long, env = "POD_NAMESPACE", default_value = "ferry-system")]
    pub own_namespace: String,
    /// Name of the Secret holding the key for the data HMACs (created when missing).
    #[arg(long, env = "FERRY_HMAC_KEY_SECRET", default_value = "ferry-hmac-key")]
    pub hmac_key_secret: String,
    /// Server-side apply the external-secrets.io CRDs at start-up (when the chart does not).
    #[arg(long, env = "FERRY_INSTALL_CRDS")]
    pub install_crds: bool,
}

/// Flags of `ferry verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Git repository to scan (working tree and every blob in history).
    #[arg(long, env = "FERRY_VERIFY_REPO", default_value = ".")]
    pub repo: std::path::PathBuf,
}

/// `ferry policy` subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Render a policy template with parameters from bootstrap.yaml, overridden by flags.
    Render(PolicyRenderArgs),
    /// Parse and lint HCL policies; exits 1 when there are findings.
    Lint(PolicyLintArgs),
}

/// Where policy parameters come from: bootstrap.yaml, then these flags.
#[derive(Debug, Args)]
pub struct PolicyParamArgs {
    /// bootstrap.yaml to take the parameters from.
    #[arg(long, env = "FERRY_BOOTSTRAP_CONFIG")]
    pub config: Option<std::path::PathBuf>,
    /// The KV mount (overrides bootstrap.yaml; default `secret`).
    #[arg(long, env = "FERRY_KV_MOUNT")]
    pub mount: Option<String>,
    /// The KV version, 1 or 2 (overrides bootstrap.yaml; default 2).
    #[arg(long, env = "FERRY_KV_VERSION")]
    pub kv_version: Option<String>,
    /// The Kubernetes auth mount (overrides bootstrap.yaml; default `kubernetes`).
    #[arg(long, env = "FERRY_KUBERNETES_MOUNT")]
    pub kubernetes_mount: Option<String>,
    /// The Kubernetes auth mount's accessor (for the namespace-scoped template).
    #[arg(long, env = "FERRY_KUBERNETES_ACCESSOR")]
    pub kubernetes_accessor: Option<String>,
    /// The app (from bootstrap.yaml, or named here with --path) for app-readonly.
    #[arg(long)]
    pub app: Option<String>,
    /// KV paths: the app's paths for app-readonly, the agent's for agent, the written ones for
    /// bootstrap (replaces what bootstrap.yaml gives). Repeatable.
    #[arg(long = "path")]
    pub paths: Vec<String>,
}

/// Flags of `ferry policy render`.
#[derive(Debug, Args)]
pub struct PolicyRenderArgs {
    /// The template: agent, bootstrap, app-readonly or namespace-scoped.
    pub template: String,
    /// Render a template from this directory instead of the built-in copy.
    #[arg(long, env = "FERRY_POLICY_DIR")]
    pub templates_dir: Option<std::path::PathBuf>,
    /// Parameters.
    #[command(flatten)]
    pub params: PolicyParamArgs,
}

/// Flags of `ferry policy lint`.
#[derive(Debug, Args)]
pub struct PolicyLintArgs {
    /// HCL policy files to lint.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
    /// Treat these files as read-only policies too (write capabilities are findings).
    #[arg(long)]
    pub read_only: Vec<String>,
    /// Parameters (the declared KV mount and Kubernetes auth mount come from here).
    #[command(flatten)]
    pub params: PolicyParamArgs,
}

/// Flags of `ferry unseal`.
#[derive(Debug, Args)]
pub struct UnsealArgs {
    /// age identity file that can decrypt the sealed init bundle.
    #[arg(long, env = "FERRY_AGE_IDENTITY")]
    pub identity: Option<std::path::PathBuf>,
}

/// Installs the global tracing subscriber on stderr.
pub fn init_tracing(log: &LogArgs) {
    let filter = tracing_subscriber::EnvFilter::try_new(&log.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match log.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs the chosen subcommand and maps its outcome to an exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let name = match cli.command {
        Command::Agent(args) => return report("agent", crate::agent::run(args).await),
        Command::Bootstrap(_) => "bootstrap",
        Command::Verify(_) => "verify",
        Command::Policy(PolicyCommand::Render(args)) => {
            return report("policy render", crate::policy::render(args));
        }
        Command::Policy(PolicyCommand::Lint(args)) => {
            return match crate::policy::lint(args) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(err) => {
                    eprintln!("ferry policy lint: {err:#}");
                    ExitCode::from(EXIT_ERROR)
                }
            };
        }
        Command::Unseal(_) => "unseal",
    };
    not_built(name)
}

/// Prints a failed command's error chain and maps it to exit code 1.
fn report(name: &str, result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ferry {name}: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// A subcommand that exists in the CLI but whose implementation has not landed yet.
fn not_built(name: &str) -> ExitCode {
    eprintln!("ferry {name}: not built yet in this version; nothing was done");
    ExitCode::from(EXIT_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
