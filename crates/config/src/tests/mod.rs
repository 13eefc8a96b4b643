//! Unit tests: parsing, validation with field paths and locations, value checks,
//! fingerprints, and the committed schema, docs and example.

mod check;
mod files;
mod gitops;
mod parsing;
mod planted;
mod validate;

use crate::{BootstrapConfig, ConfigError, Location, parse};

/// The smallest valid config: everything else takes its default.
pub(crate) const MINIMAL: &str = "\
vault:
  address: http://127.0.0.1:8200
init:
  recipients:
    - age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
  bundle:
    file: init.age
env:
  - name: GIT_TOKEN
    path: flux/git
    key: password
flux:
  auth:
    https:
      passwordEnv: GIT_TOKEN
";

/// The committed example.
pub(crate) const EXAMPLE: &str = include_str!("../../../../examples/bootstrap.yaml");

/// `text` with the first `from` replaced by `to`; panics if `from` is absent.
pub(crate) fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "fixture lacks {from:?}");
    text.replacen(from, to, 1)
}

/// Parses `text`, expecting success.
pub(crate) fn ok(text: &str) -> BootstrapConfig {
    match parse(text, "bootstrap.yaml") {
        Ok(config) => config,
        Err(err) => panic!("expected a valid config, got:\n{err}"),
    }
}

/// Parses `text`, expecting a parse error; returns (field, location, message).
pub(crate) fn parse_err(text: &str) -> (String, Option<Location>, String) {
    match parse(text, "bootstrap.yaml") {
        Err(ConfigError::Parse {
            field,
            location,
            message,
            ..
        }) => (field, location, message),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

/// Parses `text`, expecting validation problems; returns them as (field, location, message).
pub(crate) fn problems(text: &str) -> Vec<(String, Option<Location>, String)> {
    match parse(text, "bootstrap.yaml") {
        Err(ConfigError::Validate { problems, .. }) => problems
            .into_iter()
            .map(|p| (p.field, p.location, p.message))
            .collect(),
        other => panic!("expected validation problems, got {other:?}"),
    }
}

/// The single problem of `text`, asserting there is exactly one.
pub(crate) fn problem(text: &str) -> (String, Option<Location>, String) {
    let mut all = problems(text);
    assert_eq!(all.len(), 1, "expected one problem, got {all:#?}");
    all.remove(0)
}

/// A line/column pair.
pub(crate) fn at(line: usize, column: usize) -> Option<Location> {
    Some(Location { line, column })
}
