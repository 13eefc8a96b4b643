//! Report writers (a table for people, JSON for tools and `--baseline`, SARIF 2.1.0 for code
//! scanning UIs) and the exit-code convention: 0 clean, 1 findings, 2 error. Findings carry no
//! values, so nothing written here can leak one.

use std::fmt;
use std::io::Write;
use std::str::FromStr;

use serde::Serialize;

use crate::{Finding, VerifyError, sarif};

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Aligned columns for a terminal.
    #[default]
    Table,
    /// `{"tool": "ferry-verify", "version": …, "findings": […]}`; readable back as a baseline.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

impl FromStr for Format {
    type Err = VerifyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(Self::Table),
            "json" => Ok(Self::Json),
            "sarif" => Ok(Self::Sarif),
            _ => Err(VerifyError::ParseFormat(s.to_string())),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Table => "table",
            Self::Json => "json",
            Self::Sarif => "sarif",
        })
    }
}

/// The JSON report.
#[derive(Serialize)]
struct JsonReport<'a> {
    tool: &'static str,
    version: &'static str,
    findings: &'a [Finding],
}

/// Writes `findings` to `out` in `format`.
pub fn write_report(
    findings: &[Finding],
    format: Format,
    out: &mut dyn Write,
) -> Result<(), VerifyError> {
    match format {
        Format::Table => write_table(findings, out).map_err(VerifyError::WriteReport),
        Format::Json => {
            let report = JsonReport {
                tool: crate::TOOL_NAME,
                version: env!("CARGO_PKG_VERSION"),
                findings,
            };
            serde_json::to_writer_pretty(&mut *out, &report)
                .map_err(VerifyError::SerializeReport)?;
            writeln!(out).map_err(VerifyError::WriteReport)
        }
        Format::Sarif => {
            let log = sarif::build(findings);
            serde_json::to_writer_pretty(&mut *out, &log).map_err(VerifyError::SerializeReport)?;
            writeln!(out).map_err(VerifyError::WriteReport)
        }
    }
}

fn write_table(findings: &[Finding], out: &mut dyn Write) -> std::io::Result<()> {
    if findings.is_empty() {
        return writeln!(out, "no findings");
    }
    let rows: Vec<(String, String, &str)> = findings
        .iter()
        .map(|f| (f.rule.clone(), f.location.to_string(), f.message.as_str()))
        .collect();
    let rule_w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(4);
    let loc_w = rows
        .iter()
        .map(|r| r.1.len())
        .max()
        .unwrap_or(0)
        .clamp(8, 80);
    writeln!(out, "{:rule_w$}  {:loc_w$}  MESSAGE", "RULE", "LOCATION")?;
    for (rule, loc, message) in &rows {
        writeln!(out, "{rule:rule_w$}  {loc:loc_w$}  {message}")?;
    }
    let n = findings.len();
    writeln!(out, "{n} finding{}", if n == 1 { "" } else { "s" })
}

/// The process exit status of `ferry verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    /// The check completed and found nothing.
    Clean = 0,
    /// The check completed and found something.
    Findings = 1,
    /// The check could not be completed.
    Error = 2,
}

impl ExitStatus {
    /// 0 when there are no findings, 1 otherwise.
    pub fn from_findings(findings: &[Finding]) -> Self {
        if findings.is_empty() {
            Self::Clean
        } else {
            Self::Findings
        }
    }

    /// Like [`ExitStatus::from_findings`], and 2 for an error of any type.
    pub fn from_result<E>(result: &Result<Vec<Finding>, E>) -> Self {
        match result {
            Ok(findings) => Self::from_findings(findings),
            Err(_) => Self::Error,
        }
    }

    /// The numeric exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        Self::from(status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Location;

    #[test]
    fn formats_and_exit_codes() {
        let f = vec![Finding::new(
            "leftover-env",
            Location::Env {
                name: "APP_DB_PW".into(),
            },
            "bootstrap variable is still set",
        )];
        let mut out = Vec::new();
        write_report(&f, Format::Table, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("environment variable APP_DB_PW"), "{text}");
        assert!(text.ends_with("1 finding\n"));
        let mut out = Vec::new();
        write_report(&f, Format::Json, &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["findings"][0]["location"]["type"], "env");
        assert_eq!("SARIF".parse::<Format>().unwrap(), Format::Sarif);
        assert!("xml".parse::<Format>().is_err());
        assert_eq!(ExitStatus::from_findings(&f).code(), 1);
        assert_eq!(ExitStatus::from_findings(&[]).code(), 0);
        assert_eq!(ExitStatus::from_result::<()>(&Err(())).code(), 2);
    }
}
