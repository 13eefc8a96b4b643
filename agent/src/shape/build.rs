//! [`build`]: the Secret data from fetched KV secrets. Precedence is ESO's: `dataFrom`
//! entries (`extract` and `find`, each after its rewrites) in order, then `data[]` entries in
//! order, later ones overriding earlier keys.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferry_api::external_secret::{
    ConversionStrategy, DecodingStrategy, ExternalSecretRewrite, StoreSourceRef,
};
use ferry_api::{ExternalSecretDataRemoteRef, ExternalSecretSpec};
use ferry_vault::{KvData, KvSecret};
use serde_json::{Map, Value};

use ferry_template::RenderLimits;

use super::rewrite::rewrite;
use super::value::{self, Bytes, Found, Lookup};
use super::{RemoteKey, SecretData, parse_version};
use crate::error::{AgentError, Result};

/// What each `dataFrom[i].find` selected: by entry index, then by the secret's path relative
/// to the KV mount.
pub type FindResults = BTreeMap<usize, BTreeMap<String, Arc<KvSecret>>>;

/// Builds the Secret data from the fetched KV secrets, for a spec without `find`.
///
/// Every [`RemoteKey`] of the spec is expected in `fetched`; one that is absent means Vault
/// said "not found" and gives [`AgentError::NotFound`] naming the `key` field. A missing
/// property is also `NotFound`; bad versions, extractions, rewrites and decodings are
/// [`AgentError::BuildSecret`]. Features rejected by [`super::unsupported`] are ignored.
pub fn build(
    spec: &ExternalSecretSpec,
    fetched: &BTreeMap<RemoteKey, KvSecret>,
) -> Result<SecretData> {
    build_all(spec, fetched, &FindResults::new())
}

/// [`build`], with the secrets each `find` selected (an entry absent from `found` selected
/// nothing).
pub fn build_all(
    spec: &ExternalSecretSpec,
    fetched: &BTreeMap<RemoteKey, KvSecret>,
    found: &FindResults,
) -> Result<SecretData> {
    build_all_with(spec, fetched, found, &RenderLimits::default())
}

/// [`build_all`] whose rewrite transforms stop at `limits` (a deadline, a cancellation flag).
pub fn build_all_with(
    spec: &ExternalSecretSpec,
    fetched: &BTreeMap<RemoteKey, KvSecret>,
    found: &FindResults,
    limits: &RenderLimits,
) -> Result<SecretData> {
    let mut out = SecretData::new();
    for (i, entry) in spec.data_from.iter().enumerate() {
        let at = format!("spec.dataFrom[{i}]");
        let map = if let Some(extract) = &entry.extract {
            let field = format!("{at}.extract");
            let secret = fetch(fetched, extract, entry.source_ref.as_ref(), &field)?;
            let raw = extract_raw(secret.data.expose(), extract, &field)?;
            let strategies = (extract.conversion_strategy, extract.decoding_strategy);
            finish(raw, &entry.rewrite, &at, &field, strategies, limits)?
        } else if let Some(find) = &entry.find {
            let field = format!("{at}.find");
            let raw = found
                .get(&i)
                .into_iter()
                .flatten()
                .map(|(path, secret)| (path.clone(), value::whole(secret.data.expose())))
                .collect();
            let strategies = (find.conversion_strategy, find.decoding_strategy);
            finish(raw, &entry.rewrite, &at, &field, strategies, limits)?
        } else {
            continue;
        };
        for (key, bytes) in map {
            out.insert_zeroizing(key, bytes);
        }
    }
    for (i, entry) in spec.data.iter().enumerate() {
        let field = format!("spec.data[{i}].remoteRef");
        let remote = &entry.remote_ref;
        let secret = fetch(fetched, remote, entry.source_ref.as_ref(), &field)?;
        let data = secret.data.expose();
        let bytes = match property(remote) {
            None => value::whole(data),
            Some(property) => value::render_found(&find(data, remote, property, &field)?),
        };
        let bytes = decode(remote.decoding_strategy, bytes, &field, None)?;
        out.insert_zeroizing(entry.secret_key.clone(), bytes);
    }
    Ok(out)
}

/// The fetched secret of `remote` (from the store of `source`), after checking its version.
fn fetch<'a>(
    fetched: &'a BTreeMap<RemoteKey, KvSecret>,
    remote: &ExternalSecretDataRemoteRef,
    source: Option<&StoreSourceRef>,
    field: &str,
) -> Result<&'a KvSecret> {
    let key = RemoteKey::at(remote, source);
    let secret = fetched.get(&key);
    if let Some(version) = &key.version {
        // KV v1 has no versions: ESO ignores the field there, and so do we.
        let kv_v1 = secret.is_some_and(|s| s.version.is_none());
        if !kv_v1 && parse_version(version).is_none() {
            return Err(AgentError::BuildSecret {
                field: format!("{field}.version"),
                message: "a KV v2 version must be a positive integer".to_owned(),
            });
        }
    }
    secret.ok_or_else(|| AgentError::NotFound {
        field: format!("{field}.key"),
        what: format!("secret {:?}", remote.key),
    })
}

