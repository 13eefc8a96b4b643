//! The pure part of a push: whether a PushSecret's spec is valid and supported, and what it
//! wants at each Vault path, built from the source Secret's data. No I/O; values stay in
//! zeroizing types and never reach an error.

use std::collections::BTreeMap;

use ferry_api::push_secret::{PushSecretConversionStrategy, PushSecretData};
use ferry_api::{PushSecretSpec, StoreKind};
use ferry_vault::KvData;
use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::error::{AgentError, Result};
use crate::shape::SecretData;

/// How a data entry's custom metadata combines with what the secret already has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MetadataMerge {
    /// Add to the secret's custom metadata.
    #[default]
    Merge,
    /// Replace the secret's custom metadata (the ownership marker is always kept).
    Replace,
}

/// The whole secret one entry pushes.
#[derive(Debug)]
pub struct Whole {
    /// Index of the entry in `spec.data`.
    pub index: usize,
    /// The secret (redacted in `Debug`).
    pub data: KvData,
}

/// One property one entry pushes.
#[derive(Debug)]
pub struct Property {
    /// Index of the entry in `spec.data`.
    pub index: usize,
    /// The value (redacted in `Debug`).
    pub value: SecretString,
}

/// Everything a PushSecret wants at one remote key: a whole secret, properties set on top of
/// it (or merged into what is there), and custom metadata (KV v2).
#[derive(Debug, Default)]
pub struct PathPlan {
    /// The remote key as the spec writes it.
    pub remote_key: String,
    /// The whole-secret push, if an entry has no property.
    pub whole: Option<Whole>,
    /// Properties, by name.
    pub properties: BTreeMap<String, Property>,
    /// Custom metadata the entries ask for (not secret).
    pub custom_metadata: BTreeMap<String, String>,
    /// How that custom metadata is applied.
    pub metadata_merge: MetadataMerge,
}

impl PathPlan {
    /// The JSON path of the first entry at this remote key, for errors.
    pub fn field(&self) -> String {
        let first = self
            .whole
            .iter()
            .map(|w| w.index)
            .chain(self.properties.values().map(|p| p.index))
            .min()
            .unwrap_or_default();
        format!("spec.data[{first}].match.remoteRef.remoteKey")
    }
}

/// Checks what can be checked without I/O; a feature Ferry does not implement yet is
/// `Unsupported`, naming the field.
pub fn validate(spec: &PushSecretSpec) -> Result<()> {
    if spec.selector.generator_ref.is_some() {
        return Err(AgentError::Unsupported {
            field: "spec.selector.generatorRef".into(),
            feature: "generators (not yet: push a Secret's values instead)".into(),
        });
    }
    if !spec.data_to.is_empty() {
        return Err(AgentError::Unsupported {
            field: "spec.dataTo".into(),
            feature: "dataTo (not yet: list the keys in spec.data)".into(),
        });
    }
    let Some(secret) = &spec.selector.secret else {
        return Err(invalid("spec.selector.secret", "is required"));
    };
    let named = secret.name.as_deref().is_some_and(|n| !n.is_empty());
    match (named, secret.selector.is_some()) {
        (true, true) => {
            return Err(invalid(
                "spec.selector.secret",
                "set name or selector, not both",
            ));
        }
        (false, false) => return Err(invalid("spec.selector.secret", "needs name or selector")),
        _ => {}
    }
    if spec.secret_store_refs.is_empty() {
        return Err(invalid("spec.secretStoreRefs", "lists no store"));
    }
    for (i, r) in spec.secret_store_refs.iter().enumerate() {
        let named = r.name.as_deref().is_some_and(|n| !n.is_empty());
        if named == r.label_selector.is_some() {
            let field = format!("spec.secretStoreRefs[{i}]");
            return Err(invalid(
                &field,
                "needs exactly one of name and labelSelector",
            ));
        }
    }
    if spec.data.is_empty() {
        return Err(invalid("spec.data", "lists nothing to push"));
    }
    for (i, d) in spec.data.iter().enumerate() {
        if d.match_.remote_ref.remote_key.trim().is_empty() {
            let field = format!("spec.data[{i}].match.remoteRef.remoteKey");
            return Err(invalid(&field, "is required"));
        }
        custom_metadata(d, i)?;
    }
    spec.refresh_interval()
        .map(|_| ())
        .map_err(|e| invalid("spec.refreshInterval", &e.to_string()))
}

