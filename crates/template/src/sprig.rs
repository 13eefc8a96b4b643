//! The Sprig functions ExternalSecret templates use, with Sprig's argument order (the piped
//! value last: `replace old new src`, `indent n s`, `default d v`), plus ESO's `toYaml` and
//! `fromYaml`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest as _;
use zeroize::Zeroizing;

use crate::decode;
use crate::error::{FuncError, FuncResult};
use crate::format::quote;
use crate::funcs::{int_arg, str_arg, wrong_type};
use crate::limits::{MAX_STRING, past_max_string};
use crate::value::{Bytes, Value, push};
use crate::yaml;

/// A function: minimum and maximum argument counts and the implementation.
type Func = (usize, usize, fn(Vec<Value>) -> FuncResult);

const MANY: usize = usize::MAX;

/// Looks up a Sprig function.
pub(crate) fn lookup(name: &str) -> Option<Func> {
    let f: Func = match name {
        "b64enc" => (1, 1, |a| {
            Ok(Value::string(STANDARD.encode(str_arg(&a, 0)?)))
        }),
        "b64dec" => (1, 1, b64dec),
        "upper" => (1, 1, |a| map_str(&a, 0, |s| s.to_uppercase())),
        "lower" => (1, 1, |a| map_str(&a, 0, |s| s.to_lowercase())),
        "title" => (1, 1, |a| map_str(&a, 0, title)),
        "trim" => (1, 1, |a| map_str(&a, 0, |s| s.trim().to_owned())),
        "nospace" => (1, 1, |a| {
            map_str(&a, 0, |s| {
                s.chars().filter(|c| !c.is_whitespace()).collect()
            })
        }),
        "trimAll" => (2, 2, |a| {
            with2(&a, |cut, s| s.trim_matches(|c| cut.contains(c)).to_owned())
        }),
        "trimPrefix" => (2, 2, |a| {
            with2(&a, |p, s| s.strip_prefix(p).unwrap_or(s).to_owned())
        }),
        "trimSuffix" => (2, 2, |a| {
            with2(&a, |p, s| s.strip_suffix(p).unwrap_or(s).to_owned())
        }),
        "contains" => (2, 2, |a| test2(&a, |sub, s| s.contains(sub))),
        "hasPrefix" => (2, 2, |a| test2(&a, |p, s| s.starts_with(p))),
        "hasSuffix" => (2, 2, |a| test2(&a, |p, s| s.ends_with(p))),
        "replace" => (3, 3, replace),
        "repeat" => (2, 2, repeat),
        "indent" => (2, 2, |a| indent(&a, false)),
        "nindent" => (2, 2, |a| indent(&a, true)),
        "sha256sum" => (1, 1, |a| {
            Ok(Value::string(hex::encode(sha2::Sha256::digest(str_arg(
                &a, 0,
            )?))))
        }),
        "quote" => (0, MANY, |a| Ok(quoted(&a, '"'))),
        "squote" => (0, MANY, |a| Ok(quoted(&a, '\''))),
        "cat" => (0, MANY, cat),
        "toString" => (1, 1, |a| Ok(Value::String(a[0].to_go_string()))),
        "default" => (1, 2, default),
        "empty" => (1, 1, |a| Ok(Value::Bool(!a[0].truthy()))),
        "coalesce" => (0, MANY, |a| {
            Ok(a.into_iter().find(Value::truthy).unwrap_or_default())
        }),
        "ternary" => (3, 3, ternary),
        "required" => (2, 2, required),
        "fail" => (1, 1, |a| Err(FuncError::new(message(&a)))),
        "toJson" | "mustToJson" => (1, 1, |a| json(&a[0], false, true)),
        "toPrettyJson" | "mustToPrettyJson" => (1, 1, |a| json(&a[0], true, true)),
        "toRawJson" | "mustToRawJson" => (1, 1, |a| json(&a[0], false, false)),
        "fromJson" | "mustFromJson" => (1, 1, from_json),
        "toYaml" => (1, 1, |a| yaml::to_yaml(&a[0])),
        "fromYaml" => (1, 1, |a| yaml::from_yaml(str_arg(&a, 0)?)),
        "get" => (2, 2, get),
        "hasKey" => (2, 2, has_key),
        "keys" => (1, MANY, keys),
        "list" => (0, MANY, |a| Ok(Value::List(a))),
        "dict" => (0, MANY, dict),
        "append" | "mustAppend" => (2, 2, append),
        "first" => (1, 1, |a| {
            Ok(list_of(&a[0])?.first().cloned().unwrap_or_default())
        }),
        "last" => (1, 1, |a| {
            Ok(list_of(&a[0])?.last().cloned().unwrap_or_default())
        }),
        "join" => (2, 2, join),
        "split" => (2, 2, |a| split(&a, true)),
        "splitList" => (2, 2, |a| split(&a, false)),
        "atoi" => (1, 1, |a| str_arg(&a, 0).map(|_| Value::Int(to_int(&a[0])))),
        "int" | "int64" => (1, 1, |a| Ok(Value::Int(to_int(&a[0])))),
        "float64" => (1, 1, |a| Ok(Value::Float(to_float(&a[0])))),
        "add" => (0, MANY, |a| {
            Ok(Value::Int(a.iter().map(to_int).fold(0, i64::wrapping_add)))
        }),
        "add1" => (1, 1, |a| Ok(Value::Int(to_int(&a[0]).wrapping_add(1)))),
        "sub" => (2, 2, |a| {
            Ok(Value::Int(to_int(&a[0]).wrapping_sub(to_int(&a[1]))))
        }),
        "mul" => (1, MANY, |a| {
            Ok(Value::Int(a.iter().map(to_int).fold(1, i64::wrapping_mul)))
        }),
        "div" => (2, 2, |a| arith(&a, i64::checked_div)),
        "mod" => (2, 2, |a| arith(&a, i64::checked_rem)),
        _ => return None,
    };
    Some(f)
}

