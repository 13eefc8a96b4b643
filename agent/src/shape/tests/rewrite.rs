//! Rewrites, key conversion and find results.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use super::{fetched, field_of, kv, spec};
use crate::shape::{FindResults, build, build_all};

#[test]
fn regexp_rewrites_apply_in_order_with_groups() {
    let s = spec(
        "dataFrom:\n- extract: {key: app}\n  rewrite:\n  - regexp: {source: '^db_(.*)$', target: '${1}-db'}\n  - regexp: {source: '-', target: '.'}\n",
    );
    let d = build(
        &s,
        &fetched(&[(
            "app",
            json!({"db_user": "u", "db_pass": "s3cr3t", "x/y": "z"}),
        )]),
    );
    let e = d
        .err()
        .unwrap_or_else(|| panic!("x/y is not a valid key after rewrites"));
    assert_eq!(
        field_of(&e),
        ("spec.dataFrom[0].rewrite".to_owned(), "build")
    );

    let d = build(
        &s,
        &fetched(&[("app", json!({"db_user": "u", "db_pass": "p"}))]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.keys().collect::<Vec<_>>(), ["pass.db", "user.db"]);
    assert_eq!(d.get("user.db"), Some(&b"u"[..]));
}

#[test]
fn rewrite_collisions_are_errors() {
    let s = spec(
        "dataFrom:\n- extract: {key: app}\n  rewrite: [{regexp: {source: '.*', target: k}}]\n",
    );
    let e = build(
        &s,
        &fetched(&[("app", json!({"a": "s3cr3t", "b": "s3cr3t"}))]),
    )
    .err();
    let e = e.unwrap_or_else(|| panic!("two keys become one"));
    assert_eq!(
        field_of(&e),
        ("spec.dataFrom[0].rewrite[0]".to_owned(), "build")
    );
}

#[test]
fn unicode_conversion() {
    let s = spec("dataFrom:\n- extract: {key: app, conversionStrategy: Unicode}\n");
    let d = build(&s, &fetched(&[("app", json!({"a/b c": "1", "ok": "2"}))]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.keys().collect::<Vec<_>>(), ["a_U002f_b_U0020_c", "ok"]);
}

#[test]
fn find_results_keep_paths_convert_and_decode() {
    let s = spec(
        "dataFrom:\n- find: {path: team, name: {regexp: .}, decodingStrategy: Auto}\n- find: {path: team, name: {regexp: .}}\n  rewrite: [{regexp: {source: '^team/', target: ''}}]\n",
    );
    let secret = |v| Arc::new(kv(v));
    let mut first = BTreeMap::new();
    first.insert("team/db/main".to_owned(), secret(json!({"p": "s3cr3t"})));
    let mut second = BTreeMap::new();
    second.insert("team/api".to_owned(), secret(json!({"k": 1})));
    let found: FindResults = [(0, first), (1, second)].into();
    let d = build_all(&s, &BTreeMap::new(), &found).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.keys().collect::<Vec<_>>(), ["api", "team_db_main"]);
    assert_eq!(d.get("team_db_main"), Some(&br#"{"p":"s3cr3t"}"#[..]));
    assert_eq!(d.get("api"), Some(&br#"{"k":1}"#[..]));
}

#[test]
fn transform_rewrites_render_the_key_as_value() {
    let s = spec(
        "dataFrom:\n- extract: {key: app}\n  rewrite: [{transform: {template: 'x-{{ .value | upper }}'}}]\n",
    );
    let d = build(&s, &fetched(&[("app", json!({"a": "1", "b": "2"}))]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.keys().collect::<Vec<_>>(), ["x-A", "x-B"]);
    let s = spec(
        "dataFrom:\n- extract: {key: app}\n  rewrite: [{transform: {template: '{{ .value'}}]\n",
    );
    let e = build(&s, &fetched(&[("app", json!({"a": "s3cr3t"}))])).err();
    let e = e.unwrap_or_else(|| panic!("a broken template fails"));
    assert!(
        matches!(&e, crate::error::AgentError::RenderTemplate { field, .. } if field == "spec.dataFrom[0].rewrite[0].transform.template"),
        "{e:?}"
    );
}
