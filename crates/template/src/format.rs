//! Go's `fmt` as templates use it: `print`, `println`, `printf` (verbs `%v %s %d %q %x %X
//! %o %b %c %f %F %e %E %g %G %t %%` with flags, width and precision) and `%q` quoting.
//!
//! Everything is written into zeroizing buffers; output may contain values, errors never.

use crate::error::FuncResult;
use crate::funcs::str_arg;
use crate::limits::past_max_string;
use crate::value::{Bytes, Value, format_float_g, push, push_hex};

/// `fmt.Sprint`: operands concatenated, with a space between two operands when neither is a
/// string.
pub(crate) fn sprint(args: &[Value]) -> Bytes {
    let mut out = Bytes::default();
    for (i, a) in args.iter().enumerate() {
        let is_str = |v: &Value| matches!(v, Value::String(_));
        if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
            push(&mut out, b" ");
        }
        a.write_go(&mut out);
        if past_max_string(&out) {
            break;
        }
    }
    out
}

/// `fmt.Sprintln`: operands separated by spaces, then a newline.
pub(crate) fn sprintln(args: &[Value]) -> Bytes {
    let mut out = Bytes::default();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            push(&mut out, b" ");
        }
        a.write_go(&mut out);
        if past_max_string(&out) {
            break;
        }
    }
    push(&mut out, b"\n");
    out
}

/// Go's `strconv.Quote` of a byte string (invalid UTF-8 bytes become `\xNN`).
pub(crate) fn quote(out: &mut Bytes, s: &[u8], delim: char) {
    let mut buf = [0u8; 4];
    push(out, delim.encode_utf8(&mut buf).as_bytes());
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            let esc: Option<&[u8]> = match c {
                '\x07' => Some(b"\\a"),
                '\x08' => Some(b"\\b"),
                '\x0c' => Some(b"\\f"),
                '\n' => Some(b"\\n"),
                '\r' => Some(b"\\r"),
                '\t' => Some(b"\\t"),
                '\x0b' => Some(b"\\v"),
                '\\' => Some(b"\\\\"),
                _ => None,
            };
            if let Some(e) = esc {
                push(out, e);
            } else if c == delim {
                push(out, b"\\");
                push(out, c.encode_utf8(&mut buf).as_bytes());
            } else if c.is_control() {
                let code = u32::from(c);
                if code < 0x80 {
                    push_hex(out, b"\\x", code, 2, false);
                } else if code <= 0xffff {
                    push_hex(out, b"\\u", code, 4, false);
                } else {
                    push_hex(out, b"\\U", code, 8, false);
                }
            } else {
                push(out, c.encode_utf8(&mut buf).as_bytes());
            }
        }
        for b in chunk.invalid() {
            push_hex(out, b"\\x", u32::from(*b), 2, false);
        }
    }
    push(out, delim.encode_utf8(&mut buf).as_bytes());
}

/// Largest width or precision honoured (Go's limit too).
const MAX_WIDTH: usize = 1_000_000;

/// One parsed `%` directive.
#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `fmt.Sprintf`.
pub(crate) fn printf(args: Vec<Value>) -> FuncResult {
    let format = str_arg(&args, 0)?;
    let mut rest = args[1..].iter();
    let mut out = Bytes::default();
    let mut i = 0;
    while i < format.len() && !past_max_string(&out) {
        let b = format[i];
        i += 1;
        if b != b'%' {
            push(&mut out, &[b]);
            continue;
        }
        let (spec, verb, next) = parse_spec(format, i);
        i = next;
        match verb {
            None => push(&mut out, b"%!(NOVERB)"),
            Some(b'%') => push(&mut out, b"%"),
            Some(v) => match rest.next() {
                Some(arg) => directive(&mut out, &spec, v, arg),
                None => push(&mut out, format!("%!{}(MISSING)", v as char).as_bytes()),
            },
        }
    }
    let extra: Vec<&Value> = rest.collect();
    if !extra.is_empty() {
        push(&mut out, b"%!(EXTRA ");
        for (n, v) in extra.iter().enumerate() {
            if n > 0 {
                push(&mut out, b", ");
            }
            push(&mut out, v.type_name().as_bytes());
            push(&mut out, b"=");
            v.write_go(&mut out);
        }
        push(&mut out, b")");
    }
    Ok(Value::String(out))
}

fn parse_spec(f: &[u8], mut i: usize) -> (Spec, Option<u8>, usize) {
    let mut s = Spec::default();
    while let Some(&c) = f.get(i) {
        match c {
            b'-' => s.minus = true,
            b'+' => s.plus = true,
            b'0' => s.zero = true,
            b' ' => s.space = true,
            b'#' => s.sharp = true,
            _ => break,
        }
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while f.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        std::str::from_utf8(&f[start..*i])
            .ok()
            .and_then(|d| d.parse().ok())
            .filter(|n: &usize| *n <= MAX_WIDTH)
    };
    s.width = digits(&mut i);
    if f.get(i) == Some(&b'.') {
        i += 1;
        s.prec = Some(digits(&mut i).unwrap_or(0));
    }
    let verb = f.get(i).copied();
    (s, verb, i + usize::from(verb.is_some()))
}

