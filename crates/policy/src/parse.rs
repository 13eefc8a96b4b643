//! Parsing a Vault ACL policy with the real HCL parser (`hcl-edit`, the
//! parser behind `hcl-rs`), keeping the source line of every `path` block
//! and every capability from the parser's byte spans.

use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Structure};

use crate::error::PolicyError;

/// A parsed ACL policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// The `path "..." { ... }` rules, in source order.
    pub paths: Vec<PathRule>,
    /// Things that are valid HCL but not a valid policy shape (a `path`
    /// block without exactly one label, a non-list `capabilities`, a
    /// capability that is not a string), as (line, message).
    pub problems: Vec<(usize, String)>,
}

/// One `path` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRule {
    /// The path pattern, e.g. `secret/data/app/*`.
    pub path: String,
    /// One-based line of the block's label.
    pub line: usize,
    /// Its capabilities, from `capabilities = [...]` and the legacy
    /// `policy = "..."` shorthand.
    pub capabilities: Vec<Capability>,
}

/// One capability of a path rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    /// The capability as written, e.g. `read`.
    pub name: String,
    /// One-based line where it is written.
    pub line: usize,
}

/// The capabilities Vault grants for the legacy `policy = "..."` values.
fn legacy_policy(value: &str) -> Option<&'static [&'static str]> {
    match value {
        "deny" => Some(&["deny"]),
        "read" => Some(&["read", "list"]),
        "write" => Some(&["create", "read", "update", "delete", "list"]),
        "sudo" => Some(&["create", "read", "update", "delete", "list", "sudo"]),
        _ => None,
    }
}

/// Maps byte offsets to one-based lines.
struct Lines(Vec<usize>);

impl Lines {
    fn new(source: &str) -> Lines {
        let starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines(starts)
    }

    fn of(&self, span: Option<Range<usize>>) -> usize {
        let offset = span.map_or(0, |s| s.start);
        self.0.partition_point(|&start| start <= offset).max(1)
    }
}

/// Parses `source` (named `file` in errors) as a Vault ACL policy.
///
/// Invalid HCL is a [`PolicyError::Parse`] with the parser's line and
/// column; a valid HCL file of the wrong shape is a [`Policy`] with
/// [`Policy::problems`].
pub fn parse(source: &str, file: &str) -> Result<Policy, PolicyError> {
    let body = hcl_edit::parser::parse_body(source).map_err(|e| PolicyError::Parse {
        file: file.to_owned(),
        line: e.location().line(),
        column: e.location().column(),
        message: e.message().to_owned(),
    })?;
    let lines = Lines::new(source);
    let mut policy = Policy::default();
    for structure in body.iter() {
        match structure {
            Structure::Block(block) if block.ident.as_str() == "path" => {
                if let Some(rule) = path_rule(block, source, &lines, &mut policy.problems) {
                    policy.paths.push(rule);
                }
            }
            // `name = "..."` at the top level is accepted by Vault; anything
            // else is not a policy.
            Structure::Attribute(attr) if attr.key.as_str() == "name" => {}
            other => policy.problems.push((
                lines.of(other.span()),
                "only `path \"...\" { ... }` blocks belong in a policy".to_owned(),
            )),
        }
    }
    Ok(policy)
}

fn path_rule(
    block: &Block,
    source: &str,
    lines: &Lines,
    problems: &mut Vec<(usize, String)>,
) -> Option<PathRule> {
    let [label] = block.labels.as_slice() else {
        problems.push((
            lines.of(block.span()),
            "a `path` block needs exactly one label, the path".to_owned(),
        ));
        return None;
    };
    let mut rule = PathRule {
        path: label.as_str().to_owned(),
        line: lines.of(label.span()),
        capabilities: Vec::new(),
    };
    for attr in block.body.attributes() {
        match attr.key.as_str() {
            "capabilities" => {
                let Some(array) = attr.value.as_array() else {
                    problems.push((
                        lines.of(attr.value.span()),
                        "`capabilities` must be a list of strings".to_owned(),
                    ));
                    continue;
                };
                for item in array.iter() {
                    match item {
                        Expression::String(s) => rule.capabilities.push(Capability {
                            name: s.as_str().to_owned(),
                            line: lines.of(item.span()),
                        }),
                        other => problems.push((
                            lines.of(other.span()),
                            format!(
                                "capability `{}` is not a string",
                                snippet(source, other.span())
                            ),
                        )),
                    }
                }
            }
            "policy" => {
                let line = lines.of(attr.value.span());
                match attr.value.as_str().and_then(legacy_policy) {
                    Some(caps) => rule.capabilities.extend(caps.iter().map(|c| Capability {
                        name: (*c).to_owned(),
                        line,
                    })),
                    None => problems.push((
                        line,
                        format!(
                            "`policy = {}` is none of deny, read, write, sudo",
                            snippet(source, attr.value.span())
                        ),
                    )),
                }
            }
            _ => {}
        }
    }
    Some(rule)
}

/// The source text of a span, for messages.
fn snippet(source: &str, span: Option<Range<usize>>) -> &str {
    span.and_then(|s| source.get(s)).map_or("?", str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_capability_lines() {
        let src = "# c\npath \"secret/data/a\" {\n  capabilities = [\n    \"read\",\n    \"list\",\n  ]\n}\n\npath \"auth/x\" { policy = \"write\" }\n";
        let p = parse(src, "p.hcl").unwrap();
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.paths.len(), 2);
        assert_eq!(
            (p.paths[0].path.as_str(), p.paths[0].line),
            ("secret/data/a", 2)
        );
        let caps: Vec<_> = p.paths[0]
            .capabilities
            .iter()
            .map(|c| (c.name.as_str(), c.line))
            .collect();
        assert_eq!(caps, [("read", 4), ("list", 5)]);
        assert_eq!(p.paths[1].line, 9);
        assert_eq!(p.paths[1].capabilities.len(), 5);
    }

    #[test]
    fn identity_templating_is_a_plain_label() {
        let src = "path \"s/data/{{identity.entity.aliases.auth_k_1.metadata.service_account_namespace}}/*\" {\n  capabilities = [\"read\"]\n}\n";
        let p = parse(src, "p.hcl").unwrap();
        assert_eq!(
            p.paths[0].path,
            "s/data/{{identity.entity.aliases.auth_k_1.metadata.service_account_namespace}}/*"
        );
    }

    #[test]
    fn invalid_hcl_has_line_and_column() {
        let err = parse("path \"a\" {\n  capabilities = [\"read\"\n}\n", "bad.hcl").unwrap_err();
        match err {
            PolicyError::Parse {
                file, line, column, ..
            } => {
                assert_eq!(file, "bad.hcl");
                assert_eq!(line, 3);
                assert!(column >= 1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn shape_problems() {
        let src = "path { capabilities = [\"read\"] }\npath \"a\" {\n  capabilities = \"read\"\n}\npath \"b\" { capabilities = [read] }\nfoo = 1\n";
        let p = parse(src, "p.hcl").unwrap();
        let lines: Vec<usize> = p.problems.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [1, 3, 5, 6]);
        assert!(p.problems[2].1.contains("`read`"), "{:?}", p.problems);
    }
}
