//! The Helm chart (`charts/ferry`): `helm lint` and `helm template` with the real helm, the
//! rendered objects applied to the real API server (server-side dry run, then for real in a
//! test namespace), least-privilege RBAC asserted on the rendered rules, and the CRD copies
//! checked against the Rust types.

#![allow(clippy::unwrap_used)]

mod chart_support;

use chart_support::{
    apply, apply_all, lint, of_kind, one, parse_docs, render, service_monitor_crd,
};
use ferry_testenv::TestEnv;
use serde_json::Value;

/// The value sets the tests render: defaults; ServiceMonitor, NetworkPolicy and CRD upgrades
/// on; the bootstrap Job on; serviceAccountRef token creation on.
const VALUE_SETS: &[&[&str]] = &[
    &[],
    &[
        "serviceMonitor.enabled=true",
        "networkPolicy.enabled=true",
        "crds.upgrade=true",
        "networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.monitoring=enabled",
    ],
    &["bootstrap.enabled=true", "bootstrap.config=version: 1"],
    &[
        "rbac.serviceAccountTokens=true",
        "leaderElection.enabled=false",
        "replicas=1",
    ],
];

#[test]
fn helm_lint_passes_for_every_value_set() {
    for sets in VALUE_SETS {
        let out = lint(sets);
        assert!(out.contains("0 chart(s) failed"), "{sets:?}: {out}");
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// The rules of the ClusterRole that mention `resource`.
fn rules_for<'a>(role: &'a Value, resource: &str) -> Vec<&'a Value> {
    role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| strings(&r["resources"]).iter().any(|x| x == resource))
        .collect()
}

#[test]
fn rbac_is_least_privilege() {
    let docs = render("r", "ferry-system", &[]);
    let cluster_role = one(&docs, "ClusterRole");
    for rule in cluster_role["rules"].as_array().unwrap() {
        for field in ["verbs", "resources", "apiGroups"] {
            assert!(
                !strings(&rule[field]).contains(&"*".to_string()),
                "wildcard in {rule}"
            );
        }
        assert!(!strings(&rule["verbs"]).contains(&"escalate".to_string()));
        assert!(!strings(&rule["verbs"]).contains(&"bind".to_string()));
    }
    // Secrets: the verbs agent/src/secret.rs and controller.rs use, nothing else (no update,
    // no deletecollection).
    let secrets = rules_for(cluster_role, "secrets");
    assert_eq!(secrets.len(), 1);
    assert_eq!(
        strings(&secrets[0]["verbs"]),
        ["get", "list", "watch", "create", "patch", "delete"]
    );
    // ESO objects: read; only their status is written.
    for kind in ["externalsecrets", "secretstores", "clustersecretstores"] {
        assert_eq!(
            strings(&rules_for(cluster_role, kind)[0]["verbs"]),
            ["get", "list", "watch"]
        );
        let status = rules_for(cluster_role, &format!("{kind}/status"));
        assert_eq!(strings(&status[0]["verbs"]), ["patch"]);
    }
    assert_eq!(
        strings(&rules_for(cluster_role, "namespaces")[0]["verbs"]),
        ["get"]
    );
    assert_eq!(
        strings(&rules_for(cluster_role, "configmaps")[0]["verbs"]),
        ["get", "list", "watch"]
    );
    for workload in ["deployments", "statefulsets", "daemonsets"] {
        let verbs = strings(&rules_for(cluster_role, workload)[0]["verbs"]);
        assert!(verbs.contains(&"patch".to_string()) && !verbs.contains(&"delete".to_string()));
    }
    // No token creation unless serviceAccountRef is in use; no Leases cluster-wide.
    assert!(rules_for(cluster_role, "serviceaccounts/token").is_empty());
    assert!(rules_for(cluster_role, "leases").is_empty());
    let with_tokens = render("r", "ferry-system", &["rbac.serviceAccountTokens=true"]);
    let role = one(&with_tokens, "ClusterRole");
    assert_eq!(
        strings(&rules_for(role, "serviceaccounts/token")[0]["verbs"]),
        ["create"]
    );
    // Leases: a Role in the release namespace; get/update only on the agent's own Lease.
    let lease_role = one(&docs, "Role");
    assert_eq!(lease_role["metadata"]["namespace"], "ferry-system");
    for rule in lease_role["rules"].as_array().unwrap() {
        let verbs = strings(&rule["verbs"]);
        if verbs != ["create"] {
            assert_eq!(verbs, ["get", "update"]);
            assert_eq!(strings(&rule["resourceNames"]), ["ferry-agent"]);
        }
    }
    let without_leader = render("r", "ferry-system", &["leaderElection.enabled=false"]);
    assert!(of_kind(&without_leader, "Role").is_empty());
}

#[test]
fn the_deployment_runs_hardened_with_probes() {
    let docs = render("r", "ferry-system", &[]);
    let deployment = one(&docs, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = &pod["containers"][0];
    let sc = &container["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(container["resources"]["requests"]["memory"].is_string());
    let args = strings(&container["args"]);
    assert_eq!(args[0], "agent");
    for flag in [
        "--leader-elect=true",
        "--lease-name=ferry-agent",
        "--controller-class=default",
    ] {
        assert!(
            args.contains(&flag.to_string()),
            "{flag} missing from {args:?}"
        );
    }
    let env: Vec<_> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].clone())
        .collect();
    assert!(env.contains(&"POD_NAME".into()) && env.contains(&"POD_NAMESPACE".into()));
    assert_eq!(
        one(&docs, "PodDisruptionBudget")["spec"]["maxUnavailable"],
        1
    );
    assert_eq!(
        one(&docs, "Service")["spec"]["ports"][0]["targetPort"],
        "metrics"
    );
}

