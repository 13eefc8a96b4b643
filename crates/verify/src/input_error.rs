//! Content-free descriptions of what is wrong with an allowlist (YAML) or a baseline (JSON).
//!
//! serde's messages quote the input they reject (`invalid type: string "…"`, ``unknown field
//! `…` ``), and an allowlist or baseline may be the very file a leaked token was pasted into.
//! So a parse error here is rebuilt from parts that come from the schema or the parser, never
//! from the file: the field or entry (only if every segment of its path is one of the
//! schema's names), the line and column, and the kind of problem with anything quoted
//! removed. Syntax errors are told apart by parsing twice: first into an untyped tree, where
//! only the YAML/JSON parser can fail (its messages are fixed texts), then into the schema.

use std::cell::Cell;
use std::fmt::Write as _;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};

/// A located, content-free problem: renders as `line L, column C: field: what`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The field path (`allow[2].reason`, `findings[0]`), when known.
    pub field: Option<String>,
    /// Line and column, both from 1, when the parser reported them.
    pub at: Option<(usize, usize)>,
    /// What is wrong, without any content from the file.
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some((line, column)) = self.at {
            write!(f, "line {line}, column {column}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.what)
    }
}

/// What a serde_norway error says, as a [`Problem`]. `names` are the schema's field names (a
/// path is shown only if made of them and indices); `own` are the messages of the crate's
/// own checks, kept verbatim. With `syntax`, the error came from parsing into an untyped
/// tree, so its text is the parser's own.
pub(crate) fn yaml(
    err: &serde_norway::Error,
    names: &[&str],
    own: &[&str],
    syntax: bool,
) -> Problem {
    let at = err.location().map(|l| (l.line(), l.column()));
    let mut text = err.to_string();
    if let Some((line, column)) = at {
        let suffix = format!(" at line {line} column {column}");
        if let Some(stripped) = text.strip_suffix(&suffix) {
            text.truncate(stripped.len());
        }
    }
    if syntax {
        let what = if text.starts_with("duplicate entry") {
            "duplicate key".to_owned()
        } else if text.contains('"') || text.contains('`') {
            "not valid YAML".to_owned()
        } else {
            text
        };
        return Problem {
            field: None,
            at,
            what,
        };
    }
    // serde_norway prefixes the path of the failing node: `allow[2].reason: …`.
    let (field, message) = match text.split_once(": ") {
        Some((path, rest)) if is_schema_path(path, names) => (Some(path.to_owned()), rest),
        _ => (None, text.as_str()),
    };
    let what = if own.contains(&message) {
        message.to_owned()
    } else {
        describe(message)
    };
    Problem { field, at, what }
}

/// What a serde_json error says, as a [`Problem`] for `field`.
pub(crate) fn json(err: &serde_json::Error, field: Option<String>) -> Problem {
    let at = (err.line() > 0).then(|| (err.line(), err.column()));
    let mut text = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    if let Some(stripped) = text.strip_suffix(&suffix) {
        text.truncate(stripped.len());
    }
    let what = match err.classify() {
        // serde_json's syntax messages are fixed texts (`expected value`, `trailing comma`).
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof
            if !text.contains('"') && !text.contains('`') =>
        {
            text
        }
        serde_json::error::Category::Data => describe(&text),
        _ => "not valid JSON".to_owned(),
    };
    Problem { field, at, what }
}

/// A sequence of `T` that records the index of the element being read in `failed`, so an
/// error can name the entry (`allow[3]`) even when the parser's own path stops at the list.
pub(crate) struct Indexed<'a, T> {
    failed: &'a Cell<Option<usize>>,
    element: PhantomData<T>,
}

impl<'a, T> Indexed<'a, T> {
    /// A seed recording into `failed` (left at `None` when the list was read whole).
    pub(crate) fn new(failed: &'a Cell<Option<usize>>) -> Self {
        Self {
            failed,
            element: PhantomData,
        }
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Indexed<'_, T> {
    type Value = Vec<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Indexed<'_, T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        loop {
            self.failed.set(Some(out.len()));
            match seq.next_element::<T>()? {
                Some(item) => out.push(item),
                None => break,
            }
        }
        self.failed.set(None);
        Ok(out)
    }
}

