//! [`TemplateError`]: what went wrong, where (template name, line and column), never with
//! which value.

/// A template failed to parse or to render.
///
/// Messages name functions, fields, variables and types; they never include a data value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template text is malformed.
    #[error("template {name}:{line}:{col}: {message}")]
    Parse {
        /// The template's name (for ESO, the key it renders).
        name: String,
        /// 1-based line of the offending token.
        line: usize,
        /// 1-based column (in characters) of the offending token.
        col: usize,
        /// What is wrong.
        message: String,
    },
    /// Rendering failed: a missing key, a function error, a type mismatch.
    #[error("template {name}:{line}:{col}: {message}")]
    Execute {
        /// The template's name.
        name: String,
        /// 1-based line of the action that failed.
        line: usize,
        /// 1-based column of the action that failed.
        col: usize,
        /// What is wrong.
        message: String,
    },
    /// The rendered output is not UTF-8 (use `render_bytes` for binary output).
    #[error("template {name}: output is not valid UTF-8")]
    NotUtf8 {
        /// The template's name.
        name: String,
    },
    /// Rendering passed the deadline of its [`RenderLimits`](crate::RenderLimits).
    #[error("template {name}: rendering passed its deadline")]
    TimedOut {
        /// The template's name.
        name: String,
    },
    /// Rendering was cancelled through its [`RenderLimits`](crate::RenderLimits).
    #[error("template {name}: rendering was cancelled")]
    Cancelled {
        /// The template's name.
        name: String,
    },
}

impl TemplateError {
    /// A short, bounded label for metrics and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            TemplateError::Parse { .. } => "template_parse",
            TemplateError::Execute { .. } => "template_execute",
            TemplateError::NotUtf8 { .. } => "template_output",
            TemplateError::TimedOut { .. } => "template_timeout",
            TemplateError::Cancelled { .. } => "template_cancelled",
        }
    }

    /// The template name, line and column the error points at (line and column are 0 for
    /// errors about the whole output).
    pub fn position(&self) -> (&str, usize, usize) {
        match self {
            TemplateError::Parse {
                name, line, col, ..
            }
            | TemplateError::Execute {
                name, line, col, ..
            } => (name, *line, *col),
            TemplateError::NotUtf8 { name }
            | TemplateError::TimedOut { name }
            | TemplateError::Cancelled { name } => (name, 0, 0),
        }
    }
}

/// An error from a function, before the executor adds the position. The message must not
/// contain any argument value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FuncError(pub String);

impl FuncError {
    /// An error with a fixed or value-free message.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        FuncError(message.into())
    }
}

/// Shorthand for function results.
pub(crate) type FuncResult = Result<crate::Value, FuncError>;
