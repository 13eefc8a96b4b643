//! Data shaping against the real API server and OpenBao: `dataFrom[].find` (name, tags,
//! recursion) with rewrites, decoding strategies, metadataPolicy Fetch, version pinning, and
//! shaping errors that leave the Secret untouched. Rollout restarts: `agent_restart.rs`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::common::*;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use ferry_testenv::TestEnv;
use kube::api::Api;
use serde_json::json;

/// Sets the custom metadata of a KV v2 secret under the test's prefix.
async fn tag(env: &TestEnv, path: &str, tags: &[(&str, &str)]) {
    let tags: BTreeMap<String, String> = tags
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.vault
        .kv_set_custom_metadata(&env.kv_mount, &env.path(path), &tags)
        .await
        .unwrap();
}

#[tokio::test]
async fn find_across_fifty_paths_by_name_and_tags_with_rewrite() {
    let env = TestEnv::new("find").await;
    let agent = start_agent(&env).await;
    token_store(&env, "store").await;
    for i in 0..50 {
        // Two folders, one of them nested, so the LIST must recurse.
        let path = if i < 25 {
            format!("fleet/a/svc-{i:02}")
        } else {
            format!("fleet/b/deep/svc-{i:02}")
        };
        put(&env, &path, json!({ "token": format!("t-{i}") })).await;
        if i % 5 == 0 {
            tag(&env, &path, &[("tier", "gold"), ("team", "core")]).await;
        } else if i % 5 == 1 {
            tag(&env, &path, &[("tier", "gold")]).await;
        }
    }
    put(&env, "elsewhere/svc-00", json!({ "token": "decoy" })).await;
    let fleet = env.path("fleet");
    external_secret(
        &env,
        "fleet",
        json!({
            "secretStoreRef": { "name": "store" },
            "dataFrom": [
                {
                    "find": { "path": fleet, "name": { "regexp": "svc-[0-3][0-9]$" } },
                    "rewrite": [
                        { "regexp": { "source": "^.*/(svc-[0-9]+)$", "target": "$1" } },
                        { "regexp": { "source": "^svc-", "target": "name-" } }
                    ]
                },
                { "find": { "path": fleet, "tags": { "tier": "gold", "team": "core" } } }
            ]
        }),
    )
    .await;
    wait_reason(&env, "fleet", "SecretSynced").await;
    let d = secret_data(&env, "fleet").await.unwrap();
    let by_name: Vec<_> = d.keys().filter(|k| k.starts_with("name-")).collect();
    assert_eq!(by_name.len(), 40, "svc-00 .. svc-39: {by_name:?}");
    assert_eq!(d["name-07"], r#"{"token":"t-7"}"#);
    assert_eq!(d["name-31"], r#"{"token":"t-31"}"#);
    // Without a rewrite, keys keep the whole path with `/` converted to `_`.
    let prefix = fleet.replace('/', "_");
    let by_tags: Vec<_> = d.keys().filter(|k| k.starts_with(&prefix)).collect();
    assert_eq!(by_tags.len(), 10, "every fifth secret: {by_tags:?}");
    assert_eq!(d[&format!("{prefix}_a_svc-05")], r#"{"token":"t-5"}"#);
    assert_eq!(d[&format!("{prefix}_b_deep_svc-45")], r#"{"token":"t-45"}"#);
    assert_eq!(d.len(), 50);
    assert!(!d.values().any(|v| v.contains("decoy")));

    // A new matching secret appears on the next refresh (force-sync by annotation).
    put(&env, "fleet/b/svc-77", json!({ "token": "t-77" })).await;
    tag(
        &env,
        "fleet/b/svc-77",
        &[("tier", "gold"), ("team", "core")],
    )
    .await;
    patch_es(
        &env,
        "fleet",
        json!({ "metadata": { "annotations": { "force-sync": "1" } } }),
    )
    .await;
    let key = format!("{prefix}_b_svc-77");
    eventually(Duration::from_secs(20), "the new tagged secret", || async {
        secret_data(&env, "fleet")
            .await
            .filter(|d| d.get(&key).map(String::as_str) == Some(r#"{"token":"t-77"}"#))
    })
    .await;

    // A find that selects nothing is "not found" naming the find; nothing is written.
    external_secret(
        &env,
        "nothing",
        json!({
            "secretStoreRef": { "name": "store" },
            "dataFrom": [ { "find": { "path": fleet, "name": { "regexp": "^no-such$" } } } ]
        }),
    )
    .await;
    let msg = wait_reason(&env, "nothing", "SecretSyncedError").await;
    assert!(msg.contains("spec.dataFrom[0].find"), "{msg}");
    assert!(secret_data(&env, "nothing").await.is_none());
    agent.stop().await;
}

#[tokio::test]
async fn decoding_strategies_on_extract_and_data() {
    let env = TestEnv::new("decode").await;
    let agent = start_agent(&env).await;
    token_store(&env, "store").await;
    put(
        &env,
        "enc",
        json!({
            "std": STANDARD.encode("hello, world"),
            "url": URL_SAFE.encode([0xfb_u8, 0xff, 0xbf]),
            "plain": "not base64!",
            "json": STANDARD.encode(r#"{"a":1}"#)
        }),
    )
    .await;
    let key = env.path("enc");
    external_secret(
        &env,
        "auto",
        json!({
            "secretStoreRef": { "name": "store" },
            "dataFrom": [ { "extract": { "key": key, "decodingStrategy": "Auto" } } ],
            "data": [
                { "secretKey": "url-explicit",
                  "remoteRef": { "key": key, "property": "url", "decodingStrategy": "Base64URL" } },
                { "secretKey": "std-explicit",
                  "remoteRef": { "key": key, "property": "std", "decodingStrategy": "Base64" } }
            ]
        }),
    )
    .await;
    wait_reason(&env, "auto", "SecretSynced").await;
    let api =
        Api::<k8s_openapi::api::core::v1::Secret>::namespaced(env.kube.clone(), &env.namespace);
    let raw = api.get("auto").await.unwrap().data.unwrap();
    let get = |k: &str| raw[k].0.clone();
    assert_eq!(get("std"), b"hello, world");
    assert_eq!(
        get("url"),
        [0xfb, 0xff, 0xbf],
        "Auto falls back to base64url"
    );
    assert_eq!(
        get("plain"),
        b"not base64!",
        "Auto keeps what is not base64"
    );
    assert_eq!(get("json"), br#"{"a":1}"#);
    assert_eq!(get("url-explicit"), [0xfb, 0xff, 0xbf]);
    assert_eq!(get("std-explicit"), b"hello, world");

    // Base64 on a value that is not base64: Ready=False naming the field, no value leaked.
    external_secret(
        &env,
        "strict",
        json!({
            "secretStoreRef": { "name": "store" },
            "dataFrom": [ { "extract": { "key": key, "decodingStrategy": "Base64" } } ]
        }),
    )
    .await;
    let msg = wait_reason(&env, "strict", "SecretSyncedError").await;
    assert!(
        msg.contains("spec.dataFrom[0].extract.decodingStrategy"),
        "{msg}"
    );
    assert!(
        msg.contains("\"plain\"") && !msg.contains("not base64!"),
        "{msg}"
    );
    assert!(secret_data(&env, "strict").await.is_none());
    agent.stop().await;
}

#[tokio::test]
async fn metadata_fetch_and_version_pinning() {
    let env = TestEnv::new("metadata").await;
    let agent = start_agent(&env).await;
    token_store(&env, "store").await;
    put(&env, "app", json!({ "password": "first" })).await;
    put(&env, "app", json!({ "password": "second" })).await;
    tag(&env, "app", &[("owner", "team-a"), ("rotated-by", "ferry")]).await;
    let key = env.path("app");
    external_secret(
        &env,
        "meta",
        json!({
            "secretStoreRef": { "name": "store" },
            "data": [
                { "secretKey": "v1", "remoteRef": { "key": key, "property": "password", "version": "1" } },
                { "secretKey": "latest", "remoteRef": { "key": key, "property": "password" } },
                { "secretKey": "owner", "remoteRef": { "key": key, "property": "owner", "metadataPolicy": "Fetch" } },
                { "secretKey": "version", "remoteRef": { "key": key, "property": "current_version", "metadataPolicy": "Fetch" } }
            ],
            "dataFrom": [ {
                "extract": { "key": key, "metadataPolicy": "Fetch" },
                "rewrite": [ { "regexp": { "source": "^", "target": "meta-" } } ]
            } ]
        }),
    )
    .await;
    wait_reason(&env, "meta", "SecretSynced").await;
    let d = secret_data(&env, "meta").await.unwrap();
    assert_eq!(d["v1"], "first");
    assert_eq!(d["latest"], "second");
    assert_eq!(d["owner"], "team-a");
    assert_eq!(d["version"], "2");
    assert_eq!(d["meta-owner"], "team-a");
    assert_eq!(d["meta-rotated-by"], "ferry");
    assert_eq!(d["meta-current_version"], "2");
    assert!(d.contains_key("meta-created_time") && d.contains_key("meta-delete_version_after"));
    assert!(
        !d.contains_key("meta-password"),
        "metadata only, never the data"
    );

    // A pinned version that does not exist is "not found", naming the field.
    external_secret(
        &env,
        "pinned-missing",
        json!({
            "secretStoreRef": { "name": "store" },
            "data": [ { "secretKey": "x", "remoteRef": { "key": key, "property": "password", "version": "9" } } ]
        }),
    )
    .await;
    let msg = wait_reason(&env, "pinned-missing", "SecretSyncedError").await;
    assert!(msg.contains("spec.data[0].remoteRef.key"), "{msg}");
    agent.stop().await;
}

#[tokio::test]
async fn shaping_errors_name_the_field_and_leave_the_secret_untouched() {
    let env = TestEnv::new("shape-errors").await;
    let agent = start_agent(&env).await;
    token_store(&env, "store").await;
    put(
        &env,
        "app",
        json!({ "user": "u-value", "pass": "p-value", "pa/ss": "x" }),
    )
    .await;
    let key = env.path("app");
    external_secret(
        &env,
        "app",
        json!({
            "secretStoreRef": { "name": "store" },
            "dataFrom": [ {
                "extract": { "key": key },
                "rewrite": [ { "regexp": { "source": "^pa/", "target": "other-" } } ]
            } ]
        }),
    )
    .await;
    wait_reason(&env, "app", "SecretSynced").await;
    let before = secret_data(&env, "app").await.unwrap();
    assert_eq!(before["other-ss"], "x");
    assert_eq!(before["user"], "u-value");

    // (rewrite, the field the message names, a text only this case's message has)
    let cases = [
        (
            json!([ { "regexp": { "source": "(", "target": "x" } } ]),
            "spec.dataFrom[0].rewrite[0].regexp.source",
            "regular expression",
        ),
        (
            json!([ { "regexp": { "source": "^(user|pass)$", "target": "same" } } ]),
            "spec.dataFrom[0].rewrite[0]",
            "both rewritten to \"same\"",
        ),
        (
            json!([ { "regexp": { "source": "^user$", "target": "bad key!" } } ]),
            "spec.dataFrom[0].rewrite",
            "\"bad key!\"",
        ),
    ];
    for (rewrite, field, marker) in cases {
        patch_es(
            &env,
            "app",
            json!({ "spec": { "dataFrom": [ {
            "extract": { "key": key }, "rewrite": rewrite } ] } }),
        )
        .await;
        let msg = eventually(Duration::from_secs(20), field, || async {
            ready(&env, "app")
                .await
                .filter(|(s, r, m)| {
                    s == "False"
                        && r == "SecretSyncedError"
                        && m.contains(field)
                        && m.contains(marker)
                })
                .map(|(_, _, m)| m)
        })
        .await;
        assert!(
            !msg.contains("u-value") && !msg.contains("p-value"),
            "{msg}"
        );
        assert_eq!(secret_data(&env, "app").await.unwrap(), before, "{field}");
    }
    // A bad find regexp, too.
    patch_es(
        &env,
        "app",
        json!({ "spec": { "dataFrom": [ {
        "find": { "path": env.path(""), "name": { "regexp": "[" } } } ] } }),
    )
    .await;
    let field = "spec.dataFrom[0].find.name.regexp";
    eventually(Duration::from_secs(20), field, || async {
        ready(&env, "app")
            .await
            .filter(|(s, _, m)| s == "False" && m.contains(field))
    })
    .await;
    assert_eq!(secret_data(&env, "app").await.unwrap(), before);
    agent.stop().await;
}
