//! The Helm chart (`charts/ferry`): `helm lint` and `helm template` with the real helm, the
//! rendered objects applied to the real API server (server-side dry run, then for real in a
//! test namespace), least-privilege RBAC asserted on the rendered rules and checked with the
//! real authorizer (ServiceAccount tokens and SelfSubjectAccessReviews), and the CRD copies
//! checked against the Rust types.

#![allow(clippy::unwrap_used)]

use crate::support::chart;
use crate::support::chart::{
    Access, allowed, apply, apply_all, client_with_token, lint, of_kind, one, parse_docs, render,
    service_account_token, service_monitor_crd,
};
use ferry_testenv::TestEnv;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use serde_json::{Value, json};

/// The value sets the tests render and apply: defaults; ServiceMonitor, a metrics scraper, CRD
/// upgrades and rollout restarts on; the bootstrap Job with a values Secret and phase 1's
/// rules; serviceAccountRef tokens and service-account-token Secrets without leader election
/// or NetworkPolicy.
const VALUE_SETS: &[&[&str]] = &[
    &[],
    &[
        "serviceMonitor.enabled=true",
        "crds.upgrade=true",
        "networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.monitoring=enabled",
        "rbac.rolloutRestarts=true",
    ],
    &[
        "bootstrap.enabled=true",
        "bootstrap.config=version: 1",
        "bootstrap.envSecret=bootstrap-values",
        "bootstrap.rbac.phase1=true",
    ],
    &[
        "rbac.serviceAccountTokens=true",
        "leaderElection.enabled=false",
        "replicas=1",
        "networkPolicy.enabled=false",
        "agent.allowServiceAccountTokenSecrets=true",
    ],
];

/// Value sets only linted and rendered here (their objects go to other namespaces, which the
/// real-server tests create themselves).
const LINT_ONLY: &[&[&str]] = &[
    &["agent.watchNamespace=team-a", "rbac.rolloutRestarts=true"],
    &[
        "bootstrap.enabled=true",
        "bootstrap.config=version: 1",
        "bootstrap.envFromSecret=bootstrap-values",
        "bootstrap.serviceAccountName=my-bootstrap",
    ],
];

#[test]
fn helm_lint_passes_for_every_value_set() {
    for sets in VALUE_SETS.iter().chain(LINT_ONLY) {
        let out = lint(sets);
        assert!(out.contains("0 chart(s) failed"), "{sets:?}: {out}");
    }
}

/// Every key of values.yaml has its comment on the line above (the chart's users read them;
/// docs/install.md explains the choices).
#[test]
fn every_value_is_documented() {
    let text = std::fs::read_to_string(chart::chart_dir().join("values.yaml")).unwrap();
    let mut previous = "";
    let mut undocumented = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let is_key = !trimmed.starts_with('#')
            && !trimmed.starts_with('-')
            && trimmed.split_once(':').is_some_and(|(key, _)| {
                !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if is_key && !previous.trim_start().starts_with('#') {
            undocumented.push(line);
        }
        if !trimmed.is_empty() {
            previous = line;
        }
    }
    assert!(
        undocumented.is_empty(),
        "values.yaml keys without a comment: {undocumented:?}"
    );
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// The rules of a ClusterRole or Role that mention `resource`.
fn rules_for<'a>(role: &'a Value, resource: &str) -> Vec<&'a Value> {
    role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| strings(&r["resources"]).iter().any(|x| x == resource))
        .collect()
}

/// The object of `kind` named `name`.
fn named<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    let found: Vec<_> = of_kind(docs, kind)
        .into_iter()
        .filter(|d| d["metadata"]["name"] == name)
        .collect();
    assert_eq!(found.len(), 1, "expected one {kind} {name}");
    found[0]
}

