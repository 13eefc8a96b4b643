//! Pushing: properties merged into what a secret holds, whole-Secret pushes, `IfNotExists`,
//! `deletionPolicy: Delete` removing only what was pushed, KV v1, and an idle refresh that
//! writes nothing anywhere.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::*;
use crate::support::common::{eventually, start_agent};
use ferry_api::push_secret::PUSH_SECRET_FINALIZER;
use ferry_testenv::TestEnv;
use ferry_vault::KvVersion;
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

fn entry(key: Option<&str>, remote: &str, property: Option<&str>) -> Value {
    let mut e = json!({ "match": { "remoteRef": { "remoteKey": remote } } });
    if let Some(k) = key {
        e["match"]["secretKey"] = json!(k);
    }
    if let Some(p) = property {
        e["match"]["remoteRef"]["property"] = json!(p);
    }
    e
}

#[tokio::test]
async fn properties_merge_and_whole_secrets_replace() {
    let env = TestEnv::new("push-basic").await;
    let agent = start_agent(&env).await;
    push_store(&env, "vault", Kv::v2(&env), &["*"]).await;
    let kv = Kv::v2(&env);
    put_v2(&env, "shared", json!({ "other": "keep-1" }), true).await;
    put_v2(&env, "foreign", json!({ "x": "foreign-1" }), false).await;
    let cfg = r#"{"a":"1","b":"2"}"#;
    source(
        &env,
        "src",
        &[("user", "alice-1"), ("pass", "pw-1"), ("cfg", cfg)],
    )
    .await;
    let started = Instant::now();
    push_secret(
        &env,
        "ps",
        json!({
            "refreshInterval": "1h",
            "secretStoreRefs": [{ "name": "vault" }],
            "selector": { "secret": { "name": "src" } },
            "data": [
                entry(Some("user"), &env.path("shared"), Some("u")),
                entry(Some("pass"), &env.path("shared"), Some("p")),
                entry(None, &env.path("whole"), None),
                entry(Some("cfg"), &env.path("cfg"), None),
                entry(None, &env.path("json"), Some("all")),
            ]
        }),
    )
    .await;
    push_secret(
        &env,
        "into-foreign",
        json!({
            "secretStoreRefs": [{ "name": "vault" }],
            "selector": { "secret": { "name": "src" } },
            "data": [ entry(Some("user"), &env.path("foreign"), Some("u")) ]
        }),
    )
    .await;
    wait_push(&env, "ps", "True").await;
    eprintln!("first push Ready after {:?}", started.elapsed());
    assert_eq!(
        vault_data(&env, kv, "shared").await.unwrap(),
        json!({ "other": "keep-1", "u": "alice-1", "p": "pw-1" })
            .as_object()
            .cloned()
            .unwrap(),
        "a property push merges into the secret's other properties"
    );
    assert_eq!(
        Value::Object(vault_data(&env, kv, "whole").await.unwrap()),
        json!({ "user": "alice-1", "pass": "pw-1", "cfg": cfg })
    );
    assert_eq!(
        Value::Object(vault_data(&env, kv, "cfg").await.unwrap()),
        json!({ "a": "1", "b": "2" })
    );
    let all = vault_data(&env, kv, "json").await.unwrap();
    let all: Value = serde_json::from_str(all["all"].as_str().unwrap()).unwrap();
    assert_eq!(
        all,
        json!({ "user": "alice-1", "pass": "pw-1", "cfg": cfg })
    );
    let meta = env
        .vault
        .kv_metadata(&env.kv_mount, &env.path("whole"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        meta.custom_metadata.get("managed-by").map(String::as_str),
        Some("external-secrets")
    );
    let places = synced_places(&env, "ps", "vault").await;
    let want: Vec<String> = ["cfg", "json/all", "shared/p", "shared/u", "whole"]
        .iter()
        .map(|p| env.path(p))
        .collect();
    assert_eq!(places, want);
    // A label selector: every matching Secret, merged in name order; custom metadata.
    for (name, data) in [
        ("lab-a", json!({ "k": "a-1", "shared": "from-a" })),
        ("lab-b", json!({ "shared": "from-b" })),
    ] {
        let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
            "metadata": { "name": name, "labels": { "push": "yes" } }, "stringData": data }))
        .unwrap();
        Api::<k8s_openapi::api::core::v1::Secret>::namespaced(env.kube.clone(), &env.namespace)
            .create(&Default::default(), &secret)
            .await
            .unwrap();
    }
    push_secret(&env, "by-label", json!({
        "secretStoreRefs": [{ "name": "vault" }],
        "selector": { "secret": { "selector": { "matchLabels": { "push": "yes" } } } },
        "data": [{ "match": { "remoteRef": { "remoteKey": env.path("labelled") } },
            "metadata": { "apiVersion": "kubernetes.external-secrets.io/v1alpha1", "kind": "PushSecretMetadata",
                "spec": { "customMetadata": { "team": "platform" } } } }]
    }))
    .await;
    wait_push(&env, "by-label", "True").await;
    assert_eq!(
        Value::Object(vault_data(&env, kv, "labelled").await.unwrap()),
        json!({ "k": "a-1", "shared": "from-b" })
    );
    let meta = env
        .vault
        .kv_metadata(&env.kv_mount, &env.path("labelled"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        meta.custom_metadata.get("team").map(String::as_str),
        Some("platform")
    );
    assert_eq!(
        meta.custom_metadata.get("managed-by").map(String::as_str),
        Some("external-secrets")
    );
    // A secret nobody marked as a push's is neither overwritten nor merged into.
    let message = wait_push(&env, "into-foreign", "False").await;
    assert!(
        message.contains("spec.data[0].match.remoteRef.remoteKey"),
        "{message}"
    );
    assert!(message.contains("not managed by a push"), "{message}");
    assert_eq!(
        Value::Object(vault_data(&env, kv, "foreign").await.unwrap()),
        json!({ "x": "foreign-1" })
    );
    assert_eq!(version(&env, "foreign").await.0, 1);
    agent.stop().await;
}

