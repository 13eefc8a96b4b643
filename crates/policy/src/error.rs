//! [`PolicyError`], the one error type of this crate.

use std::path::PathBuf;

use crate::lint::Finding;

/// What can go wrong while loading, rendering, parsing or linting a policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// bootstrap.yaml declares no app of that name.
    #[error("bootstrap.yaml declares no app named `{name}` (apps: {known})")]
    SelectApp {
        /// The name given.
        name: String,
        /// The declared app names, comma separated.
        known: String,
    },
    /// A template name that is none of [`crate::Template`]'s.
    #[error("unknown policy template `{name}` (expected one of: {expected})")]
    SelectTemplate {
        /// The name given.
        name: String,
        /// The known names, comma separated.
        expected: String,
    },
    /// A template file could not be read from a directory.
    #[error("reading policy template {}: {source}", path.display())]
    ReadTemplate {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A template's own syntax (`[[ ... ]]` markers, `for` / `if` / `end`
    /// directives) is malformed.
    #[error("{template}:{line}: {message}")]
    ParseTemplate {
        /// The template's file name.
        template: String,
        /// One-based line in the template.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A parameter the template uses is missing, empty, of the wrong kind or
    /// holds a value that is not safe inside a policy.
    #[error("{template}:{line}: parameter `{parameter}` {problem}")]
    Render {
        /// The template's file name.
        template: String,
        /// One-based line in the template.
        line: usize,
        /// The parameter's name.
        parameter: String,
        /// What is wrong with it, e.g. `is missing`.
        problem: String,
    },
    /// A policy is not valid HCL.
    #[error("{file}:{line}:{column}: invalid HCL: {message}")]
    Parse {
        /// The file (or template) name.
        file: String,
        /// One-based line.
        line: usize,
        /// One-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A policy has lint findings where a clean one was required.
    #[error("policy {file} has {} lint finding(s):\n{}", findings.len(), list(findings))]
    Lint {
        /// The file (or template) name.
        file: String,
        /// The findings, in line order.
        findings: Vec<Finding>,
    },
}

fn list(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
