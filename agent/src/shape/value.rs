//! Turning a KV secret's JSON into Secret bytes the way ESO's Vault provider does:
//! property selection (exact key, then a gjson-style dotted path), value rendering, decoding
//! strategies and the conversion of extracted key names.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ferry_api::external_secret::{ConversionStrategy, DecodingStrategy};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::json::{self, Numbers};

/// A buffer of secret bytes, wiped on drop.
pub(crate) type Bytes = Zeroizing<Vec<u8>>;

/// Where a property was found.
pub(crate) enum Found<'a> {
    /// An exact top-level key (ESO's first, backwards-compatible lookup).
    Key(&'a Value),
    /// A gjson path into nested objects and arrays.
    Path(&'a Value),
}

/// Why a property could not be resolved.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Nothing at that key or path.
    Missing,
    /// The path uses gjson syntax Ferry does not implement (wildcards, modifiers, queries).
    Unsupported,
}

/// Finds `property` in `data`: an exact top-level key wins; otherwise it is a gjson path of
/// `.`-separated components (`\` escapes the next character; a number indexes an array).
pub(crate) fn lookup<'a>(
    data: &'a Map<String, Value>,
    property: &str,
) -> Result<Found<'a>, Lookup> {
    if let Some(value) = data.get(property) {
        return Ok(Found::Key(value));
    }
    let components = parse_path(property).ok_or(Lookup::Unsupported)?;
    let mut current: Option<&Value> = None;
    for component in &components {
        let next = match current {
            None => data.get(component.as_str()),
            Some(Value::Object(map)) => map.get(component.as_str()),
            Some(Value::Array(items)) => index(component).and_then(|i| items.get(i)),
            Some(_) => None,
        };
        current = Some(next.ok_or(Lookup::Missing)?);
    }
    current.map(Found::Path).ok_or(Lookup::Missing)
}

/// Splits a gjson path; `None` when it uses syntax beyond plain keys and array indexes.
fn parse_path(path: &str) -> Option<Vec<String>> {
    let mut components = Vec::new();
    let mut current = String::new();
    let mut at_start = true;
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(escaped) = chars.next() {
                    current.push(escaped);
                }
            }
            '.' => {
                components.push(std::mem::take(&mut current));
                at_start = true;
                continue;
            }
            '*' | '?' | '|' => return None,
            '@' | '#' | '!' | '[' | '{' if at_start => return None,
            c => current.push(c),
        }
        at_start = false;
    }
    components.push(current);
    Some(components)
}

/// A gjson array index: plain decimal digits.
fn index(component: &str) -> Option<usize> {
    if component.is_empty() || !component.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    component.parse().ok()
}

/// The whole secret as ESO renders it without a property: `json.Marshal` of the data map.
pub(crate) fn whole(data: &Map<String, Value>) -> Bytes {
    let mut out = Bytes::default();
    json::write_map(&mut out, data, Numbers::Literal);
    out
}

/// A found property as ESO renders it for `data[]`.
pub(crate) fn render_found(found: &Found<'_>) -> Bytes {
    let mut out = Bytes::default();
    match found {
        // `GetByteValue` on the decoded Vault data, whose numbers are `json.Number`s.
        Found::Key(value) => render(&mut out, value, Numbers::Literal),
        // gjson's `Result.String()` over the marshalled data.
        Found::Path(Value::Number(n)) => json::write_gjson_number(&mut out, n),
        Found::Path(value) => render(&mut out, value, Numbers::Literal),
    }
    out
}

/// A value of an extracted secret as ESO renders it (`GetByteValue` after `json.Unmarshal`,
/// so every number is a `float64`).
pub(crate) fn render_extracted(value: &Value) -> Bytes {
    let mut out = Bytes::default();
    render(&mut out, value, Numbers::Float64);
    out
}

/// Strings as their bytes, objects and arrays as JSON, booleans as words, null as nothing.
fn render(out: &mut Vec<u8>, value: &Value, numbers: Numbers) {
    match value {
        Value::Null => {}
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => match numbers {
            Numbers::Literal => json::write_literal_number(out, n),
            Numbers::Float64 => json::write_plain_float(out, n.as_f64().unwrap_or_default()),
        },
        Value::Array(_) | Value::Object(_) => json::write_value(out, value, numbers),
    }
}

/// Decodes a value as `decodingStrategy` says; `Err` carries a message without the value.
pub(crate) fn decode(strategy: DecodingStrategy, value: Bytes) -> Result<Bytes, &'static str> {
    match strategy {
        DecodingStrategy::None => Ok(value),
        DecodingStrategy::Base64 => base64_decode(&STANDARD, &value).ok_or("not valid base64"),
        DecodingStrategy::Base64Url => {
            base64_decode(&URL_SAFE, &value).ok_or("not valid base64url")
        }
        DecodingStrategy::Auto => Ok(base64_decode(&STANDARD, &value)
            .or_else(|| base64_decode(&URL_SAFE, &value))
            .unwrap_or(value)),
    }
}

/// Go's `base64.StdEncoding`/`URLEncoding`: padding required, trailing bits tolerated.
const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_allow_trailing_bits(true)
    .with_decode_padding_mode(DecodePaddingMode::RequireCanonical);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);

fn base64_decode(engine: &GeneralPurpose, input: &[u8]) -> Option<Bytes> {
    // Go's decoder skips carriage returns and newlines anywhere in the input.
    let cleaned: Bytes = Zeroizing::new(
        input
            .iter()
            .copied()
            .filter(|b| *b != b'\r' && *b != b'\n')
            .collect(),
    );
    let mut out = Bytes::default();
    engine.decode_vec(cleaned.as_slice(), &mut out).ok()?;
    Some(out)
}

/// ESO's key conversion: every character other than a letter, a digit, `-`, `.` or `_`
/// becomes `_` (`Default`) or `_UXXXX_`, its code point in at least four hex digits
/// (`Unicode`).
pub(crate) fn convert_key(strategy: ConversionStrategy, key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for c in key.chars() {
        if c.is_alphabetic() || c.is_numeric() || matches!(c, '-' | '.' | '_') {
            out.push(c);
        } else {
            match strategy {
                ConversionStrategy::Default => out.push('_'),
                ConversionStrategy::Unicode => out.push_str(&format!("_U{:04x}_", c as u32)),
            }
        }
    }
    out
}

/// Why `key` cannot be a Kubernetes Secret key, if it cannot.
pub(crate) fn secret_key_problem(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        Some("must not be empty")
    } else if key.len() > 253 {
        Some("must be at most 253 characters")
    } else if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        Some("may only contain ASCII letters, digits, '-', '.' and '_'")
    } else if key == "." || key.starts_with("..") {
        Some("must not be '.' or start with '..'")
    } else {
        None
    }
}