#[tokio::test]
async fn if_not_exists_never_overwrites() {
    let env = TestEnv::new("push-ine").await;
    let agent = start_agent(&env).await;
    push_store(&env, "vault", Kv::v2(&env), &["*"]).await;
    let kv = Kv::v2(&env);
    put_v2(&env, "app", json!({ "p": "theirs-1" }), true).await;
    put_v2(&env, "taken", json!({ "x": "theirs-2" }), false).await;
    source(&env, "src", &[("a", "ours-1"), ("b", "new-1")]).await;
    push_secret(
        &env,
        "ps",
        json!({
            "refreshInterval": "1s",
            "updatePolicy": "IfNotExists",
            "secretStoreRefs": [{ "name": "vault" }],
            "selector": { "secret": { "name": "src" } },
            "data": [
                entry(Some("a"), &env.path("app"), Some("p")),
                entry(Some("b"), &env.path("app"), Some("q")),
                entry(None, &env.path("taken"), None),
            ]
        }),
    )
    .await;
    let message = wait_push(&env, "ps", "True").await;
    assert!(message.contains("left unchanged"), "{message}");
    assert_eq!(
        Value::Object(vault_data(&env, kv, "app").await.unwrap()),
        json!({ "p": "theirs-1", "q": "new-1" })
    );
    assert_eq!(
        Value::Object(vault_data(&env, kv, "taken").await.unwrap()),
        json!({ "x": "theirs-2" })
    );
    assert_eq!(
        version(&env, "taken").await.0,
        1,
        "no write at all to a secret that exists"
    );
    // Only what this PushSecret wrote is its own.
    assert_eq!(
        synced_places(&env, "ps", "vault").await,
        [env.path("app/q")]
    );
    // A later change of the source overwrites nothing either, ours included.
    let app_version = version(&env, "app").await.0;
    set_source(&env, "src", &[("a", "ours-2"), ("b", "new-2")]).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        Value::Object(vault_data(&env, kv, "app").await.unwrap()),
        json!({ "p": "theirs-1", "q": "new-1" })
    );
    assert_eq!(version(&env, "app").await.0, app_version);
    agent.stop().await;
}

