//! [`KvData`]: the JSON object of a KV secret, kept in a zeroizing
//! [`SecretBox`] and redacted in `Debug`.

use std::fmt;

use secrecy::{CloneableSecret, ExposeSecret, SecretBox, SecretString};
use serde_json::{Map, Value};
use zeroize::Zeroize;

/// A JSON object whose strings (keys and values, at any depth) are
/// overwritten when it is zeroized.
#[derive(Clone, Default, PartialEq)]
struct SecretMap(Map<String, Value>);

impl Zeroize for SecretMap {
    fn zeroize(&mut self) {
        zeroize_map(&mut self.0);
    }
}

impl CloneableSecret for SecretMap {}

/// Zeroizes every string of a JSON map, keys included, and empties it.
fn zeroize_map(map: &mut Map<String, Value>) {
    for (mut key, mut value) in std::mem::take(map) {
        key.zeroize();
        zeroize_value(&mut value);
    }
}

/// Zeroizes every string inside a JSON value and replaces it with `null`.
///
/// Numbers cannot be overwritten in place (serde_json keeps them opaque);
/// they are dropped.
fn zeroize_value(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => {
            for item in items.iter_mut() {
                zeroize_value(item);
            }
            items.clear();
        }
        Value::Object(map) => zeroize_map(map),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    *value = Value::Null;
}

/// The data of a KV secret: a JSON object held in a [`SecretBox`] that is
/// zeroized on drop. `Debug` prints only the number of keys.
#[derive(Clone, Default)]
pub struct KvData(SecretBox<SecretMap>);

impl KvData {
    /// Takes ownership of a JSON object (no copy is made).
    pub fn new(map: Map<String, Value>) -> Self {
        KvData(SecretBox::new(Box::new(SecretMap(map))))
    }

    /// Builds a flat object of string values from key/secret pairs.
    pub fn from_pairs<I: IntoIterator<Item = (String, SecretString)>>(it: I) -> Self {
        let mut map = Map::new();
        for (key, secret) in it {
            map.insert(key, Value::String(secret.expose_secret().to_owned()));
        }
        KvData::new(map)
    }

    /// Parses a JSON value that must be an object; the value is consumed and
    /// anything that is not an object is zeroized and rejected.
    pub(crate) fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Object(map) => Some(KvData::new(map)),
            mut other => {
                zeroize_value(&mut other);
                None
            }
        }
    }

    /// The secret JSON object. Do not log it.
    pub fn expose(&self) -> &Map<String, Value> {
        &self.0.expose_secret().0
    }

    /// The value of one key, if present. Do not log it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.expose().get(key)
    }

    /// Number of top-level keys.
    pub fn len(&self) -> usize {
        self.expose().len()
    }

    /// Whether the object has no keys.
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }

    /// The top-level key names (not secret).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.expose().keys().map(String::as_str)
    }

    /// Serializes the object to JSON bytes in a buffer that is zeroized on
    /// drop.
    pub(crate) fn to_json_bytes(&self) -> Result<zeroize::Zeroizing<Vec<u8>>, serde_json::Error> {
        let mut buf = zeroize::Zeroizing::new(Vec::new());
        serde_json::to_writer(&mut *buf, self.expose())?;
        Ok(buf)
    }
}

impl PartialEq for KvData {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for KvData {}

impl From<Map<String, Value>> for KvData {
    fn from(map: Map<String, Value>) -> Self {
        KvData::new(map)
    }
}

impl fmt::Debug for KvData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KvData([REDACTED; {} keys])", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> KvData {
        match json!({"user": "admin", "password": "hunter2", "nested": {"k": ["a", 1, true]}}) {
            Value::Object(m) => KvData::new(m),
            _ => KvData::default(),
        }
    }

    #[test]
    fn debug_is_redacted() {
        let d = sample();
        let dbg = format!("{d:?}");
        assert_eq!(dbg, "KvData([REDACTED; 3 keys])");
        assert!(!dbg.contains("hunter2"));
        let pretty = format!("{d:#?}");
        assert!(!pretty.contains("hunter2"));
    }

    #[test]
    fn accessors() {
        let d = sample();
        assert_eq!(d.len(), 3);
        assert!(!d.is_empty());
        assert_eq!(
            d.keys().collect::<Vec<_>>(),
            vec!["nested", "password", "user"]
        );
        assert_eq!(d.get("password"), Some(&json!("hunter2")));
        assert!(KvData::default().is_empty());
    }

    #[test]
    fn from_pairs_and_clone_eq() {
        let d = KvData::from_pairs([
            ("a".to_string(), SecretString::from("1")),
            ("b".to_string(), SecretString::from("2")),
        ]);
        assert_eq!(d.get("a"), Some(&json!("1")));
        let c = d.clone();
        assert_eq!(c, d);
        assert_ne!(c, sample());
    }

    #[test]
    fn zeroize_empties_everything() {
        let mut m = SecretMap(sample().expose().clone());
        m.zeroize();
        assert!(m.0.is_empty());
        let mut v = json!(["x", {"y": "z"}]);
        zeroize_value(&mut v);
        assert_eq!(v, Value::Null);
    }

    #[test]
    fn from_value_rejects_non_objects() {
        assert!(KvData::from_value(json!("secret")).is_none());
        assert!(KvData::from_value(Value::Null).is_none());
        assert_eq!(
            KvData::from_value(json!({"a": 1})).map(|d| d.len()),
            Some(1)
        );
    }

    #[test]
    fn json_bytes_roundtrip() -> Result<(), serde_json::Error> {
        let d = sample();
        let bytes = d.to_json_bytes()?;
        let back: Map<String, Value> = serde_json::from_slice(&bytes)?;
        assert_eq!(&back, d.expose());
        Ok(())
    }
}
