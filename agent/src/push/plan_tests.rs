//! Tests of the pure push plan: validation, whole-Secret and property pushes, conversion.

#![allow(clippy::unwrap_used)]

use super::*;
use ferry_api::PushSecretSpec;
use secrecy::ExposeSecret;
use serde_json::json;

fn spec(value: serde_json::Value) -> PushSecretSpec {
    serde_json::from_value(value).unwrap()
}

fn base(data: serde_json::Value) -> PushSecretSpec {
    spec(json!({
        "secretStoreRefs": [{ "name": "vault" }],
        "selector": { "secret": { "name": "src" } },
        "data": data,
    }))
}

fn secret(pairs: &[(&str, &str)]) -> SecretData {
    let mut d = SecretData::new();
    for (k, v) in pairs {
        d.insert((*k).to_owned(), v.as_bytes().to_vec());
    }
    d
}

fn field_of(err: AgentError) -> String {
    match err {
        AgentError::ValidateSpec { field, .. }
        | AgentError::Unsupported { field, .. }
        | AgentError::BuildSecret { field, .. } => field,
        other => panic!("unexpected error {other}"),
    }
}

#[test]
fn generators_and_data_to_are_named_as_not_supported() {
    let mut s = base(json!([{ "match": { "remoteRef": { "remoteKey": "a" } } }]));
    s.selector.generator_ref = Some(
        serde_json::from_value(json!({
        "kind": "Password", "name": "pw" }))
        .unwrap(),
    );
    let err = validate(&s).unwrap_err();
    assert!(matches!(err, AgentError::Unsupported { .. }), "{err}");
    assert_eq!(field_of(err), "spec.selector.generatorRef");
    let mut s = base(json!([{ "match": { "remoteRef": { "remoteKey": "a" } } }]));
    s.data_to = vec![json!({ "storeRef": { "name": "vault" } })];
    assert_eq!(field_of(validate(&s).unwrap_err()), "spec.dataTo");
}

#[test]
fn malformed_specs_name_their_field() {
    let cases = [
        (
            json!({ "secretStoreRefs": [], "selector": { "secret": { "name": "s" } },
            "data": [{ "match": { "remoteRef": { "remoteKey": "a" } } }] }),
            "spec.secretStoreRefs",
        ),
        (
            json!({ "secretStoreRefs": [{ "kind": "SecretStore" }],
            "selector": { "secret": { "name": "s" } },
            "data": [{ "match": { "remoteRef": { "remoteKey": "a" } } }] }),
            "spec.secretStoreRefs[0]",
        ),
        (
            json!({ "secretStoreRefs": [{ "name": "v" }], "selector": { "secret": {} },
            "data": [{ "match": { "remoteRef": { "remoteKey": "a" } } }] }),
            "spec.selector.secret",
        ),
        (
            json!({ "secretStoreRefs": [{ "name": "v" }], "selector": { "secret": { "name": "s" } },
            "data": [{ "match": { "remoteRef": { "remoteKey": " " } } }] }),
            "spec.data[0].match.remoteRef.remoteKey",
        ),
        (
            json!({ "secretStoreRefs": [{ "name": "v" }], "selector": { "secret": { "name": "s" } },
            "refreshInterval": "soon",
            "data": [{ "match": { "remoteRef": { "remoteKey": "a" } } }] }),
            "spec.refreshInterval",
        ),
        (
            json!({ "secretStoreRefs": [{ "name": "v" }], "selector": { "secret": { "name": "s" } },
            "data": [{ "match": { "remoteRef": { "remoteKey": "a" } },
                "metadata": { "spec": { "mergePolicy": "Sometimes" } } }] }),
            "spec.data[0].metadata.spec.mergePolicy",
        ),
    ];
    for (value, field) in cases {
        assert_eq!(field_of(validate(&spec(value)).unwrap_err()), field);
    }
}

#[test]
fn properties_and_whole_secrets_group_by_remote_key() {
    let s = base(json!([
        { "match": { "secretKey": "user", "remoteRef": { "remoteKey": "app", "property": "u" } } },
        { "match": { "secretKey": "pass", "remoteRef": { "remoteKey": "app", "property": "p" } } },
        { "match": { "remoteRef": { "remoteKey": "all" } } },
        { "match": { "remoteRef": { "remoteKey": "json", "property": "blob" } } },
    ]));
    validate(&s).unwrap();
    let data = secret(&[("user", "alice"), ("pass", "s3cret")]);
    let plans = plan(&s, &data).unwrap();
    assert_eq!(plans.len(), 3);
    let app = &plans[0];
    assert_eq!(app.remote_key, "app");
    assert!(app.whole.is_none());
    assert_eq!(app.properties["u"].value.expose_secret(), "alice");
    assert_eq!(app.properties["p"].value.expose_secret(), "s3cret");
    let all = plans[1].whole.as_ref().unwrap();
    assert_eq!(all.data.get("pass"), Some(&json!("s3cret")));
    assert_eq!(all.data.len(), 2);
    let blob = plans[2].properties["blob"].value.expose_secret().to_owned();
    let parsed: serde_json::Value = serde_json::from_str(&blob).unwrap();
    assert_eq!(parsed, json!({ "user": "alice", "pass": "s3cret" }));
}

