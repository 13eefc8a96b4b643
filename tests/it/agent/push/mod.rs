//! PushSecret and ClusterPushSecret against the real OpenBao and API server: pushes, merges
//! and check-and-set ([`basic`], [`cas`]), bad input ([`bad_input`]), a hostile tenant
//! ([`tenant`]) and ClusterPushSecret across namespaces ([`cluster`]). Stores log in with a
//! token carrying only the policy `ferry policy render push` gives, so Vault itself decides
//! what is outside a store's paths.

#![allow(clippy::unwrap_used)]

mod bad_input;
mod basic;
mod cas;
mod cluster;
mod tenant;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::common::{create, eventually};
use ferry_policy::{AppParams, KvVersion as PolicyKv, PolicyParams, Template, render_checked};
use ferry_testenv::TestEnv;
use ferry_vault::{KvData, KvVersion, TokenRequest};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Map, Value, json};

/// Where a store writes: its KV mount and version.
#[derive(Clone, Copy)]
pub struct Kv<'a> {
    pub mount: &'a str,
    pub version: KvVersion,
}

impl<'a> Kv<'a> {
    /// The test's shared KV v2 mount.
    pub fn v2(env: &'a TestEnv) -> Kv<'a> {
        Kv {
            mount: &env.kv_mount,
            version: KvVersion::V2,
        }
    }
}

/// A token carrying only `hcl` (written as policy `name`), as a Secret `<store>-token`.
async fn token_secret(env: &TestEnv, store: &str, policy: &str, hcl: &str) {
    let name = format!("{}-{policy}", env.prefix);
    env.vault.write_policy(&name, hcl).await.unwrap();
    let auth = env
        .vault
        .create_token(&TokenRequest {
            policies: vec![name],
            ttl: Some(Duration::from_secs(3600)),
            ..TokenRequest::default()
        })
        .await
        .unwrap();
    let token = secrecy::ExposeSecret::expose_secret(&auth.client_token).to_owned();
    let secret: Secret = serde_json::from_value(json!({
        "metadata": { "name": format!("{store}-token") },
        "stringData": { "token": token }
    }))
    .unwrap();
    Api::<Secret>::namespaced(env.kube.clone(), &env.namespace)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

fn policy_params(env: &TestEnv, kv: Kv<'_>) -> PolicyParams {
    PolicyParams {
        mount: kv.mount.to_owned(),
        kv_version: match kv.version {
            KvVersion::V1 => PolicyKv::V1,
            KvVersion::V2 => PolicyKv::V2,
        },
        push_paths: vec![env.path("*")],
        ..PolicyParams::default()
    }
}

/// A SecretStore whose token has exactly the rendered push policy for `paths` (relative to
/// the test's prefix; `*` for all of it).
pub async fn push_store(env: &TestEnv, name: &str, kv: Kv<'_>, paths: &[&str]) {
    let params = PolicyParams {
        push_paths: paths.iter().map(|p| env.path(p)).collect(),
        ..policy_params(env, kv)
    };
    let hcl = render_checked(Template::Push, Template::Push.source(), &params).unwrap();
    token_secret(env, name, &format!("push-{name}"), &hcl).await;
    store(env, name, kv).await;
}

/// A SecretStore whose token may only read the test's prefix (the app-readonly policy).
pub async fn read_only_store(env: &TestEnv, name: &str) {
    let params = PolicyParams {
        app: Some(AppParams {
            name: name.to_owned(),
            paths: vec![env.path("*")],
        }),
        ..policy_params(env, Kv::v2(env))
    };
    let hcl = render_checked(
        Template::AppReadonly,
        Template::AppReadonly.source(),
        &params,
    )
    .unwrap();
    token_secret(env, name, &format!("ro-{name}"), &hcl).await;
    store(env, name, Kv::v2(env)).await;
}

async fn store(env: &TestEnv, name: &str, kv: Kv<'_>) {
    let version = match kv.version {
        KvVersion::V1 => "v1",
        KvVersion::V2 => "v2",
    };
    create(env, "v1", "SecretStore", json!({
        "metadata": { "name": name },
        "spec": {
            "controller": env.prefix,
            "provider": { "vault": {
                "server": env.vault_addr, "path": kv.mount, "version": version,
                "auth": { "tokenSecretRef": { "name": format!("{name}-token"), "key": "token" } }
            } }
        }
    }))
    .await;
}

/// An Opaque Secret named `name` in the test namespace.
pub async fn source(env: &TestEnv, name: &str, data: &[(&str, &str)]) {
    let data: BTreeMap<&str, &str> = data.iter().copied().collect();
    let secret: Secret =
        serde_json::from_value(json!({ "metadata": { "name": name }, "stringData": data }))
            .unwrap();
    Api::<Secret>::namespaced(env.kube.clone(), &env.namespace)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

/// Replaces the data of the Secret `name`.
pub async fn set_source(env: &TestEnv, name: &str, data: &[(&str, &str)]) {
    let data: BTreeMap<&str, &str> = data.iter().copied().collect();
    let patch = json!({ "data": null, "stringData": data });
    Api::<Secret>::namespaced(env.kube.clone(), &env.namespace)
        .patch(
            name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
}

/// The PushSecret API (v1alpha1) in `namespace`, dynamic, for any client.
pub fn push_api(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("external-secrets.io", "v1alpha1", "PushSecret");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "pushsecrets");
    Api::namespaced_with(client.clone(), namespace, &ar)
}

/// Creates a PushSecret `name` with `spec` through `client`, in `namespace`.
pub async fn push_secret_as(client: &kube::Client, namespace: &str, name: &str, spec: Value) {
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1alpha1", "kind": "PushSecret",
        "metadata": { "name": name }, "spec": spec
    }))
    .unwrap();
    push_api(client, namespace)
        .create(&PostParams::default(), &obj)
        .await
        .unwrap();
}

