//! [`Value`]: the data a template works on, with Go's truthiness and printing rules.
//!
//! Strings are byte strings (as in Go) held in zeroizing buffers; `Debug` never shows them.

use std::collections::BTreeMap;
use std::fmt;

use zeroize::Zeroizing;

/// A zeroizing byte buffer: the storage of every string value and of rendered output.
pub type Bytes = Zeroizing<Vec<u8>>;

/// Template data, as Go's `interface{}` values seen by `text/template`.
///
/// Strings are held in [`Zeroizing`] buffers, so they are wiped when the value is dropped
/// (lists and maps drop, and so wipe, their elements). Map keys and numbers are not wiped:
/// they are names and counts, not secrets. `Debug` prints the shape but never a string.
#[derive(Clone, Default)]
pub enum Value {
    /// Go's `nil`; printed as `<no value>` by an action.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit signed integer (Go's `int`).
    Int(i64),
    /// A 64-bit float (Go's `float64`; numbers decoded from JSON and YAML are floats, as in Go).
    Float(f64),
    /// A byte string, usually UTF-8; zeroized on drop.
    String(Bytes),
    /// A list (Go's `[]interface{}`).
    List(Vec<Value>),
    /// A map with sorted keys (Go's `map[string]interface{}`).
    Map(BTreeMap<String, Value>),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Bool(b) => write!(f, "Bool({b})"),
            Value::Int(i) => write!(f, "Int({i})"),
            Value::Float(x) => write!(f, "Float({x})"),
            Value::String(s) => write!(f, "String(<redacted, {} bytes>)", s.len()),
            Value::List(l) => f.debug_list().entries(l).finish(),
            Value::Map(m) => f.debug_map().entries(m).finish(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::string(s)
    }
}

impl Value {
    /// A string value holding a copy of `bytes`.
    pub fn string(bytes: impl AsRef<[u8]>) -> Value {
        Value::String(Zeroizing::new(bytes.as_ref().to_vec()))
    }

    /// The template data ESO gives a template: a map from each secret key to its value as a
    /// string. The buffers are moved in, not copied.
    pub fn from_secret_map(map: impl IntoIterator<Item = (String, Zeroizing<Vec<u8>>)>) -> Value {
        Value::Map(
            map.into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )
    }

    /// Converts decoded JSON; numbers become floats, as Go's `encoding/json` does.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::string(s),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Converts to JSON the way Go's `encoding/json` would marshal it. Invalid UTF-8 in a
    /// string is replaced, as Go does. The result is not zeroized: serialize and drop it.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(x) => float_json(*x),
            Value::String(s) => serde_json::Value::String(String::from_utf8_lossy(s).into_owned()),
            Value::List(l) => serde_json::Value::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// Go's notion of truth: false, 0, nil and empty strings, lists and maps are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(x) => *x != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
        }
    }

    /// The type's name, for error messages (never the value).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// The value as a number, if it is one.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(x) => Some(*x),
            _ => None,
        }
    }

    /// Appends the value as Go's `fmt` `%v` prints it (`<nil>` for nil).
    pub(crate) fn write_go(&self, out: &mut Bytes) {
        match self {
            Value::Null => push(out, b"<nil>"),
            Value::Bool(b) => push(out, if *b { b"true" } else { b"false" }),
            Value::Int(i) => push(out, i.to_string().as_bytes()),
            Value::Float(x) => push(out, format_float_g(*x).as_bytes()),
            Value::String(s) => push(out, s),
            Value::List(l) => {
                push(out, b"[");
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        push(out, b" ");
                    }
                    v.write_go(out);
                }
                push(out, b"]");
            }
            Value::Map(m) => {
                push(out, b"map[");
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        push(out, b" ");
                    }
                    push(out, k.as_bytes());
                    push(out, b":");
                    v.write_go(out);
                }
                push(out, b"]");
            }
        }
    }

    /// The value printed with `%v` into a new zeroizing buffer (Sprig's `toString`).
    pub(crate) fn to_go_string(&self) -> Bytes {
        if let Value::String(s) = self {
            return s.clone();
        }
        let mut out = Bytes::default();
        self.write_go(&mut out);
        out
    }
}

/// Appends `bytes`, moving to a larger zeroizing buffer when full, so that no stale copy of
/// the contents is left in freed memory by a reallocation.
pub(crate) fn push(out: &mut Bytes, bytes: &[u8]) {
    let needed = out.len() + bytes.len();
    if needed > out.capacity() {
        let mut bigger = Vec::with_capacity(needed.max(out.capacity() * 2).max(64));
        bigger.extend_from_slice(out);
        *out = Zeroizing::new(bigger);
    }
    out.extend_from_slice(bytes);
}

/// Appends `prefix` and `code` as `digits` hex digits (without `format!`, which costs an
/// allocation per escaped byte).
pub(crate) fn push_hex(out: &mut Bytes, prefix: &[u8], code: u32, digits: u32, upper: bool) {
    let table: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut buf = [0u8; 16];
    let len = prefix.len().min(8);
    buf[..len].copy_from_slice(&prefix[..len]);
    let mut n = len;
    for shift in (0..digits.min(8)).rev() {
        buf[n] = table[((code >> (shift * 4)) & 0xf) as usize];
        n += 1;
    }
    push(out, &buf[..n]);
}

/// A float as JSON, as Go writes it: integral values without a fraction.
fn float_json(x: f64) -> serde_json::Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        serde_json::Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)
    }
}

/// Go's `%v` for a float64 (`strconv.FormatFloat(x, 'g', -1, 64)`): the shortest
/// representation, in exponent form when the decimal exponent is below -4 or at least 6.
pub(crate) fn format_float_g(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. `1.5e6`.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{x}")
    }
}
