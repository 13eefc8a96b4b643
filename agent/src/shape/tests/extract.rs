//! `dataFrom[].extract`, precedence, missing secrets, versions and the reads needed.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{fetched, field_of, kv, spec};
use crate::shape::{RemoteKey, build, parse_version, remote_keys};

type Pairs = Vec<(&'static str, &'static [u8])>;
type ExtractCase = (
    &'static str,
    Value,
    &'static str,
    Result<Pairs, (&'static str, &'static str)>,
);

#[test]
fn extract_semantics() {
    let cases: Vec<ExtractCase> = vec![
        (
            "every top-level key, numbers as float64",
            json!({"a": "s3cr3t", "n": 5, "f": 1.5, "big": 12345678901234567890u64, "o": {"x": true, "y": 3}, "nil": null}),
            "",
            Ok(vec![
                ("a", b"s3cr3t"),
                ("big", b"12345678901234567000"),
                ("f", b"1.5"),
                ("n", b"5"),
                ("nil", b""),
                ("o", br#"{"x":true,"y":3}"#),
            ]),
        ),
        (
            "keys converted like ESO's Default strategy; empty keys dropped",
            json!({"my key/x": "1", "ok-key_.9": "2", "": "3"}),
            "",
            Ok(vec![("my_key_x", b"1"), ("ok-key_.9", b"2")]),
        ),
        (
            "conversion collision",
            json!({"a b": "1", "a/b": "s3cr3t"}),
            "",
            Err(("spec.dataFrom[0].extract.conversionStrategy", "build")),
        ),
        (
            "non-ASCII key",
            json!({"clé": "s3cr3t"}),
            "",
            Err(("spec.dataFrom[0].extract", "build")),
        ),
        (
            "property holding an object",
            json!({"db": {"user": "u", "pass": "s3cr3t"}, "x": "y"}),
            "db",
            Ok(vec![("pass", b"s3cr3t"), ("user", b"u")]),
        ),
        (
            "property path holding an object",
            json!({"a": {"db": {"user": "u"}}}),
            "a.db",
            Ok(vec![("user", b"u")]),
        ),
        (
            "property holding JSON text",
            json!({"cfg": "{\"k\":\"s3cr3t\",\"n\":2.0}"}),
            "cfg",
            Ok(vec![("k", b"s3cr3t"), ("n", b"2")]),
        ),
        (
            "property not an object",
            json!({"cfg": "s3cr3t"}),
            "cfg",
            Err(("spec.dataFrom[0].extract.property", "build")),
        ),
        (
            "property is an array",
            json!({"cfg": ["s3cr3t"]}),
            "cfg",
            Err(("spec.dataFrom[0].extract.property", "build")),
        ),
        (
            "missing property",
            json!({"cfg": {}}),
            "nope",
            Err(("spec.dataFrom[0].extract.property", "not_found")),
        ),
    ];
    for (name, data, property, want) in cases {
        let property = if property.is_empty() {
            String::new()
        } else {
            format!("\n    property: '{property}'")
        };
        let s = spec(&format!("dataFrom:\n- extract:\n    key: app{property}\n"));
        let got = build(&s, &fetched(&[("app", data)]));
        match (got, want) {
            (Ok(d), Ok(pairs)) => assert_eq!(d.iter().collect::<Vec<_>>(), pairs, "{name}"),
            (Err(e), Err((field, category))) => {
                assert_eq!(field_of(&e), (field.to_owned(), category), "{name}")
            }
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn extract_decodes_each_value() {
    let s = spec("dataFrom:\n- extract:\n    key: app\n    decodingStrategy: Base64\n");
    let d = build(&s, &fetched(&[("app", json!({"a": "aGVsbG8=", "b": ""}))]));
    let d = d.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.get("a"), Some(&b"hello"[..]));
    assert_eq!(d.get("b"), Some(&b""[..]));
    let e = build(&s, &fetched(&[("app", json!({"a": "s3cr3t"}))]));
    let e = e.err().unwrap_or_else(|| panic!("must fail"));
    let (field, _) = field_of(&e);
    assert_eq!(field, "spec.dataFrom[0].extract.decodingStrategy");
}

#[test]
fn precedence_data_from_in_order_then_data() {
    let s = spec(
        "data:\n- secretKey: c\n  remoteRef: {key: three, property: v}\n\
         - secretKey: d\n  remoteRef: {key: three, property: v}\n\
         - secretKey: d\n  remoteRef: {key: one, property: a}\n\
         dataFrom:\n- extract: {key: one}\n- extract: {key: two}\n",
    );
    let f = fetched(&[
        ("one", json!({"a": "1", "b": "1"})),
        ("two", json!({"b": "2", "c": "2"})),
        ("three", json!({"v": "3"})),
    ]);
    let d = build(&s, &f).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<_> = d.iter().collect();
    let want: Vec<(&str, &[u8])> = vec![("a", b"1"), ("b", b"2"), ("c", b"3"), ("d", b"1")];
    assert_eq!(got, want);
}

#[test]
fn missing_keys_are_not_found() {
    let s = spec(
        "data:\n- secretKey: a\n  remoteRef: {key: here}\n- secretKey: b\n  remoteRef: {key: gone}\n",
    );
    let e = build(&s, &fetched(&[("here", json!({"x": "s3cr3t"}))])).err();
    let e = e.unwrap_or_else(|| panic!("must fail"));
    assert_eq!(
        field_of(&e),
        ("spec.data[1].remoteRef.key".to_owned(), "not_found")
    );
    let s = spec("dataFrom:\n- extract: {key: gone}\n");
    let e = build(&s, &fetched(&[])).err();
    let e = e.unwrap_or_else(|| panic!("must fail"));
    assert_eq!(
        field_of(&e),
        ("spec.dataFrom[0].extract.key".to_owned(), "not_found")
    );
}

#[test]
fn versions() {
    let s = spec("data:\n- secretKey: a\n  remoteRef: {key: app, version: 'v1'}\n");
    let key = RemoteKey {
        key: "app".into(),
        version: Some("v1".into()),
        metadata: false,
        store: None,
    };
    assert_eq!(remote_keys(&s), vec![key.clone()]);
    let mut f = BTreeMap::new();
    f.insert(key, kv(json!({"x": "s3cr3t"})));
    let e = build(&s, &f)
        .err()
        .unwrap_or_else(|| panic!("v2 must fail"));
    assert_eq!(
        field_of(&e),
        ("spec.data[0].remoteRef.version".to_owned(), "build")
    );
    // KV v1 secrets have no version: the field is ignored.
    for secret in f.values_mut() {
        secret.version = None;
    }
    assert!(build(&s, &f).is_ok());
    assert_eq!(parse_version("3"), Some(3));
    for bad in ["0", "-1", "+1", "1.0", "", "abc"] {
        assert_eq!(parse_version(bad), None, "{bad}");
    }
}

#[test]
fn remote_keys_are_unique_and_sorted() {
    let s = spec(
        "data:\n- secretKey: a\n  remoteRef: {key: b}\n- secretKey: b\n  remoteRef: {key: a, version: ''}\n\
         - secretKey: c\n  remoteRef: {key: a, version: '2', property: p}\n\
         dataFrom:\n- extract: {key: b}\n- find: {path: x}\n",
    );
    let keys: Vec<_> = remote_keys(&s)
        .into_iter()
        .map(|k| (k.key, k.version))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("a".to_owned(), None),
            ("a".to_owned(), Some("2".to_owned())),
            ("b".to_owned(), None)
        ]
    );
}

#[test]
fn built_data_debug_hides_values() {
    let s = spec("dataFrom:\n- extract: {key: app}\n");
    let d = build(&s, &fetched(&[("app", json!({"password": "s3cr3t"}))]));
    let d = d.unwrap_or_else(|e| panic!("{e}"));
    let shown = format!("{d:?} {d:#?}");
    assert!(
        shown.contains("password") && !shown.contains("s3cr3t"),
        "{shown}"
    );
}
