//! In-cluster configuration: the real `ferry agent` binary started the way a pod starts it,
//! with `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT` and the service-account token, CA
//! and namespace files at `/var/run/secrets/kubernetes.io/serviceaccount/` (kube-rs reads that
//! fixed path), no kubeconfig. The token is a real TokenRequest token for the chart's
//! ServiceAccount, bound only by the chart's RBAC, so a sync proves that RBAC suffices.
//!
//! The files are put in place inside a private mount namespace (`unshare --mount`, a tmpfs on
//! /run and a bind mount), so the host is untouched. Where that is not permitted the test says
//! so and passes without running.

#![allow(clippy::unwrap_used)]

use crate::support::chart;
use crate::support::common;
use std::process::Command;
use std::time::Duration;

use crate::support::agent_process::AgentProcess;
use crate::support::common::{eventually, external_secret, install_crds, put, secret_data};
use ferry_testenv::TestEnv;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, PostParams};
use serde_json::json;

/// Runs the rest of the command line in a private mount namespace where
/// `/var/run/secrets/kubernetes.io/serviceaccount` is `$FERRY_SA_DIR`.
const IN_POD: &str = r#"set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/secrets/kubernetes.io/serviceaccount
mount --bind "$FERRY_SA_DIR" /run/secrets/kubernetes.io/serviceaccount
exec "$@""#;

