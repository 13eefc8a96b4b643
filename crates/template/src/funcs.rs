//! The function table: Go's builtins (here) and the Sprig subset (in `sprig`), with arity
//! checks. Errors name the function and the types involved, never an argument's value.

use crate::error::{FuncError, FuncResult};
use crate::format;
use crate::limits::{BYTES_PER_STEP, measure, past_max_string};
use crate::sprig;
use crate::value::{Bytes, Value, push, push_hex};

/// A function: minimum and maximum argument counts and the implementation.
type Func = (usize, usize, fn(Vec<Value>) -> FuncResult);

const MANY: usize = usize::MAX;

/// Looks up a function by name (`and` and `or` are evaluated lazily by the executor).
fn lookup(name: &str) -> Option<Func> {
    let f: Func = match name {
        "not" => (1, 1, |a| Ok(Value::Bool(!a[0].truthy()))),
        "len" => (1, 1, len),
        "index" => (1, MANY, index),
        "slice" => (1, 4, slice),
        "eq" => (2, MANY, eq),
        "ne" => (2, 2, |a| Ok(Value::Bool(!equal(&a[0], &a[1])?))),
        "lt" => (2, 2, |a| order(&a, |o| o.is_lt())),
        "le" => (2, 2, |a| order(&a, |o| o.is_le())),
        "gt" => (2, 2, |a| order(&a, |o| o.is_gt())),
        "ge" => (2, 2, |a| order(&a, |o| o.is_ge())),
        "print" => (0, MANY, |a| Ok(Value::String(format::sprint(&a)))),
        "println" => (0, MANY, |a| Ok(Value::String(format::sprintln(&a)))),
        "printf" => (1, MANY, format::printf),
        "html" => (0, MANY, |a| Ok(escape(&a, html_escape))),
        "js" => (0, MANY, |a| Ok(escape(&a, js_escape))),
        "urlquery" => (0, MANY, |a| Ok(escape(&a, url_escape))),
        _ => return sprig::lookup(name),
    };
    Some(f)
}

/// Whether `name` is a known function.
pub(crate) fn exists(name: &str) -> bool {
    name == "and" || name == "or" || lookup(name).is_some()
}

/// Steps a call costs before it runs, on top of the copies of its arguments and result
/// (which the executor charges): for functions much slower per byte or per value than a
/// copy. The factors come from `tests::worst` (an optimized build takes roughly 50–150 ns a
/// step for every function).
pub(crate) fn work(name: &str, args: &[Value]) -> u64 {
    let text = |i: usize| match args.get(i) {
        Some(Value::String(s)) => s.as_slice(),
        _ => &[],
    };
    let bytes = |i: usize| text(i).len() as u64;
    let weight = |i: usize| args.get(i).map_or(0, |v| measure(v).weight);
    match name {
        // libyaml takes 200–700 ns a byte, more with flow nesting. Input nested too deep is
        // refused after a linear scan, before libyaml runs.
        "fromYaml" => match crate::yaml_scan::checked_depth(text(0)) {
            Ok(depth) => bytes(0).saturating_mul(3 + depth as u64 / 25),
            Err(_) => 0,
        },
        "fromJson" | "mustFromJson" => bytes(0) / 4,
        "toJson" | "toPrettyJson" | "toRawJson" | "mustToJson" | "mustToPrettyJson"
        | "mustToRawJson" => 2 * weight(0),
        // serde_norway's emitter takes about 500 ns a value.
        "toYaml" => 6 * weight(0),
        "keys" => 2 * (0..args.len()).map(weight).sum::<u64>(),
        // One value (a map entry for `split`) per part.
        "split" | "splitList" => {
            let sep = bytes(0).max(1);
            let parts = bytes(1) / sep + 1;
            if name == "split" { 3 * parts } else { parts }
        }
        // Unicode case mapping a character at a time.
        "upper" | "lower" | "title" | "nospace" => bytes(0) / BYTES_PER_STEP,
        // Every byte of the text against every character to trim.
        "trimAll" => bytes(1).saturating_mul(bytes(0)) / BYTES_PER_STEP,
        // Three copies of the text, then a search.
        "replace" => (bytes(0) + bytes(1) + 2 * bytes(2)) / BYTES_PER_STEP,
        // A padding copy per line.
        "indent" | "nindent" => {
            let lines = text(1).iter().filter(|b| **b == b'\n').count() as u64;
            bytes(1) / BYTES_PER_STEP + lines
        }
        _ => 0,
    }
}

