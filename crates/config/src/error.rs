//! The crate's error type, [`ConfigError`], and the [`Problem`]s it carries.
//!
//! Every error names the field path involved (for example `env[2].check.regexp`)
//! and, when the text of the file is known, the line and column in it. No error
//! ever contains an environment variable's value: this crate never reads values,
//! and messages taken from the YAML parser have quoted string contents redacted.

use std::fmt;

/// A position in `bootstrap.yaml`, both counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Location {
    /// The line, counted from 1.
    pub line: usize,
    /// The column (in characters), counted from 1.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One semantic validation problem: which field, where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field path, in the YAML's own key names: `init.keyThreshold`, `env[2].check.regexp`.
    pub field: String,
    /// Where the field (or its closest enclosing node present in the file) starts;
    /// `None` when the config did not come from text, e.g. [`crate::BootstrapConfig::validate`]
    /// on a value built in code.
    pub location: Option<Location>,
    /// What is wrong, without any value.
    pub message: String,
}

impl Problem {
    /// A problem at `field`, without a location yet.
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            location: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some(at) => write!(f, "{at}: {}: {}", self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

/// Formats problems one per line, as `origin:line:column: field: message`.
struct List<'a>(&'a str, &'a [Problem]);

impl fmt::Display for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in self.1 {
            write!(
                f,
                "\n  {}{}: {}: {}",
                self.0,
                At(problem.location),
                problem.field,
                problem.message
            )?;
        }
        Ok(())
    }
}

/// Formats an optional location as `:line:column` (or nothing).
struct At(Option<Location>);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(at) => write!(f, ":{at}"),
            None => Ok(()),
        }
    }
}

/// Errors of loading, parsing and validating `bootstrap.yaml`, one variant per operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Reading the file failed (missing, unreadable, not UTF-8).
    #[error("reading {origin}: {source}")]
    ReadFile {
        /// The file name as given.
        origin: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not YAML of the expected shape: syntax error, unknown key,
    /// wrong type, missing required field.
    #[error("{origin}{}: {field}: {message}", At(*.location))]
    Parse {
        /// The file name (or other origin) given to [`crate::parse`].
        origin: String,
        /// The field path, e.g. `vault.adress` for a misspelt key; `.` for the document.
        field: String,
        /// Line and column in the text, when the YAML parser reports one.
        location: Option<Location>,
        /// What is wrong (string contents from the file are redacted).
        message: String,
    },
    /// The YAML has the right shape but breaks one or more rules; all problems are listed.
    #[error("{origin}: {} validation problem(s):{}", .problems.len(), List(.origin, .problems))]
    Validate {
        /// The file name given to [`crate::parse`], or `bootstrap config` for a value
        /// validated on its own.
        origin: String,
        /// Every problem found, in document order of their checks.
        problems: Vec<Problem>,
    },
    /// A recipient could not be turned into an age recipient (see
    /// [`crate::InitConfig::age_recipients`]).
    #[error("{field}: {message}")]
    Recipient {
        /// The field path, e.g. `init.recipients[1]`.
        field: String,
        /// Why it was rejected (never the key material).
        message: String,
    },
}

impl ConfigError {
    /// A short, bounded category for metric labels and Kubernetes Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::ReadFile { .. } => "read",
            Self::Parse { .. } => "parse",
            Self::Validate { .. } => "validate",
            Self::Recipient { .. } => "recipient",
        }
    }

    /// The validation problems, if this is a [`ConfigError::Validate`].
    pub fn problems(&self) -> &[Problem] {
        match self {
            Self::Validate { problems, .. } => problems,
            _ => &[],
        }
    }
}
