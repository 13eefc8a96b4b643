//! Bad input gets `Ready=False` naming the field, and loses nothing: a selector that matches
//! nothing, a missing Secret or key, a remoteKey outside what the store's policy grants (Vault
//! refuses; its text is not copied), a read-only store, a generator, the agent's HMAC key
//! Secret. Vault and the cluster are as they were.

use super::*;
use crate::support::common::start_agent;
use ferry_testenv::TestEnv;
use serde_json::json;

fn one(key: &str, remote: &str) -> Value {
    json!([{ "match": { "secretKey": key, "remoteRef": { "remoteKey": remote, "property": "v" } } }])
}

#[tokio::test]
async fn bad_input_names_the_field_and_loses_nothing() {
    let env = TestEnv::new("push-bad").await;
    let agent = start_agent(&env).await;
    // The push store may write under allowed/ only; the read-only store may only read.
    push_store(&env, "vault", Kv::v2(&env), &["allowed/*"]).await;
    read_only_store(&env, "ro").await;
    put_v2(&env, "allowed/keep", json!({ "v": "kept-1" }), true).await;
    put_v2(&env, "outside", json!({ "v": "outside-1" }), true).await;
    source(&env, "src", &[("k", "value-1")]).await;
    let spec = |store: &str, selector: Value, data: Value| json!({ "secretStoreRefs": [{ "name": store }], "selector": selector, "data": data });
    let named = json!({ "secret": { "name": "src" } });
    let cases = [
        (
            "no-match",
            spec(
                "vault",
                json!({ "secret": { "selector": { "matchLabels": { "app": "none" } } } }),
                one("k", &env.path("allowed/a")),
            ),
            "spec.selector.secret.selector",
        ),
        (
            "no-secret",
            spec(
                "vault",
                json!({ "secret": { "name": "nope" } }),
                one("k", &env.path("allowed/a")),
            ),
            "spec.selector.secret.name",
        ),
        (
            "no-key",
            spec(
                "vault",
                named.clone(),
                one("missing", &env.path("allowed/a")),
            ),
            "spec.data[0].match.secretKey",
        ),
        (
            "outside",
            spec("vault", named.clone(), one("k", &env.path("outside"))),
            "spec.data[0].match.remoteRef.remoteKey",
        ),
        (
            "read-only",
            spec("ro", named.clone(), one("k", &env.path("allowed/keep"))),
            "spec.data[0].match.remoteRef.remoteKey",
        ),
        (
            "generator",
            spec(
                "vault",
                json!({ "generatorRef": { "kind": "Password", "name": "pw" } }),
                one("k", &env.path("allowed/a")),
            ),
            "spec.selector.generatorRef",
        ),
        (
            "hmac-key",
            spec(
                "vault",
                json!({ "secret": { "name": "ferry-hmac-key" } }),
                one("key", &env.path("allowed/a")),
            ),
            "spec.selector.secret.name",
        ),
        (
            "no-store",
            spec("absent", named.clone(), one("k", &env.path("allowed/a"))),
            "absent",
        ),
    ];
    for (name, spec, _) in &cases {
        push_secret(&env, name, spec.clone()).await;
    }
    for (name, _, field) in &cases {
        let message = wait_push(&env, name, "False").await;
        assert!(message.contains(field), "{name}: {message}");
        assert!(!message.contains("value-1"), "{name}: {message}");
        assert!(
            !message.contains("permission denied"),
            "{name}: Vault's text: {message}"
        );
        eprintln!("{name}: {message}");
    }
    let message = push_ready(&env, "outside").await.unwrap().1;
    assert!(message.contains("HTTP 403"), "{message}");
    let message = push_ready(&env, "generator").await.unwrap().1;
    assert!(message.contains("not yet"), "{message}");
    // Nothing in Vault changed or appeared; the source is as it was.
    let kv = Kv::v2(&env);
    assert_eq!(
        Value::Object(vault_data(&env, kv, "allowed/keep").await.unwrap()),
        json!({ "v": "kept-1" })
    );
    assert_eq!(
        Value::Object(vault_data(&env, kv, "outside").await.unwrap()),
        json!({ "v": "outside-1" })
    );
    assert_eq!(version(&env, "allowed/keep").await.0, 1);
    assert_eq!(version(&env, "outside").await.0, 1);
    assert!(vault_data(&env, kv, "allowed/a").await.is_none());
    let src = crate::support::common::secret_data(&env, "src")
        .await
        .unwrap();
    assert_eq!(src.get("k").map(String::as_str), Some("value-1"));
    // Fixing the input heals it: the missing Secret appears.
    source(&env, "nope", &[("k", "late-1")]).await;
    wait_push(&env, "no-secret", "True").await;
    assert_eq!(
        Value::Object(vault_data(&env, kv, "allowed/a").await.unwrap()),
        json!({ "v": "late-1" })
    );
    agent.stop().await;
}
