//! A hostile tenant with PushSecrets: a ServiceAccount that may only create PushSecrets and
//! SecretStores in its namespace (and read them and their Events), against the agent running
//! with the chart's ClusterRole. It tries to push a Secret of another namespace, a
//! service-account token, and to push through a ClusterSecretStore that does not admit it and
//! through one that would log in as the agent. Each is refused by name; nothing reaches
//! Vault, and no value reaches what the tenant can read.

use std::time::Duration;

use super::*;
use crate::agent::tenant::{agent_identity, create_namespace};
use crate::support::chart;
use crate::support::common::{
    RunningAgent, config, create_service_account, install_crds, service_account_token,
};
use ferry_testenv::TestEnv;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, PostParams};
use serde_json::json;

const VICTIM_VALUE: &str = "victim-value-7731";

/// The tenant: PushSecrets and SecretStores in its namespace, and their Events. No Secrets.
async fn push_tenant(env: &TestEnv) -> kube::Client {
    create_service_account(env, "tenant").await;
    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": "push-tenant" },
        "rules": [
            { "apiGroups": ["external-secrets.io"], "resources": ["pushsecrets", "secretstores"],
              "verbs": ["create", "get", "list", "watch", "update", "patch", "delete"] },
            { "apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["get", "list"] }
        ]
    }))
    .unwrap();
    Api::<Role>::namespaced(env.kube.clone(), &env.namespace)
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "push-tenant" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "push-tenant" },
        "subjects": [{ "kind": "ServiceAccount", "name": "tenant", "namespace": env.namespace }]
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(env.kube.clone(), &env.namespace)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    let token = service_account_token(env, "tenant", Vec::new()).await;
    chart::client_with_token(&env.kubeconfig, &token).await
}

async fn secret_in(env: &TestEnv, namespace: &str, body: Value) {
    let secret: Secret = serde_json::from_value(body).unwrap();
    Api::<Secret>::namespaced(env.kube.clone(), namespace)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_tenant_pushes_only_its_own_secrets_through_stores_that_admit_it() {
    let env = TestEnv::new("push-tenant").await;
    install_crds(&env.kube).await;
    let system = format!("{}-sys", env.namespace);
    let victim = format!("{}-victim", env.namespace);
    create_namespace(&env, &system).await;
    create_namespace(&env, &victim).await;
    secret_in(
        &env,
        &victim,
        json!({ "metadata": { "name": "victim" }, "stringData": { "v": VICTIM_VALUE } }),
    )
    .await;
    let tenant = push_tenant(&env).await;
    let (agent_client, agent_token) = agent_identity(&env, &system).await;
    let token_file = std::env::temp_dir().join(format!("{}-pod-token", env.prefix));
    std::fs::write(&token_file, &agent_token).unwrap();
    let agent_config = ferry_agent::AgentConfig {
        own_namespace: system.clone(),
        pod_token_path: Some(token_file),
        ..config(&env)
    };
    let agent = RunningAgent::spawn(
        ferry_agent::Agent::new(agent_client, agent_config)
            .await
            .unwrap(),
    );
    // What the admin set up: a push store for the namespace, and two ClusterSecretStores.
    push_store(&env, "vault", Kv::v2(&env), &["*"]).await;
    let vault = |auth: Value, conditions: Value| {
        json!({ "controller": env.prefix, "conditions": conditions, "provider": { "vault": {
            "server": env.vault_addr, "path": env.kv_mount, "version": "v2", "auth": auth } } })
    };
    let token_auth = json!({ "tokenSecretRef": { "name": "vault-token", "key": "token", "namespace": env.namespace } });
    let not_admitted = format!("{}-elsewhere", env.prefix);
    crate::support::common::create(
        &env,
        "v1",
        "ClusterSecretStore",
        json!({
        "metadata": { "name": not_admitted },
        "spec": vault(token_auth, json!([{ "namespaces": [victim] }])) }),
    )
    .await;
    let as_agent = format!("{}-as-agent", env.prefix);
    crate::support::common::create(&env, "v1", "ClusterSecretStore", json!({
        "metadata": { "name": as_agent },
        "spec": vault(json!({ "kubernetes": { "mountPath": "kubernetes", "role": "ferry-agent" } }), json!([])) })).await;
    // A legacy service-account token Secret in the tenant's namespace, and its own Secret.
    secret_in(&env, &env.namespace, json!({
        "metadata": { "name": "tenant-token", "annotations": { "kubernetes.io/service-account.name": "tenant" } },
        "type": "kubernetes.io/service-account-token" })).await;
    source(&env, "mine", &[("k", "tenant-own-1")]).await;
    let ns = env.namespace.clone();
    let push = |name: &str, store: Value, secret: &str, remote: &str| {
        let spec = json!({
            "deletionPolicy": "Delete",
            "secretStoreRefs": [store],
            "selector": { "secret": { "name": secret } },
            "data": [{ "match": { "remoteRef": { "remoteKey": env.path(remote) } } }]
        });
        let (tenant, ns, name) = (tenant.clone(), ns.clone(), name.to_owned());
        async move { push_secret_as(&tenant, &ns, &name, spec).await }
    };
    push("legit", json!({ "name": "vault" }), "mine", "legit").await;
    push("steal", json!({ "name": "vault" }), "victim", "stolen").await;
    push(
        "sa-token",
        json!({ "name": "vault" }),
        "tenant-token",
        "token",
    )
    .await;
    push(
        "not-admitted",
        json!({ "name": not_admitted, "kind": "ClusterSecretStore" }),
        "mine",
        "not-admitted",
    )
    .await;
    push(
        "as-agent",
        json!({ "name": as_agent, "kind": "ClusterSecretStore" }),
        "mine",
        "as-agent",
    )
    .await;
    wait_push(&env, "legit", "True").await;
    for (name, expect) in [
        ("steal", "does not exist"),
        ("sa-token", "service-account token"),
        ("not-admitted", "does not allow namespace"),
        ("as-agent", "agent's own ServiceAccount token"),
    ] {
        let message = wait_push(&env, name, "False").await;
        assert!(message.contains(expect), "{name}: {message}");
    }
    let kv = Kv::v2(&env);
    assert_eq!(
        Value::Object(vault_data(&env, kv, "legit").await.unwrap()),
        json!({ "k": "tenant-own-1" })
    );
    for path in ["stolen", "token", "not-admitted", "as-agent"] {
        assert!(
            vault_data(&env, kv, path).await.is_none(),
            "{path} reached Vault"
        );
    }
    // Nothing the tenant reads carries the victim's value or a token.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let statuses = serde_json::to_string(
        &push_api(&tenant, &env.namespace)
            .list(&Default::default())
            .await
            .unwrap()
            .items,
    )
    .unwrap();
    let events = Api::<Event>::namespaced(tenant.clone(), &env.namespace)
        .list(&Default::default())
        .await
        .unwrap();
    let events = serde_json::to_string(&events.items).unwrap();
    for text in [&statuses, &events] {
        assert!(!text.contains(VICTIM_VALUE));
        assert!(!text.contains(&agent_token));
    }
    // And the tenant itself cannot read the Secrets it tried to push.
    assert!(
        Api::<Secret>::namespaced(tenant.clone(), &env.namespace)
            .get("mine")
            .await
            .is_err()
    );
    agent.stop().await;
}
