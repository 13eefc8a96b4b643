//! Helpers shared by the agent's integration tests: an in-process agent scoped to one test's
//! namespace and controller class, polling, ExternalSecret status and Secret data, and
//! Kubernetes auth; with the object helpers of [`super::eso`].

#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::time::Duration;

use ferry_agent::{Agent, AgentConfig, StatsHandle};
use ferry_testenv::TestEnv;
use ferry_vault::KubernetesAuthConfig;
use k8s_openapi::api::authentication::v1::{TokenRequest as KubeTokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, PostParams};
use secrecy::SecretString;
use serde_json::{Value, json};

pub use super::eso::{create, external_secret, install_crds, put, token_store};

/// A running in-process agent; stopped (and its tokens revoked) on [`RunningAgent::stop`].
pub struct RunningAgent {
    pub stats: StatsHandle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<ferry_agent::Result<()>>>,
}

impl RunningAgent {
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

/// The agent configuration used by tests: this test's namespace and controller class.
pub fn config(env: &TestEnv) -> AgentConfig {
    AgentConfig {
        namespace: Some(env.namespace.clone()),
        controller_class: env.prefix.clone(),
        own_namespace: env.namespace.clone(),
        backoff_base: Duration::from_millis(200),
        backoff_max: Duration::from_secs(2),
        ..AgentConfig::default()
    }
}

/// Starts an agent with `config`.
pub async fn start_agent_with(env: &TestEnv, config: AgentConfig) -> RunningAgent {
    install_crds(&env.kube).await;
    let agent = Agent::new(env.kube.clone(), config).await.unwrap();
    RunningAgent::spawn(agent)
}

impl RunningAgent {
    /// Runs a configured agent on a task of its own.
    pub fn spawn(agent: Agent) -> RunningAgent {
        let stats = agent.stats();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(agent.run(async move {
            let _ = rx.await;
        }));
        RunningAgent {
            stats,
            stop: Some(tx),
            task: Some(task),
        }
    }
}

/// Starts an agent for this test.
pub async fn start_agent(env: &TestEnv) -> RunningAgent {
    start_agent_with(env, config(env)).await
}

/// Polls `check` every 100 ms until it returns `Some`, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The ExternalSecret's Ready condition as (status, reason, message), once it has one.
pub async fn ready(env: &TestEnv, name: &str) -> Option<(String, String, String)> {
    let es = Api::<ferry_api::ExternalSecret>::namespaced(env.kube.clone(), &env.namespace);
    let es = es.get_opt(name).await.unwrap()?;
    let c = es.status?.ready_condition()?.clone();
    let status = serde_json::to_value(c.status)
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_string();
    Some((
        status,
        c.reason.unwrap_or_default(),
        c.message.unwrap_or_default(),
    ))
}

/// Waits until the ExternalSecret's Ready condition has `reason`; returns the message.
pub async fn wait_reason(env: &TestEnv, name: &str, reason: &str) -> String {
    eventually(
        Duration::from_secs(20),
        &format!("{name} to be {reason}"),
        || async {
            ready(env, name)
                .await
                .filter(|(_, r, _)| r == reason)
                .map(|(_, _, m)| m)
        },
    )
    .await
}

/// The Secret's data as UTF-8 strings.
pub async fn secret_data(
    env: &TestEnv,
    name: &str,
) -> Option<std::collections::BTreeMap<String, String>> {
    let api = Api::<Secret>::namespaced(env.kube.clone(), &env.namespace);
    let secret = api.get_opt(name).await.unwrap()?;
    Some(
        secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8(v.0).unwrap()))
            .collect(),
    )
}

/// Creates a ServiceAccount in the test namespace.
pub async fn create_service_account(env: &TestEnv, name: &str) {
    let sa = json!({ "metadata": { "name": name } });
    Api::<ServiceAccount>::namespaced(env.kube.clone(), &env.namespace)
        .create(
            &PostParams::default(),
            &serde_json::from_value(sa).expect("a ServiceAccount"),
        )
        .await
        .expect("creating a ServiceAccount");
}

/// A token for the ServiceAccount, by TokenRequest.
pub async fn service_account_token(env: &TestEnv, name: &str, audiences: Vec<String>) -> String {
    let request = KubeTokenRequest {
        spec: TokenRequestSpec {
            audiences,
            expiration_seconds: Some(3600),
            bound_object_ref: None,
        },
        ..Default::default()
    };
    Api::<ServiceAccount>::namespaced(env.kube.clone(), &env.namespace)
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .expect("requesting a ServiceAccount token")
        .status
        .expect("TokenRequest status")
        .token
}

/// A Kubernetes auth mount pointed at the sandbox, with its own TokenReview credentials (a
/// ServiceAccount bound to system:auth-delegator), as a production Vault would have.
pub async fn kubernetes_mount(env: &TestEnv) -> String {
    let reviewer = "vault-reviewer";
    create_service_account(env, reviewer).await;
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": { "name": format!("{}-reviewer", env.prefix) },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
            "name": "system:auth-delegator" },
        "subjects": [{ "kind": "ServiceAccount", "name": reviewer, "namespace": env.namespace }],
    }))
    .expect("a valid ClusterRoleBinding");
    Api::<ClusterRoleBinding>::all(env.kube.clone())
        .create(&PostParams::default(), &binding)
        .await
        .expect("creating the ClusterRoleBinding");
    let reviewer_jwt = service_account_token(env, reviewer, Vec::new()).await;
    let mount = format!("k8s-{}", env.prefix);
    env.vault
        .enable_auth(&mount, "kubernetes")
        .await
        .expect("enabling Kubernetes auth");
    let config = KubernetesAuthConfig {
        host: env.kube_host.clone(),
        ca_cert_pem: Some(env.kube_ca_pem.clone()),
        token_reviewer_jwt: Some(SecretString::from(reviewer_jwt)),
        disable_local_ca_jwt: true,
        issuer: None,
    };
    env.vault
        .configure_kubernetes_auth(&mount, &config)
        .await
        .expect("configuring Kubernetes auth");
    mount
}

/// Merge-patches an ExternalSecret in this test's namespace.
pub async fn patch_es(env: &TestEnv, name: &str, patch: Value) {
    Api::<ferry_api::ExternalSecret>::namespaced(env.kube.clone(), &env.namespace)
        .patch(
            name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
}