/// The agent container's arguments.
fn agent_args(docs: &[Value]) -> Vec<String> {
    strings(&one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"])
}

/// Every rule of every ClusterRole and Role: no wildcard, no escalate, no impersonate, and
/// `bind` only on system:auth-delegator by name (bootstrap phase 1).
fn assert_no_broad_rules(docs: &[Value]) {
    for role in of_kind(docs, "ClusterRole")
        .into_iter()
        .chain(of_kind(docs, "Role"))
    {
        for rule in role["rules"].as_array().unwrap() {
            for field in ["verbs", "resources", "apiGroups", "resourceNames"] {
                assert!(
                    !strings(&rule[field]).contains(&"*".to_string()),
                    "wildcard in {rule}"
                );
            }
            let verbs = strings(&rule["verbs"]);
            for verb in ["escalate", "impersonate", "deletecollection"] {
                assert!(!verbs.contains(&verb.to_string()), "{verb} in {rule}");
            }
            if verbs.contains(&"bind".to_string()) {
                assert_eq!(verbs, ["bind"]);
                assert_eq!(strings(&rule["resourceNames"]), ["system:auth-delegator"]);
            }
        }
    }
}

#[test]
fn rbac_is_least_privilege() {
    let docs = render("r", "ferry-system", &[]);
    for sets in VALUE_SETS.iter().chain(LINT_ONLY) {
        assert_no_broad_rules(&render("r", "ferry-system", sets));
    }
    let cluster_role = one(&docs, "ClusterRole");
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
    // ConfigMaps are read one by one (templateFrom, caProvider).
    assert_eq!(
        strings(&rules_for(cluster_role, "configmaps")[0]["verbs"]),
        ["get"]
    );
    // No workload permission unless rollout restarts are on (below); no token creation unless
    // serviceAccountRef is in use; no Leases cluster-wide.
    for workload in ["deployments", "statefulsets", "daemonsets"] {
        assert!(rules_for(cluster_role, workload).is_empty());
    }
    assert!(rules_for(cluster_role, "serviceaccounts/token").is_empty());
    assert!(rules_for(cluster_role, "leases").is_empty());
    let with_tokens = render("r", "ferry-system", &["rbac.serviceAccountTokens=true"]);
    let role = one(&with_tokens, "ClusterRole");
    assert_eq!(
        strings(&rules_for(role, "serviceaccounts/token")[0]["verbs"]),
        ["create"]
    );
    assert_eq!(
        strings(&rules_for(role, "tokenreviews")[0]["verbs"]),
        ["create"]
    );
    assert!(rules_for(cluster_role, "tokenreviews").is_empty());
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

/// `rbac.rolloutRestarts` drives both the workload permission and `--rollout-restarts`, so the
/// agent never tries what its RBAC forbids. Off by default.
#[test]
fn rollout_restarts_are_off_by_default_and_the_flag_follows_the_rbac() {
    let docs = render("r", "ferry-system", &[]);
    assert!(agent_args(&docs).contains(&"--rollout-restarts=false".to_string()));
    let role = one(&docs, "ClusterRole");
    assert!(
        role["rules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !strings(&r["apiGroups"]).contains(&"apps".to_string())),
        "an apps rule without rollout restarts: {role}"
    );
    let on = render("r", "ferry-system", &["rbac.rolloutRestarts=true"]);
    assert!(agent_args(&on).contains(&"--rollout-restarts=true".to_string()));
    let role = one(&on, "ClusterRole");
    for workload in ["deployments", "statefulsets", "daemonsets"] {
        let rules = rules_for(role, workload);
        assert_eq!(rules.len(), 1);
        assert_eq!(strings(&rules[0]["apiGroups"]), ["apps"]);
        assert_eq!(strings(&rules[0]["verbs"]), ["get", "list", "patch"]);
    }
}

#[test]
fn service_account_token_secrets_are_refused_unless_allowed() {
    let docs = render("r", "ferry-system", &[]);
    assert!(agent_args(&docs).contains(&"--allow-service-account-token-secrets=false".to_string()));
    let on = render(
        "r",
        "ferry-system",
        &["agent.allowServiceAccountTokenSecrets=true"],
    );
    assert!(agent_args(&on).contains(&"--allow-service-account-token-secrets=true".to_string()));
}

/// The NetworkPolicy is on by default and, with no `metricsFrom`, admits no ingress at all;
/// with peers, exactly those, to the metrics port only. Egress: API server, Vault, DNS.
#[test]
fn the_network_policy_is_on_and_admits_no_scraper_by_default() {
    let docs = render("r", "ferry-system", &[]);
    let policy = one(&docs, "NetworkPolicy");
    let spec = &policy["spec"];
    assert_eq!(strings(&spec["policyTypes"]), ["Ingress", "Egress"]);
    assert_eq!(spec["ingress"], json!([]), "{spec}");
    assert_eq!(
        spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"],
        "agent"
    );
    let egress = spec["egress"].as_array().unwrap();
    assert_eq!(egress.len(), 3);
    assert_eq!(egress[0]["ports"][0]["port"], 443);
    assert_eq!(egress[0]["ports"][1]["port"], 6443);
    assert_eq!(egress[1]["ports"][0]["port"], 8200);
    assert_eq!(egress[2]["ports"][0]["port"], 53);

    let peer = "networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=monitoring";
    let scraped = render("r", "ferry-system", &[peer]);
    let ingress = &one(&scraped, "NetworkPolicy")["spec"]["ingress"];
    assert_eq!(
        ingress,
        &json!([{
            "from": [{ "namespaceSelector": { "matchLabels": {
                "kubernetes.io/metadata.name": "monitoring" } } }],
            "ports": [{ "port": "metrics", "protocol": "TCP" }],
        }])
    );
    let off = render("r", "ferry-system", &["networkPolicy.enabled=false"]);
    assert!(of_kind(&off, "NetworkPolicy").is_empty());
}

/// With `agent.watchNamespace`, no cluster-wide rule reaches a Secret or an ESO namespaced
/// object: a Role in the watched namespace does, and the HMAC key Secret has a Role of its own
/// in the release namespace.
#[test]
fn watch_namespace_binds_the_namespaced_rules_in_that_namespace() {
    let docs = render(
        "r",
        "ferry-system",
        &["agent.watchNamespace=team-a", "rbac.rolloutRestarts=true"],
    );
    let cluster_role = one(&docs, "ClusterRole");
    let resources: Vec<String> = cluster_role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| strings(&r["resources"]))
        .collect();
    assert_eq!(
        resources,
        ["clustersecretstores", "clustersecretstores/status"]
    );
    let role = named(&docs, "Role", "r-ferry");
    assert_eq!(role["metadata"]["namespace"], "team-a");
    assert_eq!(
        strings(&rules_for(role, "secrets")[0]["verbs"]),
        ["get", "list", "watch", "create", "patch", "delete"]
    );
    for resource in [
        "externalsecrets",
        "secretstores",
        "externalsecrets/status",
        "events",
        "configmaps",
        "deployments",
    ] {
        assert_eq!(rules_for(role, resource).len(), 1, "{resource}");
    }
    let ns = rules_for(role, "namespaces");
    assert_eq!(strings(&ns[0]["resourceNames"]), ["team-a"]);
    assert_eq!(strings(&ns[0]["verbs"]), ["get"]);
    let binding = named(&docs, "RoleBinding", "r-ferry");
    assert_eq!(binding["metadata"]["namespace"], "team-a");
    assert_eq!(binding["subjects"][0]["namespace"], "ferry-system");
    assert_eq!(binding["subjects"][0]["name"], "r-ferry");

    let hmac = named(&docs, "Role", "r-ferry-hmac-key");
    assert_eq!(hmac["metadata"]["namespace"], "ferry-system");
    let rules = hmac["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(strings(&rules[0]["resourceNames"]), ["ferry-hmac-key"]);
    assert_eq!(strings(&rules[0]["verbs"]), ["get"]);
    assert_eq!(strings(&rules[1]["verbs"]), ["create"]);
    assert_eq!(
        named(&docs, "RoleBinding", "r-ferry-hmac-key")["roleRef"]["name"],
        "r-ferry-hmac-key"
    );
    // The Lease Role is unchanged.
    assert_eq!(
        named(&docs, "Role", "r-ferry-leader")["metadata"]["namespace"],
        "ferry-system"
    );
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
        "--rollout-restarts=false",
        "--allow-service-account-token-secrets=false",
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
        &std::fs::read_to_string(chart::chart_dir().join("crds/external-secrets.yaml")).unwrap(),
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

/// `helm template` that must fail, with `needle` in its error.
fn render_fails(sets: &[&str], needle: &str) {
    let mut cmd = std::process::Command::new(chart::helm());
    cmd.args(["template", "r"])
        .arg(chart::chart_dir())
        .args(["--namespace", "ferry-system"]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "{sets:?} rendered");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(needle), "{sets:?}: {stderr}");
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
    render_fails(&["bootstrap.enabled=true"], "bootstrap.config");
}

const BOOTSTRAP: [&str; 2] = ["bootstrap.enabled=true", "bootstrap.config=version: 1"];

fn with_bootstrap<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    BOOTSTRAP
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect()
}

/// The bootstrap Job runs as a ServiceAccount of its own (created by default), bound to a
/// ClusterRole of its own, never the agent's; it has no `envFrom`.
#[test]
fn the_bootstrap_job_runs_as_its_own_service_account() {
    let docs = render("r", "ferry-system", &BOOTSTRAP);
    let pod = &one(&docs, "Job")["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "r-ferry-bootstrap");
    let container = &pod["containers"][0];
    assert!(container.get("envFrom").is_none(), "{container}");
    assert!(
        !strings(&container["args"])
            .iter()
            .any(|a| a.starts_with("--env-secret"))
    );
    let sa = named(&docs, "ServiceAccount", "r-ferry-bootstrap");
    assert_eq!(sa["metadata"]["namespace"], "ferry-system");
    assert_eq!(
        sa["metadata"]["labels"]["app.kubernetes.io/component"],
        "bootstrap"
    );
    // The agent's bindings name the agent only; the Job's, the Job only.
    let agent_binding = named(&docs, "ClusterRoleBinding", "r-ferry");
    assert_eq!(agent_binding["subjects"][0]["name"], "r-ferry");
    let binding = named(&docs, "ClusterRoleBinding", "r-ferry-bootstrap");
    assert_eq!(binding["roleRef"]["name"], "r-ferry-bootstrap");
    assert_eq!(
        binding["subjects"],
        json!([{ "kind": "ServiceAccount", "name": "r-ferry-bootstrap",
            "namespace": "ferry-system" }])
    );
    // What phases 3 to 5 call, and without phase 1 nothing of phase 1's.
    let role = named(&docs, "ClusterRole", "r-ferry-bootstrap");
    let verbs = |resource: &str| -> Vec<String> {
        rules_for(role, resource)
            .iter()
            .flat_map(|r| strings(&r["verbs"]))
            .collect()
    };
    assert_eq!(verbs("secrets"), ["get", "create", "patch", "list"]);
    assert_eq!(verbs("configmaps"), ["get", "update", "create", "list"]);
    assert_eq!(
        strings(&rules_for(role, "configmaps")[0]["resourceNames"]),
        ["ferry-bootstrap"]
    );
    assert_eq!(verbs("namespaces"), ["get", "create"]);
    assert_eq!(verbs("externalsecrets"), ["get", "create", "patch", "list"]);
    assert_eq!(verbs("gitrepositories"), ["get", "patch"]);
    assert_eq!(
        strings(&rules_for(role, "customresourcedefinitions")[0]["resourceNames"]),
        ["gitrepositories.source.toolkit.fluxcd.io"]
    );
    for resource in ["pods", "deployments", "jobs", "cronjobs"] {
        assert_eq!(verbs(resource), ["list"], "{resource}");
    }
    for resource in [
        "clusterrolebindings",
        "clusterroles",
        "serviceaccounts/token",
        "leases",
    ] {
        assert!(verbs(resource).is_empty(), "{resource}");
    }
    assert!(
        of_kind(&docs, "Role")
            .iter()
            .all(|r| { r["metadata"]["name"] != "r-ferry-bootstrap-env" })
    );

    let phase1 = render(
        "r",
        "ferry-system",
        &with_bootstrap(&["bootstrap.rbac.phase1=true"]),
    );
    let role = named(&phase1, "ClusterRole", "r-ferry-bootstrap");
    let bind = rules_for(role, "clusterroles");
    assert_eq!(strings(&bind[0]["verbs"]), ["bind"]);
    assert_eq!(
        strings(&bind[0]["resourceNames"]),
        ["system:auth-delegator"]
    );
    assert_eq!(
        strings(&rules_for(role, "clusterrolebindings")[0]["verbs"]),
        ["create", "patch"]
    );
    let crds = rules_for(role, "customresourcedefinitions");
    assert_eq!(
        strings(&crds[1]["resourceNames"]),
        [
            "externalsecrets.external-secrets.io",
            "secretstores.external-secrets.io",
            "clustersecretstores.external-secrets.io"
        ]
    );

    // An existing ServiceAccount (the deprecated value, or create=false): not created, bound.
    for sets in [
        with_bootstrap(&["bootstrap.serviceAccountName=mine"]),
        with_bootstrap(&[
            "bootstrap.serviceAccount.create=false",
            "bootstrap.serviceAccount.name=mine",
        ]),
    ] {
        let docs = render("r", "ferry-system", &sets);
        assert_eq!(
            one(&docs, "Job")["spec"]["template"]["spec"]["serviceAccountName"],
            "mine"
        );
        assert_eq!(one(&docs, "ServiceAccount")["metadata"]["name"], "r-ferry");
        assert_eq!(
            named(&docs, "ClusterRoleBinding", "r-ferry-bootstrap")["subjects"][0]["name"],
            "mine"
        );
    }
    // Never the agent's.
    for sets in [
        with_bootstrap(&["bootstrap.serviceAccountName=r-ferry"]),
        with_bootstrap(&["bootstrap.serviceAccount.name=r-ferry"]),
        with_bootstrap(&[
            "serviceAccount.name=shared",
            "bootstrap.serviceAccount.create=false",
            "bootstrap.serviceAccount.name=shared",
        ]),
    ] {
        render_fails(&sets, "must not run as the agent's ServiceAccount");
    }
}

/// `bootstrap.envSecret` (or its deprecated alias `envFromSecret`) becomes
/// `--env-secret NAMESPACE/NAME`, and the Job may get and delete exactly that Secret.
#[test]
fn the_bootstrap_values_secret_is_a_flag_with_get_and_delete_on_it_alone() {
    let expected = |docs: &[Value], ns: &str, name: &str| {
        let container = &one(docs, "Job")["spec"]["template"]["spec"]["containers"][0];
        assert!(container.get("envFrom").is_none(), "{container}");
        let args = strings(&container["args"]);
        assert_eq!(
            &args[..3],
            ["bootstrap", "--config", "/etc/ferry/bootstrap.yaml"]
        );
        assert_eq!(args[3..], [format!("--env-secret={ns}/{name}")]);
        let role = named(docs, "Role", "r-ferry-bootstrap-env");
        assert_eq!(role["metadata"]["namespace"], ns);
        assert_eq!(
            role["rules"],
            json!([{ "apiGroups": [""], "resources": ["secrets"],
                "resourceNames": [name], "verbs": ["get", "delete"] }])
        );
        let binding = named(docs, "RoleBinding", "r-ferry-bootstrap-env");
        assert_eq!(binding["metadata"]["namespace"], ns);
        assert_eq!(binding["subjects"][0]["name"], "r-ferry-bootstrap");
        assert_eq!(binding["subjects"][0]["namespace"], "ferry-system");
    };
    let docs = render(
        "r",
        "ferry-system",
        &with_bootstrap(&["bootstrap.envSecret=vals"]),
    );
    expected(&docs, "ferry-system", "vals");
    let alias = render(
        "r",
        "ferry-system",
        &with_bootstrap(&["bootstrap.envFromSecret=vals"]),
    );
    assert_eq!(alias, docs, "the deprecated alias renders the same objects");
    let both = render(
        "r",
        "ferry-system",
        &with_bootstrap(&["bootstrap.envSecret=vals", "bootstrap.envFromSecret=vals"]),
    );
    assert_eq!(both, docs);
    let elsewhere = render(
        "r",
        "ferry-system",
        &with_bootstrap(&["bootstrap.envSecret=operators/vals"]),
    );
    expected(&elsewhere, "operators", "vals");
    render_fails(
        &with_bootstrap(&["bootstrap.envSecret=a", "bootstrap.envFromSecret=b"]),
        "bootstrap.envSecret",
    );
    render_fails(
        &with_bootstrap(&["bootstrap.envSecret=a/b/c"]),
        "NAME or NAMESPACE/NAME",
    );
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

/// Whether `result` is the API server's 403.
fn forbidden<T>(result: Result<T, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(ref s)) if s.code == 403)
}

async fn create_namespace(client: &kube::Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({ "metadata": { "name": name } })).unwrap();
    kube::Api::all(client.clone())
        .create(&kube::api::PostParams::default(), &ns)
        .await
        .unwrap();
}

/// The rendered RBAC, applied and exercised with the real authorizer: the agent (with
/// `agent.watchNamespace`) and the bootstrap Job each get a real ServiceAccount token, make
/// real requests, and ask SelfSubjectAccessReviews for what they must and must not do.
#[tokio::test]
async fn the_rbac_holds_on_the_real_api_server() {
    let env = TestEnv::new("chart-rbac").await;
    let watched = env.namespace.clone();
    let system = format!("{}-sys", env.namespace);
    create_namespace(&env.kube, &system).await;
    let release = format!("a{}", ferry_testenv::unique_suffix());
    let watch = format!("agent.watchNamespace={watched}");
    let sets = [
        watch.as_str(),
        "rbac.rolloutRestarts=true",
        "bootstrap.enabled=true",
        "bootstrap.config=version: 1",
        "bootstrap.envSecret=bootstrap-values",
    ];
    let docs = render(&release, &system, &sets);
    apply_all(&env.kube, &system, &docs, false).await;
    let agent_sa = format!("{release}-ferry");
    let bootstrap_sa = format!("{release}-ferry-bootstrap");
    let agent = client_with_token(
        &env.kubeconfig,
        &service_account_token(&env.kube, &system, &agent_sa).await,
    )
    .await;
    let bootstrap = client_with_token(
        &env.kubeconfig,
        &service_account_token(&env.kube, &system, &bootstrap_sa).await,
    )
    .await;

    let secret = |name: &str| -> Secret {
        serde_json::from_value(json!({ "metadata": { "name": name },
            "stringData": { "key": "0123456789abcdef0123" } }))
        .unwrap()
    };
    let post = kube::api::PostParams::default();

    // The agent, for real: the watched namespace's Secrets and its Namespace object (a Role
    // there covers the get); the HMAC key Secret by name in the release namespace; nothing else
    // there, and no Secret of another namespace.
    let watched_secrets = kube::Api::<Secret>::namespaced(agent.clone(), &watched);
    watched_secrets
        .create(&post, &secret("target"))
        .await
        .unwrap();
    watched_secrets.list(&Default::default()).await.unwrap();
    kube::Api::<Namespace>::all(agent.clone())
        .get(&watched)
        .await
        .unwrap();
    assert!(forbidden(
        kube::Api::<Namespace>::all(agent.clone())
            .get(&system)
            .await
    ));
    let system_secrets = kube::Api::<Secret>::namespaced(agent.clone(), &system);
    system_secrets
        .create(&post, &secret("ferry-hmac-key"))
        .await
        .unwrap();
    system_secrets.get("ferry-hmac-key").await.unwrap();
    kube::Api::<Secret>::namespaced(env.kube.clone(), &system)
        .create(&post, &secret("bootstrap-values"))
        .await
        .unwrap();
    assert!(forbidden(system_secrets.get("bootstrap-values").await));
    assert!(forbidden(system_secrets.list(&Default::default()).await));
    assert!(forbidden(
        kube::Api::<Secret>::namespaced(agent.clone(), "default")
            .list(&Default::default())
            .await
    ));
    // The same, and the rest, asked of the authorizer: (allowed, verb, group, resource,
    // namespace, name).
    let (w, sys) = (watched.as_str(), system.as_str());
    let (es, lease) = ("external-secrets.io", "coordination.k8s.io");
    expect_access(
        &agent,
        "the agent",
        &[
            (true, "watch", es, "externalsecrets", w, ""),
            (true, "patch", es, "externalsecrets/status", w, ""),
            (true, "list", es, "secretstores", w, ""),
            (true, "create", "events.k8s.io", "events", w, ""),
            (true, "patch", "apps", "deployments", w, ""),
            (true, "watch", es, "clustersecretstores", "", ""),
            (true, "update", lease, "leases", sys, "ferry-agent"),
            (false, "watch", es, "externalsecrets", sys, ""),
            (false, "list", es, "secretstores", sys, ""),
            (false, "create", "events.k8s.io", "events", sys, ""),
            (false, "patch", "apps", "deployments", sys, ""),
            (false, "update", "", "secrets", sys, "ferry-hmac-key"),
            (false, "delete", "", "secrets", sys, "ferry-hmac-key"),
            // Nothing of the bootstrap Job's: its values Secret, its identity.
            (false, "delete", "", "secrets", sys, "bootstrap-values"),
            (
                false,
                "create",
                "",
                "serviceaccounts/token",
                sys,
                &bootstrap_sa,
            ),
        ],
    )
    .await;

    // The bootstrap Job: its values Secret, get and delete by name only; what phases 3 to 5
    // do; none of the agent's Lease or workloads; no binding, no CRD write without phase 1.
    let (crd, rbac) = ("apiextensions.k8s.io", "rbac.authorization.k8s.io");
    expect_access(
        &bootstrap,
        "the bootstrap Job",
        &[
            (true, "delete", "", "secrets", sys, "bootstrap-values"),
            (true, "list", "", "secrets", "", ""),
            (true, "update", "", "configmaps", sys, "ferry-bootstrap"),
            (true, "patch", es, "externalsecrets", "flux-system", ""),
            (
                true,
                "patch",
                "source.toolkit.fluxcd.io",
                "gitrepositories",
                "flux-system",
                "",
            ),
            (false, "delete", "", "secrets", sys, "ferry-hmac-key"),
            (false, "delete", "", "secrets", w, "target"),
            (false, "update", "", "configmaps", sys, "other"),
            (false, "update", lease, "leases", sys, "ferry-agent"),
            (false, "patch", "apps", "deployments", w, ""),
            (false, "create", rbac, "clusterrolebindings", "", ""),
            (
                false,
                "bind",
                rbac,
                "clusterroles",
                "",
                "system:auth-delegator",
            ),
            (
                false,
                "patch",
                crd,
                "customresourcedefinitions",
                "",
                "externalsecrets.external-secrets.io",
            ),
        ],
    )
    .await;
    let job_secrets = kube::Api::<Secret>::namespaced(bootstrap.clone(), &system);
    job_secrets.get("bootstrap-values").await.unwrap();
    job_secrets
        .delete("bootstrap-values", &Default::default())
        .await
        .unwrap();
}

/// One access expectation: allowed, verb, API group, resource (`resource/subresource`),
/// namespace ("" for cluster-scoped or every namespace), name ("" for any).
type Expectation<'a> = (bool, &'a str, &'a str, &'a str, &'a str, &'a str);

