//! The template renderer: `[[ name ]]` substitution plus `for` / `if` / `end`
//! directives on comment lines. Vault's own `{{...}}` templating is plain
//! text to it.
//!
//! A template is first parsed entirely (so a malformed marker is reported
//! even inside a block that is not rendered), then evaluated against the
//! parameters.

use std::collections::BTreeMap;

use crate::error::PolicyError;
use crate::params::{PolicyParams, Value};

/// Names that introduce directives and so cannot be parameters.
const KEYWORDS: [&str; 4] = ["for", "in", "if", "end"];

/// Characters a substituted value may contain: enough for KV paths with
/// globs, mount names, policy names and accessors, and nothing that could
/// end an HCL string, start an interpolation or add a line.
fn allowed_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '+' | '*' | '@' | ':' | '=')
}

/// A piece of a text line.
#[derive(Debug)]
enum Segment {
    Literal(String),
    Param(String),
}

/// A parsed template line or block.
#[derive(Debug)]
enum Node {
    Text {
        line: usize,
        segments: Vec<Segment>,
    },
    For {
        line: usize,
        var: String,
        list: String,
        body: Vec<Node>,
    },
    If {
        line: usize,
        flag: String,
        body: Vec<Node>,
    },
}

/// A directive line's meaning.
enum Directive {
    For { var: String, list: String },
    If { flag: String },
    End,
}

/// Renders `source` (the template called `template` in messages).
pub(crate) fn render_source(
    template: &str,
    source: &str,
    params: &PolicyParams,
) -> Result<String, PolicyError> {
    let nodes = parse(template, source)?;
    let mut out = Vec::new();
    let r = Renderer {
        template,
        values: params.values(),
    };
    r.eval(&nodes, &mut Vec::new(), &mut out)?;
    Ok(tidy(&out))
}

/// Joins the rendered lines, dropping leading blank lines and runs of blank
/// lines left behind by directives, with one final newline.
fn tidy(lines: &[String]) -> String {
    let mut s = String::new();
    let mut blank = true;
    for line in lines {
        let is_blank = line.trim().is_empty();
        if is_blank && blank {
            continue;
        }
        blank = is_blank;
        s.push_str(line.trim_end());
        s.push('\n');
    }
    while s.ends_with("\n\n") {
        s.pop();
    }
    s
}

fn parse_error(template: &str, line: usize, message: impl Into<String>) -> PolicyError {
    PolicyError::ParseTemplate {
        template: template.to_owned(),
        line,
        message: message.into(),
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A block being parsed: where it opened, what opened it, its nodes so far.
struct Open {
    line: usize,
    header: Option<Directive>,
    body: Vec<Node>,
}

/// Parses the whole template into a tree of nodes.
fn parse(template: &str, source: &str) -> Result<Vec<Node>, PolicyError> {
    let mut stack = vec![Open {
        line: 0,
        header: None,
        body: Vec::new(),
    }];
    for (i, text) in source.lines().enumerate() {
        let line = i + 1;
        let node = match directive(template, line, text)? {
            Some(Directive::End) => {
                let open = match stack.pop() {
                    Some(open) if open.header.is_some() => open,
                    _ => return Err(parse_error(template, line, "`end` without `for` or `if`")),
                };
                match open.header {
                    Some(Directive::For { var, list }) => Node::For {
                        line: open.line,
                        var,
                        list,
                        body: open.body,
                    },
                    Some(Directive::If { flag }) => Node::If {
                        line: open.line,
                        flag,
                        body: open.body,
                    },
                    _ => return Err(parse_error(template, line, "`end` without `for` or `if`")),
                }
            }
            Some(header) => {
                stack.push(Open {
                    line,
                    header: Some(header),
                    body: Vec::new(),
                });
                continue;
            }
            None => Node::Text {
                line,
                segments: segments(template, line, text)?,
            },
        };
        if let Some(parent) = stack.last_mut() {
            parent.body.push(node);
        }
    }
    match stack.pop() {
        Some(open) if open.header.is_none() => Ok(open.body),
        Some(open) => Err(parse_error(
            template,
            open.line,
            "block is never closed by `# [[ end ]]`",
        )),
        None => Err(parse_error(
            template,
            0,
            "internal error: empty block stack",
        )),
    }
}

/// Recognises `# [[ for x in list ]]`, `# [[ if flag ]]` and `# [[ end ]]`.
fn directive(template: &str, line: usize, text: &str) -> Result<Option<Directive>, PolicyError> {
    let Some(rest) = text.trim().strip_prefix('#') else {
        return Ok(None);
    };
    let rest = rest.trim();
    let Some(inner) = rest
        .strip_prefix("[[")
        .and_then(|r| r.strip_suffix("]]"))
        .filter(|inner| !inner.contains("[[") && !inner.contains("]]"))
    else {
        return Ok(None);
    };
    let words: Vec<&str> = inner.split_whitespace().collect();
    let bad = |what: &str| Err(parse_error(template, line, what));
    match words.as_slice() {
        ["for", var, "in", list] if is_ident(var) && is_ident(list) => Ok(Some(Directive::For {
            var: (*var).to_owned(),
            list: (*list).to_owned(),
        })),
        ["for", ..] => bad("malformed directive, expected `# [[ for <name> in <list> ]]`"),
        ["if", flag] if is_ident(flag) => Ok(Some(Directive::If {
            flag: (*flag).to_owned(),
        })),
        ["if", ..] => bad("malformed directive, expected `# [[ if <flag> ]]`"),
        ["end"] => Ok(Some(Directive::End)),
        ["end", ..] => bad("malformed directive, expected `# [[ end ]]`"),
        _ => Ok(None),
    }
}

/// Splits a text line into literal text and `[[ name ]]` parameters.
fn segments(template: &str, line: usize, text: &str) -> Result<Vec<Segment>, PolicyError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("[[") {
        out.push(Segment::Literal(rest[..start].to_owned()));
        let after = &rest[start + 2..];
        let Some(end) = after.find("]]") else {
            return Err(parse_error(template, line, "`[[` without a closing `]]`"));
        };
        let name = after[..end].trim();
        if KEYWORDS.contains(&name) || name.starts_with("for ") || name.starts_with("if ") {
            return Err(parse_error(
                template,
                line,
                format!("directive `[[ {name} ]]` must be alone on a comment line"),
            ));
        }
        if !is_ident(name) {
            return Err(parse_error(
                template,
                line,
                format!("`[[ {name} ]]` is not a parameter name (lower case, digits, `_`)"),
            ));
        }
        out.push(Segment::Param(name.to_owned()));
        rest = &after[end + 2..];
    }
    if rest.contains("]]") {
        return Err(parse_error(template, line, "`]]` without an opening `[[`"));
    }
    out.push(Segment::Literal(rest.to_owned()));
    Ok(out)
}

/// Evaluates parsed nodes against the parameters.
struct Renderer<'a> {
    template: &'a str,
    values: BTreeMap<&'static str, Value>,
}

