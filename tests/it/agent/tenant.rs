//! The agent against a hostile tenant, on the real API server and OpenBao.
//!
//! The tenant is a ServiceAccount whose only rights are to create ExternalSecrets and
//! SecretStores in its own namespace and read them back (status included) with their Events.
//! The agent runs as its own ServiceAccount with the chart's ClusterRole, watches the tenant's
//! namespace and keeps its HMAC key in a namespace of its own. Each test says what it would
//! have observed had the attack worked.

#![allow(clippy::unwrap_used)]

use crate::support::chart;
use crate::support::common;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::common::*;
use base64::Engine;
use ferry_testenv::TestEnv;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One test's setup: the tenant's client, the agent's namespace, and the running agent.
struct Setup {
    env: TestEnv,
    tenant: kube::Client,
    system: String,
    agent: Option<RunningAgent>,
}

impl Setup {
    /// The tenant identity, the agent's identity with the chart's ClusterRole, and the agent.
    async fn new(test: &str) -> Setup {
        let env = TestEnv::new(test).await;
        install_crds(&env.kube).await;
        let system = format!("{}-sys", env.namespace);
        create_namespace(&env, &system).await;
        let tenant = tenant_client(&env).await;
        let (agent_client, agent_token) = agent_identity(&env, &system).await;
        let token_file = std::env::temp_dir().join(format!("{}-pod-token", env.prefix));
        std::fs::write(&token_file, &agent_token).unwrap();
        let config = ferry_agent::AgentConfig {
            own_namespace: system.clone(),
            pod_token_path: Some(token_file),
            ..common::config(&env)
        };
        let agent = ferry_agent::Agent::new(agent_client, config).await.unwrap();
        let agent = RunningAgent::spawn(agent);
        Setup {
            env,
            tenant,
            system,
            agent: Some(agent),
        }
    }

    /// Creates an external-secrets.io object as the tenant.
    async fn create(&self, kind: &str, body: Value) {
        let plural = match kind {
            "ExternalSecret" => "externalsecrets",
            _ => "secretstores",
        };
        let gvk = GroupVersionKind::gvk("external-secrets.io", "v1", kind);
        let ar = ApiResource::from_gvk_with_plural(&gvk, plural);
        let mut body = body;
        body["apiVersion"] = json!("external-secrets.io/v1");
        body["kind"] = json!(kind);
        let obj: DynamicObject = serde_json::from_value(body).unwrap();
        Api::<DynamicObject>::namespaced_with(self.tenant.clone(), &self.env.namespace, &ar)
            .create(&PostParams::default(), &obj)
            .await
            .unwrap();
    }

    /// A tenant ExternalSecret on the namespace's token store; without `data`, it reads the
    /// filler path (an ExternalSecret needs data or dataFrom).
    async fn external_secret(&self, name: &str, spec: Value) {
        let mut spec = spec;
        if spec.get("data").is_none() {
            put(&self.env, "filler", json!({ "v": "filler-1" })).await;
            let key = self.env.path("filler");
            spec["data"] = json!([{ "secretKey": "filler",
                "remoteRef": { "key": key, "property": "v" } }]);
        }
        spec["secretStoreRef"] = json!({ "name": "store" });
        spec["refreshInterval"] = json!("1h");
        self.create(
            "ExternalSecret",
            json!({ "metadata": { "name": name }, "spec": spec }),
        )
        .await;
    }

    /// The ExternalSecret's Ready condition as the tenant reads it: (status, message).
    async fn ready(&self, name: &str) -> Option<(String, String)> {
        let api =
            Api::<ferry_api::ExternalSecret>::namespaced(self.tenant.clone(), &self.env.namespace);
        let es = api.get_opt(name).await.unwrap()?;
        let c = es.status?.ready_condition()?.clone();
        let status = serde_json::to_value(c.status).unwrap();
        Some((
            status.as_str().unwrap_or_default().to_owned(),
            c.message.unwrap_or_default(),
        ))
    }

    /// Waits for the ExternalSecret's first Ready condition.
    async fn settled(&self, name: &str) -> (String, String) {
        eventually(
            Duration::from_secs(30),
            &format!("{name} to settle"),
            || self.ready(name),
        )
        .await
    }

    /// Waits until the ExternalSecret is Ready=False; returns the message.
    async fn refused(&self, name: &str) -> String {
        let (status, message) = self.settled(name).await;
        assert_eq!(status, "False", "{name} should be refused: {message}");
        message
    }

