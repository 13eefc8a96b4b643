//! Helpers for the Helm chart tests: run the real `helm` (built from its Go module by
//! `scripts/sandbox-tools.sh`), parse what it renders, and apply the objects to the real API
//! server by server-side apply, with or without `dryRun=All`.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use kube::api::{Api, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::discovery::{self, Scope};
use serde_json::{Value, json};

/// The chart's directory.
pub fn chart_dir() -> PathBuf {
    ferry_testenv::repo_root().join("charts/ferry")
}

/// The helm binary: `$FERRY_HELM`, or the one `scripts/sandbox-tools.sh` builds.
pub fn helm() -> PathBuf {
    if let Some(path) = std::env::var_os("FERRY_HELM") {
        return PathBuf::from(path);
    }
    let path = ferry_testenv::sandbox_bin_dir().join("helm");
    assert!(
        path.exists(),
        "helm not built at {}: run scripts/sandbox-tools.sh (or set FERRY_HELM)",
        path.display()
    );
    path
}

/// Runs helm with `args`; returns stdout, panics with stderr on failure.
pub fn run_helm(args: &[&str]) -> String {
    let out = Command::new(helm())
        .args(args)
        .output()
        .expect("running helm");
    assert!(
        out.status.success(),
        "helm {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `--set` arguments for helm.
fn set_args(sets: &[&str]) -> Vec<String> {
    sets.iter()
        .flat_map(|s| ["--set".to_string(), s.to_string()])
        .collect()
}

/// `helm lint --strict` with these values.
pub fn lint(sets: &[&str]) -> String {
    let chart = chart_dir();
    let mut args = vec![
        "lint".to_string(),
        "--strict".into(),
        chart.display().to_string(),
    ];
    args.extend(set_args(sets));
    run_helm(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// `helm template RELEASE charts/ferry --namespace NS` with these values,
/// parsed into one JSON value per object.
pub fn render(release: &str, namespace: &str, sets: &[&str]) -> Vec<Value> {
    let chart = chart_dir();
    let mut args = vec![
        "template".to_string(),
        release.into(),
        chart.display().to_string(),
        "--namespace".into(),
        namespace.into(),
    ];
    args.extend(set_args(sets));
    let yaml = run_helm(&args.iter().map(String::as_str).collect::<Vec<_>>());
    parse_docs(&yaml)
}

/// Every non-empty YAML document as JSON.
pub fn parse_docs(yaml: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(yaml)
        .filter_map(|doc| {
            let v: Value = serde::Deserialize::deserialize(doc).unwrap();
            (!v.is_null()).then_some(v)
        })
        .collect()
}

/// The objects of `kind`.
pub fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

/// The one object of `kind`; panics when there is not exactly one.
pub fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found = of_kind(docs, kind);
    assert_eq!(found.len(), 1, "expected one {kind}, found {}", found.len());
    found[0]
}

/// Server-side applies every object (as the field manager `ferry-chart-test`), with
/// `dryRun=All` when `dry_run`. Namespaced objects without a namespace go to `namespace`.
pub async fn apply_all(client: &kube::Client, namespace: &str, docs: &[Value], dry_run: bool) {
    for doc in docs {
        apply(client, namespace, doc, dry_run).await;
    }
}

/// Server-side applies one object.
pub async fn apply(client: &kube::Client, namespace: &str, doc: &Value, dry_run: bool) {
    let (group, version) = match doc["apiVersion"].as_str().unwrap().split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (
            String::new(),
            doc["apiVersion"].as_str().unwrap().to_string(),
        ),
    };
    let kind = doc["kind"].as_str().unwrap();
    let name = doc["metadata"]["name"].as_str().unwrap();
    let gvk = GroupVersionKind::gvk(&group, &version, kind);
    let (ar, caps) = discovery::pinned_kind(client, &gvk)
        .await
        .unwrap_or_else(|e| panic!("discovering {kind}: {e}"));
    let api: Api<DynamicObject> = match caps.scope {
        Scope::Namespaced => {
            let ns = doc["metadata"]["namespace"].as_str().unwrap_or(namespace);
            Api::namespaced_with(client.clone(), ns, &ar)
        }
        Scope::Cluster => Api::all_with(client.clone(), &ar),
    };
    let mut params = PatchParams::apply("ferry-chart-test").force();
    if dry_run {
        params = params.dry_run();
    }
    api.patch(name, &params, &Patch::Apply(doc))
        .await
        .unwrap_or_else(|e| panic!("applying {kind} {name} (dry run: {dry_run}): {e}"));
}

/// A minimal CustomResourceDefinition for prometheus-operator's ServiceMonitor (the sandbox
/// has no prometheus-operator), so the chart's ServiceMonitor can be applied.
pub fn service_monitor_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "servicemonitors.monitoring.coreos.com" },
        "spec": {
            "group": "monitoring.coreos.com",
            "names": { "kind": "ServiceMonitor", "listKind": "ServiceMonitorList",
                "plural": "servicemonitors", "singular": "servicemonitor" },
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": { "type": "object",
                    "x-kubernetes-preserve-unknown-fields": true } }
            }]
        }
    })
}

/// A TokenRequest token for the ServiceAccount `namespace/name`, as the kubelet projects one
/// into a pod.
pub async fn service_account_token(client: &kube::Client, namespace: &str, name: &str) -> String {
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::core::v1::ServiceAccount;
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: Vec::new(),
            expiration_seconds: Some(3600),
            bound_object_ref: None,
        },
        ..Default::default()
    };
    Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create_token_request(name, &kube::api::PostParams::default(), &request)
        .await
        .unwrap_or_else(|e| panic!("a token for {namespace}/{name}: {e}"))
        .status
        .unwrap()
        .token
}

/// A client for the API server in `kubeconfig` that authenticates with `token` only.
pub async fn client_with_token(kubeconfig: &std::path::Path, token: &str) -> kube::Client {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let kubeconfig = Kubeconfig::read_from(kubeconfig).unwrap();
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap();
    config.auth_info = kube::config::AuthInfo {
        token: Some(secrecy::SecretString::from(token.to_owned())),
        ..Default::default()
    };
    kube::Client::try_from(config).unwrap()
}

/// What a SelfSubjectAccessReview asks: `verb` on `group`/`resource` (`resource/subresource`
/// for a subresource), in `namespace` ("" for cluster-scoped or all), named `name` ("" for
/// any).
pub struct Access<'a> {
    pub verb: &'a str,
    pub group: &'a str,
    pub resource: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

/// Whether the real API server's authorizer allows `access` to the client's own identity.
pub async fn allowed(client: &kube::Client, access: &Access<'_>) -> bool {
    use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
    let (resource, subresource) = access
        .resource
        .split_once('/')
        .unwrap_or((access.resource, ""));
    let review: SelfSubjectAccessReview = serde_json::from_value(json!({
        "spec": { "resourceAttributes": {
            "verb": access.verb, "group": access.group, "resource": resource,
            "subresource": subresource, "namespace": access.namespace, "name": access.name,
        } }
    }))
    .unwrap();
    let answer = Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&kube::api::PostParams::default(), &review)
        .await
        .unwrap();
    answer.status.unwrap().allowed
}