#[test]
fn a_key_without_property_must_be_a_json_object() {
    let s = base(json!([{ "match": { "secretKey": "cfg", "remoteRef": { "remoteKey": "c" } } }]));
    let ok = plan(&s, &secret(&[("cfg", r#"{"a":"1"}"#)])).unwrap();
    assert_eq!(
        ok[0].whole.as_ref().unwrap().data.get("a"),
        Some(&json!("1"))
    );
    let err = plan(&s, &secret(&[("cfg", "hunter2")])).unwrap_err();
    let text = err.to_string();
    assert!(!text.contains("hunter2"), "{text}");
    assert_eq!(field_of(err), "spec.data[0].match.remoteRef.property");
}

#[test]
fn missing_keys_and_clashes_name_the_entry() {
    let s = base(
        json!([{ "match": { "secretKey": "nope", "remoteRef": { "remoteKey": "a", "property": "x" } } }]),
    );
    assert_eq!(
        field_of(plan(&s, &secret(&[])).unwrap_err()),
        "spec.data[0].match.secretKey"
    );
    let s = base(json!([
        { "match": { "secretKey": "k", "remoteRef": { "remoteKey": "a", "property": "x" } } },
        { "match": { "secretKey": "k", "remoteRef": { "remoteKey": "a", "property": "x" } } },
    ]));
    let err = plan(&s, &secret(&[("k", "v")])).unwrap_err();
    assert_eq!(field_of(err), "spec.data[1].match.remoteRef");
    let bytes = {
        let mut d = SecretData::new();
        d.insert("bin".into(), vec![0xff, 0xfe]);
        d
    };
    let s = base(
        json!([{ "match": { "secretKey": "bin", "remoteRef": { "remoteKey": "a", "property": "x" } } }]),
    );
    assert_eq!(
        field_of(plan(&s, &bytes).unwrap_err()),
        "spec.data[0].match.secretKey"
    );
}

#[test]
fn reverse_unicode_undoes_the_unicode_conversion() {
    assert_eq!(reverse_unicode("a_U0021_b"), "a!b");
    assert_eq!(reverse_unicode("_U002f_etc_U002f_x"), "/etc/x");
    assert_eq!(reverse_unicode("plain_key"), "plain_key");
    assert_eq!(reverse_unicode("_U12_"), "_U12_");
    assert_eq!(reverse_unicode("_Uzzzz_"), "_Uzzzz_");
    assert_eq!(reverse_unicode("end_U0041"), "end_U0041");
    let s = base(json!([{ "conversionStrategy": "ReverseUnicode",
        "match": { "secretKey": "a!b", "remoteRef": { "remoteKey": "k", "property": "p" } } }]));
    let plans = plan(&s, &secret(&[("a_U0021_b", "v")])).unwrap();
    assert_eq!(plans[0].properties["p"].value.expose_secret(), "v");
}

#[test]
fn custom_metadata_is_read_from_push_secret_metadata() {
    let s = base(
        json!([{ "match": { "secretKey": "k", "remoteRef": { "remoteKey": "a", "property": "p" } },
        "metadata": { "apiVersion": "kubernetes.external-secrets.io/v1alpha1",
            "kind": "PushSecretMetadata",
            "spec": { "customMetadata": { "team": "a" }, "mergePolicy": "Replace" } } }]),
    );
    validate(&s).unwrap();
    let plans = plan(&s, &secret(&[("k", "v")])).unwrap();
    assert_eq!(
        plans[0].custom_metadata.get("team").map(String::as_str),
        Some("a")
    );
    assert_eq!(plans[0].metadata_merge, MetadataMerge::Replace);
}

#[test]
fn debug_output_never_shows_values() {
    let s = base(json!([
        { "match": { "secretKey": "k", "remoteRef": { "remoteKey": "a", "property": "p" } } },
        { "match": { "remoteRef": { "remoteKey": "b" } } },
    ]));
    let plans = plan(&s, &secret(&[("k", "hunter2")])).unwrap();
    let debug = format!("{plans:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
}