/// What the PushSecret wants at each remote key, from the (templated) Secret data, in the
/// order of first appearance.
pub fn plan(spec: &PushSecretSpec, data: &SecretData) -> Result<Vec<PathPlan>> {
    let mut paths: Vec<PathPlan> = Vec::new();
    for (i, entry) in spec.data.iter().enumerate() {
        let remote_key = entry.match_.remote_ref.remote_key.trim().to_owned();
        let at = match paths.iter().position(|p| p.remote_key == remote_key) {
            Some(at) => at,
            None => {
                paths.push(PathPlan {
                    remote_key,
                    ..PathPlan::default()
                });
                paths.len() - 1
            }
        };
        let path = &mut paths[at];
        add_entry(path, entry, i, data)?;
    }
    Ok(paths)
}

fn add_entry(
    path: &mut PathPlan,
    entry: &PushSecretData,
    i: usize,
    data: &SecretData,
) -> Result<()> {
    let field = format!("spec.data[{i}].match");
    let converted;
    let data = match entry.conversion_strategy {
        PushSecretConversionStrategy::None => data,
        PushSecretConversionStrategy::ReverseUnicode => {
            converted = reverse_unicode_keys(data);
            &converted
        }
    };
    let clash = || {
        invalid(
            &format!("{field}.remoteRef"),
            "pushes to the same place as an earlier entry",
        )
    };
    match entry.match_.remote_ref.property() {
        Some(property) => {
            let value = match entry.match_.secret_key() {
                Some(key) => utf8(one_key(data, key, &field)?, &field)?,
                None => whole_json(data, &field)?,
            };
            let property_value = Property { index: i, value };
            if path
                .properties
                .insert(property.to_owned(), property_value)
                .is_some()
            {
                return Err(clash());
            }
        }
        None => {
            if path.whole.is_some() {
                return Err(clash());
            }
            let map = match entry.match_.secret_key() {
                Some(key) => json_object(one_key(data, key, &field)?, &field)?,
                None => whole_map(data, &field)?,
            };
            path.whole = Some(Whole {
                index: i,
                data: map,
            });
        }
    }
    if let Some((custom, merge)) = custom_metadata(entry, i)? {
        path.custom_metadata.extend(custom);
        path.metadata_merge = merge;
    }
    Ok(())
}

fn one_key<'a>(data: &'a SecretData, key: &str, field: &str) -> Result<&'a [u8]> {
    data.get(key).ok_or_else(|| AgentError::BuildSecret {
        field: format!("{field}.secretKey"),
        message: format!("the source Secret has no key {key:?}"),
    })
}

fn utf8(bytes: &[u8], field: &str) -> Result<SecretString> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(SecretString::from(s.to_owned())),
        Err(_) => Err(AgentError::BuildSecret {
            field: format!("{field}.secretKey"),
            message: "the value is not UTF-8 text, which a Vault KV property must be".into(),
        }),
    }
}

/// The value of one key as a JSON object (a push without property replaces the secret).
fn json_object(bytes: &[u8], field: &str) -> Result<KvData> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(KvData::new(map)),
        other => {
            drop(KvData::new(Map::from_iter([(
                "_".to_owned(),
                other.unwrap_or_default(),
            )])));
            Err(AgentError::BuildSecret {
                field: format!("{field}.remoteRef.property"),
                message: "without a property the value replaces the whole secret and must be \
                          a JSON object; set remoteRef.property to push it as one property"
                    .into(),
            })
        }
    }
}