#[tokio::test]
async fn delete_removes_only_what_was_pushed() {
    let env = TestEnv::new("push-delete").await;
    let agent = start_agent(&env).await;
    push_store(&env, "vault", Kv::v2(&env), &["*"]).await;
    let kv = Kv::v2(&env);
    put_v2(&env, "shared", json!({ "other": "keep-1" }), true).await;
    source(&env, "src", &[("u", "u-1"), ("p", "p-1")]).await;
    let spec = |with_p: bool| {
        let mut data = vec![
            entry(Some("u"), &env.path("shared"), Some("u")),
            entry(None, &env.path("whole"), None),
            entry(Some("u"), &env.path("only-ours"), Some("u")),
        ];
        if with_p {
            data.push(entry(Some("p"), &env.path("shared"), Some("p")));
        }
        json!({
            "deletionPolicy": "Delete",
            "secretStoreRefs": [{ "name": "vault" }],
            "selector": { "secret": { "name": "src" } },
            "data": data
        })
    };
    push_secret(&env, "ps", spec(true)).await;
    push_secret(
        &env,
        "keeps",
        json!({
            "secretStoreRefs": [{ "name": "vault" }],
            "selector": { "secret": { "name": "src" } },
            "data": [ entry(Some("p"), &env.path("kept"), Some("p")) ]
        }),
    )
    .await;
    wait_push(&env, "ps", "True").await;
    wait_push(&env, "keeps", "True").await;
    let ps = get_push(&env, "ps").await.unwrap();
    assert!(
        ps.finalizers().iter().any(|f| f == PUSH_SECRET_FINALIZER),
        "ESO's finalizer, for Delete"
    );
    assert!(
        get_push(&env, "keeps")
            .await
            .unwrap()
            .finalizers()
            .is_empty(),
        "none for None"
    );
    assert_eq!(
        Value::Object(vault_data(&env, kv, "shared").await.unwrap()),
        json!({ "other": "keep-1", "u": "u-1", "p": "p-1" })
    );
    // An entry taken out of the spec: its property goes, nothing else.
    let api = Api::<ferry_api::PushSecret>::namespaced(env.kube.clone(), &env.namespace);
    let patch = json!({ "spec": spec(false) });
    api.patch("ps", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "p removed from shared", || async {
        let data = vault_data(&env, kv, "shared").await?;
        (Value::Object(data) == json!({ "other": "keep-1", "u": "u-1" })).then_some(())
    })
    .await;
    // ... and from the status, which now lists exactly what remains pushed.
    let remaining: Vec<String> = ["only-ours/u", "shared/u", "whole"]
        .iter()
        .map(|p| env.path(p))
        .collect();
    eventually(Duration::from_secs(10), "the status without p", || async {
        (synced_places(&env, "ps", "vault").await == remaining).then_some(())
    })
    .await;
    // The PushSecret deleted: what it pushed goes; a secret keeps what others put in it.
    api.delete("ps", &DeleteParams::default()).await.unwrap();
    api.delete("keeps", &DeleteParams::default()).await.unwrap();
    eventually(Duration::from_secs(15), "both PushSecrets gone", || async {
        (get_push(&env, "ps").await.is_none() && get_push(&env, "keeps").await.is_none())
            .then_some(())
    })
    .await;
    assert_eq!(
        Value::Object(vault_data(&env, kv, "shared").await.unwrap()),
        json!({ "other": "keep-1" })
    );
    assert!(
        vault_data(&env, kv, "whole").await.is_none(),
        "the whole-secret push is deleted"
    );
    assert!(
        vault_data(&env, kv, "only-ours").await.is_none(),
        "nothing else was left in it"
    );
    // Soft-deleted, not destroyed: the version is still there to undelete.
    assert_eq!(version(&env, "whole").await.0, 1);
    assert_eq!(
        Value::Object(vault_data(&env, kv, "kept").await.unwrap()),
        json!({ "p": "p-1" }),
        "deletionPolicy None keeps it"
    );
    agent.stop().await;
}