/// Creates a PushSecret `name` with `spec` in the test namespace.
pub async fn push_secret(env: &TestEnv, name: &str, spec: Value) {
    push_secret_as(&env.kube, &env.namespace, name, spec).await;
}

/// The typed PushSecret, if it exists.
pub async fn get_push(env: &TestEnv, name: &str) -> Option<ferry_api::PushSecret> {
    Api::<ferry_api::PushSecret>::namespaced(env.kube.clone(), &env.namespace)
        .get_opt(name)
        .await
        .unwrap()
}

/// The Ready condition as (status, message), once there is one.
pub async fn push_ready(env: &TestEnv, name: &str) -> Option<(String, String)> {
    let c = get_push(env, name)
        .await?
        .status?
        .ready_condition()?
        .clone();
    let status = serde_json::to_value(c.status).unwrap();
    Some((
        status.as_str().unwrap_or_default().to_owned(),
        c.message.unwrap_or_default(),
    ))
}

/// Waits until the PushSecret's Ready condition has `status` (`True` or `False`); returns
/// its message.
pub async fn wait_push(env: &TestEnv, name: &str, status: &str) -> String {
    eventually(
        Duration::from_secs(30),
        &format!("PushSecret {name} Ready={status}"),
        || async {
            push_ready(env, name)
                .await
                .filter(|(s, _)| s == status)
                .map(|(_, m)| m)
        },
    )
    .await
}

/// The data at `path` (under the test's prefix) as JSON, if the secret exists.
pub async fn vault_data(env: &TestEnv, kv: Kv<'_>, path: &str) -> Option<Map<String, Value>> {
    let secret = env
        .vault
        .kv_read(kv.mount, &env.path(path), kv.version, None)
        .await
        .unwrap()?;
    Some(secret.data.expose().clone())
}

/// KV v2: the current version and last update time of `path`.
pub async fn version(env: &TestEnv, path: &str) -> (u64, String) {
    let meta = env
        .vault
        .kv_metadata(&env.kv_mount, &env.path(path))
        .await
        .unwrap()
        .unwrap();
    (meta.current_version, meta.updated_time)
}

