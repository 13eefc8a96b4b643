//! Creating what the agent syncs: Ferry's CRDs, KV values under the test's prefix, a token
//! SecretStore and external-secrets.io objects. `examples/bench_agent.rs` includes this file by
//! path for its set-up, so it holds only what both use.

#![allow(clippy::unwrap_used)]

use ferry_testenv::TestEnv;
use ferry_vault::{KvData, KvVersion};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};

/// Installs Ferry's CRDs (idempotent) and waits until they are established.
pub async fn install_crds(client: &kube::Client) {
    ferry_api::install_crds(client).await.unwrap();
}

/// Writes a KV v2 secret under the test's prefix.
pub async fn put(env: &TestEnv, path: &str, data: Value) {
    let map = data.as_object().cloned().unwrap();
    let kv = KvData::new(map);
    env.vault
        .kv_write(&env.kv_mount, &env.path(path), KvVersion::V2, &kv, None)
        .await
        .unwrap();
}

/// A Secret holding the root token, and a SecretStore (v1) that logs in with it.
pub async fn token_store(env: &TestEnv, name: &str) {
    let secrets = Api::<Secret>::namespaced(env.kube.clone(), &env.namespace);
    let token = env.root_token();
    let secret: Secret = serde_json::from_value(json!({
        "metadata": { "name": format!("{name}-token") },
        "stringData": { "token": secrecy::ExposeSecret::expose_secret(&token) }
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    create(env, "v1", "SecretStore", json!({
        "metadata": { "name": name },
        "spec": {
            "controller": env.prefix,
            "provider": { "vault": {
                "server": env.vault_addr, "path": env.kv_mount, "version": "v2",
                "auth": { "tokenSecretRef": { "name": format!("{name}-token"), "key": "token" } }
            } }
        }
    }))
    .await;
}

fn resource(version: &str, kind: &str) -> ApiResource {
    let plural = match kind {
        "ExternalSecret" => "externalsecrets",
        "SecretStore" => "secretstores",
        "ClusterSecretStore" => "clustersecretstores",
        other => panic!("unknown kind {other}"),
    };
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("external-secrets.io", version, kind),
        plural,
    )
}

/// Creates an external-secrets.io object from JSON at the given API version, in the test
/// namespace (or cluster-wide for ClusterSecretStore).
pub async fn create(env: &TestEnv, version: &str, kind: &str, mut body: Value) -> DynamicObject {
    let ar = resource(version, kind);
    body["apiVersion"] = json!(format!("external-secrets.io/{version}"));
    body["kind"] = json!(kind);
    let obj: DynamicObject = serde_json::from_value(body).unwrap();
    let api: Api<DynamicObject> = if kind == "ClusterSecretStore" {
        Api::all_with(env.kube.clone(), &ar)
    } else {
        Api::namespaced_with(env.kube.clone(), &env.namespace, &ar)
    };
    api.create(&PostParams::default(), &obj).await.unwrap()
}

/// Creates an ExternalSecret (v1) named `name` with `spec`.
pub async fn external_secret(env: &TestEnv, name: &str, spec: Value) {
    create(
        env,
        "v1",
        "ExternalSecret",
        json!({ "metadata": { "name": name }, "spec": spec }),
    )
    .await;
}
