//! `fromJson` and `fromYaml` decoding straight into [`Value`], bounded: a document nested
//! deeper than [`MAX_VALUE_DEPTH`], or one that decodes to more than [`MAX_STEPS`] steps of
//! data (YAML aliases can repeat a node many times), is an error, so decoding can neither
//! exhaust the stack nor memory. Numbers become floats and keys strings, as when Go decodes
//! into `interface{}` (and as `serde_json::Value` would).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use zeroize::Zeroize;

use crate::error::FuncError;
use crate::limits::{BYTES_PER_STEP, MAX_STEPS, MAX_VALUE_DEPTH};
use crate::value::Value;

/// A limit that stopped decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    Depth,
    Size,
}

/// Shared by every level of one decode.
struct State {
    /// Weight (as [`crate::limits::measure`] counts it) still allowed.
    left: Cell<u64>,
    /// The limit hit, if any (the decoder's own error then only says where).
    hit: Cell<Option<Limit>>,
}

impl State {
    fn new() -> Self {
        State {
            left: Cell::new(MAX_STEPS),
            hit: Cell::new(None),
        }
    }

    /// The error for a limit hit, if one was.
    fn limit_error(&self) -> Option<FuncError> {
        self.hit.get().map(|limit| match limit {
            Limit::Depth => {
                FuncError::new(format!("input nests deeper than {MAX_VALUE_DEPTH} levels"))
            }
            Limit::Size => FuncError::new(format!(
                "input decodes to more than {MAX_STEPS} steps of data"
            )),
        })
    }
}

/// Decodes one value at `depth` (the number of lists and maps around it).
#[derive(Clone, Copy)]
struct Seed<'a> {
    state: &'a State,
    depth: usize,
}

impl Seed<'_> {
    /// Spends one value and `bytes` bytes of the size allowance.
    fn spend<E: de::Error>(&self, bytes: usize) -> Result<(), E> {
        let cost = 1 + (bytes as u64) / BYTES_PER_STEP;
        match self.state.left.get().checked_sub(cost) {
            Some(left) => {
                self.state.left.set(left);
                Ok(())
            }
            None => Err(self.fail(Limit::Size)),
        }
    }

    fn fail<E: de::Error>(&self, limit: Limit) -> E {
        self.state.hit.set(Some(limit));
        E::custom("limit exceeded")
    }

    /// The seed for the elements of a list or map at this level.
    fn inner<E: de::Error>(&self) -> Result<Self, E> {
        if self.depth >= MAX_VALUE_DEPTH {
            return Err(self.fail(Limit::Depth));
        }
        self.spend(0)?;
        Ok(Seed {
            state: self.state,
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        self.spend(0)?;
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        self.spend(0)?;
        Ok(Value::Float(n as f64))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        self.spend(0)?;
        Ok(Value::Float(n as f64))
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Value, E> {
        self.spend(0)?;
        // As JSON has no NaN or infinity, `serde_json::Value` turns them (from YAML's
        // `.nan` / `.inf`) into null.
        Ok(if x.is_finite() {
            Value::Float(x)
        } else {
            Value::Null
        })
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        self.spend(s.len())?;
        Ok(Value::string(s))
    }

    fn visit_string<E: de::Error>(self, mut s: String) -> Result<Value, E> {
        let v = self.visit_str(&s);
        s.zeroize();
        v
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.spend(0)?;
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.visit_none()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.inner()?;
        let mut list = Vec::new();
        while let Some(v) = seq.next_element_seed(inner)? {
            list.push(v);
        }
        Ok(Value::List(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.inner()?;
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            inner.spend(key.len())?;
            let value = map.next_value_seed(inner)?;
            out.insert(key, value);
        }
        Ok(Value::Map(out))
    }
}

/// Decodes JSON text (Sprig's `fromJson`). Errors give the line and column, never the text.
pub(crate) fn json(text: &[u8]) -> Result<Value, FuncError> {
    let state = State::new();
    let mut de = serde_json::Deserializer::from_slice(text);
    let seed = Seed {
        state: &state,
        depth: 0,
    };
    let decoded = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    decoded.map_err(|e| {
        state.limit_error().unwrap_or_else(|| {
            let (line, col) = (e.line(), e.column());
            FuncError::new(format!(
                "input is not valid JSON (line {line}, column {col})"
            ))
        })
    })
}

/// Decodes one YAML document (ESO's `fromYaml`). Errors give the line and column, never the
/// text.
pub(crate) fn yaml(text: &[u8]) -> Result<Value, FuncError> {
    let state = State::new();
    let seed = Seed {
        state: &state,
        depth: 0,
    };
    seed.deserialize(serde_norway::Deserializer::from_slice(text))
        .map_err(|e| {
            state.limit_error().unwrap_or_else(|| match e.location() {
                Some(l) => FuncError::new(format!(
                    "input is not valid YAML (line {}, column {})",
                    l.line(),
                    l.column()
                )),
                None => FuncError::new("input is not valid YAML"),
            })
        })
}
