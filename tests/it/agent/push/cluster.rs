//! ClusterPushSecret across namespaces. The agent serves ClusterPushSecrets only when it
//! watches every namespace, and such an agent would act on the other tests' objects, so this
//! test runs on a kube-sandbox of its own (and the shared OpenBao).

use std::time::Duration;

use super::*;
use crate::support::common::{RunningAgent, config, eventually, install_crds};
use ferry_api::ClusterPushSecret;
use ferry_testenv::TestEnv;
use ferry_testenv::kube::KubeSandbox;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

async fn namespace(env: &TestEnv, name: &str, labels: Value) {
    let ns: Namespace =
        serde_json::from_value(json!({ "metadata": { "name": name, "labels": labels } })).unwrap();
    Api::<Namespace>::all(env.kube.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let secret: Secret = serde_json::from_value(
        json!({ "metadata": { "name": "src" }, "stringData": { "k": "shared-1" } }),
    )
    .unwrap();
    Api::<Secret>::namespaced(env.kube.clone(), name)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

async fn label(env: &TestEnv, name: &str, labels: Value) {
    let patch = json!({ "metadata": { "labels": labels } });
    Api::<Namespace>::all(env.kube.clone())
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

async fn status(env: &TestEnv, name: &str) -> Option<ferry_api::ClusterPushSecretStatus> {
    Api::<ClusterPushSecret>::all(env.kube.clone())
        .get_opt(name)
        .await
        .unwrap()?
        .status
}

async fn provisioned(env: &TestEnv, name: &str, want: &[&str]) {
    eventually(
        Duration::from_secs(10),
        &format!("provisioned in {want:?}"),
        || async {
            let s = status(env, name).await?;
            (s.provisioned_namespaces == want).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn cluster_push_secrets_follow_namespace_labels() {
    let cluster = tokio::task::spawn_blocking(KubeSandbox::start)
        .await
        .unwrap();
    let env = TestEnv::with_cluster(&cluster, "push-cluster").await;
    install_crds(&env.kube).await;
    push_store(&env, "vault", Kv::v2(&env), &["*"]).await;
    let store = format!("{}-store", env.prefix);
    crate::support::common::create(&env, "v1", "ClusterSecretStore", json!({
        "metadata": { "name": store },
        "spec": { "controller": env.prefix, "provider": { "vault": {
            "server": env.vault_addr, "path": env.kv_mount, "version": "v2",
            "auth": { "tokenSecretRef": { "name": "vault-token", "key": "token", "namespace": env.namespace } } } } }
    }))
    .await;
    let [a, b, c, d] = ["a", "b", "c", "d"].map(|n| format!("{}-{n}", env.prefix));
    namespace(&env, &a, json!({ "push": "yes" })).await;
    namespace(&env, &b, json!({ "push": "yes" })).await;
    namespace(&env, &c, json!({})).await;
    namespace(&env, &d, json!({ "push": "yes" })).await;
    // Someone else's PushSecret of the same name in d.
    let foreign = json!({ "secretStoreRefs": [{ "name": "theirs" }], "selector": { "secret": { "name": "src" } },
        "data": [{ "match": { "remoteRef": { "remoteKey": "elsewhere" } } }] });
    push_secret_as(&env.kube, &d, "pushed", foreign.clone()).await;
    let agent_config = ferry_agent::AgentConfig {
        namespace: None,
        ..config(&env)
    };
    let agent = RunningAgent::spawn(
        ferry_agent::Agent::new(env.kube.clone(), agent_config)
            .await
            .unwrap(),
    );
    let cps: ClusterPushSecret = serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1alpha1", "kind": "ClusterPushSecret",
        "metadata": { "name": "pushed" },
        "spec": {
            "namespaceSelectors": [{ "matchLabels": { "push": "yes" } }],
            "pushSecretMetadata": { "labels": { "team": "platform" } },
            "pushSecretSpec": {
                "secretStoreRefs": [{ "name": store, "kind": "ClusterSecretStore" }],
                "selector": { "secret": { "name": "src" } },
                "data": [{ "match": { "secretKey": "k", "remoteRef": { "remoteKey": env.path("cps"), "property": "k" } } }]
            }
        }
    }))
    .unwrap();
    let cpss = Api::<ClusterPushSecret>::all(env.kube.clone());
    cpss.create(&PostParams::default(), &cps).await.unwrap();
    provisioned(&env, "pushed", &[&a, &b]).await;
    let s = status(&env, "pushed").await.unwrap();
    assert_eq!(s.push_secret_name.as_deref(), Some("pushed"));
    assert_eq!(s.failed_namespaces.len(), 1, "{s:?}");
    assert_eq!(s.failed_namespaces[0].namespace, d);
    assert!(
        s.failed_namespaces[0]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("not owned")
    );
    let ready = s.ready_condition().unwrap();
    assert_eq!(ready.reason.as_deref(), Some("Errored"));
    for ns in [&a, &b] {
        let ps = Api::<ferry_api::PushSecret>::namespaced(env.kube.clone(), ns);
        eventually(
            Duration::from_secs(20),
            "the provisioned PushSecret Ready",
            || async {
                let p = ps.get_opt("pushed").await.ok()??;
                let ready = p.status?.ready_condition()?.status;
                (ready == ferry_api::ConditionStatus::True).then_some(())
            },
        )
        .await;
        let p = ps.get("pushed").await.unwrap();
        assert_eq!(p.labels().get("team").map(String::as_str), Some("platform"));
    }
    assert_eq!(
        Value::Object(vault_data(&env, Kv::v2(&env), "cps").await.unwrap()),
        json!({ "k": "shared-1" })
    );
    // The foreign one is untouched.
    let theirs = Api::<ferry_api::PushSecret>::namespaced(env.kube.clone(), &d)
        .get("pushed")
        .await
        .unwrap();
    assert!(theirs.owner_references().is_empty());
    assert_eq!(
        theirs.spec.secret_store_refs[0].name.as_deref(),
        Some("theirs")
    );
    assert_eq!(
        theirs.spec.data[0].match_.remote_ref.remote_key,
        "elsewhere"
    );
    // A namespace labelled later gets its PushSecret within seconds; one unlabelled loses it.
    label(&env, &c, json!({ "push": "yes" })).await;
    provisioned(&env, "pushed", &[&a, &b, &c]).await;
    label(&env, &a, json!({ "push": null })).await;
    provisioned(&env, "pushed", &[&b, &c]).await;
    let in_a = Api::<ferry_api::PushSecret>::namespaced(env.kube.clone(), &a);
    eventually(
        Duration::from_secs(10),
        "the PushSecret gone from a",
        || async {
            in_a.get_opt("pushed")
                .await
                .unwrap()
                .is_none()
                .then_some(())
        },
    )
    .await;
    // A provisioned PushSecret deleted by hand comes back.
    let in_b = Api::<ferry_api::PushSecret>::namespaced(env.kube.clone(), &b);
    let uid = in_b.get("pushed").await.unwrap().uid();
    in_b.delete("pushed", &DeleteParams::default())
        .await
        .unwrap();
    eventually(
        Duration::from_secs(10),
        "the PushSecret back in b",
        || async {
            let p = in_b.get_opt("pushed").await.unwrap()?;
            (p.uid() != uid).then_some(())
        },
    )
    .await;
    // The foreign one removed by its owner: d is provisioned, and failedNamespaces empties.
    let in_d = Api::<ferry_api::PushSecret>::namespaced(env.kube.clone(), &d);
    in_d.delete("pushed", &DeleteParams::default())
        .await
        .unwrap();
    provisioned(&env, "pushed", &[&b, &c, &d]).await;
    let s = status(&env, "pushed").await.unwrap();
    assert!(s.failed_namespaces.is_empty(), "{s:?}");
    assert_eq!(
        s.ready_condition().unwrap().reason.as_deref(),
        Some("Synced")
    );
    // Idle: nothing is written.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rv = cpss.get("pushed").await.unwrap().resource_version();
    let children = in_b.get("pushed").await.unwrap().resource_version();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(cpss.get("pushed").await.unwrap().resource_version(), rv);
    assert_eq!(
        in_b.get("pushed").await.unwrap().resource_version(),
        children
    );
    agent.stop().await;
}
