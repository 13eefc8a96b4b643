//! `ferry verify`: the zero-secrets check over Git, the cluster and the environment.

use std::process::ExitCode;

use clap::Args;

/// Flags of `ferry verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Git repository to scan (working tree and every blob in history).
    #[arg(long, env = "FERRY_VERIFY_REPO", default_value = ".")]
    pub repo: std::path::PathBuf,
}

/// Runs the check; exit 0 clean, 1 findings, 2 error.
pub async fn run(_args: VerifyArgs) -> ExitCode {
    crate::cli::not_built("verify")
}