fn directive(out: &mut Bytes, spec: &Spec, verb: u8, arg: &Value) {
    let mut body = Bytes::default();
    let numeric = arg.as_f64().is_some();
    match (verb, arg) {
        (b'v', _) => arg.write_go(&mut body),
        (b's', Value::String(s)) => push(&mut body, truncate(s, spec.prec)),
        (b's', Value::List(_) | Value::Map(_)) => arg.write_go(&mut body),
        (b'q', Value::String(s)) => quote(&mut body, s, '"'),
        (b'q', Value::Int(c)) => {
            let c = u32::try_from(*c)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            quote(&mut body, c.to_string().as_bytes(), '\'');
        }
        (b'x' | b'X', Value::String(s)) => {
            let hex = hex::encode(s.as_slice());
            let hex = if verb == b'X' {
                hex.to_uppercase()
            } else {
                hex
            };
            push(&mut body, hex.as_bytes());
        }
        (b'd' | b'x' | b'X' | b'o' | b'b' | b'c', _) if integral(arg).is_some() => {
            let n = integral(arg).unwrap_or(0);
            let text = match verb {
                b'd' => signed(n, spec, |m| m.to_string()),
                b'x' => signed(n, spec, |m| {
                    format!("{}{m:x}", if spec.sharp { "0x" } else { "" })
                }),
                b'X' => signed(n, spec, |m| {
                    format!("{}{m:X}", if spec.sharp { "0X" } else { "" })
                }),
                b'o' => signed(n, spec, |m| {
                    format!("{}{m:o}", if spec.sharp { "0" } else { "" })
                }),
                b'b' => signed(n, spec, |m| format!("{m:b}")),
                _ => u32::try_from(n)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}')
                    .to_string(),
            };
            push(&mut body, text.as_bytes());
        }
        (b'f' | b'F' | b'e' | b'E' | b'g' | b'G', _) if numeric => {
            let x = arg.as_f64().unwrap_or(0.0);
            push(&mut body, float(x, verb, spec).as_bytes());
        }
        (b't', Value::Bool(b)) => push(&mut body, if *b { b"true" } else { b"false" }),
        _ => {
            let bad = format!("%!{}({}=", verb as char, arg.type_name());
            push(&mut body, bad.as_bytes());
            arg.write_go(&mut body);
            push(&mut body, b")");
            push(out, &body);
            return;
        }
    }
    pad(
        out,
        &body,
        spec,
        numeric && !matches!(verb, b's' | b'v' | b'q'),
    );
}

/// An int, or an integral float (Go would print `%!d(float64=…)`; numbers from JSON are
/// floats, so Ferry accepts them).
fn integral(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        Value::Float(x) if x.fract() == 0.0 && x.abs() < 9.2e18 => Some(*x as i64),
        _ => None,
    }
}

fn signed(n: i64, spec: &Spec, digits: impl Fn(u64) -> String) -> String {
    let sign = if n < 0 {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    format!("{sign}{}", digits(n.unsigned_abs()))
}

fn float(x: f64, verb: u8, spec: &Spec) -> String {
    let sign = if x.is_sign_negative() || !spec.plus {
        ""
    } else {
        "+"
    };
    let body = match (verb, spec.prec) {
        (b'f' | b'F', p) => format!("{x:.*}", p.unwrap_or(6)),
        (b'e' | b'E', p) => go_exponent(&format!("{x:.*e}", p.unwrap_or(6))),
        (_, None) => format_float_g(x),
        (_, Some(p)) => {
            let p = p.max(1);
            let exp = if x == 0.0 {
                0
            } else {
                x.abs().log10().floor() as i64
            };
            if exp < -4 || exp >= p as i64 {
                go_exponent(&format!("{x:.*e}", p - 1))
            } else {
                let s = format!("{x:.*}", (p as i64 - 1 - exp).max(0) as usize);
                if s.contains('.') {
                    s.trim_end_matches('0').trim_end_matches('.').to_owned()
                } else {
                    s
                }
            }
        }
    };
    let body = if verb.is_ascii_uppercase() {
        body.to_uppercase()
    } else {
        body
    };
    format!("{sign}{body}")
}

/// Rust's `1.5e6` as Go's `1.5e+06`.
fn go_exponent(s: &str) -> String {
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s.to_owned(),
    }
}

fn truncate(s: &[u8], prec: Option<usize>) -> &[u8] {
    let Some(p) = prec else { return s };
    match std::str::from_utf8(s) {
        Ok(text) => text.char_indices().nth(p).map_or(s, |(i, _)| &s[..i]),
        Err(_) => &s[..p.min(s.len())],
    }
}

/// Pads `body` to the width: left with spaces (or zeros after the sign, for numbers with the
/// `0` flag), or right with spaces with the `-` flag.
fn pad(out: &mut Bytes, body: &[u8], spec: &Spec, numeric: bool) {
    let chars = String::from_utf8_lossy(body).chars().count();
    let fill = spec.width.unwrap_or(0).saturating_sub(chars);
    if fill == 0 {
        push(out, body);
    } else if spec.minus {
        push(out, body);
        push(out, " ".repeat(fill).as_bytes());
    } else if spec.zero && numeric {
        let sign = usize::from(matches!(body.first(), Some(b'-' | b'+' | b' ')));
        push(out, &body[..sign]);
        push(out, "0".repeat(fill).as_bytes());
        push(out, &body[sign..]);
    } else {
        push(out, " ".repeat(fill).as_bytes());
        push(out, body);
    }
}