/// The CRDs rendered as templates (crds.upgrade) are the generated file in crds/, which in turn
/// is what the Rust types generate (crates/api's test checks that part).
#[test]
fn crd_templates_match_the_generated_crds() {
    let generated = parse_docs(&ferry_api::crds_yaml());
    let committed = parse_docs(
        &std::fs::read_to_string(chart_support::chart_dir().join("crds/external-secrets.yaml"))
            .unwrap(),
    );
    assert_eq!(
        generated, committed,
        "charts/ferry/crds is stale: run crdgen"
    );
    let docs = render("r", "ferry-system", &["crds.upgrade=true"]);
    let templated: Vec<Value> = of_kind(&docs, "CustomResourceDefinition")
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(templated, generated);
    assert!(
        of_kind(
            &render("r", "ferry-system", &[]),
            "CustomResourceDefinition"
        )
        .is_empty()
    );
}

#[test]
fn the_bootstrap_job_needs_its_config() {
    let docs = render(
        "r",
        "ferry-system",
        &["bootstrap.enabled=true", "bootstrap.config=version: 1"],
    );
    let job = one(&docs, "Job");
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
    assert_eq!(
        one(&docs, "ConfigMap")["data"]["bootstrap.yaml"],
        "version: 1\n"
    );
    let out = std::process::Command::new(chart_support::helm())
        .args(["template", "r"])
        .arg(chart_support::chart_dir())
        .args(["--set", "bootstrap.enabled=true"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bootstrap.config"));
}

/// Every value set's objects are accepted by the real API server: first with `dryRun=All`
/// (admission and validation, nothing stored), then for real in the test's namespace.
#[tokio::test]
async fn rendered_manifests_apply_to_the_real_api_server() {
    let env = TestEnv::new("chart-apply").await;
    // The sandbox has no prometheus-operator: give it the ServiceMonitor CRD, and the CRDs
    // (crds/ is what `helm install` applies before the templates).
    apply(&env.kube, &env.namespace, &service_monitor_crd(), false).await;
    for crd in parse_docs(&ferry_api::crds_yaml()) {
        apply(&env.kube, &env.namespace, &crd, false).await;
    }
    wait_for_kind(&env.kube, "monitoring.coreos.com", "v1", "ServiceMonitor").await;
    for (i, sets) in VALUE_SETS.iter().enumerate() {
        // Cluster-scoped names (ClusterRole, ClusterRoleBinding) come from the release name.
        let release = format!("r{i}-{}", ferry_testenv::unique_suffix());
        let docs = render(&release, &env.namespace, sets);
        assert!(!docs.is_empty());
        apply_all(&env.kube, &env.namespace, &docs, true).await;
        apply_all(&env.kube, &env.namespace, &docs, false).await;
        let deployments = kube::Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(
            env.kube.clone(),
            &env.namespace,
        );
        let name = format!("{release}-ferry");
        let stored = deployments.get(&name).await.unwrap();
        let pod = stored.spec.unwrap().template.spec.unwrap();
        assert_eq!(
            pod.containers[0]
                .security_context
                .as_ref()
                .unwrap()
                .read_only_root_filesystem,
            Some(true)
        );
    }
}

async fn wait_for_kind(client: &kube::Client, group: &str, version: &str, kind: &str) {
    let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
    for _ in 0..100 {
        if kube::discovery::pinned_kind(client, &gvk).await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{kind} is not served");
}

/// The real `helm install` (NOTES included), `helm upgrade` and `helm uninstall` against the
/// real API server, in the test's namespace. (Pods never start: the sandbox has no kubelet, so
/// there is no `--wait`.)
#[tokio::test]
async fn helm_installs_upgrades_and_uninstalls_the_release() {
    let env = TestEnv::new("chart-helm").await;
    let kubeconfig = env.kubeconfig.display().to_string();
    let chart = chart_support::chart_dir().display().to_string();
    let release = format!("h-{}", ferry_testenv::unique_suffix());
    let common = ["--kubeconfig", &kubeconfig, "--namespace", &env.namespace];
    let helm = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(common);
        chart_support::run_helm(&all)
    };
    let dry = helm(&["install", &release, &chart, "--dry-run=server"]);
    assert!(dry.contains("NOTES:") && dry.contains("Check it:"), "{dry}");
    let installed = helm(&["install", &release, &chart]);
    assert!(installed.contains("STATUS: deployed"), "{installed}");
    assert!(installed.contains(&format!("Lease {}/ferry-agent", env.namespace)));
    let upgraded = helm(&["upgrade", &release, &chart, "--set", "replicas=3"]);
    assert!(upgraded.contains("REVISION: 2"), "{upgraded}");
    let deployments = kube::Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(
        env.kube.clone(),
        &env.namespace,
    );
    let stored = deployments.get(&format!("{release}-ferry")).await.unwrap();
    assert_eq!(stored.spec.unwrap().replicas, Some(3));
    helm(&["uninstall", &release]);
    assert!(
        deployments
            .get_opt(&format!("{release}-ferry"))
            .await
            .unwrap()
            .is_none()
    );
}
