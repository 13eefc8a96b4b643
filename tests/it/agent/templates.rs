//! `spec.target.template` and `dataFrom[].rewrite[].transform` against the real API server
//! and OpenBao: a dockerconfigjson Secret, templateFrom a ConfigMap (KeysAndValues and
//! Values), template metadata, template changes, and template errors that leave the Secret
//! untouched.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::support::common::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ferry_testenv::TestEnv;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

async fn get_secret(env: &TestEnv, name: &str) -> Secret {
    Api::<Secret>::namespaced(env.kube.clone(), &env.namespace)
        .get(name)
        .await
        .unwrap()
}

/// Waits for Ready=False with a message containing every one of `texts`; returns it.
async fn wait_failure(env: &TestEnv, name: &str, texts: &[&str]) -> String {
    eventually(Duration::from_secs(20), texts[0], || async {
        ready(env, name)
            .await
            .filter(|(s, _, m)| s == "False" && texts.iter().all(|t| m.contains(t)))
            .map(|(_, _, m)| m)
    })
    .await
}

#[tokio::test]
async fn dockerconfigjson_template_with_metadata() {
    let env = TestEnv::new("tpl-docker").await;
    let agent = start_agent(&env).await;
    token_store(&env, "store").await;
    put(
        &env,
        "registry",
        json!({ "registry": "ghcr.io", "user": "bot", "pass": "s3cr3t-pass" }),
    )
    .await;
    let docker = r#"{"auths":{"{{ .registry }}":{"username":"{{ .user }}","password":"{{ .pass }}","auth":"{{ printf "%s:%s" .user .pass | b64enc }}"}}}"#;
    external_secret(
        &env,
        "pull",
        json!({
            "secretStoreRef": { "name": "store" },
            "target": { "template": {
                "type": "kubernetes.io/dockerconfigjson",
                "metadata": { "labels": { "team": "a" }, "annotations": { "owner": "platform" } },
                "data": { ".dockerconfigjson": docker }
            } },
            "dataFrom": [ { "extract": { "key": env.path("registry") } } ]
        }),
    )
    .await;
    wait_reason(&env, "pull", "SecretSynced").await;
    let secret = get_secret(&env, "pull").await;
    assert_eq!(
        secret.type_.as_deref(),
        Some("kubernetes.io/dockerconfigjson")
    );
    let data = secret.data.clone().unwrap();
    assert_eq!(
        data.keys().collect::<Vec<_>>(),
        [".dockerconfigjson"],
        "Replace keeps only templated keys"
    );
    let config: Value = serde_json::from_slice(&data[".dockerconfigjson"].0).unwrap();
    let auth = &config["auths"]["ghcr.io"];
    assert_eq!(auth["username"], "bot");
    assert_eq!(auth["password"], "s3cr3t-pass");
    assert_eq!(auth["auth"], STANDARD.encode("bot:s3cr3t-pass"));
    let labels = secret.metadata.labels.clone().unwrap();
    assert_eq!(labels["team"], "a");
    assert_eq!(labels["reconcile.external-secrets.io/managed"], "true");
    assert_eq!(
        secret.metadata.annotations.clone().unwrap()["owner"],
        "platform"
    );

    // A template change that touches only metadata still rewrites the Secret.
    patch_es(
        &env,
        "pull",
        json!({ "spec": { "target": { "template": {
        "metadata": { "labels": { "team": "b" } } } } } }),
    )
    .await;
    eventually(Duration::from_secs(20), "the new label", || async {
        let s = get_secret(&env, "pull").await;
        (s.metadata
            .labels
            .unwrap_or_default()
            .get("team")
            .map(String::as_str)
            == Some("b"))
        .then_some(())
    })
    .await;

    // A template that does not parse: Ready=False naming the field; the Secret stays.
    let before = get_secret(&env, "pull").await.data;
    patch_es(
        &env,
        "pull",
        json!({ "spec": { "target": { "template": {
        "data": { ".dockerconfigjson": "{{ .user" } } } } }),
    )
    .await;
    let msg = wait_failure(
        &env,
        "pull",
        &["spec.target.template.data..dockerconfigjson"],
    )
    .await;
    assert!(!msg.contains("s3cr3t-pass"), "{msg}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(get_secret(&env, "pull").await.data, before);
    agent.stop().await;
}

#[tokio::test]
async fn template_from_config_map_keys_and_values() {
    let env = TestEnv::new("tpl-configmap").await;
    let agent = start_agent(&env).await;
    token_store(&env, "store").await;
    put(&env, "db", json!({ "user": "app", "pass": "s3cr3t-db" })).await;
    let config_maps = Api::<ConfigMap>::namespaced(env.kube.clone(), &env.namespace);
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "db-templates" },
        "data": {
            "env.yaml": "DB_USER: \"{{ .user }}\"\nDB_URL: \"postgres://{{ .user }}:{{ .pass }}@db:5432/app\"\n",
            "greeting": "hello {{ .user }}"
        }
    }))
    .unwrap();
    config_maps
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    external_secret(
        &env,
        "db",
        json!({
            "secretStoreRef": { "name": "store" },
            "target": { "template": {
                "mergePolicy": "Merge",
                "templateFrom": [ { "configMap": { "name": "db-templates", "items": [
                    { "key": "env.yaml", "templateAs": "KeysAndValues" },
                    { "key": "greeting", "templateAs": "Values" }
                ] } } ]
            } },
            "dataFrom": [ { "extract": { "key": env.path("db") } } ]
        }),
    )
    .await;
    wait_reason(&env, "db", "SecretSynced").await;
    let d = secret_data(&env, "db").await.unwrap();
    assert_eq!(d["DB_USER"], "app");
    assert_eq!(d["DB_URL"], "postgres://app:s3cr3t-db@db:5432/app");
    assert_eq!(d["greeting"], "hello app");
    assert_eq!(d["user"], "app", "mergePolicy Merge keeps the fetched keys");
    assert_eq!(d.len(), 5);

    // The ConfigMap is read again on the next sync.
    let patch = json!({ "data": { "greeting": "hi {{ .user | upper }}" } });
    config_maps
        .patch(
            "db-templates",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .unwrap();
    patch_es(
        &env,
        "db",
        json!({ "metadata": { "annotations": { "force-sync": "1" } } }),
    )
    .await;
    eventually(Duration::from_secs(20), "the new greeting", || async {
        secret_data(&env, "db")
            .await
            .filter(|d| d.get("greeting").map(String::as_str) == Some("hi APP"))
    })
    .await;

    // A ConfigMap that does not exist: Ready=False naming it; the Secret stays.
    let before = secret_data(&env, "db").await.unwrap();
    patch_es(
        &env,
        "db",
        json!({ "spec": { "target": { "template": {
        "templateFrom": [ { "configMap": { "name": "missing-templates",
            "items": [ { "key": "env.yaml" } ] } } ] } } } }),
    )
    .await;
    wait_failure(
        &env,
        "db",
        &[
            "spec.target.template.templateFrom[0].configMap",
            "missing-templates",
        ],
    )
    .await;
    assert_eq!(secret_data(&env, "db").await.unwrap(), before);
    agent.stop().await;
}

#[tokio::test]
async fn rewrite_transform_renames_keys() {
    let env = TestEnv::new("tpl-transform").await;
    let agent = start_agent(&env).await;
    token_store(&env, "store").await;
    put(&env, "app", json!({ "db-user": "u", "db-pass": "p" })).await;
    external_secret(
        &env,
        "app",
        json!({
            "secretStoreRef": { "name": "store" },
            "dataFrom": [ {
                "extract": { "key": env.path("app") },
                "rewrite": [
                    { "regexp": { "source": "-", "target": "_" } },
                    { "transform": { "template": "APP_{{ .value | upper }}" } }
                ]
            } ]
        }),
    )
    .await;
    wait_reason(&env, "app", "SecretSynced").await;
    let d = secret_data(&env, "app").await.unwrap();
    assert_eq!(d.keys().collect::<Vec<_>>(), ["APP_DB_PASS", "APP_DB_USER"]);
    assert_eq!(d["APP_DB_USER"], "u");
    agent.stop().await;
}
