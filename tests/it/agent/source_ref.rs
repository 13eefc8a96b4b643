//! Per-entry `sourceRef.storeRef` against the real API server and OpenBao: one ExternalSecret
//! reading from a SecretStore and a ClusterSecretStore, each entry under its own store's
//! session (each store's Vault identity can read only its own paths, so an entry read with the
//! wrong session would be refused); a change to a referenced store requeues the ExternalSecret;
//! a tenant's sourceRef to a store that does not admit its namespace gets `Ready=False` naming
//! the entry and no data, before any Vault read; generators are reported as not supported yet.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::support::chart;
use crate::support::common::*;
use crate::support::vault_auth::{self, password, read_policy, secret};
use ferry_testenv::TestEnv;
use ferry_vault::TokenRequest;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::PostParams;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

/// A SecretStore `team` logging in with a token that may read `<prefix>/team/*` only.
async fn team_store(env: &TestEnv) {
    let policy = read_policy(
        env,
        &env.vault,
        &env.kv_mount,
        "team",
        &[env.path("team/*")],
    )
    .await;
    let request = TokenRequest {
        policies: vec![policy],
        ..TokenRequest::default()
    };
    let token = env.vault.create_token(&request).await.unwrap();
    secret(
        env,
        "team-token",
        &[("token", token.client_token.expose_secret())],
    )
    .await;
    let spec = json!({ "controller": env.prefix, "provider": { "vault": {
        "server": env.vault_addr, "path": env.kv_mount,
        "auth": { "tokenSecretRef": { "name": "team-token", "key": "token" } } } } });
    create(
        env,
        "v1",
        "SecretStore",
        json!({ "metadata": { "name": "team" }, "spec": spec }),
    )
    .await;
}

/// A ClusterSecretStore `<prefix>-shared` admitting `namespaces`, logging in by userpass as a
/// user who may read `<prefix>/shared/*` only; returns its name.
async fn shared_store(env: &TestEnv, namespaces: &[&str]) -> String {
    let paths = [env.path("shared/*")];
    let policy = read_policy(env, &env.vault, &env.kv_mount, "shared", &paths).await;
    let pw = password("shared");
    let mount = vault_auth::userpass(env, &env.vault, "shared", &pw, &policy).await;
    secret(env, "shared-creds", &[("password", pw.expose_secret())]).await;
    let name = format!("{}-shared", env.prefix);
    let spec = json!({
        "controller": env.prefix,
        "conditions": [ { "namespaces": namespaces } ],
        "provider": { "vault": { "server": env.vault_addr, "path": env.kv_mount,
            "auth": { "userPass": { "path": mount, "username": "shared",
                "secretRef": { "name": "shared-creds", "key": "password",
                    "namespace": env.namespace } } } } }
    });
    let body = json!({ "metadata": { "name": name }, "spec": spec });
    create(env, "v1", "ClusterSecretStore", body).await;
    name
}

fn from_store(name: &str, kind: &str) -> Value {
    json!({ "storeRef": { "name": name, "kind": kind } })
}

#[tokio::test]
async fn one_external_secret_reads_from_a_secret_store_and_a_cluster_secret_store() {
    let env = TestEnv::new("source-ref").await;
    put(&env, "team/app", json!({ "team": "t-value" })).await;
    put(
        &env,
        "shared/app",
        json!({ "shared": "s-value", "extra": "x-value" }),
    )
    .await;
    team_store(&env).await;
    let shared = shared_store(&env, &[&env.namespace]).await;
    let agent = start_agent(&env).await;
    let css = from_store(&shared, "ClusterSecretStore");
    // The main store serves data[0]; the ClusterSecretStore the rest.
    external_secret(&env, "mixed", json!({
        "secretStoreRef": { "name": "team" },
        "data": [
            { "secretKey": "team", "remoteRef": { "key": env.path("team/app"), "property": "team" } },
            { "secretKey": "shared", "remoteRef": { "key": env.path("shared/app"), "property": "shared" },
              "sourceRef": css }
        ],
        "dataFrom": [ { "extract": { "key": env.path("shared/app") }, "sourceRef": css } ]
    }))
    .await;
    // No secretStoreRef at all: every entry names its store.
    external_secret(&env, "only-source-refs", json!({
        "data": [
            { "secretKey": "team", "remoteRef": { "key": env.path("team/app"), "property": "team" },
              "sourceRef": from_store("team", "SecretStore") },
            { "secretKey": "shared", "remoteRef": { "key": env.path("shared/app"), "property": "shared" },
              "sourceRef": css }
        ]
    }))
    .await;
    for name in ["mixed", "only-source-refs"] {
        wait_reason(&env, name, "SecretSynced").await;
    }
    let mixed = secret_data(&env, "mixed").await.unwrap();
    let want = [
        ("extra", "x-value"),
        ("shared", "s-value"),
        ("team", "t-value"),
    ];
    let want = want.map(|(k, v)| (k.to_owned(), v.to_owned())).into();
    assert_eq!(mixed, want);
    let only = secret_data(&env, "only-source-refs").await.unwrap();
    assert_eq!(
        (only["team"].as_str(), only["shared"].as_str()),
        ("t-value", "s-value")
    );
    assert_eq!(
        agent.stats.get().logins,
        2,
        "one session per store, shared by both"
    );

    // The ClusterSecretStore stops admitting the namespace: its watch event requeues both
    // ExternalSecrets (their refresh interval is an hour), which report the entry at fault and
    // keep their Secrets.
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("external-secrets.io", "v1", "ClusterSecretStore"),
        "clustersecretstores",
    );
    let patch = json!({ "spec": { "conditions": [ { "namespaces": ["elsewhere"] } ] } });
    Api::<DynamicObject>::all_with(env.kube.clone(), &ar)
        .patch(&shared, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let msg = wait_reason(&env, "mixed", "SecretSyncedError").await;
    assert!(msg.contains("spec.data[1].sourceRef.storeRef"), "{msg}");
    assert!(msg.contains("does not allow namespace"), "{msg}");
    let msg = wait_reason(&env, "only-source-refs", "SecretSyncedError").await;
    assert!(msg.contains("spec.data[1].sourceRef.storeRef"), "{msg}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "requeued by the store's watch"
    );
    assert_eq!(
        secret_data(&env, "mixed").await.unwrap(),
        mixed,
        "the Secret is kept"
    );
    agent.stop().await;
}