    /// Every Event note in the tenant's namespace, as the tenant reads them.
    async fn event_notes(&self) -> String {
        let events = Api::<Event>::namespaced(self.tenant.clone(), &self.env.namespace)
            .list(&Default::default())
            .await
            .unwrap();
        events
            .items
            .into_iter()
            .filter_map(|e| e.note)
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn stop(mut self) {
        if let Some(agent) = self.agent.take() {
            agent.stop().await;
        }
    }
}

pub(crate) async fn create_namespace(env: &TestEnv, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({ "metadata": { "name": name } })).unwrap();
    Api::<Namespace>::all(env.kube.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
}

/// A client for a ServiceAccount token, on the sandbox's address and CA.
async fn client_for(env: &TestEnv, token: &str) -> kube::Client {
    chart::client_with_token(&env.kubeconfig, token).await
}

/// The tenant: may create, read and delete ExternalSecrets and SecretStores in its namespace,
/// and read Events there. Nothing else.
async fn tenant_client(env: &TestEnv) -> kube::Client {
    create_service_account(env, "tenant").await;
    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": "tenant" },
        "rules": [
            { "apiGroups": ["external-secrets.io"],
              "resources": ["externalsecrets", "secretstores"],
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
        "metadata": { "name": "tenant" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant" },
        "subjects": [{ "kind": "ServiceAccount", "name": "tenant", "namespace": env.namespace }]
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(env.kube.clone(), &env.namespace)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    let token = service_account_token(env, "tenant", Vec::new()).await;
    client_for(env, &token).await
}

/// The agent's ServiceAccount in `system`, bound to the ClusterRole the chart renders (with
/// ServiceAccount tokens and rollout restarts granted); returns its client and token.
pub(crate) async fn agent_identity(env: &TestEnv, system: &str) -> (kube::Client, String) {
    let sets = [
        "rbac.serviceAccountTokens=true",
        "rbac.rolloutRestarts=true",
    ];
    let docs = chart::render("ferry", system, &sets);
    let mut role = chart::one(&docs, "ClusterRole").clone();
    let name = format!("{}-agent", env.prefix);
    role["metadata"] = json!({ "name": name });
    let role: ClusterRole = serde_json::from_value(role).unwrap();
    Api::<ClusterRole>::all(env.kube.clone())
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let sa: ServiceAccount =
        serde_json::from_value(json!({ "metadata": { "name": "ferry-agent" } })).unwrap();
    Api::<ServiceAccount>::namespaced(env.kube.clone(), system)
        .create(&PostParams::default(), &sa)
        .await
        .unwrap();
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": { "name": name },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name },
        "subjects": [{ "kind": "ServiceAccount", "name": "ferry-agent", "namespace": system }]
    }))
    .unwrap();
    Api::<ClusterRoleBinding>::all(env.kube.clone())
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    let request = k8s_openapi::api::authentication::v1::TokenRequest {
        spec: k8s_openapi::api::authentication::v1::TokenRequestSpec {
            audiences: Vec::new(),
            expiration_seconds: Some(3600),
            bound_object_ref: None,
        },
        ..Default::default()
    };
    let token = Api::<ServiceAccount>::namespaced(env.kube.clone(), system)
        .create_token_request("ferry-agent", &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token;
    (client_for(env, &token).await, token)
}

/// A TCP listener standing in for a server the tenant runs: it records every byte it is sent
/// and answers 500.
struct Listener {
    addr: String,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Listener {
    async fn start() -> Listener {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", socket.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = socket.accept().await {
                let sink = sink.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let wait = Duration::from_millis(300);
                    while let Ok(Ok(n)) = tokio::time::timeout(wait, conn.read(&mut buf)).await {
                        if n == 0 {
                            break;
                        }
                        sink.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    let answer = "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\
                                  connection: close\r\n\r\n";
                    let _ = conn.write_all(answer.as_bytes()).await;
                });
            }
        });
        Listener { addr, seen }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    /// The JWT of the first login request it received.
    fn jwt(&self) -> Option<String> {
        let text = self.text();
        let start = text.find("\"jwt\":\"")? + 7;
        let end = text[start..].find('"')? + start;
        Some(text[start..end].to_owned())
    }
}

