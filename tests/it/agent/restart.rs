//! Rollout restarts against the real API server and OpenBao: the `ferry.dev/restart`
//! annotation (`auto` and a list), exactly one restart per real data change, none on
//! creation, idle refreshes or a new HMAC key, and the repair of a missed restart.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use base64::Engine;

use crate::support::common::*;
use ferry_testenv::TestEnv;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// A Deployment (env from `secret`) or StatefulSet (`secret` as a volume), with no replicas.
fn workload(kind: &str, name: &str, secret: Option<&str>) -> Value {
    let mut container = json!({ "name": "app", "image": "registry.invalid/app:1" });
    let mut pod = json!({ "containers": [] });
    match (kind, secret) {
        ("Deployment", Some(s)) => {
            container["env"] = json!([{ "name": "PASSWORD",
                "valueFrom": { "secretKeyRef": { "name": s, "key": "password" } } }]);
        }
        ("StatefulSet", Some(s)) => {
            pod["volumes"] = json!([{ "name": "creds", "secret": { "secretName": s } }]);
        }
        _ => {}
    }
    pod["containers"] = json!([container]);
    let mut spec = json!({
        "replicas": 0,
        "selector": { "matchLabels": { "app": name } },
        "template": { "metadata": { "labels": { "app": name } }, "spec": pod }
    });
    if kind == "StatefulSet" {
        spec["serviceName"] = json!(name);
    }
    json!({ "apiVersion": "apps/v1", "kind": kind, "metadata": { "name": name }, "spec": spec })
}

async fn generations(env: &TestEnv) -> (i64, i64, i64) {
    let deployments = Api::<Deployment>::namespaced(env.kube.clone(), &env.namespace);
    let sets = Api::<StatefulSet>::namespaced(env.kube.clone(), &env.namespace);
    let api = deployments
        .get("api")
        .await
        .unwrap()
        .metadata
        .generation
        .unwrap();
    let idle = deployments
        .get("bystander")
        .await
        .unwrap()
        .metadata
        .generation
        .unwrap();
    let db = sets.get("db").await.unwrap().metadata.generation.unwrap();
    (api, db, idle)
}