/// Writes `data` at `path` (KV v2, as root); with `managed`, marks it as a push's the way
/// ESO and Ferry do (custom metadata `managed-by: external-secrets`).
pub async fn put_v2(env: &TestEnv, path: &str, data: Value, managed: bool) {
    let kv = KvData::new(data.as_object().cloned().unwrap());
    let full = env.path(path);
    env.vault
        .kv_write(&env.kv_mount, &full, KvVersion::V2, &kv, None)
        .await
        .unwrap();
    if managed {
        let marker = BTreeMap::from([("managed-by".to_owned(), "external-secrets".to_owned())]);
        env.vault
            .kv_set_custom_metadata(&env.kv_mount, &full, &marker)
            .await
            .unwrap();
    }
}

/// `status.syncedPushSecrets` of the store `SecretStore/<store>`: its places, sorted.
pub async fn synced_places(env: &TestEnv, name: &str, store: &str) -> Vec<String> {
    let ps = get_push(env, name).await.unwrap();
    let synced = ps.status.unwrap_or_default().synced_push_secrets;
    synced
        .get(&format!("SecretStore/{store}"))
        .map(|places| places.keys().cloned().collect())
        .unwrap_or_default()
}

/// For the redaction test (`agent::redaction`): PushSecrets that push values and fail on them
/// (a property and a whole-Secret push, a path the store may not write, a value that must be
/// a JSON object and is not, a template that fails on a value, a secret no push manages).
/// Waits until each has settled; returns the values that must appear nowhere.
pub(crate) async fn redaction_pushes(env: &TestEnv) -> Vec<String> {
    let values = ["push-value-5521", "push-not-json-8812", "push-other-3307"];
    push_store(env, "push", Kv::v2(env), &["ok/*"]).await;
    put_v2(env, "ok/foreign", json!({ "x": values[2] }), false).await;
    source(env, "push-src", &[("k", values[0]), ("j", values[1])]).await;
    let one = |key: Option<&str>, remote: &str, property: Option<&str>| {
        let mut e = json!({ "match": { "remoteRef": { "remoteKey": env.path(remote) } } });
        if let Some(k) = key {
            e["match"]["secretKey"] = json!(k);
        }
        if let Some(p) = property {
            e["match"]["remoteRef"]["property"] = json!(p);
        }
        json!([e])
    };
    let cases = [
        ("push-ok", one(Some("k"), "ok/a", Some("k")), None, "True"),
        ("push-whole", one(None, "ok/whole", None), None, "True"),
        (
            "push-denied",
            one(Some("k"), "denied", Some("k")),
            None,
            "False",
        ),
        ("push-not-json", one(Some("j"), "ok/b", None), None, "False"),
        (
            "push-foreign",
            one(Some("k"), "ok/foreign", Some("k")),
            None,
            "False",
        ),
        (
            "push-template",
            one(Some("k"), "ok/c", Some("k")),
            Some(json!({ "data": { "k": "{{ .j | b64dec }}" } })),
            "False",
        ),
    ];
    for (name, data, template, _) in &cases {
        let mut spec = json!({
            "secretStoreRefs": [{ "name": "push" }],
            "selector": { "secret": { "name": "push-src" } },
            "data": data
        });
        if let Some(t) = template {
            spec["template"] = t.clone();
        }
        push_secret(env, name, spec).await;
    }
    for (name, _, _, status) in &cases {
        wait_push(env, name, status).await;
    }
    let b64 = |v: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, v);
    values
        .iter()
        .flat_map(|v| [(*v).to_owned(), b64(v)])
        .collect()
}

/// Every PushSecret of the test namespace as JSON (statuses included).
pub(crate) async fn push_statuses(env: &TestEnv) -> String {
    let list = push_api(&env.kube, &env.namespace)
        .list(&Default::default())
        .await
        .unwrap();
    serde_json::to_string(&list.items).unwrap()
}