/// The argument as text (copied into a zeroizing buffer; invalid UTF-8 is replaced).
fn text(args: &[Value], i: usize) -> Result<Zeroizing<String>, FuncError> {
    Ok(Zeroizing::new(
        String::from_utf8_lossy(str_arg(args, i)?).into_owned(),
    ))
}

fn string(s: String) -> Value {
    Value::String(Zeroizing::new(s.into_bytes()))
}

fn map_str(a: &[Value], i: usize, f: impl Fn(&str) -> String) -> FuncResult {
    Ok(string(f(&text(a, i)?)))
}

fn with2(a: &[Value], f: impl Fn(&str, &str) -> String) -> FuncResult {
    Ok(string(f(&text(a, 0)?, &text(a, 1)?)))
}

fn test2(a: &[Value], f: impl Fn(&str, &str) -> bool) -> FuncResult {
    Ok(Value::Bool(f(&text(a, 0)?, &text(a, 1)?)))
}

fn b64dec(a: Vec<Value>) -> FuncResult {
    STANDARD
        .decode(str_arg(&a, 0)?)
        .map(|v| Value::String(Zeroizing::new(v)))
        .map_err(|_| FuncError::new("input is not valid base64"))
}

/// Upper-cases the first letter of every word, like Go's `strings.Title` (which Sprig uses):
/// anything but a letter, digit or `_` starts a new word, so `it's` becomes `It'S`.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_letter = false;
    for c in s.chars() {
        if prev_letter {
            out.push(c);
        } else {
            out.extend(c.to_uppercase());
        }
        prev_letter = c.is_alphanumeric() || c == '_';
    }
    out
}

fn replace(a: Vec<Value>) -> FuncResult {
    let (old, new, src) = (text(&a, 0)?, text(&a, 1)?, text(&a, 2)?);
    if old.is_empty() {
        return Ok(string(src.to_string()));
    }
    // Sized first: `replace "a" <4 MiB> <4 MiB of a>` would otherwise build terabytes.
    let count = src.matches(old.as_str()).count();
    checked_len((src.len() - count * old.len()).saturating_add(count.saturating_mul(new.len())))?;
    Ok(string(src.replace(old.as_str(), &new)))
}

fn checked_len(n: usize) -> Result<usize, FuncError> {
    if n > MAX_STRING {
        return Err(FuncError::new(format!(
            "result would exceed {MAX_STRING} bytes"
        )));
    }
    Ok(n)
}

