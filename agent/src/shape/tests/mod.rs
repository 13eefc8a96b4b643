//! Table tests of the ESO semantics: value rendering, decoding, extraction, precedence,
//! validation and unsupported features, with shared helpers. Secret values in the tables
//! contain `s3cr3t` so error texts can be checked for leaks.

use std::collections::BTreeMap;

use ferry_api::ExternalSecretSpec;
use ferry_vault::{KvData, KvSecret};
use serde_json::Value;

use super::RemoteKey;
use crate::error::AgentError;

mod extract;
mod rewrite;
mod spec;
mod template;
mod values;

fn spec(yaml: &str) -> ExternalSecretSpec {
    serde_norway::from_str(yaml).unwrap_or_else(|e| panic!("bad test spec: {e}\n{yaml}"))
}

/// A KV v2 secret (version 1) holding `data`.
fn kv(data: Value) -> KvSecret {
    let Value::Object(map) = data else {
        panic!("test data must be an object")
    };
    KvSecret {
        data: KvData::new(map),
        version: Some(1),
        created_time: None,
        custom_metadata: BTreeMap::new(),
    }
}

fn fetched(entries: &[(&str, Value)]) -> BTreeMap<RemoteKey, KvSecret> {
    entries
        .iter()
        .map(|(key, data)| {
            let key = RemoteKey {
                key: (*key).to_owned(),
                version: None,
                metadata: false,
                store: None,
            };
            (key, kv(data.clone()))
        })
        .collect()
}

/// The field and category of an error, after checking it leaks no value.
fn field_of(err: &AgentError) -> (String, &'static str) {
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("s3cr3t"), "error leaks a value: {shown}");
    let field = match err {
        AgentError::ValidateSpec { field, .. }
        | AgentError::Unsupported { field, .. }
        | AgentError::NotFound { field, .. }
        | AgentError::BuildSecret { field, .. } => field.clone(),
        other => panic!("unexpected error {other:?}"),
    };
    (field, err.category())
}
