//! JSON and number rendering byte-for-byte like Go's `encoding/json`, which is what ESO's
//! Vault provider uses (`json.Marshal`: sorted keys, compact, `<`, `>`, `&`, U+2028 and
//! U+2029 escaped) and `strconv.FormatFloat(f, 'f', -1, 64)` for bare numbers.
//!
//! Vault's Go client decodes numbers as `json.Number`, so ESO re-emits the number exactly as
//! Vault stored it. serde_json (without `arbitrary_precision`) keeps integers exactly but
//! turns other numbers into `f64`; those are written the way Go writes a `float64`, which is
//! the literal itself whenever the writer used a shortest round-trip form (Go, JavaScript).

use serde_json::{Map, Number, Value};
use zeroize::Zeroize;

/// How numbers inside JSON output are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Numbers {
    /// As Vault stored them (`json.Number`): integers exactly, other numbers like a Go
    /// `float64`. Used for `data[]`.
    Literal,
    /// Every number converted to `float64` first, as ESO's `GetSecretMap` does when it
    /// re-parses the secret with `json.Unmarshal`. Used for `dataFrom[].extract`.
    Float64,
}

/// Appends `value` as compact JSON.
pub(crate) fn write_value(out: &mut Vec<u8>, value: &Value, numbers: Numbers) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => write_json_number(out, n, numbers),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item, numbers);
            }
            out.push(b']');
        }
        Value::Object(map) => write_map(out, map, numbers),
    }
}

/// Appends `map` as a compact JSON object; keys come out sorted bytewise, like Go's.
pub(crate) fn write_map(out: &mut Vec<u8>, map: &Map<String, Value>, numbers: Numbers) {
    out.push(b'{');
    // serde_json's `Map` is a `BTreeMap<String, _>` here (no `preserve_order`), whose order
    // is the bytewise order Go's encoder sorts map keys in.
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, key);
        out.push(b':');
        write_value(out, value, numbers);
    }
    out.push(b'}');
}

/// Appends a JSON string literal with Go's escaping (HTML-safe).
fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\u{2028}' => out.extend_from_slice(b"\\u2028"),
            '\u{2029}' => out.extend_from_slice(b"\\u2029"),
            c if c < ' ' || c == '<' || c == '>' || c == '&' => {
                let b = c as u32;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[((b >> 4) & 0xf) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                buf.zeroize();
            }
        }
    }
    out.push(b'"');
}

/// Appends a number as it appears inside JSON.
fn write_json_number(out: &mut Vec<u8>, n: &Number, numbers: Numbers) {
    match (numbers, exact_integer(n)) {
        (Numbers::Literal, Some(text)) => push_text(out, text),
        _ => write_go_json_float(out, as_f64(n)),
    }
}

/// Appends a number the way ESO renders a `json.Number` value on its own (its literal text).
pub(crate) fn write_literal_number(out: &mut Vec<u8>, n: &Number) {
    write_json_number(out, n, Numbers::Literal);
}

/// Appends a number the way gjson's `Result.String()` renders it: integers as written,
/// anything else like `strconv.FormatFloat(f, 'f', -1, 64)` (never an exponent).
pub(crate) fn write_gjson_number(out: &mut Vec<u8>, n: &Number) {
    match exact_integer(n) {
        Some(text) => push_text(out, text),
        None => write_plain_float(out, as_f64(n)),
    }
}

/// Appends a `float64` like `strconv.FormatFloat(f, 'f', -1, 64)`, which is what ESO does for
/// numbers of an extracted secret.
pub(crate) fn write_plain_float(out: &mut Vec<u8>, f: f64) {
    // Rust's `Display` for f64 is the shortest round-trip form without an exponent, as is
    // Go's 'f' format with precision -1.
    push_text(out, f.to_string());
}

/// Appends a `float64` like Go's JSON encoder: shortest form, 'f' notation unless the
/// magnitude is below 1e-6 or at least 1e21, then 'e' notation as in `1e+21` or `1.5e-7`.
fn write_go_json_float(out: &mut Vec<u8>, f: f64) {
    let abs = f.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        return write_plain_float(out, f);
    }
    let mut text = format!("{f:e}");
    match text.split_once('e') {
        Some((mantissa, exponent)) => {
            out.extend_from_slice(mantissa.as_bytes());
            out.push(b'e');
            match exponent.strip_prefix('-') {
                Some(digits) => {
                    out.push(b'-');
                    out.extend_from_slice(digits.as_bytes());
                }
                None => {
                    out.push(b'+');
                    if exponent.len() < 2 {
                        out.push(b'0');
                    }
                    out.extend_from_slice(exponent.as_bytes());
                }
            }
        }
        None => out.extend_from_slice(text.as_bytes()),
    }
    text.zeroize();
}

/// The decimal text of an integer that serde_json holds exactly.
fn exact_integer(n: &Number) -> Option<String> {
    if let Some(u) = n.as_u64() {
        Some(u.to_string())
    } else {
        n.as_i64().map(|i| i.to_string())
    }
}

fn as_f64(n: &Number) -> f64 {
    n.as_f64().unwrap_or_default()
}

/// Appends `text` and wipes it.
fn push_text(out: &mut Vec<u8>, mut text: String) {
    out.extend_from_slice(text.as_bytes());
    text.zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enc(v: &Value, numbers: Numbers) -> String {
        let mut out = Vec::new();
        write_value(&mut out, v, numbers);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn go_string_escaping() {
        let v = json!("<a href=\"x\">&</a>\u{2028}\u{2029}\\\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}é😀");
        assert_eq!(
            enc(&v, Numbers::Literal),
            "\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u003c/a\\u003e\\u2028\\u2029\\\\\\n\\r\\t\\b\\f\\u0001\\u001f\u{7f}é😀\""
        );
    }

    #[test]
    fn go_float_encoding() {
        let cases: &[(f64, &str)] = &[
            (1.5, "1.5"),
            (2.0, "2"),
            (-0.25, "-0.25"),
            (0.000001, "0.000001"),
            (0.0000001, "1e-7"),
            (1.5e-10, "1.5e-10"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (-1.2345e300, "-1.2345e+300"),
            (0.1 + 0.2, "0.30000000000000004"),
        ];
        for (f, want) in cases {
            let mut out = Vec::new();
            write_go_json_float(&mut out, *f);
            assert_eq!(String::from_utf8(out).unwrap_or_default(), *want, "{f}");
        }
    }

    #[test]
    fn number_modes() {
        let v = json!({"i": 12345678901234567890u64, "n": -7, "f": 1e21});
        assert_eq!(
            enc(&v, Numbers::Literal),
            r#"{"f":1e+21,"i":12345678901234567890,"n":-7}"#
        );
        assert_eq!(
            enc(&v, Numbers::Float64),
            r#"{"f":1e+21,"i":12345678901234567000,"n":-7}"#
        );
        let mut out = Vec::new();
        if let Value::Number(n) = json!(1e21) {
            write_gjson_number(&mut out, &n);
        }
        assert_eq!(out, b"1000000000000000000000");
    }
}