fn private_mounts_permitted() -> bool {
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs tmpfs /run")
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn the_agent_syncs_with_in_cluster_configuration_and_the_charts_rbac() {
    if !private_mounts_permitted() {
        eprintln!(
            "SKIPPED: `unshare --mount` is not permitted here, so the service-account files \
             cannot be placed at /var/run/secrets/kubernetes.io/serviceaccount"
        );
        return;
    }
    let env = TestEnv::new("incluster").await;
    install_crds(&env.kube).await;
    // The chart's objects, as `helm install` would create them, in a release namespace of
    // their own: the agent writes the workload namespace's Secrets with the ClusterRole only.
    let system = format!("{}-sys", env.namespace);
    let ns: Namespace = serde_json::from_value(json!({ "metadata": { "name": system } })).unwrap();
    Api::<Namespace>::all(env.kube.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let release = format!("ic-{}", ferry_testenv::unique_suffix());
    let docs = chart::render(
        &release,
        &system,
        &[&format!("agent.controllerClass={}", env.prefix)],
    );
    chart::apply_all(&env.kube, &system, &docs, false).await;
    let sa = chart::one(&docs, "ServiceAccount")["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let token = pod_token(&env, &system, &sa).await;
    let sa_dir = tempfile::tempdir().unwrap();
    std::fs::write(sa_dir.path().join("token"), token).unwrap();
    std::fs::write(sa_dir.path().join("ca.crt"), &env.kube_ca_pem).unwrap();
    std::fs::write(sa_dir.path().join("namespace"), &system).unwrap();

    // Vault's Kubernetes auth trusts the chart's ServiceAccount; the store names no
    // credential, so the agent logs in with the pod's own token file.
    put(&env, "db", json!({ "password": "in-cluster" })).await;
    kubernetes_store(&env, &system, &sa).await;
    let tokens_before = token_accessors(&env).await;

    let authority = env.kube_host.trim_start_matches("https://");
    let (host, port) = authority.rsplit_once(':').unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        IN_POD,
        "sh",
    ])
    .arg(env!("CARGO_BIN_EXE_ferry"));
    let logs = tempfile::tempdir().unwrap();
    // The flags the chart's Deployment passes, with this test's namespace and class.
    let args = vec![
        format!("--namespace={}", env.namespace),
        format!("--controller-class={}", env.prefix),
        "--leader-elect=true".into(),
        "--lease-name=ferry-agent".into(),
    ];
    let envs = [
        ("FERRY_SA_DIR", sa_dir.path().display().to_string()),
        ("KUBERNETES_SERVICE_HOST", host.to_string()),
        ("KUBERNETES_SERVICE_PORT", port.to_string()),
        ("POD_NAMESPACE", system.clone()),
        ("POD_NAME", "ferry-0".into()),
    ];
    let mut agent = AgentProcess::start_with(cmd, "incluster", logs.path(), &args, &envs);

    external_secret(
        &env,
        "db",
        json!({
            "refreshInterval": "1h",
            "secretStoreRef": { "name": env.prefix, "kind": "ClusterSecretStore" },
            "target": { "name": "db" },
            "data": [{ "secretKey": "password",
                "remoteRef": { "key": env.path("db"), "property": "password" } }]
        }),
    )
    .await;
    let mut synced = false;
    for _ in 0..300 {
        let reason = common::ready(&env, "db").await.map(|(_, r, _)| r);
        if reason.as_deref() == Some("SecretSynced") {
            synced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(synced, "not synced; agent log:\n{}", agent.log_text());
    let data = secret_data(&env, "db").await.unwrap();
    assert_eq!(data["password"], "in-cluster");
    eventually(Duration::from_secs(10), "/readyz to be 200", || async {
        agent.get("/readyz").await.filter(|(code, _)| *code == 200)
    })
    .await;
    let log = agent.log_text();
    assert!(!log.contains("forbidden"), "an RBAC denial:\n{log}");
    // The metrics of this sync, with bounded labels only (no namespace, name or path).
    let (_, metrics) = agent.get("/metrics").await.unwrap();
    for series in [
        "ferry_sync_total{result=\"success\",reason=\"SecretSynced\"}",
        "ferry_vault_logins_total{method=\"kubernetes\",result=\"success\"}",
        "ferry_vault_requests_total{operation=\"kv_read\",status=\"ok\"}",
        "ferry_vault_token_ttl_seconds ",
        "ferry_sync_duration_seconds_count ",
        "ferry_leader 1",
    ] {
        assert!(metrics.contains(series), "{series} missing:\n{metrics}");
    }
    assert!(!metrics.contains(&env.namespace) && !metrics.contains(&env.prefix));
    assert!(
        token_accessors(&env).await > tokens_before,
        "no login token"
    );
    // SIGTERM: a clean exit that revokes the tokens the agent obtained.
    let status = agent.terminate(Duration::from_secs(20)).await;
    assert!(
        status.success(),
        "exit {status:?}; log:\n{}",
        agent.log_text()
    );
    assert_eq!(
        token_accessors(&env).await,
        tokens_before,
        "a token was not revoked"
    );
}

/// A token for the ServiceAccount, by TokenRequest, as the kubelet projects one into a pod.
async fn pod_token(env: &TestEnv, namespace: &str, name: &str) -> String {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: Vec::new(),
            expiration_seconds: Some(3600),
            bound_object_ref: None,
        },
        ..Default::default()
    };
    Api::<ServiceAccount>::namespaced(env.kube.clone(), namespace)
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token
}

/// A ClusterSecretStore with Kubernetes auth and no credential reference: the agent uses its
/// pod token (admin configuration; a namespaced SecretStore may not). The Vault role admits
/// the chart's ServiceAccount and reads this test's prefix.
async fn kubernetes_store(env: &TestEnv, namespace: &str, service_account: &str) {
    let policy = format!("{}-read", env.prefix);
    let hcl = format!(
        "path \"{}/data/{}/*\" {{ capabilities = [\"read\"] }}",
        env.kv_mount, env.prefix
    );
    env.vault.write_policy(&policy, &hcl).await.unwrap();
    let mount = common::kubernetes_mount(env).await;
    let role = ferry_vault::KubernetesRole {
        bound_service_account_names: vec![service_account.to_string()],
        bound_service_account_namespaces: vec![namespace.to_string()],
        policies: vec![policy],
        ttl: Some(Duration::from_secs(600)),
        audience: None,
    };
    env.vault
        .write_kubernetes_role(&mount, "ferry", &role)
        .await
        .unwrap();
    common::create(
        env,
        "v1",
        "ClusterSecretStore",
        json!({
            "metadata": { "name": env.prefix },
            "spec": {
                "controller": env.prefix,
                "provider": { "vault": {
                    "server": env.vault_addr, "path": env.kv_mount, "version": "v2",
                    "auth": { "kubernetes": { "mountPath": mount, "role": "ferry" } }
                } }
            }
        }),
    )
    .await;
}

/// How many tokens Vault holds (this test binary's Vault serves this test only).
async fn token_accessors(env: &TestEnv) -> usize {
    // Only this test's tokens (made by a login through its own Kubernetes mount): the other
    // tests of the binary log in to the same Vault at the same time.
    let listed = env
        .vault
        .raw(reqwest::Method::GET, "auth/token/accessors?list=true", None)
        .await
        .unwrap()
        .unwrap();
    let own = format!("auth/k8s-{}/", env.prefix);
    let mut count = 0;
    for accessor in listed["data"]["keys"].as_array().unwrap() {
        let body = serde_json::json!({ "accessor": accessor });
        let path = "auth/token/lookup-accessor";
        // A token that expired since the list is gone: not counted.
        if let Ok(Some(info)) = env
            .vault
            .raw(reqwest::Method::POST, path, Some(&body))
            .await
            && info["data"]["path"]
                .as_str()
                .is_some_and(|p| p.starts_with(&own))
        {
            count += 1;
        }
    }
    count
}