/// The whole Secret as a JSON object of its keys and UTF-8 values.
fn whole_map(data: &SecretData, field: &str) -> Result<KvData> {
    let mut map = Map::new();
    for (key, value) in data.iter() {
        let Ok(text) = std::str::from_utf8(value) else {
            drop(KvData::new(map));
            return Err(AgentError::BuildSecret {
                field: format!("{field}.secretKey"),
                message: format!("the source Secret's key {key:?} is not UTF-8 text"),
            });
        };
        map.insert(key.to_owned(), Value::String(text.to_owned()));
    }
    Ok(KvData::new(map))
}

/// The whole Secret as the JSON text of one property.
fn whole_json(data: &SecretData, field: &str) -> Result<SecretString> {
    let map = whole_map(data, field)?;
    let text = serde_json::to_string(map.expose()).map_err(|_| AgentError::BuildSecret {
        field: field.to_owned(),
        message: "the source Secret could not be encoded as JSON".into(),
    })?;
    Ok(SecretString::from(text))
}

/// `metadata` of a data entry: a `PushSecretMetadata` object whose `spec.customMetadata` and
/// `spec.mergePolicy` apply to a KV v2 secret.
fn custom_metadata(
    entry: &PushSecretData,
    i: usize,
) -> Result<Option<(BTreeMap<String, String>, MetadataMerge)>> {
    let Some(meta) = &entry.metadata else {
        return Ok(None);
    };
    let field = format!("spec.data[{i}].metadata");
    let kind = meta.get("kind").and_then(Value::as_str);
    if kind.is_some_and(|k| k != "PushSecretMetadata") {
        return Err(invalid(
            &format!("{field}.kind"),
            "must be PushSecretMetadata",
        ));
    }
    let spec = meta.get("spec").cloned().unwrap_or_default();
    let custom = match spec.get("customMetadata") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(v) => serde_json::from_value::<BTreeMap<String, String>>(v.clone()).map_err(|_| {
            invalid(
                &format!("{field}.spec.customMetadata"),
                "must map strings to strings",
            )
        })?,
    };
    let merge = match spec.get("mergePolicy").and_then(Value::as_str) {
        None | Some("Merge") => MetadataMerge::Merge,
        Some("Replace") => MetadataMerge::Replace,
        Some(_) => {
            let f = format!("{field}.spec.mergePolicy");
            return Err(invalid(&f, "must be Merge or Replace"));
        }
    };
    Ok(Some((custom, merge)))
}

/// The Secret's data with `_UXXXX_` sequences in its keys turned back into the characters
/// they stand for (undoing an ExternalSecret's `Unicode` key conversion).
pub fn reverse_unicode_keys(data: &SecretData) -> SecretData {
    let mut out = SecretData::new();
    for (key, value) in data.iter() {
        out.insert(reverse_unicode(key), value.to_vec());
    }
    out
}

/// `a_U0021_b` → `a!b`; anything that is not a valid sequence stays as it is.
pub fn reverse_unicode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut rest = key;
    while let Some(at) = rest.find("_U") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 2..];
        let digits = tail.bytes().take_while(u8::is_ascii_hexdigit).count();
        let decoded = (digits >= 4 && tail[digits..].starts_with('_'))
            .then(|| u32::from_str_radix(&tail[..digits], 16).ok())
            .flatten()
            .and_then(char::from_u32);
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[digits + 1..];
            }
            None => {
                out.push_str("_U");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The key of a store in `status.syncedPushSecrets`: `Kind/name`, as ESO writes it.
pub fn store_key(kind: StoreKind, name: &str) -> String {
    format!("{}/{name}", kind.as_str())
}

fn invalid(field: &str, message: &str) -> AgentError {
    AgentError::ValidateSpec {
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
