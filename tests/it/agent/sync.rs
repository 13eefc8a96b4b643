//! The agent against the real API server and OpenBao: ESO manifests sync unchanged, value
//! semantics, creation and deletion policies, drift repair, invalid specs, tenant isolation.

use std::time::Duration;

use crate::support::common::*;
use ferry_testenv::TestEnv;
use ferry_vault::KvVersion;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn seed_style_v1beta1_manifests_sync() {
    let env = TestEnv::new("seed-v1beta1").await;
    let agent = start_agent(&env).await;
    put(
        &env,
        "github/auth",
        json!({ "username": "git", "token": "ghp-not-a-real-token" }),
    )
    .await;
    token_store(&env, "vault-backend").await;
    // The seed's ExternalSecret, as written for ESO (v1beta1), with only the key's prefix ours.
    create(&env, "v1beta1", "ExternalSecret", json!({
        "metadata": { "name": "github-auth" },
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": { "name": "vault-backend", "kind": "SecretStore" },
            "target": { "name": "flux-system", "creationPolicy": "Owner" },
            "data": [
                { "secretKey": "username", "remoteRef": { "key": env.path("github/auth"), "property": "username" } },
                { "secretKey": "password", "remoteRef": { "key": env.path("github/auth"), "property": "token" } }
            ]
        }
    }))
    .await;
    wait_reason(&env, "github-auth", "SecretSynced").await;
    let data = secret_data(&env, "flux-system").await.unwrap();
    assert_eq!(data["username"], "git");
    assert_eq!(data["password"], "ghp-not-a-real-token");

    let secret = Api::<Secret>::namespaced(env.kube.clone(), &env.namespace)
        .get("flux-system")
        .await
        .unwrap();
    let labels = secret.metadata.labels.unwrap();
    assert_eq!(labels["reconcile.external-secrets.io/managed"], "true");
    let owner = &secret.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("ExternalSecret", Some(true))
    );
    let hmac = &secret.metadata.annotations.unwrap()["ferry.dev/data-hmac"];
    assert_eq!(hmac.len(), 64, "a hex HMAC-SHA256 is recorded");
    let managers = secret.metadata.managed_fields.unwrap();
    assert!(
        managers
            .iter()
            .any(|m| m.manager.as_deref() == Some("ferry"))
    );

    let es = Api::<ferry_api::ExternalSecret>::namespaced(env.kube.clone(), &env.namespace);
    let es = es.get("github-auth").await.unwrap();
    let status = es.status.unwrap();
    assert_eq!(status.observed_generation, es.metadata.generation);
    assert_eq!(status.binding.unwrap().name, "flux-system");
    assert!(status.refresh_time.is_some() && status.synced_resource_version.is_some());
    agent.stop().await;
}