fn repeat(a: Vec<Value>) -> FuncResult {
    let n =
        usize::try_from(int_arg(&a, 0)?).map_err(|_| FuncError::new("negative repeat count"))?;
    let s = str_arg(&a, 1)?;
    let mut out = Bytes::new(Vec::with_capacity(checked_len(s.len().saturating_mul(n))?));
    for _ in 0..n {
        push(&mut out, s);
    }
    Ok(Value::String(out))
}

fn indent(a: &[Value], newline: bool) -> FuncResult {
    let n = usize::try_from(int_arg(a, 0)?).unwrap_or(0);
    let s = str_arg(a, 1)?;
    let lines = s.iter().filter(|b| **b == b'\n').count() + 1;
    checked_len(s.len().saturating_add(n.saturating_mul(lines)))?;
    let pad = " ".repeat(n);
    let mut out = Bytes::default();
    if newline {
        push(&mut out, b"\n");
    }
    for (i, line) in s.split(|b| *b == b'\n').enumerate() {
        if i > 0 {
            push(&mut out, b"\n");
        }
        push(&mut out, pad.as_bytes());
        push(&mut out, line);
    }
    Ok(Value::String(out))
}

/// Sprig's `quote`/`squote`: each non-nil argument quoted, separated by spaces.
fn quoted(a: &[Value], delim: char) -> Value {
    let mut out = Bytes::default();
    for (i, v) in a.iter().filter(|v| !matches!(v, Value::Null)).enumerate() {
        if past_max_string(&out) {
            break;
        }
        if i > 0 {
            push(&mut out, b" ");
        }
        let s = v.to_go_string();
        if delim == '"' {
            quote(&mut out, &s, '"');
        } else {
            push(&mut out, b"'");
            push(&mut out, &s);
            push(&mut out, b"'");
        }
    }
    Value::String(out)
}

fn cat(a: Vec<Value>) -> FuncResult {
    let mut out = Bytes::default();
    for (i, v) in a.iter().filter(|v| !matches!(v, Value::Null)).enumerate() {
        if past_max_string(&out) {
            break;
        }
        if i > 0 {
            push(&mut out, b" ");
        }
        v.write_go(&mut out);
    }
    Ok(Value::String(out))
}

fn default(mut a: Vec<Value>) -> FuncResult {
    let given = if a.len() > 1 { a.pop() } else { None };
    let fallback = a.pop().unwrap_or_default();
    Ok(given.filter(Value::truthy).unwrap_or(fallback))
}

fn ternary(mut a: Vec<Value>) -> FuncResult {
    let cond = match a.pop() {
        Some(Value::Bool(b)) => b,
        Some(other) => return Err(wrong_type("bool", &other)),
        None => false,
    };
    let vf = a.pop().unwrap_or_default();
    let vt = a.pop().unwrap_or_default();
    Ok(if cond { vt } else { vf })
}

/// The message of `fail` / `required` (the executor replaces a non-literal one).
fn message(a: &[Value]) -> String {
    match a.first() {
        Some(Value::String(s)) => String::from_utf8_lossy(s).into_owned(),
        _ => "failed".to_owned(),
    }
}

fn required(mut a: Vec<Value>) -> FuncResult {
    let v = a.pop().unwrap_or_default();
    match &v {
        Value::Null => Err(FuncError::new(message(&a))),
        Value::String(s) if s.is_empty() => Err(FuncError::new(message(&a))),
        _ => Ok(v),
    }
}

/// `toJson` and friends: Go's `encoding/json`, which escapes `<`, `>` and `&` in HTML mode.
fn json(v: &Value, pretty: bool, html: bool) -> FuncResult {
    let j = v.to_json();
    let s = if pretty {
        serde_json::to_vec_pretty(&j)
    } else {
        serde_json::to_vec(&j)
    };
    let s = Zeroizing::new(s.map_err(|_| FuncError::new("value cannot be encoded as JSON"))?);
    if !html {
        return Ok(Value::String(s));
    }
    let mut out = Bytes::new(Vec::with_capacity(s.len() + 16));
    for &b in s.iter() {
        match b {
            b'<' => push(&mut out, b"\\u003c"),
            b'>' => push(&mut out, b"\\u003e"),
            b'&' => push(&mut out, b"\\u0026"),
            _ => push(&mut out, &[b]),
        }
    }
    Ok(Value::String(out))
}