/// Whether `path` is made only of `names` and `[index]` segments.
fn is_schema_path(path: &str, names: &[&str]) -> bool {
    !path.is_empty()
        && path.split('.').all(|part| {
            let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
            if !names.contains(&name) {
                return false;
            }
            while let Some(after) = rest.strip_prefix('[') {
                let Some(close) = after.find(']') else {
                    return false;
                };
                if after[..close].is_empty() || !after[..close].bytes().all(|b| b.is_ascii_digit())
                {
                    return false;
                }
                rest = &after[close + 1..];
            }
            rest.is_empty()
        })
}

/// The kinds serde names before the value it quotes (`string "…"`, ``integer `…` ``).
const UNEXPECTED: &[&str] = &[
    "boolean",
    "integer",
    "floating point",
    "character",
    "string",
    "byte array",
    "unit value",
    "unit variant",
    "Option value",
    "newtype struct",
    "newtype variant",
    "tuple variant",
    "struct variant",
    "sequence",
    "map",
    "enum",
    "null",
];

/// serde's data-error message with everything taken from the input removed: the kind of
/// problem, the kind of value found (never the value), the field names serde derives from
/// the schema (`missing field `reason``), and the schema's expectation.
pub(crate) fn describe(message: &str) -> String {
    let (head, expected) = match message.find(", expected ") {
        Some(i) => (&message[..i], Some(&message[i + 2..])),
        None => (message, None),
    };
    let mut out = if let Some(rest) = head.strip_prefix("invalid type: ") {
        format!("invalid type: {}", found(rest))
    } else if let Some(rest) = head.strip_prefix("invalid value: ") {
        format!("invalid value: {}", found(rest))
    } else if head.starts_with("invalid length ")
        && head["invalid length ".len()..]
            .bytes()
            .all(|b| b.is_ascii_digit())
    {
        head.to_owned()
    } else if head.starts_with("unknown field") {
        "unknown field (its name is not shown)".to_owned()
    } else if head.starts_with("unknown variant") {
        "unknown variant (its name is not shown)".to_owned()
    } else if let Some(name) = schema_name(head, "missing field `") {
        format!("missing field `{name}`")
    } else if let Some(name) = schema_name(head, "duplicate field `") {
        format!("duplicate field `{name}`")
    } else {
        "malformed value".to_owned()
    };
    // The expectation comes from the schema (`a string`, `one of `rule`, `path``); a
    // double quote would mean it echoes something else, so it is then left out.
    if let Some(expected) = expected.filter(|e| !e.contains('"')) {
        let _ = write!(out, ", {expected}");
    }
    out
}

/// The kind of value an `invalid type`/`invalid value` message found, without the value.
fn found(rest: &str) -> &'static str {
    UNEXPECTED
        .iter()
        .find(|kind| rest.starts_with(*kind))
        .copied()
        .unwrap_or("a value")
}

/// The name after `lead` in `` lead name` `` when it is an identifier (serde derive puts the
/// schema's field name there).
fn schema_name<'a>(head: &'a str, lead: &str) -> Option<&'a str> {
    let name = head.strip_prefix(lead)?.strip_suffix('`')?;
    (!name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    .then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_lose_what_they_quote() {
        let planted = "ghp_QUOTEDsecret0123456789";
        let cases = [
            (
                format!("invalid type: string \"{planted}\", expected a sequence"),
                "invalid type: string, expected a sequence",
            ),
            (
                format!("invalid value: integer `7{planted}`, expected u32"),
                "invalid value: integer, expected u32",
            ),
            (
                format!("unknown field `{planted}`, expected one of `rule`, `path`"),
                "unknown field (its name is not shown), expected one of `rule`, `path`",
            ),
            (
                format!("unknown variant `{planted}`, expected `git` or `file`"),
                "unknown variant (its name is not shown), expected `git` or `file`",
            ),
            (
                "missing field `reason`".to_owned(),
                "missing field `reason`",
            ),
            (format!("missing field `{planted}!`"), "malformed value"),
            (
                format!("deserializing nested enum in !{planted} from YAML"),
                "malformed value",
            ),
            (
                format!("invalid type: string \"x\", expected \"{planted}\""),
                "invalid type: string",
            ),
        ];
        for (message, want) in cases {
            assert_eq!(describe(&message), want);
        }
    }

    #[test]
    fn paths_are_shown_only_when_made_of_schema_names() {
        let names = ["allow", "rule", "reason"];
        assert!(is_schema_path("allow[2].reason", &names));
        assert!(is_schema_path("allow", &names));
        assert!(!is_schema_path("allow[x]", &names));
        assert!(!is_schema_path("ghp_abc[1]", &names));
        assert!(!is_schema_path("invalid type", &names));
        assert!(!is_schema_path("", &names));
    }
}
