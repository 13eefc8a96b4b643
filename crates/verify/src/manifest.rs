//! Kubernetes Secret manifests in Git. A YAML (or JSON) document with `kind: Secret` and a
//! non-empty `data` or `stringData` holds secret material in Git, which the zero-secrets rule
//! forbids: each plaintext leaf is a `k8s-secret-manifest` finding. A SOPS-encrypted file (one
//! with a top-level `sops:` key) passes only if every leaf under `data`/`stringData` is
//! `ENC[...]`; each other leaf is a `sops-plaintext-leaf` finding.
//!
//! Not findings: empty leaves, and leaves that are entirely a template or substitution reference
//! (`{{ … }}`, `${…}`), since they hold no value. Documents that do not parse (Helm templates)
//! are skipped here; the raw-byte rules still cover them. Plaintext `data` values are
//! base64-decoded into a wiped buffer so the caller can scan the decoded bytes as well.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_norway::Value;
use zeroize::Zeroizing;

use crate::rules;

/// One manifest finding, plus the decoded bytes of a plaintext `data` leaf.
pub(crate) struct ManifestHit {
    pub(crate) rule: &'static str,
    pub(crate) line: u32,
    pub(crate) message: String,
    /// `data.<key>` or `stringData.<key>`.
    pub(crate) field: String,
    pub(crate) decoded: Option<Zeroizing<Vec<u8>>>,
}

/// Checks every document of a buffer that contains a `kind: Secret` trigger.
pub(crate) fn check(hay: &[u8]) -> Vec<ManifestHit> {
    let Ok(text) = std::str::from_utf8(hay) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (first_line, doc) in documents(text) {
        if !doc.contains("Secret") {
            continue;
        }
        // Parse errors may quote content: they are dropped, never shown.
        if let Ok(value) = serde_norway::from_str::<Value>(doc) {
            check_doc(&value, doc, first_line, &mut out);
        }
    }
    out
}

/// Splits a YAML stream at `---` markers: (1-based line of the document's first line, text).
fn documents(text: &str) -> Vec<(u32, &str)> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1u32;
    let mut pos = 0usize;
    for (line_no, line) in (1u32..).zip(text.split_inclusive('\n')) {
        let t = line.trim_end();
        if t == "---" || t.starts_with("--- ") || t == "..." {
            docs.push((start_line, &text[start..pos]));
            start = pos + line.len();
            start_line = line_no + 1;
        }
        pos += line.len();
    }
    docs.push((start_line, &text[start..]));
    docs
}

fn check_doc(value: &Value, doc: &str, first_line: u32, out: &mut Vec<ManifestHit>) {
    let Some(map) = value.as_mapping() else {
        return;
    };
    if map.get("kind").and_then(Value::as_str) != Some("Secret") {
        return;
    }
    let sops = map.contains_key("sops");
    let meta = map.get("metadata");
    let field_of = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str);
    let name = match (field_of("namespace"), field_of("name")) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (None, Some(n)) => n.to_string(),
        _ => "(unnamed)".to_string(),
    };
    for field in ["data", "stringData"] {
        let Some(entries) = map.get(field).and_then(Value::as_mapping) else {
            continue;
        };
        for (key, leaf) in entries {
            let key = scalar(key).unwrap_or_else(|| "?".to_string());
            let mut leaves = Vec::new();
            collect_leaves(leaf, &key, &mut leaves);
            let line = first_line + key_line(doc, field, &key);
            for (path, text) in leaves {
                if text.trim().is_empty() || is_reference(&text) {
                    continue;
                }
                let encrypted = text.starts_with("ENC[") && text.trim_end().ends_with(']');
                if sops && encrypted {
                    continue;
                }
                let (rule, message) = if sops {
                    let m = format!("SOPS-encrypted Secret {name} has plaintext {field}.{path}");
                    (rules::SOPS_PLAINTEXT_LEAF, m)
                } else {
                    let m = format!(
                        "Secret {name} carries {field}.{path} in Git; \
                         keep the value in Vault and sync it with an ExternalSecret"
                    );
                    (rules::K8S_SECRET_MANIFEST, m)
                };
                let decoded = (field == "data").then(|| decode(&text)).flatten();
                out.push(ManifestHit {
                    rule,
                    line,
                    message,
                    field: format!("{field}.{path}"),
                    decoded,
                });
            }
        }
    }
}