/// The property to select; ESO treats an empty one as none.
fn property(remote: &ExternalSecretDataRemoteRef) -> Option<&str> {
    remote.property.as_deref().filter(|p| !p.is_empty())
}

/// Resolves `property` in `data`, naming `{field}.property` when it cannot.
fn find<'a>(
    data: &'a Map<String, Value>,
    remote: &ExternalSecretDataRemoteRef,
    property: &str,
    field: &str,
) -> Result<Found<'a>> {
    value::lookup(data, property).map_err(|e| match e {
        Lookup::Missing => AgentError::NotFound {
            field: format!("{field}.property"),
            what: format!("property {property:?} of secret {:?}", remote.key),
        },
        Lookup::Unsupported => AgentError::Unsupported {
            field: format!("{field}.property"),
            feature: "gjson wildcards, queries and modifiers".to_owned(),
        },
    })
}

/// Applies `decodingStrategy`; `key` names the Secret key for extracted values.
fn decode(
    strategy: DecodingStrategy,
    bytes: Bytes,
    field: &str,
    key: Option<&str>,
) -> Result<Bytes> {
    value::decode(strategy, bytes).map_err(|problem| AgentError::BuildSecret {
        field: format!("{field}.decodingStrategy"),
        message: match key {
            Some(key) => format!("the value of key {key:?} is {problem}"),
            None => format!("the value is {problem}"),
        },
    })
}

/// ESO's `GetSecretMap` for one `extract`: the raw key names and rendered values.
fn extract_raw(
    data: &Map<String, Value>,
    extract: &ExternalSecretDataRemoteRef,
    field: &str,
) -> Result<BTreeMap<String, Bytes>> {
    let parsed;
    let map = match property(extract) {
        None => data,
        Some(property) => {
            let not_object = || AgentError::BuildSecret {
                field: format!("{field}.property"),
                message: "the property is not a JSON object, so it cannot be extracted".to_owned(),
            };
            match find(data, extract, property, field)? {
                Found::Key(Value::Object(map)) | Found::Path(Value::Object(map)) => map,
                // ESO re-parses the property's bytes, so a string holding a JSON object works.
                Found::Key(Value::String(s)) | Found::Path(Value::String(s)) => {
                    // Held in a `KvData` so the parsed copy is wiped on drop.
                    parsed = match serde_json::from_str::<Value>(s) {
                        Ok(Value::Object(map)) => KvData::new(map),
                        Ok(Value::Null) => KvData::default(),
                        _ => return Err(not_object()),
                    };
                    parsed.expose()
                }
                _ => return Err(not_object()),
            }
        }
    };
    Ok(map
        .iter()
        .map(|(key, value)| (key.clone(), value::render_extracted(value)))
        .collect())
}

/// ESO's steps after fetching an `extract` or a `find` (`at` is `spec.dataFrom[i]`, `field`
/// its source): the rewrites, or without any the key conversion; then key validation (empty
/// keys are dropped) and decoding.
fn finish(
    raw: BTreeMap<String, Bytes>,
    rules: &[ExternalSecretRewrite],
    at: &str,
    field: &str,
    (conversion, decoding): (ConversionStrategy, DecodingStrategy),
    limits: &RenderLimits,
) -> Result<BTreeMap<String, Bytes>> {
    let (keyed, key_field) = if rules.is_empty() {
        (convert(raw, conversion, field)?, field.to_owned())
    } else {
        (rewrite(rules, raw, at, limits)?, format!("{at}.rewrite"))
    };
    let mut out = BTreeMap::new();
    for (key, bytes) in keyed {
        if key.is_empty() {
            continue;
        }
        if let Some(problem) = value::secret_key_problem(&key) {
            return Err(AgentError::BuildSecret {
                field: key_field,
                message: format!("secret key {key:?} {problem}"),
            });
        }
        let bytes = decode(decoding, bytes, field, Some(&key))?;
        out.insert(key, bytes);
    }
    Ok(out)
}

/// The key conversion of `conversionStrategy`; two keys converting to one are an error.
fn convert(
    raw: BTreeMap<String, Bytes>,
    strategy: ConversionStrategy,
    field: &str,
) -> Result<BTreeMap<String, Bytes>> {
    let mut out = BTreeMap::new();
    for (raw_key, bytes) in raw {
        let key = value::convert_key(strategy, &raw_key);
        if out.contains_key(&key) {
            return Err(AgentError::BuildSecret {
                field: format!("{field}.conversionStrategy"),
                message: format!("several keys convert to the Secret key {key:?}"),
            });
        }
        out.insert(key, bytes);
    }
    Ok(out)
}
