//! Fingerprints: SHA-256 over a canonical JSON form (object keys sorted, no
//! whitespace), so equal configs hash equally whatever their key order or which
//! defaults were spelt out in the file.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Domain separation, bumped if the canonical form ever changes.
const DOMAIN: &[u8] = b"ferry-config/fingerprint/v1\n";

/// SHA-256 (lower-case hex) of the canonical JSON form of `value`.
///
/// Use it for a section the bootstrap state tracks on its own, e.g.
/// `fingerprint_of(&config.env)`. A value that cannot be represented as JSON (a
/// non-UTF-8 path built in code) is hashed through its `Debug` form instead.
pub fn fingerprint_of<T: Serialize + std::fmt::Debug + ?Sized>(value: &T) -> String {
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    match serde_json::to_value(value) {
        Ok(tree) => {
            let mut out = String::new();
            canonical(&tree, &mut out);
            hasher.update(out.as_bytes());
        }
        Err(_) => hasher.update(format!("debug:{value:?}").as_bytes()),
    }
    hex::encode(hasher.finalize())
}

/// Writes `value` as JSON with sorted object keys and no whitespace.
fn canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                canonical(item, out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}