#[tokio::test]
async fn restarts_once_per_real_change_and_never_when_idle() {
    let env = TestEnv::new("restart").await;
    let agent = start_agent(&env).await;
    token_store(&env, "store").await;
    let deployments = Api::<Deployment>::namespaced(env.kube.clone(), &env.namespace);
    let sets = Api::<StatefulSet>::namespaced(env.kube.clone(), &env.namespace);
    let pp = PostParams::default();
    for (name, secret) in [("api", Some("creds")), ("bystander", None)] {
        let d = serde_json::from_value(workload("Deployment", name, secret)).unwrap();
        deployments.create(&pp, &d).await.unwrap();
    }
    let s = serde_json::from_value(workload("StatefulSet", "db", Some("creds"))).unwrap();
    sets.create(&pp, &s).await.unwrap();

    put(&env, "creds", json!({ "password": "one" })).await;
    let mut es = json!({
        "metadata": { "name": "creds", "annotations": { "ferry.dev/restart": "auto" } },
        "spec": {
            "refreshInterval": "1s",
            "secretStoreRef": { "name": "store" },
            "data": [ { "secretKey": "password", "remoteRef": { "key": env.path("creds"), "property": "password" } } ]
        }
    });
    create(&env, "v1", "ExternalSecret", es.take()).await;
    wait_reason(&env, "creds", "SecretSynced").await;
    // Creation restarts nothing; idle refreshes (one a second) restart nothing.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(generations(&env).await, (1, 1, 1));

    for (round, value) in ["two", "three"].into_iter().enumerate() {
        let round = round as i64 + 1;
        put(&env, "creds", json!({ "password": value })).await;
        eventually(Duration::from_secs(20), "the Secret to change", || async {
            secret_data(&env, "creds")
                .await
                .filter(|d| d["password"] == value)
        })
        .await;
        eventually(Duration::from_secs(20), "the restarts", || async {
            let g = generations(&env).await;
            (g.0 == 1 + round && g.1 == 1 + round).then_some(())
        })
        .await;
        // Several more refreshes of unchanged data: no second restart for one change.
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(
            generations(&env).await,
            (1 + round, 1 + round, 1),
            "round {round}"
        );
    }
    let template = deployments.get("api").await.unwrap().spec.unwrap().template;
    let annotations = template.metadata.unwrap().annotations.unwrap();
    let stamp = annotations["ferry.dev/hash-creds"].clone();
    assert_eq!(stamp.len(), 16);
    assert!(stamp.bytes().all(|b| b.is_ascii_hexdigit()));
    agent.stop().await;

    // A new HMAC key changes every fingerprint but not the data: the Secret's annotation is
    // rewritten, and still nothing restarts.
    let secrets =
        Api::<k8s_openapi::api::core::v1::Secret>::namespaced(env.kube.clone(), &env.namespace);
    secrets
        .delete("ferry-hmac-key", &Default::default())
        .await
        .unwrap();
    let old_hmac = secrets
        .get("creds")
        .await
        .unwrap()
        .metadata
        .annotations
        .unwrap()["ferry.dev/data-hmac"]
        .clone();
    let agent = start_agent(&env).await;
    eventually(
        Duration::from_secs(20),
        "the re-keyed annotation",
        || async {
            let s = secrets.get("creds").await.unwrap();
            let now = s.metadata.annotations.unwrap_or_default()["ferry.dev/data-hmac"].clone();
            (now != old_hmac).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        generations(&env).await,
        (3, 3, 1),
        "a new key restarts nothing"
    );
    agent.stop().await;
}

#[tokio::test]
async fn restarts_listed_workloads_only() {
    let env = TestEnv::new("restart-listed").await;
    let agent = start_agent(&env).await;
    token_store(&env, "store").await;
    let deployments = Api::<Deployment>::namespaced(env.kube.clone(), &env.namespace);
    let sets = Api::<StatefulSet>::namespaced(env.kube.clone(), &env.namespace);
    let pp = PostParams::default();
    // `bystander` uses no Secret but is listed; `api` uses it but is not listed.
    for (name, secret) in [("api", Some("creds")), ("bystander", None)] {
        let d = serde_json::from_value(workload("Deployment", name, secret)).unwrap();
        deployments.create(&pp, &d).await.unwrap();
    }
    let s = serde_json::from_value(workload("StatefulSet", "db", Some("creds"))).unwrap();
    sets.create(&pp, &s).await.unwrap();
    put(&env, "creds", json!({ "password": "one" })).await;
    create(&env, "v1", "ExternalSecret", json!({
        "metadata": { "name": "creds", "annotations": {
            "ferry.dev/restart": "deployment/bystander, statefulset/db, deployment/missing" } },
        "spec": {
            "refreshInterval": "1s",
            "secretStoreRef": { "name": "store" },
            "data": [ { "secretKey": "password", "remoteRef": { "key": env.path("creds"), "property": "password" } } ]
        }
    }))
    .await;
    wait_reason(&env, "creds", "SecretSynced").await;
    put(&env, "creds", json!({ "password": "two" })).await;
    eventually(Duration::from_secs(20), "the listed restarts", || async {
        (generations(&env).await == (1, 2, 2)).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(generations(&env).await, (1, 2, 2));

    // As if the agent had stopped between the Secret write and this patch: a workload with an
    // older stamp, while the Secret records the current content, is patched on the next sync.
    let stamp = |d: Deployment| {
        let t = d.spec.unwrap().template.metadata.unwrap();
        t.annotations.unwrap_or_default()["ferry.dev/hash-creds"].clone()
    };
    let current = stamp(deployments.get("bystander").await.unwrap());
    let older = json!({ "spec": { "template": { "metadata": { "annotations": {
        "ferry.dev/hash-creds": "0000000000000000" } } } } });
    deployments
        .patch("bystander", &PatchParams::default(), &Patch::Merge(&older))
        .await
        .unwrap();
    eventually(Duration::from_secs(20), "the repaired restart", || async {
        let d = deployments.get("bystander").await.unwrap();
        (d.metadata.generation == Some(4) && stamp(d) == current).then_some(())
    })
    .await;

    // A malformed annotation is a spec error naming the field; the Secret stays.
    patch_es(
        &env,
        "creds",
        json!({ "metadata": { "annotations": { "ferry.dev/restart": "pod/x" } } }),
    )
    .await;
    let msg = wait_reason(&env, "creds", "SecretSyncedError").await;
    assert!(msg.contains("ferry.dev/restart"), "{msg}");
    assert_eq!(secret_data(&env, "creds").await.unwrap()["password"], "two");
    agent.stop().await;
}

/// Upgrading from the agent that keyed every fingerprint with the master key itself: each
/// Secret's annotation is rewritten exactly once, its data stays, and nothing restarts.
#[tokio::test]
async fn the_per_object_key_upgrade_writes_each_secret_once_and_restarts_nothing() {
    let env = TestEnv::new("restart-upgrade").await;
    install_crds(&env.kube).await;
    token_store(&env, "store").await;
    let secrets =
        Api::<k8s_openapi::api::core::v1::Secret>::namespaced(env.kube.clone(), &env.namespace);
    let master = b"0123456789abcdef0123456789abcdef";
    let key = json!({ "metadata": { "name": "ferry-hmac-key" },
        "data": { "key": base64::engine::general_purpose::STANDARD.encode(master) } });
    let pp = PostParams::default();
    secrets
        .create(&pp, &serde_json::from_value(key).unwrap())
        .await
        .unwrap();
    let deployments = Api::<Deployment>::namespaced(env.kube.clone(), &env.namespace);
    let d = serde_json::from_value(workload("Deployment", "api", Some("creds"))).unwrap();
    deployments.create(&pp, &d).await.unwrap();
    put(&env, "creds", json!({ "password": "one" })).await;
    let es = create(&env, "v1", "ExternalSecret", json!({
        "metadata": { "name": "creds", "annotations": { "ferry.dev/restart": "auto" } },
        "spec": {
            "refreshInterval": "1s",
            "secretStoreRef": { "name": "store" },
            "data": [ { "secretKey": "password", "remoteRef": { "key": env.path("creds"), "property": "password" } } ]
        }
    }))
    .await;
    // The Secret and the Deployment as the older agent left them: the data HMAC under the
    // master key, its first 16 hex digits as the restart stamp.
    let mut data = ferry_agent::shape::SecretData::new();
    data.insert("password".to_owned(), b"one".to_vec());
    let old = ferry_agent::hmac::data_hmac(master, &data);
    let uid = es.metadata.uid.clone().unwrap();
    let secret = json!({
        "metadata": { "name": "creds",
            "labels": { "reconcile.external-secrets.io/managed": "true" },
            "annotations": { "ferry.dev/data-hmac": old, "ferry.dev/external-secret": "creds",
                "ferry.dev/restart-for": &old[..16] },
            "ownerReferences": [{ "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                "name": "creds", "uid": uid, "controller": true, "blockOwnerDeletion": true }] },
        "stringData": { "password": "one" }
    });
    secrets
        .create(&pp, &serde_json::from_value(secret).unwrap())
        .await
        .unwrap();
    let stamp = json!({ "spec": { "template": { "metadata": { "annotations": {
        "ferry.dev/hash-creds": &old[..16] } } } } });
    deployments
        .patch("api", &PatchParams::default(), &Patch::Merge(&stamp))
        .await
        .unwrap();
    let agent = start_agent(&env).await;
    eventually(
        Duration::from_secs(20),
        "the re-keyed annotation",
        || async {
            let s = secrets.get("creds").await.unwrap();
            let now = s.metadata.annotations.unwrap_or_default()["ferry.dev/data-hmac"].clone();
            (now != old).then_some(())
        },
    )
    .await;
    // Four more refreshes of unchanged data.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        agent.stats.get().secret_writes,
        1,
        "one write for the upgrade"
    );
    assert_eq!(secret_data(&env, "creds").await.unwrap()["password"], "one");
    let generation = deployments.get("api").await.unwrap().metadata.generation;
    assert_eq!(generation, Some(2), "the upgrade restarted a workload");
    agent.stop().await;
}
