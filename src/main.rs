//! The `ferry` binary: parses the command line and hands off to the crate that does the work.

mod agent;
mod bootstrap;
mod cli;
mod kube_client;
mod policy;
mod verify;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    cli::init_tracing(&cli.log);
    match tokio::runtime::Runtime::new() {
        Ok(rt) => rt.block_on(cli::run(cli)),
        Err(err) => {
            eprintln!("ferry: cannot start the async runtime: {err}");
            std::process::ExitCode::from(cli::EXIT_ERROR)
        }
    }
}
