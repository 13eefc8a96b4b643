//! [`load`] and [`parse`]: YAML text → validated [`BootstrapConfig`], with every error
//! naming its field path and, where the text allows, its line and column.

use std::path::Path;

use crate::check::looks_like_secret;
use crate::error::{ConfigError, Location};
use crate::locate::{locate, locate_exact};
use crate::schema::BootstrapConfig;

/// Reads, parses and validates the file at `path`.
pub fn load(path: &Path) -> Result<BootstrapConfig, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        origin: origin.clone(),
        source,
    })?;
    parse(&text, &origin)
}

/// Parses and validates `text`; `origin` (usually the file name) prefixes every message.
///
/// Returns [`ConfigError::Parse`] for the first shape error, or [`ConfigError::Validate`]
/// with every rule violation, each located in `text`.
pub fn parse(text: &str, origin: &str) -> Result<BootstrapConfig, ConfigError> {
    if text.trim().is_empty() {
        return Err(ConfigError::Parse {
            origin: origin.to_owned(),
            field: ".".to_owned(),
            location: None,
            message: "the document is empty".to_owned(),
        });
    }
    // Never collect this iterator: after a syntax error it yields failures forever.
    let mut documents = serde_norway::Deserializer::from_str(text);
    let Some(document) = documents.next() else {
        return Err(ConfigError::Parse {
            origin: origin.to_owned(),
            field: ".".to_owned(),
            location: None,
            message: "the document is empty".to_owned(),
        });
    };
    let config: BootstrapConfig =
        serde_path_to_error::deserialize(document).map_err(|err| parse_error(origin, text, err))?;
    if documents.next().is_some() {
        return Err(ConfigError::Parse {
            origin: origin.to_owned(),
            field: ".".to_owned(),
            location: None,
            message: "the file holds more than one YAML document (`---`); keep one".to_owned(),
        });
    }
    let mut problems = config.problems();
    if problems.is_empty() {
        return Ok(config);
    }
    for problem in &mut problems {
        problem.location = locate(text, &problem.field);
    }
    Err(ConfigError::Validate {
        origin: origin.to_owned(),
        problems,
    })
}

/// Turns a deserialization error into [`ConfigError::Parse`].
fn parse_error(
    origin: &str,
    text: &str,
    err: serde_path_to_error::Error<serde_norway::Error>,
) -> ConfigError {
    // `?` marks a segment serde_path_to_error could not name (e.g. after a syntax error).
    let path = err.path().to_string().replace(".?", "").replace("?", ".");
    let inner = err.into_inner();
    let mut location = inner.location().map(|at| Location {
        line: at.line(),
        column: at.column(),
    });
    let mut message = inner.to_string();
    if let Some(at) = &location {
        let suffix = format!(" at line {} column {}", at.line, at.column);
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message = stripped.to_owned();
        }
    }
    // serde_norway prefixes its own path, which may stop at an ancestor of `path`.
    if let Some(stripped) = ancestors(&path)
        .into_iter()
        .find_map(|prefix| message.strip_prefix(&format!("{prefix}: ")))
    {
        message = stripped.to_owned();
    }
    let mut field = if path == "." { String::new() } else { path };
    // serde names the offending key in the message. A missing field is the schema's name:
    // make it part of the path. An unknown key is text from the file: the path stays at
    // its parent, and the message shows the key only if it is plainly a misspelling.
    let unknown = message.starts_with("unknown field `");
    if unknown {
        // serde_path_to_error ends the path with the unknown key itself: drop it.
        if let Some(key) = named_key(&message) {
            if field == key {
                field.clear();
            } else if let Some(parent) = field.strip_suffix(&format!(".{key}")) {
                field.truncate(parent.len());
            }
        }
        message = unknown_field_message(&message);
    } else if let Some(name) = named_key(&message) {
        let already = field == name || field.ends_with(&format!(".{name}"));
        if !already {
            if !field.is_empty() {
                field.push('.');
            }
            field.push_str(name);
        }
    }
    if field.is_empty() {
        field.push('.');
    }
    // Errors raised after a node was read (an `EnvCheck` or `FluxAuth` with the wrong
    // keys) carry the position of an enclosing node; move forward to the node itself.
    // An unknown key keeps serde_norway's position (the key's), and a syntax error its own.
    if !unknown
        && let Some(exact) = locate_exact(text, &field)
        && location.is_none_or(|at| (exact.line, exact.column) > (at.line, at.column))
    {
        location = Some(exact);
    }
    if looks_like_secret(&field).is_some()
        || field
            .split(['.', '['])
            .any(|part| looks_like_secret(part).is_some())
        || named_key(&message).is_some_and(|name| looks_like_secret(name).is_some())
    {
        field = "(redacted)".to_owned();
    }
    ConfigError::Parse {
        origin: origin.to_owned(),
        field,
        location,
        message: redact(&message),
    }
}