/// A scalar as text (strings, numbers, booleans); `None` for null, sequences and mappings.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Leaves under a data entry (normally the entry itself), with dotted paths.
fn collect_leaves(v: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                let k = scalar(k).unwrap_or_else(|| "?".to_string());
                collect_leaves(v, &format!("{path}.{k}"), out);
            }
        }
        Value::Sequence(s) => {
            for (i, v) in s.iter().enumerate() {
                collect_leaves(v, &format!("{path}[{i}]"), out);
            }
        }
        Value::Tagged(t) => collect_leaves(&t.value, path, out),
        other => {
            if let Some(text) = scalar(other) {
                out.push((path.to_string(), text));
            }
        }
    }
}

/// A leaf that is only a template or substitution reference holds no value.
fn is_reference(text: &str) -> bool {
    let t = text.trim();
    (t.starts_with("{{") && t.ends_with("}}")) || (t.starts_with("${") && t.ends_with('}'))
}

/// Standard base64, line breaks and spaces ignored, decoded into a wiped buffer.
fn decode(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let compact: Zeroizing<Vec<u8>> =
        Zeroizing::new(text.bytes().filter(|b| !b.is_ascii_whitespace()).collect());
    let mut buf = Zeroizing::new(vec![0u8; compact.len() / 4 * 3 + 3]);
    let n = STANDARD.decode_slice(&compact[..], &mut buf[..]).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// The 0-based line, within the document, of `key` under `field`; the field's own line, or 0,
/// when the key is not on a line of its own (flow style).
fn key_line(doc: &str, field: &str, key: &str) -> u32 {
    let mut header: Option<u32> = None;
    for (i, line) in doc.lines().enumerate() {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        let t = line.trim_start();
        match header {
            None => {
                let top_level = t.len() == line.len() || doc.trim_start().starts_with('{');
                if top_level && (starts_key(t, field)) {
                    header = Some(i);
                }
            }
            Some(_) => {
                if starts_key(t, key) {
                    return i;
                }
            }
        }
    }
    header.unwrap_or(0)
}

/// `key:`, `"key":` or `'key':` at the start of a trimmed line.
fn starts_key(t: &str, key: &str) -> bool {
    let rest = t
        .strip_prefix(key)
        .or_else(|| {
            t.strip_prefix('"')
                .and_then(|r| r.strip_prefix(key)?.strip_prefix('"'))
        })
        .or_else(|| {
            t.strip_prefix('\'')
                .and_then(|r| r.strip_prefix(key)?.strip_prefix('\''))
        });
    rest.is_some_and(|r| r.trim_start().starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Vec<(&'static str, u32, String)> {
        check(text.as_bytes())
            .into_iter()
            .map(|h| (h.rule, h.line, h.field))
            .collect()
    }

    #[test]
    fn plaintext_secret_leaves_are_findings_with_lines() {
        let text = "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n---\n\
                    apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: apps\n\
                    type: Opaque\ndata:\n  password: aHVudGVyMg==\n  empty: \"\"\n\
                    stringData:\n  user: admin\n  ref: \"${DB_USER}\"\n";
        assert_eq!(
            run(text),
            vec![
                (rules::K8S_SECRET_MANIFEST, 13, "data.password".to_string()),
                (
                    rules::K8S_SECRET_MANIFEST,
                    16,
                    "stringData.user".to_string()
                ),
            ]
        );
        let hits = check(text.as_bytes());
        assert_eq!(
            hits[0].decoded.as_deref().map(|d| &d[..]),
            Some(&b"hunter2"[..])
        );
    }

    #[test]
    fn sops_passes_only_when_every_leaf_is_encrypted() {
        let enc = "ENC[AES256_GCM,data:Zm9v,iv:YWJj,tag:ZGVm,type:str]";
        let ok = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  a: {enc}\n\
             stringData:\n  b: {enc}\nsops:\n  version: 3.9.0\n"
        );
        assert!(run(&ok).is_empty());
        let bad = ok.replace(&format!("b: {enc}"), "b: plaintext-here");
        assert_eq!(
            run(&bad),
            vec![(rules::SOPS_PLAINTEXT_LEAF, 8, "stringData.b".to_string())]
        );
    }

    #[test]
    fn no_data_json_and_other_kinds() {
        assert!(
            run("kind: Secret\nmetadata:\n  name: t\ntype: kubernetes.io/service-account-token\n")
                .is_empty()
        );
        assert!(run("kind: SecretStore\nspec:\n  data:\n    a: b\n").is_empty());
        let json = "{\n  \"kind\": \"Secret\",\n  \"data\": {\n    \"k\": \"dmFsdWU=\"\n  }\n}\n";
        assert_eq!(
            run(json),
            vec![(rules::K8S_SECRET_MANIFEST, 4, "data.k".to_string())]
        );
    }
}