/// The `aud` claim of a JWT (not verified: only read).
fn audiences(jwt: &str) -> Vec<String> {
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .unwrap();
    let claims: Value = serde_json::from_slice(&bytes).unwrap();
    match &claims["aud"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether the API server itself accepts the token (a TokenReview with its own audiences).
async fn api_server_accepts(env: &TestEnv, jwt: &str) -> bool {
    let review = TokenReview {
        spec: TokenReviewSpec {
            token: Some(jwt.to_owned()),
            audiences: None,
        },
        ..Default::default()
    };
    let answer = Api::<TokenReview>::all(env.kube.clone())
        .create(&PostParams::default(), &review)
        .await
        .unwrap();
    answer.status.and_then(|s| s.authenticated).unwrap_or(false)
}

/// The Kubernetes auth role `agent`: what the agent's own pod token logs in as, reading every
/// path of this test (as the agent role of a real installation reads every tenant's paths).
async fn agent_role(setup: &Setup) -> String {
    let env = &setup.env;
    let policy = format!("{}-all", env.prefix);
    let hcl = format!(
        "path \"{}/data/{}/*\" {{ capabilities = [\"read\"] }}",
        env.kv_mount, env.prefix
    );
    env.vault.write_policy(&policy, &hcl).await.unwrap();
    let mount = kubernetes_mount(env).await;
    let role = ferry_vault::KubernetesRole {
        bound_service_account_names: vec!["ferry-agent".into()],
        bound_service_account_namespaces: vec![setup.system.clone()],
        policies: vec![policy],
        ttl: Some(Duration::from_secs(600)),
        audience: None,
    };
    env.vault
        .write_kubernetes_role(&mount, "agent", &role)
        .await
        .unwrap();
    mount
}

fn kubernetes_store(setup: &Setup, name: &str, server: &str, auth: Value) -> Value {
    json!({
        "metadata": { "name": name },
        "spec": {
            "controller": setup.env.prefix,
            "provider": { "vault": {
                "server": server, "path": setup.env.kv_mount, "version": "v2",
                "auth": { "kubernetes": auth }
            } }
        }
    })
}

/// Item 1: a namespaced SecretStore with Kubernetes auth and no credential reference.
/// Attack worked: the ExternalSecret is Ready with another tenant's value read as the agent's
/// role, and the tenant's listener receives the agent's own ServiceAccount JWT.
#[tokio::test]
async fn the_agent_pod_token_never_serves_a_namespaced_store() {
    let setup = Setup::new("tenant-podtoken").await;
    let env = &setup.env;
    put(
        env,
        "other-tenant/db",
        json!({ "password": "victim-value-5512" }),
    )
    .await;
    let mount = agent_role(&setup).await;
    let listener = Listener::start().await;
    let auth = json!({ "mountPath": mount, "role": "agent" });
    let vault = env.vault_addr.clone();
    setup
        .create(
            "SecretStore",
            kubernetes_store(&setup, "as-agent", &vault, auth.clone()),
        )
        .await;
    setup
        .create(
            "SecretStore",
            kubernetes_store(&setup, "exfil", &listener.addr, auth),
        )
        .await;
    for store in ["as-agent", "exfil"] {
        setup
            .create(
                "ExternalSecret",
                json!({ "metadata": { "name": store }, "spec": {
                    "refreshInterval": "1h",
                    "secretStoreRef": { "name": store },
                    "data": [{ "secretKey": "p", "remoteRef": {
                        "key": env.path("other-tenant/db"), "property": "password" } }]
                } }),
            )
            .await;
    }
    for store in ["as-agent", "exfil"] {
        let message = setup.refused(store).await;
        assert!(
            message.contains("spec.provider.vault.auth.kubernetes"),
            "the refusal names the field: {message}"
        );
    }
    assert_eq!(
        secret_data(env, "as-agent").await,
        None,
        "no Secret was written"
    );
    assert!(
        listener.text().is_empty(),
        "the tenant's server received a request"
    );
    setup.stop().await;
}

/// Item 2: serviceAccountRef tokens carry a Vault audience, never the API server's.
/// Attack worked: the JWT sent to the tenant's server passes a TokenReview against the API
/// server itself; with the API server's audience requested, a token is issued and sent.
#[tokio::test]
async fn service_account_tokens_are_never_valid_against_the_api_server() {
    let setup = Setup::new("tenant-audience").await;
    let env = &setup.env;
    create_service_account(env, "app").await;
    let api_audience = audiences(&service_account_token(env, "app", Vec::new()).await);
    assert!(
        !api_audience.is_empty(),
        "the API server's audience is known"
    );

    let default = Listener::start().await;
    let auth = json!({ "mountPath": "kubernetes", "role": "app",
        "serviceAccountRef": { "name": "app" } });
    setup
        .create(
            "SecretStore",
            kubernetes_store(&setup, "default", &default.addr, auth),
        )
        .await;
    let api = Listener::start().await;
    let auth = json!({ "mountPath": "kubernetes", "role": "app",
        "serviceAccountRef": { "name": "app", "audiences": [api_audience[0]] } });
    setup
        .create(
            "SecretStore",
            kubernetes_store(&setup, "api-aud", &api.addr, auth),
        )
        .await;
    for store in ["default", "api-aud"] {
        setup
            .create(
                "ExternalSecret",
                json!({ "metadata": { "name": store }, "spec": {
                    "refreshInterval": "1h",
                    "secretStoreRef": { "name": store },
                    "data": [{ "secretKey": "p", "remoteRef": { "key": "x", "property": "y" } }]
                } }),
            )
            .await;
    }
    setup.refused("default").await;
    let jwt = eventually(
        Duration::from_secs(20),
        "a login at the listener",
        || async { default.jwt() },
    )
    .await;
    assert_eq!(
        audiences(&jwt),
        ["vault"],
        "the default audience is Vault's"
    );
    assert!(
        !api_server_accepts(env, &jwt).await,
        "the token sent to the store's server is valid against the API server"
    );
    let message = setup.refused("api-aud").await;
    assert!(
        message.contains("audience"),
        "the refusal says why: {message}"
    );
    assert!(
        api.jwt().is_none(),
        "a token for the API server's audience was sent"
    );
    setup.stop().await;
}

/// A Secret the tenant cannot read, in the tenant's namespace.
async fn victim_secret(env: &TestEnv, value: &str) {
    let secret: Secret = serde_json::from_value(json!({
        "metadata": { "name": "victim" }, "stringData": { "password": value }
    }))
    .unwrap();
    Api::<Secret>::namespaced(env.kube.clone(), &env.namespace)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

/// Item 3: an API server rejection quotes the value it rejects; the status and Events must
/// not. Attack worked: the tenant reads the Vault value, or the value of a Secret it cannot
/// read (through templateFrom with target Labels), in the status message or an Event.
#[tokio::test]
async fn rejected_writes_never_quote_values_in_status_or_events() {
    let setup = Setup::new("tenant-reject").await;
    let env = &setup.env;
    token_store(env, "store").await;
    let long_vault = format!("vault-value-{}", "v".repeat(70));
    let long_secret = format!("secret-value-{}", "s".repeat(70));
    put(env, "app", json!({ "password": long_vault })).await;
    victim_secret(env, &long_secret).await;
    setup
        .external_secret(
            "label",
            json!({
                "data": [{ "secretKey": "password",
                    "remoteRef": { "key": env.path("app"), "property": "password" } }],
                "target": { "template": { "metadata": { "labels": { "leak": "{{ .password }}" } } } }
            }),
        )
        .await;
    setup
        .external_secret(
            "from-secret",
            json!({
                "target": { "template": { "templateFrom": [{
                    "target": "Labels",
                    "secret": { "name": "victim",
                        "items": [{ "key": "password", "templateAs": "KeysAndValues" }] }
                }] } }
            }),
        )
        .await;
    setup
        .external_secret(
            "annotation",
            json!({
                "data": [{ "secretKey": "password",
                    "remoteRef": { "key": env.path("app"), "property": "password" } }],
                "target": { "template": {
                    "metadata": { "annotations": { "leak/x/y": "{{ .password }}" } }
                } }
            }),
        )
        .await;
    let mut seen = String::new();
    for name in ["label", "from-secret", "annotation"] {
        let message = setup.refused(name).await;
        assert!(
            message.contains("spec.target.template"),
            "{name}: the refusal names the field: {message}"
        );
        seen.push_str(&message);
    }
    seen.push_str(&setup.event_notes().await);
    for value in [&long_vault, &long_secret] {
        assert!(
            !seen.contains(value.as_str()),
            "a value is readable by the tenant"
        );
        assert!(
            !seen.contains(&value[..30]),
            "part of a value is readable by the tenant"
        );
    }
    setup.stop().await;
}

/// Items 4 and 5: a template nested too deep, one whose empty nested ranges would run for
/// hours, and one whose output is YAML nested too deep to parse in bounded time. Attack
/// worked: the agent process aborts (stack overflow) and every test after it fails, or the
/// loop never gets a status, holds a worker, and the agent cannot stop.
#[tokio::test]
async fn hostile_templates_neither_crash_nor_stall_the_agent() {
    let setup = Setup::new("tenant-template").await;
    let env = &setup.env;
    token_store(env, "store").await;
    put(env, "app", json!({ "password": "fine-value-1" })).await;
    let deep = format!("{}x{}", "{{if true}}".repeat(3000), "{{end}}".repeat(3000));
    let parens = format!("{{{{ {}1{} }}}}", "(print ".repeat(5000), ")".repeat(5000));
    let endless = "{{range 4000000}}{{range 4000000}}{{end}}{{end}}".to_owned();
    let template_only = |body: &str| json!({ "target": { "template": { "data": { "x": body } } } });
    setup.external_secret("deep", template_only(&deep)).await;
    setup
        .external_secret("parens", template_only(&parens))
        .await;
    setup
        .external_secret("endless", template_only(&endless))
        .await;
    // Output parsed as YAML (templateFrom KeysAndValues) nested 100,000 deep: libyaml would
    // scan it for minutes.
    let nested = json!({ "target": { "template": { "templateFrom": [{
        "literal": "x: {{ repeat 100000 \"[\" }}" }] } } });
    setup.external_secret("nested-yaml", nested).await;
    setup
        .external_secret(
            "after",
            json!({ "data": [{ "secretKey": "password",
                "remoteRef": { "key": env.path("app"), "property": "password" } }] }),
        )
        .await;
    let (status, _) = setup.settled("after").await;
    assert_eq!(
        status, "True",
        "the agent keeps serving other ExternalSecrets"
    );
    for name in ["deep", "parens", "endless", "nested-yaml"] {
        let message = setup.refused(name).await;
        assert!(message.contains("template"), "{name}: {message}");
    }
    let mut setup = setup;
    let agent = setup.agent.take().unwrap();
    tokio::time::timeout(Duration::from_secs(20), agent.stop())
        .await
        .expect("the agent stops while a hostile template is around");
}

/// Item 6: a template may not make the agent create a legacy ServiceAccount token Secret.
/// Attack worked: the Secret exists and the token controller fills in a long-lived token for
/// a ServiceAccount the tenant chose.
#[tokio::test]
async fn service_account_token_secrets_are_refused() {
    let setup = Setup::new("tenant-satoken").await;
    let env = &setup.env;
    token_store(env, "store").await;
    setup
        .external_secret(
            "sa-token",
            json!({ "target": { "template": {
                "type": "kubernetes.io/service-account-token",
                "metadata": { "annotations": {
                    "kubernetes.io/service-account.name": "tenant" } },
                "data": { "note": "x" }
            } } }),
        )
        .await;
    let message = setup.refused("sa-token").await;
    assert!(message.contains("spec.target.template.type"), "{message}");
    assert_eq!(
        secret_data(env, "sa-token").await,
        None,
        "the token Secret was created"
    );
    setup.stop().await;
}

/// Item 7: creationPolicy Owner adopts only Secrets managed by Ferry or ESO, or marked for
/// adoption. Attack worked: the Helm release Secret and an application's Secret get the
/// ExternalSecret as owner, lose their other keys, and are garbage-collected with it.
#[tokio::test]
async fn owner_never_adopts_a_foreign_secret() {
    let setup = Setup::new("tenant-adopt").await;
    let env = &setup.env;
    token_store(env, "store").await;
    put(env, "app", json!({ "password": "adopt-value-1" })).await;
    let secrets = Api::<Secret>::namespaced(env.kube.clone(), &env.namespace);
    for (name, kind) in [
        ("sh.helm.release.v1.web.v1", "helm.sh/release.v1"),
        ("db", "Opaque"),
    ] {
        let secret: Secret = serde_json::from_value(json!({
            "metadata": { "name": name }, "type": kind,
            "stringData": { "release": "keep-me", "other": "keep-me-too" }
        }))
        .unwrap();
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }
    let data = json!([{ "secretKey": "password",
        "remoteRef": { "key": env.path("app"), "property": "password" } }]);
    for (es, target) in [("helm", "sh.helm.release.v1.web.v1"), ("db", "db")] {
        setup
            .external_secret(es, json!({ "data": data, "target": { "name": target } }))
            .await;
    }
    for (es, target) in [("helm", "sh.helm.release.v1.web.v1"), ("db", "db")] {
        let message = setup.refused(es).await;
        assert!(
            message.contains("adopt"),
            "{es}: the conflict is named: {message}"
        );
        let secret = secrets.get(target).await.unwrap();
        assert!(
            secret.metadata.owner_references.is_none(),
            "{target} was adopted"
        );
        let keys: Vec<_> = secret.data.unwrap().into_keys().collect();
        assert_eq!(keys, ["other", "release"], "{target}'s keys were changed");
    }
    // The namespace's admin marks `db` for adoption: then it is taken over.
    let mark = json!({ "metadata": { "annotations": { "ferry.dev/adopt": "true" } } });
    secrets
        .patch("db", &PatchParams::default(), &Patch::Merge(&mark))
        .await
        .unwrap();
    let es = Api::<ferry_api::ExternalSecret>::namespaced(env.kube.clone(), &env.namespace);
    let force = json!({ "metadata": { "annotations": { "force-sync": "1" } } });
    es.patch("db", &PatchParams::default(), &Patch::Merge(&force))
        .await
        .unwrap();
    eventually(Duration::from_secs(20), "db adopted", || async {
        let data = secret_data(env, "db").await?;
        (data.get("password").map(String::as_str) == Some("adopt-value-1")).then_some(())
    })
    .await;
    setup.stop().await;
}

/// Item 8: the data HMAC is keyed per ExternalSecret, and the pod-template hash is not a
/// prefix of it. Attack worked: a template-only ExternalSecret holding a guessed value gets
/// the same `ferry.dev/data-hmac` as the victim's Secret (confirming the guess), and the
/// restart hash stamped on a Deployment equals the start of the Secret's data HMAC.
#[tokio::test]
async fn data_hmacs_are_no_oracle_across_external_secrets() {
    let setup = Setup::new("tenant-hmac").await;
    let env = &setup.env;
    token_store(env, "store").await;
    put(env, "app", json!({ "password": "guessable-1" })).await;
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "web" },
        "spec": { "replicas": 0, "selector": { "matchLabels": { "app": "web" } },
            "template": { "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": "registry.invalid/web:1" }] } } }
    }))
    .unwrap();
    Api::<Deployment>::namespaced(env.kube.clone(), &env.namespace)
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    setup
        .create(
            "ExternalSecret",
            json!({ "metadata": { "name": "victim",
                    "annotations": { "ferry.dev/restart": "deployment/web" } },
                "spec": { "refreshInterval": "1s", "secretStoreRef": { "name": "store" },
                    "data": [{ "secretKey": "password",
                        "remoteRef": { "key": env.path("app"), "property": "password" } }] } }),
        )
        .await;
    setup
        .external_secret(
            "guess",
            json!({ "target": { "template": { "data": { "password": "guessable-1" } } } }),
        )
        .await;
    let hmac = |name: &'static str| async move {
        let secret = Api::<Secret>::namespaced(env.kube.clone(), &env.namespace)
            .get_opt(name)
            .await
            .unwrap()?;
        secret
            .metadata
            .annotations?
            .get("ferry.dev/data-hmac")
            .cloned()
    };
    let victim = eventually(Duration::from_secs(20), "victim synced", || hmac("victim")).await;
    let guess = eventually(Duration::from_secs(20), "guess synced", || hmac("guess")).await;
    assert_eq!(
        secret_data(env, "victim").await,
        secret_data(env, "guess").await,
        "same data"
    );
    assert_ne!(victim, guess, "the HMAC confirms a guessed value");
    // A real change stamps the Deployment; the stamp is not the start of the data HMAC.
    put(env, "app", json!({ "password": "guessable-2" })).await;
    let stamp = eventually(Duration::from_secs(20), "web restarted", || async {
        let web = Api::<Deployment>::namespaced(env.kube.clone(), &env.namespace)
            .get("web")
            .await
            .unwrap();
        web.spec?
            .template
            .metadata?
            .annotations?
            .get("ferry.dev/hash-victim")
            .cloned()
    })
    .await;
    let victim = eventually(Duration::from_secs(20), "victim updated", || async {
        hmac("victim").await.filter(|h| *h != victim)
    })
    .await;
    assert!(
        !victim.starts_with(&stamp),
        "the restart hash is a prefix of the data HMAC"
    );
    setup.stop().await;
}