/// Asks the authorizer each expectation as `client`'s own identity (`who` in messages).
async fn expect_access(client: &kube::Client, who: &str, expectations: &[Expectation<'_>]) {
    for &(want, verb, group, resource, namespace, name) in expectations {
        let access = Access {
            verb,
            group,
            resource,
            namespace,
            name,
        };
        assert_eq!(
            allowed(client, &access).await,
            want,
            "{who}: {verb} {group}/{resource} {namespace}/{name}"
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
    let chart = chart::chart_dir().display().to_string();
    let release = format!("h-{}", ferry_testenv::unique_suffix());
    let common = ["--kubeconfig", &kubeconfig, "--namespace", &env.namespace];
    let helm = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(common);
        chart::run_helm(&all)
    };
    let dry = helm(&["install", &release, &chart, "--dry-run=server"]);
    assert!(dry.contains("NOTES:") && dry.contains("Check it:"), "{dry}");
    let installed = helm(&["install", &release, &chart]);
    assert!(installed.contains("STATUS: deployed"), "{installed}");
    assert!(installed.contains(&format!("Lease {}/ferry-agent", env.namespace)));
    assert!(installed.contains("admits no scraper"), "{installed}");
    assert!(
        installed.contains("Rollout restarts are off"),
        "{installed}"
    );
    let policies = kube::Api::<k8s_openapi::api::networking::v1::NetworkPolicy>::namespaced(
        env.kube.clone(),
        &env.namespace,
    );
    // Stored as the API server keeps it: Ingress isolated, no rule (the empty list is
    // omitted), which admits nobody.
    let stored = policies
        .get(&format!("{release}-ferry"))
        .await
        .unwrap()
        .spec
        .unwrap();
    assert!(
        stored
            .policy_types
            .unwrap()
            .contains(&"Ingress".to_string())
    );
    assert!(stored.ingress.unwrap_or_default().is_empty());
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

/// PushSecrets: read, their status and ESO's finalizer (patch) written. ClusterPushSecrets
/// (only without `agent.watchNamespace`): read and their status written, with the PushSecrets
/// they create and delete and the Namespaces (list, watch) their selectors match. With
/// `agent.watchNamespace`, the PushSecret rules are in the namespace's Role only.
#[test]
fn push_secrets_have_exactly_their_rules() {
    let docs = render("r", "ferry-system", &[]);
    let role = one(&docs, "ClusterRole");
    let verbs = |role: &Value, resource: &str| -> Vec<Vec<String>> {
        rules_for(role, resource)
            .iter()
            .map(|r| strings(&r["verbs"]))
            .collect()
    };
    assert_eq!(
        verbs(role, "pushsecrets"),
        [
            vec!["get", "list", "watch", "patch"],
            vec!["create", "delete"]
        ]
    );
    assert_eq!(verbs(role, "pushsecrets/status"), [["patch"]]);
    assert_eq!(
        verbs(role, "clusterpushsecrets"),
        [["get", "list", "watch"]]
    );
    assert_eq!(verbs(role, "clusterpushsecrets/status"), [["patch"]]);
    assert!(
        verbs(role, "namespaces").contains(&vec!["list".to_owned(), "watch".to_owned()]),
        "{role}"
    );
    let watched = render("r", "ferry-system", &["agent.watchNamespace=team-a"]);
    let cluster_role = one(&watched, "ClusterRole");
    for resource in ["pushsecrets", "clusterpushsecrets", "namespaces"] {
        assert!(rules_for(cluster_role, resource).is_empty(), "{resource}");
    }
    let role = named(&watched, "Role", "r-ferry");
    assert_eq!(
        verbs(role, "pushsecrets"),
        [["get", "list", "watch", "patch"]]
    );
    assert_eq!(verbs(role, "pushsecrets/status"), [["patch"]]);
}
