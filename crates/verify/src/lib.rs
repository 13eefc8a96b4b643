//! `ferry-verify`: the Git and pure-scanning half of `ferry verify`, the zero-secrets check.
//!
//! - [`Scanner`]: one Aho-Corasick automaton over the known values (read from Vault; verbatim
//!   and base64/base64url, padded or not, aligned or embedded) and the triggers of the
//!   verifiable token rules; Kubernetes Secret manifests and SOPS files are checked, and
//!   plaintext `data:` values decoded and scanned again.
//! - [`scan_git`]: the working tree (every file but `.git/`) and every blob of the object store,
//!   loose and packed, each scanned once and attributed to a commit and path.
//! - [`Finding`] / [`Location`]: rule and place, never the value; the cluster and environment
//!   checks add their own findings with [`Location::Object`] and [`Location::Env`].
//! - [`Allowlist`] and [`Baseline`] suppress findings; [`write_report`] writes a table, JSON or
//!   SARIF 2.1.0; [`ExitStatus`] maps the outcome to 0 / 1 / 2.
//!
//! ```no_run
//! use ferry_verify::{ExitStatus, Format, GitScanOptions, Scanner, scan_git, write_report};
//! use secrecy::SecretString;
//!
//! # fn main() -> Result<(), ferry_verify::VerifyError> {
//! let scanner = Scanner::new(vec![SecretString::from("value-read-from-vault".to_string())])?;
//! let scan = scan_git(std::path::Path::new("."), &scanner, &GitScanOptions::default())?;
//! write_report(&scan.findings, Format::Table, &mut std::io::stdout())?;
//! std::process::exit(i32::from(ExitStatus::from_findings(&scan.findings).code()));
//! # }
//! ```

mod allowlist;
mod baseline;
mod error;
mod finding;
mod git;
mod known;
mod manifest;
mod objects;
mod report;
pub mod rules;
mod sarif;
mod scanner;
mod tokens;
mod worktree;

pub use allowlist::{AllowEntry, AllowTarget, Allowlist};
pub use baseline::Baseline;
pub use error::VerifyError;
pub use ferry_config::github_checksum;
pub use finding::{Finding, Location, sort_findings};
pub use git::{GitScan, GitScanOptions, ScanStats, scan_git, scan_history};
pub use known::{KnownValue, MIN_KNOWN_VALUE_LEN};
pub use report::{ExitStatus, Format, write_report};
pub use scanner::{Hit, Scanner};
pub use worktree::scan_worktree;

/// The tool name in reports.
pub const TOOL_NAME: &str = "ferry-verify";
