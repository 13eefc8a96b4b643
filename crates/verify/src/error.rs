//! The crate's one error type, [`VerifyError`], with variants named after the operation that
//! failed. No variant ever carries a secret value: a known value is named by its index and label,
//! a file or object by its path or id.

use std::path::PathBuf;

/// Everything that can go wrong while verifying. A finding is not an error: errors mean the check
/// could not be completed (exit code 2), findings mean it completed and found something (1).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A known value was refused by the matcher because it is too short to match without a flood
    /// of false positives. The value itself is never part of the message.
    #[error(
        "known value #{index}{} is shorter than {min} bytes and would match too much to be useful; \
         refusing it (the value is not shown)",
        label.as_deref().map(|l| format!(" ({l})")).unwrap_or_default()
    )]
    KnownValueTooShort {
        /// Position of the value in the list given to the matcher.
        index: usize,
        /// The caller's label for the value (a Vault path and key, say), if it gave one.
        label: Option<String>,
        /// The minimum length in bytes.
        min: usize,
    },
    /// The Aho-Corasick automaton could not be built.
    #[error("building the matcher failed: {0}")]
    BuildMatcher(#[source] aho_corasick::BuildError),
    /// The Git repository could not be opened.
    #[error("opening the Git repository at {path} failed")]
    OpenRepo {
        /// The path given.
        path: PathBuf,
        /// What gix reported.
        #[source]
        source: gix::Error,
    },
    /// The references could not be listed or resolved.
    #[error("listing the repository's references failed")]
    ListRefs(#[source] gix::Error),
    /// Enumerating the object database (packs and loose objects) failed.
    #[error("listing the objects of the object database failed")]
    ListObjects(#[source] gix::Error),
    /// A pack (index and data file) could not be opened or traversed.
    #[error("reading pack {path} failed")]
    ReadPack {
        /// The pack index file.
        path: PathBuf,
        /// What gix reported.
        #[source]
        source: gix::Error,
    },
    /// An object could not be read from the object database.
    #[error("reading object {id} failed")]
    ReadObject {
        /// The object id.
        id: String,
        /// What gix reported.
        #[source]
        source: gix::Error,
    },
    /// An object that a commit or tree refers to is not in the object database.
    #[error("object {id} is referenced but missing from the object database")]
    MissingObject {
        /// The object id.
        id: String,
    },
    /// A commit or tree object could not be decoded.
    #[error("decoding {kind} {id} failed")]
    DecodeObject {
        /// `commit` or `tree`.
        kind: &'static str,
        /// The object id.
        id: String,
    },
    /// A directory of the working tree could not be listed.
    #[error("listing directory {path} failed")]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file (working-tree file, allowlist or baseline) could not be read.
    #[error("reading {path} failed")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The allowlist file is not valid.
    #[error("allowlist {path}: {message}")]
    ParseAllowlist {
        /// The allowlist file (or `<inline>`).
        path: PathBuf,
        /// Line and column, the entry or field, and what is wrong; never the file's content.
        message: String,
    },
    /// The baseline file is not a JSON report written by this crate.
    #[error("baseline {path} is not a ferry verify JSON report: {message}")]
    ParseBaseline {
        /// The baseline file (or `<inline>`).
        path: PathBuf,
        /// Line and column, the entry, and what is wrong; never the file's content.
        message: String,
    },
    /// A working-tree exclude glob does not compile.
    #[error("exclude glob {glob:?}: {message}")]
    ParseExclude {
        /// The glob as given.
        glob: String,
        /// What is wrong with it.
        message: String,
    },
    /// A report format name was not recognised.
    #[error("unknown report format {0:?}; expected table, json or sarif")]
    ParseFormat(String),
    /// The report could not be serialised.
    #[error("serialising the report failed")]
    SerializeReport(#[source] serde_json::Error),
    /// The report could not be written.
    #[error("writing the report failed")]
    WriteReport(#[source] std::io::Error),
    /// A KV secret holding known values could not be read from Vault.
    #[error("reading known values from Vault at {mount}/{path} failed")]
    ReadVault {
        /// The KV mount.
        mount: String,
        /// The secret path inside the mount.
        path: String,
        /// What the Vault client reported (never a value).
        #[source]
        source: Box<ferry_vault::VaultError>,
    },
    /// A KV secret or key that should hold a known value does not exist.
    #[error("known value {mount}/{path}#{key} does not exist in Vault")]
    MissingKnownValue {
        /// The KV mount.
        mount: String,
        /// The secret path inside the mount.
        path: String,
        /// The key inside the secret.
        key: String,
    },
    /// Listing or reading Kubernetes objects failed.
    #[error("reading {what} from the Kubernetes API failed")]
    Kube {
        /// What was being read, e.g. `Secrets in namespace apps`.
        what: String,
        /// What kube reported.
        #[source]
        source: Box<kube::Error>,
    },
    /// Looking up the root token's accessor failed in a way that says nothing about revocation.
    #[error("looking up the root token accessor in Vault failed")]
    LookupAccessor(#[source] Box<ferry_vault::VaultError>),
}

impl VerifyError {
    /// A short, stable, low-cardinality name for the kind of failure, for metric labels and
    /// event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::KnownValueTooShort { .. } | Self::BuildMatcher(_) => "matcher",
            Self::OpenRepo { .. }
            | Self::ListRefs(_)
            | Self::ListObjects(_)
            | Self::ReadPack { .. }
            | Self::ReadObject { .. }
            | Self::MissingObject { .. }
            | Self::DecodeObject { .. } => "git",
            Self::ReadDir { .. } | Self::ReadFile { .. } => "io",
            Self::ParseAllowlist { .. }
            | Self::ParseBaseline { .. }
            | Self::ParseExclude { .. }
            | Self::ParseFormat(_) => "config",
            Self::SerializeReport(_) | Self::WriteReport(_) => "report",
            Self::ReadVault { .. } | Self::MissingKnownValue { .. } | Self::LookupAccessor(_) => {
                "vault"
            }
            Self::Kube { .. } => "cluster",
        }
    }
}

/// Reads a whole text file, mapping failure to [`VerifyError::ReadFile`].
pub(crate) fn read_text(path: &std::path::Path) -> Result<String, VerifyError> {
    std::fs::read_to_string(path).map_err(|source| VerifyError::ReadFile {
        path: path.to_path_buf(),
        source,
    })
}