#[tokio::test]
async fn an_idle_refresh_writes_nothing() {
    let env = TestEnv::new("push-idle").await;
    let agent = start_agent(&env).await;
    push_store(&env, "vault", Kv::v2(&env), &["*"]).await;
    source(&env, "src", &[("a", "a-1"), ("b", "b-1")]).await;
    push_secret(&env, "ps", json!({
        "refreshInterval": "1s",
        "secretStoreRefs": [{ "name": "vault" }],
        "selector": { "secret": { "name": "src" } },
        "data": [ entry(Some("a"), &env.path("prop"), Some("a")), entry(None, &env.path("whole"), None) ]
    }))
    .await;
    wait_push(&env, "ps", "True").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let events = Api::<Event>::namespaced(env.kube.clone(), &env.namespace);
    let count_events = || async { events.list(&Default::default()).await.unwrap().items.len() };
    let before = agent.stats.get();
    let versions = (version(&env, "prop").await, version(&env, "whole").await);
    let rv = get_push(&env, "ps").await.unwrap().resource_version();
    let event_count = count_events().await;
    let window = Duration::from_secs(4);
    tokio::time::sleep(window).await;
    let after = agent.stats.get();
    let reads = after.vault_reads - before.vault_reads;
    assert!(reads >= 4, "the refreshes ran ({reads} reads)");
    assert_eq!(
        after.vault_writes, before.vault_writes,
        "0 Vault writes while idle"
    );
    assert_eq!(
        (version(&env, "prop").await, version(&env, "whole").await),
        versions
    );
    assert_eq!(
        get_push(&env, "ps").await.unwrap().resource_version(),
        rv,
        "no status write"
    );
    assert_eq!(count_events().await, event_count, "no Event");
    assert_eq!(after.secret_writes, before.secret_writes);
    eprintln!(
        "idle push over {window:?}: {reads} Vault reads, 0 Vault writes, 0 Kubernetes writes"
    );
    // A change is pushed at the next refresh, with one write for the one changed path.
    set_source(&env, "src", &[("a", "a-2"), ("b", "b-1")]).await;
    eventually(Duration::from_secs(5), "the change pushed", || async {
        let data = vault_data(&env, Kv::v2(&env), "prop").await?;
        (data.get("a") == Some(&json!("a-2"))).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let changed = agent.stats.get();
    assert_eq!(
        changed.vault_writes - after.vault_writes,
        2,
        "prop and whole, once each"
    );
    assert_eq!(version(&env, "prop").await.0, versions.0.0 + 1);
    agent.stop().await;
}

#[tokio::test]
async fn kv_v1_merges_marks_and_removes() {
    let env = TestEnv::new("push-kv1").await;
    let mount = format!("{}-kv1", env.prefix);
    let options = BTreeMap::from([("version".to_owned(), "1".to_owned())]);
    env.vault.enable_mount(&mount, "kv", options).await.unwrap();
    let kv = Kv {
        mount: &mount,
        version: KvVersion::V1,
    };
    let agent = start_agent(&env).await;
    push_store(&env, "v1", kv, &["*"]).await;
    let existing =
        json!({ "other": "keep-1", "custom_metadata": { "managed-by": "external-secrets" } });
    env.vault
        .kv_write(
            &mount,
            &env.path("app"),
            KvVersion::V1,
            &KvData::new(existing.as_object().cloned().unwrap()),
            None,
        )
        .await
        .unwrap();
    source(&env, "src", &[("u", "u-1")]).await;
    push_secret(&env, "ps", json!({
        "deletionPolicy": "Delete",
        "secretStoreRefs": [{ "name": "v1" }],
        "selector": { "secret": { "name": "src" } },
        "data": [ entry(Some("u"), &env.path("app"), Some("u")), entry(Some("u"), &env.path("new"), Some("u")) ]
    }))
    .await;
    wait_push(&env, "ps", "True").await;
    let marker = json!({ "managed-by": "external-secrets" });
    assert_eq!(
        Value::Object(vault_data(&env, kv, "app").await.unwrap()),
        json!({ "other": "keep-1", "u": "u-1", "custom_metadata": marker })
    );
    assert_eq!(
        Value::Object(vault_data(&env, kv, "new").await.unwrap()),
        json!({ "u": "u-1", "custom_metadata": marker })
    );
    let api = Api::<ferry_api::PushSecret>::namespaced(env.kube.clone(), &env.namespace);
    api.delete("ps", &DeleteParams::default()).await.unwrap();
    eventually(Duration::from_secs(15), "the PushSecret gone", || async {
        get_push(&env, "ps").await.is_none().then_some(())
    })
    .await;
    assert_eq!(
        Value::Object(vault_data(&env, kv, "app").await.unwrap()),
        json!({ "other": "keep-1", "custom_metadata": marker })
    );
    assert!(vault_data(&env, kv, "new").await.is_none());
    agent.stop().await;
}
