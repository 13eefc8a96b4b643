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
    /// Log filter in tracing's EnvFilter syntax, e.g. `info` or `info,ferry_agent=debug`.
    /// Without it (or FERRY_LOG), RUST_LOG applies, then `info,rustify=off,vaultrs=off`.
    #[arg(long, global = true, env = "FERRY_LOG")]
    pub log_level: Option<String>,
    /// Log line format: human-readable text, or one JSON object per line.
    #[arg(long, global = true, env = "FERRY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The log filter when neither `--log-level`, `FERRY_LOG` nor `RUST_LOG` sets one: `info`,
/// with the Vault client libraries (which may log request details) off.
pub const DEFAULT_LOG_FILTER: &str = "info,rustify=off,vaultrs=off";

/// Where the log filter came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterSource {
    /// `--log-level` or `FERRY_LOG`.
    LogLevel,
    /// `RUST_LOG`.
    RustLog,
    /// [`DEFAULT_LOG_FILTER`].
    Default,
}

impl FilterSource {
    fn name(self) -> &'static str {
        match self {
            FilterSource::LogLevel => "--log-level (FERRY_LOG)",
            FilterSource::RustLog => "RUST_LOG",
            FilterSource::Default => "the default",
        }
    }
}

/// The log filter, first set wins: `--log-level`, `FERRY_LOG` (clap reads it for the flag),
/// `RUST_LOG`, then [`DEFAULT_LOG_FILTER`]. An empty value counts as unset.
fn log_filter<'a>(
    log_level: Option<&'a str>,
    rust_log: Option<&'a str>,
) -> (&'a str, FilterSource) {
    let set = |v: Option<&'a str>| v.filter(|v| !v.trim().is_empty());
    match (set(log_level), set(rust_log)) {
        (Some(filter), _) => (filter, FilterSource::LogLevel),
        (None, Some(filter)) => (filter, FilterSource::RustLog),
        (None, None) => (DEFAULT_LOG_FILTER, FilterSource::Default),
    }
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

/// Installs the global tracing subscriber on stderr, with the filter [`log_filter`] picks
/// and the format of `--log-format`. An invalid filter falls back to [`DEFAULT_LOG_FILTER`],
/// with a warning.
pub fn init_tracing(log: &LogArgs) {
    use tracing_subscriber::EnvFilter;
    let rust_log = std::env::var("RUST_LOG").ok();
    let (wanted, source) = log_filter(log.log_level.as_deref(), rust_log.as_deref());
    let (filter, invalid) = match EnvFilter::try_new(wanted) {
        Ok(filter) => (filter, None),
        Err(err) => (EnvFilter::new(DEFAULT_LOG_FILTER), Some(err)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match log.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    if let Some(err) = invalid {
        tracing::warn!(
            source = source.name(),
            error = %err,
            "invalid log filter; using {DEFAULT_LOG_FILTER}"
        );
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

    #[test]
    fn log_level_wins_over_rust_log_which_wins_over_the_default() {
        use FilterSource::*;
        let cases = [
            (Some("debug"), Some("trace"), ("debug", LogLevel)),
            (Some("debug"), None, ("debug", LogLevel)),
            (None, Some("trace"), ("trace", RustLog)),
            (Some(" "), Some("trace"), ("trace", RustLog)),
            (None, Some(""), (DEFAULT_LOG_FILTER, Default)),
            (None, None, (DEFAULT_LOG_FILTER, Default)),
        ];
        for (log_level, rust_log, want) in cases {
            assert_eq!(
                log_filter(log_level, rust_log),
                want,
                "{log_level:?} {rust_log:?}"
            );
        }
    }

    #[test]
    fn log_flags_parse() {
        let cli = Cli::try_parse_from(["ferry", "--log-format", "json", "agent"]).expect("parses");
        assert!(matches!(cli.log.log_format, LogFormat::Json));
        let cli = Cli::try_parse_from(["ferry", "agent", "--log-level=warn"]).expect("parses");
        assert_eq!(cli.log.log_level.as_deref(), Some("warn"));
        assert!(Cli::try_parse_from(["ferry", "--log-format", "xml", "agent"]).is_err());
    }
}
