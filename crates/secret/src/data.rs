//! [`SecretData`]: the Secret's keys and byte values, zeroized on drop and never printed.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::ByteString;
use zeroize::Zeroizing;

/// The data of a Kubernetes Secret: keys mapped to bytes.
///
/// Values are zeroized when dropped or replaced, and `Debug` prints only the key names.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretData(BTreeMap<String, Zeroizing<Vec<u8>>>);

impl SecretData {
    /// An empty data set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`, replacing (and zeroizing) any previous value.
    pub fn insert(&mut self, key: String, value: Vec<u8>) {
        self.insert_zeroizing(key, Zeroizing::new(value));
    }

    /// Sets `key` to a value that is already held in a zeroizing buffer.
    pub fn insert_zeroizing(&mut self, key: String, value: Zeroizing<Vec<u8>>) {
        self.0.insert(key, value);
    }

    /// The value of `key`, if present. Do not log it.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.0.get(key).map(|v| v.as_slice())
    }

    /// The key names, in order (not secret).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keys and values, in key order. Do not log the values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Copies the data into the form the Kubernetes API takes. The copies are not zeroized:
    /// use this only to build the API call, and drop the result right after.
    pub fn to_byte_strings(&self) -> BTreeMap<String, ByteString> {
        self.0
            .iter()
            .map(|(k, v)| (k.clone(), ByteString(v.to_vec())))
            .collect()
    }

    /// Copies the data of a Secret read from the Kubernetes API.
    pub fn from_byte_strings(map: &BTreeMap<String, ByteString>) -> Self {
        Self(
            map.iter()
                .map(|(k, v)| (k.clone(), Zeroizing::new(v.0.clone())))
                .collect(),
        )
    }
}

impl fmt::Debug for SecretData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretData")
            .field("keys", &self.0.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_only_key_names() {
        let mut d = SecretData::new();
        d.insert("password".into(), b"hunter2".to_vec());
        d.insert("user".into(), b"admin".to_vec());
        for dbg in [format!("{d:?}"), format!("{d:#?}")] {
            assert!(dbg.contains("password") && dbg.contains("user"), "{dbg}");
            assert!(!dbg.contains("hunter2") && !dbg.contains("admin"), "{dbg}");
        }
    }

    #[test]
    fn accessors_and_byte_strings() {
        let mut d = SecretData::new();
        assert!(d.is_empty());
        d.insert("b".into(), b"2".to_vec());
        d.insert("a".into(), b"1".to_vec());
        d.insert("a".into(), b"one".to_vec());
        assert_eq!(d.len(), 2);
        assert_eq!(d.get("a"), Some(&b"one"[..]));
        assert_eq!(d.get("zz"), None);
        assert_eq!(d.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            d.iter().collect::<Vec<_>>(),
            [("a", &b"one"[..]), ("b", &b"2"[..])]
        );
        let api = d.to_byte_strings();
        assert_eq!(api.get("b"), Some(&ByteString(b"2".to_vec())));
        let back = SecretData::from_byte_strings(&api);
        assert_eq!(back, d);
        assert_eq!(back.clone(), d);
    }
}
