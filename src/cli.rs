//! Command-line surface of `ferry`: clap-derive definitions, logging set-up and dispatch.
//!
//! Every flag that an operator may want to set from a Deployment or CI also reads an
//! environment variable (`env =`). Exit codes: 0 success, 1 failure or findings, 2 usage or
//! input error; `ferry bootstrap` adds 3 (Vault sealed and nothing to unseal it with).

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::agent::AgentArgs;
use crate::bootstrap::{BootstrapArgs, UnsealArgs};
use crate::policy::PolicyCommand;
use crate::verify::VerifyArgs;

/// Exit code for usage and input errors.
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
    match cli.command {
        Command::Agent(args) => report("agent", crate::agent::run(args).await),
        Command::Bootstrap(args) => crate::bootstrap::run(args).await,
        Command::Verify(args) => crate::verify::run(args).await,
        Command::Policy(PolicyCommand::Render(args)) => {
            report("policy render", crate::policy::render(args))
        }
        Command::Policy(PolicyCommand::Lint(args)) => match crate::policy::lint(args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(err) => {
                eprintln!("ferry policy lint: {err:#}");
                ExitCode::from(EXIT_ERROR)
            }
        },
        Command::Unseal(args) => crate::bootstrap::unseal(args).await,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
