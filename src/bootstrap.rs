//! `ferry bootstrap` and `ferry unseal`: flags, progress output and exit codes around the
//! `ferry-bootstrap` crate.

use std::process::ExitCode;

use clap::Args;

/// Flags of `ferry bootstrap`.
#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Path to bootstrap.yaml (committed to Git; it holds no values).
    #[arg(long, env = "FERRY_BOOTSTRAP_CONFIG", default_value = "bootstrap.yaml")]
    pub config: std::path::PathBuf,
}

/// Flags of `ferry unseal`.
#[derive(Debug, Args)]
pub struct UnsealArgs {
    /// age identity file that can decrypt the sealed init bundle.
    #[arg(long, env = "FERRY_AGE_IDENTITY")]
    pub identity: Option<std::path::PathBuf>,
}

/// Runs the five phases.
pub async fn run(_args: BootstrapArgs) -> ExitCode {
    crate::cli::not_built("bootstrap")
}

/// Decrypts the sealed init bundle and unseals Vault.
pub async fn unseal(_args: UnsealArgs) -> ExitCode {
    crate::cli::not_built("unseal")
}