fn from_json(a: Vec<Value>) -> FuncResult {
    decode::json(str_arg(&a, 0)?)
}

fn map_of(v: &Value) -> Result<&BTreeMap<String, Value>, FuncError> {
    match v {
        Value::Map(m) => Ok(m),
        other => Err(wrong_type("map", other)),
    }
}

fn list_of(v: &Value) -> Result<&[Value], FuncError> {
    match v {
        Value::List(l) => Ok(l),
        other => Err(wrong_type("list", other)),
    }
}

fn get(a: Vec<Value>) -> FuncResult {
    let key = text(&a, 1)?;
    Ok(map_of(&a[0])?
        .get(key.as_str())
        .cloned()
        .unwrap_or_else(|| Value::string("")))
}

fn has_key(a: Vec<Value>) -> FuncResult {
    let key = text(&a, 1)?;
    Ok(Value::Bool(map_of(&a[0])?.contains_key(key.as_str())))
}

/// The keys of one or more maps, sorted (Sprig's order is Go's random map order).
fn keys(a: Vec<Value>) -> FuncResult {
    let mut all = Vec::new();
    for m in &a {
        all.extend(map_of(m)?.keys().cloned());
    }
    all.sort();
    Ok(Value::List(all.into_iter().map(Value::string).collect()))
}

fn dict(a: Vec<Value>) -> FuncResult {
    let mut m = BTreeMap::new();
    let mut it = a.into_iter();
    while let Some(k) = it.next() {
        let key = String::from_utf8_lossy(&k.to_go_string()).into_owned();
        m.insert(key, it.next().unwrap_or_else(|| Value::string("")));
    }
    Ok(Value::Map(m))
}

fn append(mut a: Vec<Value>) -> FuncResult {
    let v = a.pop().unwrap_or_default();
    let mut l = list_of(&a[0])?.to_vec();
    l.push(v);
    Ok(Value::List(l))
}

/// Sprig's `join sep list`: the non-nil elements as strings; a lone string is itself.
fn join(a: Vec<Value>) -> FuncResult {
    let sep = str_arg(&a, 0)?;
    let items: Vec<&Value> = match &a[1] {
        Value::List(l) => l.iter().filter(|v| !matches!(v, Value::Null)).collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    let mut out = Bytes::default();
    for (i, v) in items.iter().enumerate() {
        if past_max_string(&out) {
            break;
        }
        if i > 0 {
            push(&mut out, sep);
        }
        v.write_go(&mut out);
    }
    Ok(Value::String(out))
}

/// `split` gives a map `_0`, `_1`, …; `splitList` a list.
fn split(a: &[Value], as_map: bool) -> FuncResult {
    let (sep, s) = (text(a, 0)?, text(a, 1)?);
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::string(c.to_string())).collect()
    } else {
        s.split(sep.as_str()).map(Value::string).collect()
    };
    if !as_map {
        return Ok(Value::List(parts));
    }
    Ok(Value::Map(
        parts
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("_{i}"), v))
            .collect(),
    ))
}

/// Sprig's `toInt64` (via `cast`): floats truncate, strings parse as integers (a `.0`
/// fraction is allowed; anything else gives 0, as does `atoi` on a bad string), booleans
/// are 0 or 1, anything else 0.
fn to_int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        Value::Float(x) => *x as i64,
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => std::str::from_utf8(s)
            .ok()
            .map(|t| t.trim())
            .map(|t| t.strip_suffix(".0").unwrap_or(t))
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(0),
        _ => 0,
    }
}

fn to_float(v: &Value) -> f64 {
    match v {
        Value::Int(n) => *n as f64,
        Value::Float(x) => *x,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => std::str::from_utf8(s)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0.0),
        _ => 0.0,
    }
}

fn arith(a: &[Value], op: fn(i64, i64) -> Option<i64>) -> FuncResult {
    op(to_int(&a[0]), to_int(&a[1]))
        .map(Value::Int)
        .ok_or_else(|| FuncError::new("integer divide by zero"))
}