/// Calls `name` with `args`, checking the argument count first.
pub(crate) fn call(name: &str, args: Vec<Value>) -> FuncResult {
    let Some((min, max, f)) = lookup(name) else {
        return Err(FuncError::new("function not defined"));
    };
    let n = args.len();
    if n < min || n > max {
        let want = match (min, max) {
            (a, b) if a == b => a.to_string(),
            (a, MANY) => format!("at least {a}"),
            (a, b) => format!("{a} to {b}"),
        };
        return Err(FuncError::new(format!(
            "wrong number of args: want {want} got {n}"
        )));
    }
    f(args)
}

/// The argument as a string, or a type error.
pub(crate) fn str_arg(args: &[Value], i: usize) -> Result<&[u8], FuncError> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(wrong_type("string", other)),
        None => Err(FuncError::new("missing argument")),
    }
}

/// The argument as an integer (an integral float is accepted).
pub(crate) fn int_arg(args: &[Value], i: usize) -> Result<i64, FuncError> {
    match args.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        Some(Value::Float(x)) if x.fract() == 0.0 => Ok(*x as i64),
        Some(other) => Err(wrong_type("int", other)),
        None => Err(FuncError::new("missing argument")),
    }
}

/// "wrong type for value; expected X; got Y".
pub(crate) fn wrong_type(expected: &str, got: &Value) -> FuncError {
    let got = got.type_name();
    FuncError::new(format!(
        "wrong type for value; expected {expected}; got {got}"
    ))
}

fn len(a: Vec<Value>) -> FuncResult {
    let n = match &a[0] {
        Value::String(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.len(),
        Value::Null => return Err(FuncError::new("len of nil pointer")),
        other => return Err(FuncError::new(format!("len of type {}", other.type_name()))),
    };
    Ok(Value::Int(n as i64))
}

fn index(a: Vec<Value>) -> FuncResult {
    let mut it = a.into_iter();
    let mut cur = it.next().unwrap_or_default();
    for key in it {
        cur = match (cur, &key) {
            (Value::Map(mut m), Value::String(k)) => {
                let k = String::from_utf8_lossy(k);
                m.remove(k.as_ref()).unwrap_or_default()
            }
            (Value::Map(_), other) => return Err(wrong_type("string", other)),
            (Value::List(mut l), _) => {
                let i = position(&key, l.len())?;
                l.swap_remove(i)
            }
            (Value::String(s), _) => Value::Int(i64::from(s[position(&key, s.len())?])),
            (Value::Null, _) => return Err(FuncError::new("index of untyped nil")),
            (other, _) => {
                let t = other.type_name();
                return Err(FuncError::new(format!("can't index item of type {t}")));
            }
        };
    }
    Ok(cur)
}

/// An index into a sequence of `len`, checked.
fn position(key: &Value, len: usize) -> Result<usize, FuncError> {
    let i = int_arg(std::slice::from_ref(key), 0)?;
    usize::try_from(i)
        .ok()
        .filter(|i| *i < len)
        .ok_or_else(|| FuncError::new("index out of range"))
}

fn slice(a: Vec<Value>) -> FuncResult {
    let mut it = a.into_iter();
    let item = it.next().unwrap_or_default();
    let bounds: Vec<i64> = it
        .map(|v| int_arg(std::slice::from_ref(&v), 0))
        .collect::<Result<_, _>>()?;
    let len = match &item {
        Value::String(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Null => return Err(FuncError::new("slice of untyped nil")),
        other => {
            let t = other.type_name();
            return Err(FuncError::new(format!("can't slice item of type {t}")));
        }
    };
    let idx = |i: usize, default: usize| -> Result<usize, FuncError> {
        let b = bounds.get(i).copied().map_or(Ok(default), usize::try_from);
        b.ok()
            .filter(|b| *b <= len)
            .ok_or_else(|| FuncError::new("index out of range"))
    };
    let (lo, hi) = (idx(0, 0)?, idx(1, len)?);
    if lo > hi {
        return Err(FuncError::new("invalid slice index: low above high"));
    }
    match item {
        Value::String(_) if bounds.len() == 3 => {
            Err(FuncError::new("cannot 3-index slice a string"))
        }
        Value::String(s) => Ok(Value::string(&s[lo..hi])),
        Value::List(l) => Ok(Value::List(l[lo..hi].to_vec())),
        _ => Ok(Value::Null),
    }
}

/// Go's `eq` on basic values. Numbers compare by value whether int or float (Go refuses to
/// compare an int with a float); nil equals only nil.
pub(crate) fn equal(a: &Value, b: &Value) -> Result<bool, FuncError> {
    Ok(match (a, b) {
        (Value::String(x), Value::String(y)) => x.as_slice() == y.as_slice(),
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::List(_) | Value::Map(_), _) | (_, Value::List(_) | Value::Map(_)) => {
            return Err(FuncError::new("non-comparable type"));
        }
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => return Err(FuncError::new("incompatible types for comparison")),
        },
    })
}