/// serde's `` unknown field `key`, expected … `` rebuilt without the key, unless it is a
/// misspelling of an expected name ([`crate::suggest`]); the expected names are the schema's.
fn unknown_field_message(message: &str) -> String {
    let expected = crate::suggest::expected_names(message);
    let key = named_key(message).unwrap_or_default();
    let mut out = match crate::suggest::misspelt(key, &expected) {
        Some(name) => format!("unknown field `{key}` (did you mean `{name}`?)"),
        None => "unknown field (its name is not shown)".to_owned(),
    };
    if !expected.is_empty() {
        let list: Vec<String> = expected.iter().map(|n| format!("`{n}`")).collect();
        out.push_str(&format!(", expected one of {}", list.join(", ")));
    }
    out
}

/// The key named by an `unknown field` or `missing field` message.
fn named_key(message: &str) -> Option<&str> {
    ["unknown field `", "missing field `"]
        .iter()
        .find_map(|lead| message.strip_prefix(lead))
        .and_then(|rest| rest.split('`').next())
}

/// `a.b[2].c`, `a.b[2]`, `a.b`, `a`: the path and its ancestors, longest first.
fn ancestors(path: &str) -> Vec<&str> {
    let mut out = vec![path];
    for (i, c) in path.char_indices().rev() {
        if (c == '.' || c == '[') && i > 0 {
            out.push(&path[..i]);
        }
    }
    out
}

/// Removes what serde quotes from the file in messages: the unexpected value before
/// `, expected` (`string "…"`, `` integer `…` ``, `` unknown variant `…` ``), except the
/// schema's names of missing or duplicate fields and an unknown key already vetted by
/// [`unknown_field_message`]; and any backticked fragment that looks like a secret. A value
/// pasted into the wrong place is never echoed.
fn redact(message: &str) -> String {
    if message.starts_with("deserializing nested enum") {
        // serde_norway names the YAML tag from the file here.
        return "nested enums with YAML tags are not supported".to_owned();
    }
    let names_a_key = [
        "unknown field `",
        "unknown field (",
        "missing field `",
        "duplicate field `",
    ]
    .iter()
    .any(|lead| message.starts_with(lead));
    let (head, tail) = match message.find(", expected") {
        Some(i) => message.split_at(i),
        None => (message, ""),
    };
    let head = if names_a_key {
        head.to_owned()
    } else {
        redact_quoted(head)
    };
    let joined = format!("{head}{tail}");
    let mut parts: Vec<String> = joined.split('`').map(str::to_owned).collect();
    for (i, part) in parts.iter_mut().enumerate() {
        if i % 2 == 1 && looks_like_secret(part).is_some() {
            *part = "(redacted)".to_owned();
        }
    }
    parts.join("`")
}

/// Replaces every `"…"` and `` `…` `` fragment of `text` with `(redacted)`.
fn redact_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '"' && c != '`' {
            out.push(c);
            continue;
        }
        let mut escaped = false;
        for inner in chars.by_ref() {
            match inner {
                _ if escaped => escaped = false,
                '\\' if c == '"' => escaped = true,
                _ if inner == c => break,
                _ => {}
            }
        }
        out.push_str("(redacted)");
    }
    out
}