impl Renderer<'_> {
    fn problem(&self, line: usize, parameter: &str, problem: impl Into<String>) -> PolicyError {
        PolicyError::Render {
            template: self.template.to_owned(),
            line,
            parameter: parameter.to_owned(),
            problem: problem.into(),
        }
    }

    /// The value of `name`: the innermost loop variable first.
    fn lookup(
        &self,
        name: &str,
        scope: &[(String, String)],
        line: usize,
    ) -> Result<Value, PolicyError> {
        if let Some((_, v)) = scope.iter().rev().find(|(var, _)| var == name) {
            return Ok(Value::Text(v.clone()));
        }
        self.values
            .get(name)
            .cloned()
            .ok_or_else(|| self.problem(line, name, "is missing"))
    }

    fn eval(
        &self,
        nodes: &[Node],
        scope: &mut Vec<(String, String)>,
        out: &mut Vec<String>,
    ) -> Result<(), PolicyError> {
        for node in nodes {
            match node {
                Node::Text { line, segments } => out.push(self.text(*line, segments, scope)?),
                Node::For {
                    line,
                    var,
                    list,
                    body,
                } => {
                    let items = match self.lookup(list, scope, *line)? {
                        Value::List(items) if items.is_empty() => {
                            return Err(self.problem(*line, list, "is empty"));
                        }
                        Value::List(items) => items,
                        _ => return Err(self.problem(*line, list, "is not a list")),
                    };
                    for item in items {
                        scope.push((var.clone(), item));
                        let result = self.eval(body, scope, out);
                        scope.pop();
                        result?;
                    }
                }
                Node::If { line, flag, body } => match self.lookup(flag, scope, *line)? {
                    Value::Flag(true) => self.eval(body, scope, out)?,
                    Value::Flag(false) => {}
                    _ => return Err(self.problem(*line, flag, "is not a flag")),
                },
            }
        }
        Ok(())
    }

    fn text(
        &self,
        line: usize,
        segments: &[Segment],
        scope: &[(String, String)],
    ) -> Result<String, PolicyError> {
        let mut s = String::new();
        for segment in segments {
            match segment {
                Segment::Literal(text) => s.push_str(text),
                Segment::Param(name) => match self.lookup(name, scope, line)? {
                    Value::Text(v) => {
                        self.check_value(line, name, &v)?;
                        s.push_str(&v);
                    }
                    Value::List(_) => {
                        return Err(self.problem(line, name, "is a list: iterate it with `for`"));
                    }
                    Value::Flag(_) => {
                        return Err(self.problem(line, name, "is a flag: test it with `if`"));
                    }
                },
            }
        }
        Ok(s)
    }

    /// Rejects values that could change the policy's structure.
    fn check_value(&self, line: usize, name: &str, value: &str) -> Result<(), PolicyError> {
        if value.is_empty() {
            return Err(self.problem(line, name, "is empty"));
        }
        if let Some(c) = value.chars().find(|c| !allowed_char(*c)) {
            return Err(self.problem(
                line,
                name,
                format!(
                    "has the value {value:?}, whose character {c:?} is not allowed in a policy"
                ),
            ));
        }
        if value.starts_with('/') || value.split('/').any(|seg| seg == "..") || value.contains("//")
        {
            return Err(self.problem(
                line,
                name,
                format!("has the value {value:?}: no leading `/`, empty or `..` segment"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