#[tokio::test]
async fn value_semantics_match_eso() {
    let env = TestEnv::new("values").await;
    let agent = start_agent(&env).await;
    token_store(&env, "store").await;
    put(
        &env,
        "app",
        json!({
            "s": "plain", "n": 3, "f": 1.5, "whole": 2.0, "b": true, "z": null,
            "nested": { "db": { "host": "db.local", "port": 5432 } }, "list": [1, "a"],
            "dotted.key": "exact wins"
        }),
    )
    .await;
    let key = env.path("app");
    let item = |secret_key: &str, property: Option<&str>| {
        let mut r = json!({ "key": key });
        if let Some(p) = property {
            r["property"] = json!(p);
        }
        json!({ "secretKey": secret_key, "remoteRef": r })
    };
    external_secret(
        &env,
        "values",
        json!({
            "secretStoreRef": { "name": "store" },
            "data": [
                item("s", Some("s")), item("n", Some("n")), item("f", Some("f")),
                item("whole", Some("whole")), item("b", Some("b")), item("z", Some("z")),
                item("obj", Some("nested")), item("host", Some("nested.db.host")),
                item("port", Some("nested.db.port")), item("list", Some("list")),
                item("dotted", Some("dotted.key")), item("all", None)
            ]
        }),
    )
    .await;
    external_secret(
        &env,
        "extract",
        json!({
            "secretStoreRef": { "name": "store" },
            "dataFrom": [ { "extract": { "key": key, "property": "nested.db" } } ]
        }),
    )
    .await;
    wait_reason(&env, "values", "SecretSynced").await;
    let d = secret_data(&env, "values").await.unwrap();
    assert_eq!(d["s"], "plain");
    assert_eq!(d["n"], "3");
    assert_eq!(d["f"], "1.5");
    assert_eq!(d["whole"], "2");
    assert_eq!(d["b"], "true");
    assert_eq!(d["z"], "");
    assert_eq!(d["obj"], r#"{"db":{"host":"db.local","port":5432}}"#);
    assert_eq!(d["host"], "db.local");
    assert_eq!(d["port"], "5432");
    assert_eq!(d["list"], r#"[1,"a"]"#);
    assert_eq!(d["dotted"], "exact wins");
    assert!(
        d["all"].starts_with(r#"{"b":true,"dotted.key":"exact wins","f":1.5,"#),
        "{}",
        d["all"]
    );

    wait_reason(&env, "extract", "SecretSynced").await;
    let e = secret_data(&env, "extract").await.unwrap();
    assert_eq!(e.len(), 2);
    assert_eq!(
        (e["host"].as_str(), e["port"].as_str()),
        ("db.local", "5432")
    );
    agent.stop().await;
}

#[tokio::test]
async fn invalid_specs_name_the_field_and_do_not_stall_others() {
    let env = TestEnv::new("invalid").await;
    let agent = start_agent(&env).await;
    token_store(&env, "store").await;
    put(&env, "ok", json!({ "k": "v" })).await;
    let key = env.path("ok");
    external_secret(
        &env,
        "empty",
        json!({ "secretStoreRef": { "name": "store" } }),
    )
    .await;
    external_secret(
        &env,
        "dup",
        json!({
            "secretStoreRef": { "name": "store" },
            "data": [
                { "secretKey": "a", "remoteRef": { "key": key, "property": "k" } },
                { "secretKey": "a", "remoteRef": { "key": key, "property": "k" } }
            ]
        }),
    )
    .await;
    external_secret(
        &env,
        "policy",
        json!({
            "secretStoreRef": { "name": "store" },
            "target": { "creationPolicy": "Merge", "deletionPolicy": "Delete" },
            "data": [ { "secretKey": "a", "remoteRef": { "key": key, "property": "k" } } ]
        }),
    )
    .await;
    external_secret(
        &env,
        "missing-property",
        json!({
            "secretStoreRef": { "name": "store" },
            "data": [ { "secretKey": "a", "remoteRef": { "key": key, "property": "nope" } } ]
        }),
    )
    .await;
    external_secret(
        &env,
        "good",
        json!({
            "secretStoreRef": { "name": "store" },
            "data": [ { "secretKey": "a", "remoteRef": { "key": key, "property": "k" } } ]
        }),
    )
    .await;
    wait_reason(&env, "good", "SecretSynced").await;
    let msg = wait_reason(&env, "empty", "SecretSyncedError").await;
    assert!(msg.contains("spec.data"), "{msg}");
    let msg = wait_reason(&env, "dup", "SecretSyncedError").await;
    assert!(msg.contains("spec.data[1].secretKey"), "{msg}");
    let msg = wait_reason(&env, "policy", "SecretSyncedError").await;
    assert!(msg.contains("deletionPolicy"), "{msg}");
    let msg = wait_reason(&env, "missing-property", "SecretSyncedError").await;
    assert!(msg.contains("spec.data[0].remoteRef.property"), "{msg}");
    for name in ["empty", "dup", "policy", "missing-property"] {
        assert!(
            secret_data(&env, name).await.is_none(),
            "{name} must not create a Secret"
        );
    }
    agent.stop().await;
}

#[tokio::test]
async fn creation_policies_merge_orphan_none() {
    let env = TestEnv::new("creation").await;
    let agent = start_agent(&env).await;
    token_store(&env, "store").await;
    put(&env, "p", json!({ "k": "from-vault" })).await;
    let key = env.path("p");
    let secrets = Api::<Secret>::namespaced(env.kube.clone(), &env.namespace);
    let existing: Secret = serde_json::from_value(json!({
        "metadata": { "name": "existing" }, "stringData": { "mine": "kept" }
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &existing)
        .await
        .unwrap();
    let spec = |policy: &str, target: &str| {
        json!({
            "secretStoreRef": { "name": "store" },
            "target": { "name": target, "creationPolicy": policy },
            "data": [ { "secretKey": "k", "remoteRef": { "key": key, "property": "k" } } ]
        })
    };
    external_secret(&env, "merge", spec("Merge", "existing")).await;
    external_secret(&env, "orphan", spec("Orphan", "orphaned")).await;
    external_secret(&env, "none", spec("None", "never")).await;
    external_secret(&env, "merge-missing", spec("Merge", "absent")).await;

    wait_reason(&env, "merge", "SecretSynced").await;
    let d = secret_data(&env, "existing").await.unwrap();
    assert_eq!(
        (d["mine"].as_str(), d["k"].as_str()),
        ("kept", "from-vault")
    );
    wait_reason(&env, "orphan", "SecretSynced").await;
    let orphan = secrets.get("orphaned").await.unwrap();
    assert!(orphan.metadata.owner_references.is_none());
    wait_reason(&env, "none", "SecretSynced").await;
    assert!(secrets.get_opt("never").await.unwrap().is_none());
    wait_reason(&env, "merge-missing", "SecretMissing").await;
    assert!(secrets.get_opt("absent").await.unwrap().is_none());
    agent.stop().await;
}

#[tokio::test]
async fn drift_is_repaired_quickly() {
    let env = TestEnv::new("drift").await;
    let agent = start_agent(&env).await;
    token_store(&env, "store").await;
    put(&env, "d", json!({ "k": "right" })).await;
    external_secret(
        &env,
        "drift",
        json!({
            "secretStoreRef": { "name": "store" },
            "refreshInterval": "1h",
            "data": [ { "secretKey": "k", "remoteRef": { "key": env.path("d"), "property": "k" } } ]
        }),
    )
    .await;
    wait_reason(&env, "drift", "SecretSynced").await;
    let secrets = Api::<Secret>::namespaced(env.kube.clone(), &env.namespace);

    let edit = json!({ "stringData": { "k": "wrong", "extra": "added by hand" } });
    secrets
        .patch("drift", &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    eventually(
        Duration::from_secs(2),
        "the hand edit to be repaired",
        || async {
            let d = secret_data(&env, "drift").await?;
            (d.len() == 1 && d["k"] == "right").then_some(())
        },
    )
    .await;
    let edit_repair = started.elapsed();

    secrets
        .delete("drift", &DeleteParams::default())
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    eventually(
        Duration::from_secs(2),
        "the deleted Secret to be recreated",
        || async {
            secret_data(&env, "drift")
                .await
                .filter(|d| d["k"] == "right")
        },
    )
    .await;
    eprintln!(
        "drift repaired in {edit_repair:?} (edit), {:?} (delete)",
        started.elapsed()
    );
    agent.stop().await;
}

#[tokio::test]
async fn deletion_policies_act_only_on_real_not_found() {
    let env = TestEnv::new("deletion").await;
    let agent = start_agent(&env).await;
    token_store(&env, "store").await;
    for p in ["retain", "delete", "merge"] {
        put(&env, p, json!({ "k": p })).await;
    }
    let secrets = Api::<Secret>::namespaced(env.kube.clone(), &env.namespace);
    let merge_target: Secret = serde_json::from_value(json!({
        "metadata": { "name": "merge-target" }, "stringData": { "other": "stays" }
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &merge_target)
        .await
        .unwrap();
    let spec = |p: &str, creation: &str, deletion: &str, target: &str| {
        json!({
            "secretStoreRef": { "name": "store" },
            "refreshInterval": "1s",
            "target": { "name": target, "creationPolicy": creation, "deletionPolicy": deletion },
            "data": [ { "secretKey": "k", "remoteRef": { "key": env.path(p), "property": "k" } } ]
        })
    };
    external_secret(&env, "retain", spec("retain", "Owner", "Retain", "retain")).await;
    external_secret(&env, "delete", spec("delete", "Owner", "Delete", "delete")).await;
    external_secret(
        &env,
        "merge",
        spec("merge", "Merge", "Merge", "merge-target"),
    )
    .await;
    for name in ["retain", "delete", "merge"] {
        wait_reason(&env, name, "SecretSynced").await;
    }
    for p in ["retain", "delete", "merge"] {
        env.vault
            .kv_delete_latest(&env.kv_mount, &env.path(p), KvVersion::V2)
            .await
            .unwrap();
    }
    wait_reason(&env, "delete", "SecretDeleted").await;
    assert!(secrets.get_opt("delete").await.unwrap().is_none());
    wait_reason(&env, "merge", "SecretDeleted").await;
    let d = secret_data(&env, "merge-target").await.unwrap();
    assert_eq!(
        d.keys().collect::<Vec<_>>(),
        ["other"],
        "only our key is removed"
    );
    let msg = wait_reason(&env, "retain", "SecretSyncedError").await;
    assert!(msg.contains("not found"), "{msg}");
    assert_eq!(
        secret_data(&env, "retain").await.unwrap()["k"],
        "retain",
        "Retain keeps the data"
    );
    agent.stop().await;
}

#[tokio::test]
async fn cluster_store_conditions_isolate_tenants() {
    let env = TestEnv::new("tenants").await;
    let agent = start_agent(&env).await;
    put(&env, "shared", json!({ "k": "tenant-data" })).await;
    let secrets = Api::<Secret>::namespaced(env.kube.clone(), &env.namespace);
    let token: Secret = serde_json::from_value(json!({
        "metadata": { "name": "vault-token" },
        "stringData": { "token": secrecy::ExposeSecret::expose_secret(&env.root_token()) }
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &token)
        .await
        .unwrap();
    let store = |name: &str, conditions: serde_json::Value| {
        json!({
            "metadata": { "name": name },
            "spec": {
                "controller": env.prefix,
                "conditions": conditions,
                "provider": { "vault": { "server": env.vault_addr, "path": env.kv_mount,
                    "auth": { "tokenSecretRef": { "name": "vault-token", "key": "token", "namespace": env.namespace } } } }
            }
        })
    };
    let (allowed, denied) = (
        format!("{}-allowed", env.prefix),
        format!("{}-denied", env.prefix),
    );
    create(
        &env,
        "v1",
        "ClusterSecretStore",
        store(&allowed, json!([{ "namespaces": [env.namespace] }])),
    )
    .await;
    create(
        &env,
        "v1",
        "ClusterSecretStore",
        store(&denied, json!([{ "namespaceRegexes": ["^kube-"] }])),
    )
    .await;
    let spec = |store: &str| {
        json!({
            "secretStoreRef": { "name": store, "kind": "ClusterSecretStore" },
            "data": [ { "secretKey": "k", "remoteRef": { "key": env.path("shared"), "property": "k" } } ]
        })
    };
    external_secret(&env, "allowed", spec(&allowed)).await;
    external_secret(&env, "denied", spec(&denied)).await;
    wait_reason(&env, "allowed", "SecretSynced").await;
    let msg = wait_reason(&env, "denied", "SecretSyncedError").await;
    assert!(msg.contains("does not allow namespace"), "{msg}");
    assert!(
        secret_data(&env, "denied").await.is_none(),
        "no data for a tenant the store refuses"
    );
    agent.stop().await;
}

#[tokio::test]
async fn stores_of_another_controller_class_are_left_alone() {
    let env = TestEnv::new("class").await;
    let agent = start_agent(&env).await;
    put(&env, "c", json!({ "k": "v" })).await;
    create(
        &env,
        "v1",
        "SecretStore",
        json!({
            "metadata": { "name": "eso-store" },
            "spec": { "controller": "eso", "provider": { "vault": { "server": env.vault_addr,
                "auth": { "tokenSecretRef": { "name": "x", "key": "token" } } } } }
        }),
    )
    .await;
    external_secret(
        &env,
        "for-eso",
        json!({
            "secretStoreRef": { "name": "eso-store" },
            "data": [ { "secretKey": "k", "remoteRef": { "key": env.path("c"), "property": "k" } } ]
        }),
    )
    .await;
    token_store(&env, "ours").await;
    external_secret(
        &env,
        "for-us",
        json!({
            "secretStoreRef": { "name": "ours" },
            "data": [ { "secretKey": "k", "remoteRef": { "key": env.path("c"), "property": "k" } } ]
        }),
    )
    .await;
    wait_reason(&env, "for-us", "SecretSynced").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        ready(&env, "for-eso").await.is_none(),
        "another class's ExternalSecret gets no status"
    );
    assert!(secret_data(&env, "for-eso").await.is_none());
    agent.stop().await;
}

#[tokio::test]
async fn seed_cluster_store_with_kubernetes_auth_via_token_request() {
    let env = TestEnv::new("k8s-auth-e2e").await;
    let agent = start_agent(&env).await;
    put(
        &env,
        "github/auth",
        json!({ "username": "git", "token": "tok-e2e" }),
    )
    .await;
    let policy = format!("{}-read", env.prefix);
    let hcl = format!(
        "path \"{}/data/{}/*\" {{ capabilities = [\"read\"] }}",
        env.kv_mount, env.prefix
    );
    env.vault.write_policy(&policy, &hcl).await.unwrap();
    let mount = kubernetes_mount(&env).await;
    create_service_account(&env, "external-secrets").await;
    let role = ferry_vault::KubernetesRole {
        bound_service_account_names: vec!["external-secrets".into()],
        bound_service_account_namespaces: vec![env.namespace.clone()],
        policies: vec![policy],
        ttl: Some(Duration::from_secs(600)),
        audience: None,
    };
    env.vault
        .write_kubernetes_role(&mount, "external-secrets", &role)
        .await
        .unwrap();
    let store = format!("{}-vault-backend", env.prefix);
    // The seed's ClusterSecretStore, as written for ESO (v1beta1).
    create(&env, "v1beta1", "ClusterSecretStore", json!({
        "metadata": { "name": store },
        "spec": {
            "controller": env.prefix,
            "provider": { "vault": {
                "server": env.vault_addr, "path": env.kv_mount, "version": "v2",
                "auth": { "kubernetes": {
                    "mountPath": mount, "role": "external-secrets",
                    "serviceAccountRef": { "name": "external-secrets", "namespace": env.namespace }
                } }
            } }
        }
    }))
    .await;
    external_secret(&env, "github-auth", json!({
        "secretStoreRef": { "name": store, "kind": "ClusterSecretStore" },
        "target": { "name": "flux-system" },
        "data": [
            { "secretKey": "username", "remoteRef": { "key": env.path("github/auth"), "property": "username" } },
            { "secretKey": "password", "remoteRef": { "key": env.path("github/auth"), "property": "token" } }
        ]
    }))
    .await;
    wait_reason(&env, "github-auth", "SecretSynced").await;
    let d = secret_data(&env, "flux-system").await.unwrap();
    assert_eq!(
        (d["username"].as_str(), d["password"].as_str()),
        ("git", "tok-e2e")
    );
    let css = Api::<ferry_api::ClusterSecretStore>::all(env.kube.clone());
    let ready = eventually(
        Duration::from_secs(10),
        "the store's Ready condition",
        || async {
            css.get(&store)
                .await
                .ok()?
                .status?
                .ready_condition()
                .cloned()
        },
    )
    .await;
    assert_eq!(ready.reason.as_deref(), Some("Valid"));
    assert_eq!(
        agent.stats.get().logins,
        1,
        "one login for the store identity"
    );
    agent.stop().await;
}

/// Deleting a store requeues the ExternalSecrets that use it (the one shared store watch
/// passes deletions on): each reports the missing store at once, and its Secret stays.
#[tokio::test]
async fn deleting_a_store_requeues_its_external_secrets() {
    let env = TestEnv::new("store-deleted").await;
    let agent = start_agent(&env).await;
    put(&env, "app", json!({ "password": "kept-1" })).await;
    token_store(&env, "store").await;
    external_secret(
        &env,
        "app",
        json!({
            "refreshInterval": "1h",
            "secretStoreRef": { "name": "store" },
            "data": [ { "secretKey": "password",
                "remoteRef": { "key": env.path("app"), "property": "password" } } ]
        }),
    )
    .await;
    wait_reason(&env, "app", "SecretSynced").await;
    let stores = Api::<ferry_api::SecretStore>::namespaced(env.kube.clone(), &env.namespace);
    stores
        .delete("store", &DeleteParams::default())
        .await
        .unwrap();
    // Well inside the hour-long refresh: only the store's deletion can have triggered it.
    let message = wait_reason(&env, "app", "SecretSyncedError").await;
    assert!(message.contains("store"), "{message}");
    assert_eq!(
        secret_data(&env, "app").await.unwrap()["password"],
        "kept-1"
    );
    agent.stop().await;
}