fn eq(a: Vec<Value>) -> FuncResult {
    for other in &a[1..] {
        if equal(&a[0], other)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn order(a: &[Value], test: fn(std::cmp::Ordering) -> bool) -> FuncResult {
    let ord = match (&a[0], &a[1]) {
        (Value::String(x), Value::String(y)) => x.as_slice().cmp(y.as_slice()),
        (x, y) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x
                .partial_cmp(&y)
                .ok_or_else(|| FuncError::new("invalid comparison of NaN"))?,
            _ if x.type_name() == y.type_name() => {
                return Err(FuncError::new("invalid type for comparison"));
            }
            _ => return Err(FuncError::new("incompatible types for comparison")),
        },
    };
    Ok(Value::Bool(test(ord)))
}

/// Go's escapers take the single string argument as is, or `fmt.Sprint` of the arguments.
fn escape(a: &[Value], f: fn(&mut Bytes, u8)) -> Value {
    let joined;
    let text: &[u8] = match a {
        [Value::String(s)] => s,
        _ => {
            joined = format::sprint(a);
            &joined
        }
    };
    let mut out = Bytes::default();
    for &b in text {
        f(&mut out, b);
        if past_max_string(&out) {
            break;
        }
    }
    Value::String(out)
}

fn html_escape(out: &mut Bytes, b: u8) {
    let rep: &[u8] = match b {
        b'"' => b"&#34;",
        b'\'' => b"&#39;",
        b'&' => b"&amp;",
        b'<' => b"&lt;",
        b'>' => b"&gt;",
        0 => "\u{FFFD}".as_bytes(),
        _ => std::slice::from_ref(&b),
    };
    push(out, rep);
}

fn js_escape(out: &mut Bytes, b: u8) {
    match b {
        b'\\' => push(out, b"\\\\"),
        b'\'' => push(out, b"\\'"),
        b'"' => push(out, b"\\\""),
        b'<' | b'>' | b'&' | b'=' | 0..0x20 => push_hex(out, b"\\u", u32::from(b), 4, true),
        _ => push(out, &[b]),
    }
}

fn url_escape(out: &mut Bytes, b: u8) {
    match b {
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => push(out, &[b]),
        b' ' => push(out, b"+"),
        _ => push_hex(out, b"%", u32::from(b), 2, true),
    }
}
