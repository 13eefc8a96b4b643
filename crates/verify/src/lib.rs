//! `ferry-verify`: `ferry verify`, the zero-secrets check, as a library that both the command
//! and bootstrap phase 5 call.
//!
//! - [`Scanner`]: one Aho-Corasick automaton over the known values (read from Vault; verbatim
//!   and base64/base64url, padded or not, aligned or embedded) and the triggers of the
//!   verifiable token rules; Kubernetes Secret manifests and SOPS files are checked, and
//!   plaintext `data:` values decoded and scanned again.
//! - [`read_known_values`]: the values behind bootstrap.yaml's `env` entries
//!   ([`known_entries`]), read from KV with the caller's token, labelled `mount/path#key`.
//! - [`scan_git`]: the working tree (every file but `.git/` and the excluded build directories)
//!   and every blob of the object store, loose and packed, each scanned once and attributed to a
//!   commit and path.
//! - [`check_cluster`]: Vault-backed Secrets owned by ExternalSecrets, every ExternalSecret
//!   Ready, no known value or token in ConfigMaps, env literals, last-applied annotations or
//!   Helm releases, the init bundle Secret age ciphertext only ([`cluster`]);
//!   [`check_root_token`] and [`check_init_bundle_file`] ([`init_material`]).
//! - [`check_env`]: the bootstrap variables ([`bootstrap_env_names`]) no longer set.
//! - [`Finding`] / [`Location`]: rule and place, never the value.
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
pub mod cluster;
mod cluster_content;
mod env;
mod error;
mod finding;
mod git;
pub mod init_material;
mod input_error;
mod known;
mod manifest;
mod objects;
mod report;
pub mod rules;
mod sarif;
mod scanner;
mod tokens;
mod vault_known;
mod worktree;

pub use allowlist::{AllowEntry, AllowTarget, Allowlist};
pub use baseline::Baseline;
pub use cluster::{ClusterScope, HMAC_KEY_SECRET, ObjectName, check_cluster};
pub use cluster_content::{HELM_RELEASE_TYPE, LAST_APPLIED};
pub use env::{bootstrap_env_names, check_env, check_env_with};
pub use error::VerifyError;
pub use ferry_config::github_checksum;
pub use finding::{Finding, Location, sort_findings};
pub use git::{DEFAULT_EXCLUDES, GitScan, GitScanOptions, ScanStats, scan_git, scan_history};
pub use init_material::{
    BOOTSTRAP_STATE_CONFIGMAP, ROOT_TOKEN_ACCESSOR_KEY, RootToken, check_init_bundle_file,
    check_root_token, is_age_ciphertext,
};
pub use known::{KnownValue, MIN_KNOWN_VALUE_LEN};
pub use report::{ExitStatus, Format, write_report};
pub use scanner::{Hit, Scanner};
pub use vault_known::{KnownEntry, VaultKnown, known_entries, kv_version, read_known_values};
pub use worktree::scan_worktree;

/// The tool name in reports.
pub const TOOL_NAME: &str = "ferry-verify";
