//! The agent over time: refresh policies, force-sync, Vault failures that never touch the
//! Secret, and the steady state (no writes, no logins, one read per path per window).

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::support::common::*;
use ferry_testenv::{OpenBao, TestEnv};
use ferry_vault::{InitRequest, KvVersion, Vault, VaultConfig};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn refresh_policies_and_force_sync() {
    let env = TestEnv::new("refresh").await;
    let agent = start_agent(&env).await;
    token_store(&env, "store").await;
    put(&env, "r", json!({ "k": "one" })).await;
    let spec = |policy: &str, interval: &str| {
        json!({
            "secretStoreRef": { "name": "store" },
            "refreshPolicy": policy,
            "refreshInterval": interval,
            "data": [ { "secretKey": "k", "remoteRef": { "key": env.path("r"), "property": "k" } } ]
        })
    };
    external_secret(&env, "periodic", spec("Periodic", "1s")).await;
    external_secret(&env, "once", spec("CreatedOnce", "1s")).await;
    external_secret(&env, "onchange", spec("OnChange", "1s")).await;
    external_secret(&env, "zero", spec("Periodic", "0")).await;
    for name in ["periodic", "once", "onchange", "zero"] {
        wait_reason(&env, name, "SecretSynced").await;
    }
    put(&env, "r", json!({ "k": "two" })).await;
    eventually(Duration::from_secs(5), "the periodic refresh", || async {
        secret_data(&env, "periodic")
            .await
            .filter(|d| d["k"] == "two")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for name in ["once", "onchange", "zero"] {
        assert_eq!(
            secret_data(&env, name).await.unwrap()["k"],
            "one",
            "{name} must not refresh"
        );
    }

    // force-sync (an annotation change) refreshes OnChange and refreshInterval 0 at once.
    let es = Api::<ferry_api::ExternalSecret>::namespaced(env.kube.clone(), &env.namespace);
    let annotate = json!({ "metadata": { "annotations": { "force-sync": "1" } } });
    for name in ["onchange", "zero"] {
        es.patch(name, &PatchParams::default(), &Patch::Merge(&annotate))
            .await
            .unwrap();
    }
    for name in ["onchange", "zero"] {
        eventually(Duration::from_secs(2), "force-sync", || async {
            secret_data(&env, name).await.filter(|d| d["k"] == "two")
        })
        .await;
    }
    assert_eq!(
        secret_data(&env, "once").await.unwrap()["k"],
        "one",
        "CreatedOnce never updates"
    );
    agent.stop().await;
}

/// An OpenBao of the test's own, initialised and unsealed, with KV v2 at `secret/`.
async fn own_vault() -> (OpenBao, Vault, ferry_vault::InitResponse) {
    let bao = OpenBao::uninitialised();
    let vault = Vault::connect(&VaultConfig::new(bao.address.clone())).unwrap();
    let init = vault
        .init(&InitRequest {
            secret_shares: 1,
            secret_threshold: 1,
        })
        .await
        .unwrap();
    vault.unseal(&init.keys[0]).await.unwrap();
    let root = vault.with_token(init.root_token.clone());
    let mut options = std::collections::BTreeMap::new();
    options.insert("version".to_string(), "2".to_string());
    ferry_testenv::openbao::wait_until_active(&root).await;
    root.enable_mount("secret", "kv", options).await.unwrap();
    (bao, root, init)
}

#[tokio::test]
async fn vault_failures_leave_the_secret_untouched_and_recover() {
    let env = TestEnv::new("vault-down").await;
    let (bao, root, init) = own_vault().await;
    let data = ferry_vault::KvData::new(json!({ "k": "v1" }).as_object().cloned().unwrap());
    for _ in 0..50 {
        if root
            .kv_write("secret", "app", KvVersion::V2, &data, None)
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let agent = start_agent(&env).await;
    let secrets = Api::<Secret>::namespaced(env.kube.clone(), &env.namespace);
    let token: Secret = serde_json::from_value(json!({
        "metadata": { "name": "own-token" },
        "stringData": { "token": secrecy::ExposeSecret::expose_secret(&init.root_token) }
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &token)
        .await
        .unwrap();
    create(&env, "v1", "SecretStore", json!({
        "metadata": { "name": "own" },
        "spec": { "controller": env.prefix, "provider": { "vault": { "server": bao.address, "path": "secret",
            "auth": { "tokenSecretRef": { "name": "own-token", "key": "token" } } } } }
    }))
    .await;
    external_secret(
        &env,
        "app",
        json!({
            "secretStoreRef": { "name": "own" },
            "refreshInterval": "1s",
            "target": { "deletionPolicy": "Delete" },
            "data": [ { "secretKey": "k", "remoteRef": { "key": "app", "property": "k" } } ]
        }),
    )
    .await;
    wait_reason(&env, "app", "SecretSynced").await;
    let before = secrets.get("app").await.unwrap();

    root.seal().await.unwrap();
    let msg = wait_reason(&env, "app", "SecretSyncedError").await;
    assert!(msg.to_lowercase().contains("sealed"), "{msg}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = secrets.get("app").await.unwrap();
    assert_eq!(
        during.metadata.resource_version, before.metadata.resource_version,
        "Secret untouched while sealed"
    );
    assert_eq!(during.data, before.data);

    root.unseal(&init.keys[0]).await.unwrap();
    wait_reason(&env, "app", "SecretSynced").await;
    let after = secrets.get("app").await.unwrap();
    assert_eq!(after.data, before.data);

    drop(bao);
    let msg = wait_reason(&env, "app", "SecretSyncedError").await;
    eprintln!("unreachable Vault reported as: {msg}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let gone = secrets.get("app").await.unwrap();
    assert_eq!(
        gone.metadata.resource_version, before.metadata.resource_version,
        "Secret untouched while Vault is down"
    );
    agent.stop().await;
}

#[tokio::test]
async fn steady_state_costs_nothing() {
    const ES: usize = 100;
    const PATHS: usize = 10;
    let env = TestEnv::new("steady").await;
    let agent = start_agent(&env).await;
    token_store(&env, "store").await;
    for p in 0..PATHS {
        put(
            &env,
            &format!("s{p}"),
            json!({ "a": format!("v{p}"), "b": "x", "c": "y" }),
        )
        .await;
    }
    let window = Duration::from_secs(2);
    for i in 0..ES {
        external_secret(
            &env,
            &format!("es{i}"),
            json!({
                "secretStoreRef": { "name": "store" },
                "refreshInterval": "2s",
                "dataFrom": [ { "extract": { "key": env.path(&format!("s{}", i % PATHS)) } } ]
            }),
        )
        .await;
    }
    let es = Api::<ferry_api::ExternalSecret>::namespaced(env.kube.clone(), &env.namespace);
    eventually(
        Duration::from_secs(60),
        "all ExternalSecrets Ready",
        || async {
            let list = es.list(&Default::default()).await.ok()?;
            let ready = list.items.iter().filter(|e| {
                e.status
                    .as_ref()
                    .and_then(|s| s.ready_condition())
                    .is_some_and(|c| c.reason.as_deref() == Some("SecretSynced"))
            });
            (ready.count() == ES).then_some(())
        },
    )
    .await;
    // Let the first refresh round settle, then measure three windows of idleness.
    tokio::time::sleep(window * 2).await;
    let before = agent.stats.get();
    let rv_before = resource_versions(&env).await;
    tokio::time::sleep(window * 3).await;
    let after = agent.stats.get();
    assert_eq!(
        resource_versions(&env).await,
        rv_before,
        "no Secret changed"
    );
    assert_eq!(
        after.secret_writes, before.secret_writes,
        "0 Secret writes when nothing changed"
    );
    assert_eq!(after.logins, 1, "one login for the one store identity");
    let reads = after.vault_reads - before.vault_reads;
    // Three windows, plus one for the window boundary the measurement straddles.
    assert!(
        reads <= (PATHS * 4) as u64,
        "{reads} Vault reads for {PATHS} paths over 3 windows"
    );
    eprintln!(
        "steady state over 3 windows: {reads} Vault reads for {PATHS} paths, 0 writes, 1 login"
    );
    agent.stop().await;
}

async fn resource_versions(env: &TestEnv) -> Vec<(String, String)> {
    let secrets = Api::<Secret>::namespaced(env.kube.clone(), &env.namespace);
    let list = secrets.list(&Default::default()).await.unwrap();
    list.items
        .into_iter()
        .map(|s| {
            (
                s.metadata.name.unwrap_or_default(),
                s.metadata.resource_version.unwrap_or_default(),
            )
        })
        .collect()
}
