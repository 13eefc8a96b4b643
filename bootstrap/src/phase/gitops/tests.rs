//! Unit tests of what the engines share: the agent's store and role for one engine or two,
//! and the label check of the wait.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use ferry_config::StoreKind;
use k8s_openapi::api::core::v1::Secret;
use serde_json::json;

use super::access::{AGENT_TOKEN_TTL, agent_role, store, store_namespaces};
use super::matches::missing_label;
use super::{Credentials, Literals, Takeover};

const BOTH: &str = r#"
vault: { address: "http://127.0.0.1:8200" }
init:
  recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]
  bundle: { file: ./init.age }
env:
  - { name: GITHUB_TOKEN, path: flux/git, key: password }
flux:
  auth: { https: { passwordEnv: GITHUB_TOKEN } }
argocd:
  repositories:
    - { name: repo, url: "https://git.example.com/r.git", auth: { https: { passwordEnv: GITHUB_TOKEN } } }
agent: { controllerClass: blue }
"#;

fn config() -> ferry_config::BootstrapConfig {
    ferry_config::parse(BOTH, "test.yaml").unwrap()
}

#[test]
fn the_cluster_store_uses_kubernetes_auth_as_the_agent() {
    let cfg = config();
    assert!(store_namespaces(&cfg).is_empty());
    let store = store(&cfg, None, Some(b"PEM"));
    assert_eq!(store["kind"], "ClusterSecretStore");
    assert!(store["metadata"].get("namespace").is_none());
    assert_eq!(store["spec"]["controller"], "blue");
    let vault = &store["spec"]["provider"]["vault"];
    assert_eq!(vault["server"], "http://127.0.0.1:8200");
    assert_eq!(vault["path"], "secret");
    assert_eq!(vault["version"], "v2");
    assert_eq!(vault["caBundle"], "UEVN");
    let k8s = &vault["auth"]["kubernetes"];
    assert_eq!(k8s["role"], "ferry-agent");
    assert_eq!(k8s["mountPath"], "kubernetes");
    assert_eq!(
        k8s["serviceAccountRef"],
        json!({ "name": "ferry-agent", "namespace": "ferry-system" })
    );
    let role = agent_role(&cfg);
    assert_eq!(role.bound_service_account_names, ["ferry-agent"]);
    assert_eq!(role.bound_service_account_namespaces, ["ferry-system"]);
    assert_eq!(role.policies, ["ferry-agent"]);
    assert_eq!(role.ttl, Some(AGENT_TOKEN_TTL));
}

#[test]
fn namespaced_stores_live_with_each_engine() {
    let mut cfg = config();
    cfg.agent.store_kind = StoreKind::SecretStore;
    assert_eq!(store_namespaces(&cfg), ["flux-system", "argocd"]);
    let store = store(&cfg, Some("argocd"), None);
    assert_eq!(store["kind"], "SecretStore");
    assert_eq!(store["metadata"]["namespace"], "argocd");
    assert!(store["spec"]["provider"]["vault"].get("caBundle").is_none());
    let sa = &store["spec"]["provider"]["vault"]["auth"]["kubernetes"]["serviceAccountRef"];
    assert_eq!(sa["namespace"], "argocd");
    assert_eq!(
        agent_role(&cfg).bound_service_account_namespaces,
        ["ferry-system", "flux-system", "argocd"]
    );
    // One engine in the agent's own namespace: no repeats.
    cfg.argocd = None;
    cfg.flux.as_mut().unwrap().namespace = "ferry-system".into();
    assert_eq!(store_namespaces(&cfg), ["ferry-system"]);
    assert_eq!(
        agent_role(&cfg).bound_service_account_namespaces,
        ["ferry-system"]
    );
}

#[test]
fn the_wait_needs_the_templated_labels() {
    let labels = BTreeMap::from([(
        "argocd.argoproj.io/secret-type".to_owned(),
        "repository".to_owned(),
    )]);
    let target = Takeover {
        label: "Argo CD repository r".into(),
        namespace: "argocd".into(),
        name: "r".into(),
        creds: Credentials::default(),
        literals: Literals::Templated {
            labels: labels.clone(),
        },
    };
    let mut secret = Secret::default();
    let why = missing_label(&secret, &target).unwrap();
    assert!(
        why.contains("argocd.argoproj.io/secret-type=repository"),
        "{why}"
    );
    secret.metadata.labels = Some(labels);
    assert_eq!(missing_label(&secret, &target), None);
    let flux = Takeover {
        literals: Literals::Written,
        ..target
    };
    assert_eq!(missing_label(&Secret::default(), &flux), None);
}