/// A tenant that may create ExternalSecrets and SecretStores in its namespace, and nothing
/// else.
async fn tenant(env: &TestEnv) -> kube::Client {
    create_service_account(env, "tenant").await;
    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": "tenant" },
        "rules": [ { "apiGroups": ["external-secrets.io"],
            "resources": ["externalsecrets", "secretstores"],
            "verbs": ["create", "get", "list", "watch"] } ]
    }))
    .unwrap();
    let ns = &env.namespace;
    let roles = Api::<Role>::namespaced(env.kube.clone(), ns);
    roles.create(&PostParams::default(), &role).await.unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "tenant" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant" },
        "subjects": [ { "kind": "ServiceAccount", "name": "tenant", "namespace": ns } ]
    }))
    .unwrap();
    let bindings = Api::<RoleBinding>::namespaced(env.kube.clone(), ns);
    bindings
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    let token = service_account_token(env, "tenant", Vec::new()).await;
    chart::client_with_token(&env.kubeconfig, &token).await
}

#[tokio::test]
async fn a_tenants_source_ref_to_a_store_that_does_not_admit_it_gets_nothing() {
    let env = TestEnv::new("source-ref-tenant").await;
    let victim = "victim-value-5150";
    put(&env, "team/app", json!({ "team": "t-value" })).await;
    put(&env, "shared/app", json!({ "shared": victim })).await;
    team_store(&env).await;
    let other = format!("{}-other", env.namespace);
    let shared = shared_store(&env, &[&other]).await;
    let agent = start_agent(&env).await;
    let tenant = tenant(&env).await;
    let es: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": { "name": "reach" },
        "spec": {
            "secretStoreRef": { "name": "team" },
            "data": [
                { "secretKey": "team", "remoteRef": { "key": env.path("team/app"), "property": "team" } },
                { "secretKey": "stolen", "remoteRef": { "key": env.path("shared/app"), "property": "shared" },
                  "sourceRef": from_store(&shared, "ClusterSecretStore") }
            ]
        }
    }))
    .unwrap();
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("external-secrets.io", "v1", "ExternalSecret"),
        "externalsecrets",
    );
    Api::<DynamicObject>::namespaced_with(tenant.clone(), &env.namespace, &ar)
        .create(&PostParams::default(), &es)
        .await
        .unwrap();
    let msg = wait_reason(&env, "reach", "SecretSyncedError").await;
    assert!(msg.contains("spec.data[1].sourceRef.storeRef"), "{msg}");
    assert!(msg.contains("does not allow namespace"), "{msg}");
    // Had the attack worked: a Secret `reach` holding the victim's value, or a read of it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let secrets = Api::<Secret>::namespaced(env.kube.clone(), &env.namespace);
    assert!(
        secrets.get_opt("reach").await.unwrap().is_none(),
        "no Secret"
    );
    assert_eq!(
        agent.stats.get().vault_reads,
        0,
        "refused before any Vault read"
    );
    let seen = Api::<DynamicObject>::namespaced_with(tenant, &env.namespace, &ar);
    let seen = serde_json::to_string(&seen.get("reach").await.unwrap()).unwrap();
    assert!(!seen.contains(victim), "no value in what the tenant sees");
    agent.stop().await;
}

#[tokio::test]
async fn generators_and_a_missing_store_name_the_field() {
    let env = TestEnv::new("source-ref-invalid").await;
    let agent = start_agent(&env).await;
    token_store(&env, "store").await;
    external_secret(&env, "generator", json!({
        "secretStoreRef": { "name": "store" },
        "dataFrom": [ { "sourceRef": { "generatorRef": {
            "apiVersion": "generators.external-secrets.io/v1alpha1", "kind": "Password", "name": "pw" } } } ]
    }))
    .await;
    external_secret(
        &env,
        "no-store",
        json!({
            "data": [
                { "secretKey": "a", "remoteRef": { "key": env.path("a") },
                  "sourceRef": from_store("store", "SecretStore") },
                { "secretKey": "b", "remoteRef": { "key": env.path("b") } }
            ]
        }),
    )
    .await;
    let msg = wait_reason(&env, "generator", "SecretSyncedError").await;
    assert!(
        msg.contains("spec.dataFrom[0].sourceRef.generatorRef"),
        "{msg}"
    );
    assert!(msg.contains("not yet"), "{msg}");
    let msg = wait_reason(&env, "no-store", "SecretSyncedError").await;
    assert!(
        msg.contains("spec.secretStoreRef.name") && msg.contains("spec.data[1]"),
        "{msg}"
    );
    agent.stop().await;
}
