//! Tests of the shipped templates: they render, lint clean and keep Vault's
//! identity templating verbatim.

use super::*;

fn example(kv_version: KvVersion) -> PolicyParams {
    PolicyParams {
        mount: "secret".into(),
        kv_version,
        agent_paths: vec!["flux-system/*".into(), "apps/*".into()],
        bootstrap_paths: vec!["flux-system/git".into(), "apps/shop/db".into()],
        push_paths: vec!["pushed/shop/*".into()],
        policy_names: vec!["ferry-agent".into(), "ferry-app-shop".into()],
        kubernetes_mount: "kubernetes".into(),
        kubernetes_accessor: Some("auth_kubernetes_1a2b3c4d".into()),
        app: Some(AppParams {
            name: "shop".into(),
            paths: vec!["apps/shop/*".into()],
        }),
    }
}

#[test]
fn every_template_renders_and_lints_clean() {
    for version in [KvVersion::V1, KvVersion::V2] {
        let params = example(version);
        let config = LintConfig::for_params(&params);
        for t in Template::ALL {
            let hcl = render(t, &params).unwrap();
            assert!(!hcl.contains("[["), "{t}: {hcl}");
            let findings = lint(&hcl, t.file_name(), &config);
            assert!(
                findings.is_empty(),
                "{t} ({version}):\n{hcl}\n{findings:#?}"
            );
            assert!(!parse(&hcl, t.file_name()).unwrap().paths.is_empty(), "{t}");
            assert_eq!(render_checked(t, t.source(), &params).unwrap(), hcl);
        }
    }
}

#[test]
fn raw_templates_are_valid_hcl() {
    for t in Template::ALL {
        let policy = parse(t.source(), t.file_name()).unwrap();
        assert!(policy.problems.is_empty(), "{t}: {:?}", policy.problems);
    }
}

#[test]
fn agent_reads_and_lists_its_paths() {
    let hcl = render(Template::Agent, &example(KvVersion::V2)).unwrap();
    let policy = parse(&hcl, "agent.hcl").unwrap();
    let rules: Vec<(&str, Vec<&str>)> = policy
        .paths
        .iter()
        .map(|p| {
            let caps = p.capabilities.iter().map(|c| c.name.as_str()).collect();
            (p.path.as_str(), caps)
        })
        .collect();
    assert_eq!(
        rules,
        [
            ("secret/data/flux-system/*", vec!["read"]),
            ("secret/metadata/flux-system/*", vec!["read", "list"]),
            ("secret/data/apps/*", vec!["read"]),
            ("secret/metadata/apps/*", vec!["read", "list"]),
        ]
    );
}

#[test]
fn bootstrap_grants_sudo_on_one_path_only() {
    let hcl = render(Template::Bootstrap, &example(KvVersion::V2)).unwrap();
    let policy = parse(&hcl, "bootstrap.hcl").unwrap();
    let sudo: Vec<&str> = policy
        .paths
        .iter()
        .filter(|p| p.capabilities.iter().any(|c| c.name == "sudo"))
        .map(|p| p.path.as_str())
        .collect();
    assert_eq!(sudo, ["sys/auth/kubernetes"]);
    assert!(hcl.contains("path \"sys/policies/acl/ferry-app-shop\""));
    assert!(hcl.contains("path \"secret/data/apps/shop/db\" {\n  capabilities = [\"create\", \"update\"]\n  required_parameters = [\"options\"]\n}"));
    // The same policy is not clean where sudo is not expected.
    let strict = LintConfig::for_params(&example(KvVersion::V2));
    let findings = lint(&hcl, "other.hcl", &strict);
    assert!(
        findings.iter().any(|f| f.rule == Rule::Sudo),
        "{findings:#?}"
    );
}

#[test]
fn namespace_scoped_keeps_identity_templating_verbatim() {
    let hcl = render(Template::NamespaceScoped, &example(KvVersion::V2)).unwrap();
    let expected = "path \"secret/data/{{identity.entity.aliases.auth_kubernetes_1a2b3c4d.metadata.service_account_namespace}}/*\" {\n  capabilities = [\"read\"]\n}";
    assert!(hcl.contains(expected), "{hcl}");
    let paths = parse(&hcl, "n.hcl").unwrap().paths;
    assert_eq!(
        paths[0].path,
        "secret/data/{{identity.entity.aliases.auth_kubernetes_1a2b3c4d.metadata.service_account_namespace}}/*"
    );
}

#[test]
fn missing_accessor_names_template_line_and_parameter() {
    let params = PolicyParams {
        kubernetes_accessor: None,
        ..example(KvVersion::V2)
    };
    let err = render(Template::NamespaceScoped, &params).unwrap_err();
    let line = Template::NamespaceScoped
        .source()
        .lines()
        .position(|l| l.contains("[[ kubernetes_accessor ]]"))
        .unwrap()
        + 1;
    assert_eq!(
        err.to_string(),
        format!("namespace-scoped.hcl:{line}: parameter `kubernetes_accessor` is missing")
    );
    let params = PolicyParams {
        app: None,
        ..example(KvVersion::V2)
    };
    let err = render(Template::AppReadonly, &params).unwrap_err();
    assert!(matches!(err, PolicyError::Render { parameter, .. } if parameter == "app"));
}

#[test]
fn render_checked_refuses_an_edited_template_with_findings() {
    let params = example(KvVersion::V2);
    let edited = "path \"[[ mount ]]/data/x\" {\n  capabilities = [\"read\", \"sudo\"]\n}\n";
    let err = render_checked(Template::AppReadonly, edited, &params).unwrap_err();
    match &err {
        PolicyError::Lint { file, findings } => {
            assert_eq!(file, "app-readonly.hcl");
            assert_eq!(findings.len(), 1);
            assert_eq!(findings[0].line, 2);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("app-readonly.hcl:2: sudo: "),
        "{err}"
    );
}

#[test]
fn params_deserialize() {
    let json = r#"{"mount":"kv","kv_version":1,"agent_paths":["a/*"],
        "app":{"name":"shop","paths":["shop/*"]}}"#;
    let p: PolicyParams = serde_json::from_str(json).unwrap();
    assert_eq!(p.mount, "kv");
    assert_eq!(p.kv_version, KvVersion::V1);
    assert_eq!(p.kubernetes_mount, "kubernetes");
    let p: PolicyParams = serde_json::from_str(r#"{"kv_version":"v2"}"#).unwrap();
    assert_eq!(p.kv_version, KvVersion::V2);
    assert!(serde_json::from_str::<PolicyParams>(r#"{"kv_version":3}"#).is_err());
    assert_eq!(serde_json::to_string(&KvVersion::V2).unwrap(), "2");
}

#[test]
fn push_reads_creates_and_updates_its_paths_only() {
    let hcl = render(Template::Push, &example(KvVersion::V2)).unwrap();
    let policy = parse(&hcl, "push.hcl").unwrap();
    let rules: Vec<(&str, Vec<&str>)> = policy
        .paths
        .iter()
        .map(|p| {
            let caps = p.capabilities.iter().map(|c| c.name.as_str()).collect();
            (p.path.as_str(), caps)
        })
        .collect();
    assert_eq!(
        rules,
        [
            (
                "secret/data/pushed/shop/*",
                vec!["create", "read", "update"]
            ),
            (
                "secret/metadata/pushed/shop/*",
                vec!["create", "read", "update"]
            ),
            ("secret/delete/pushed/shop/*", vec!["update"]),
        ]
    );
    let v1 = render(Template::Push, &example(KvVersion::V1)).unwrap();
    assert!(v1.contains(r#"path "secret/pushed/shop/*""#), "{v1}");
}

#[test]
fn lint_knows_what_a_push_needs() {
    let params = example(KvVersion::V2);
    let config = LintConfig::for_params(&params);
    let rules = |src: &str, file: &str| -> Vec<Rule> {
        lint(src, file, &config)
            .into_iter()
            .map(|f| f.rule)
            .collect()
    };
    // Read-only on the data path, no metadata path: two findings for the one path.
    let thin = "path \"secret/data/app\" {\n  capabilities = [\"read\"]\n}\n";
    assert_eq!(
        rules(thin, "push.hcl"),
        [Rule::PushMissingCapability, Rule::PushMissingCapability]
    );
    // The same file is fine as any other (non-push) policy.
    assert!(rules(thin, "other.hcl").is_empty());
    // Writes on a whole mount are a finding in any policy.
    let whole = "path \"secret/data/*\" {\n  capabilities = [\"create\", \"read\", \"update\"]\n}\npath \"secret/metadata/*\" {\n  capabilities = [\"read\", \"update\"]\n}\n";
    assert_eq!(
        rules(whole, "push.hcl"),
        [Rule::WriteWholeMount, Rule::WriteWholeMount]
    );
    assert_eq!(
        rules(whole, "bootstrap.hcl"),
        [Rule::WriteWholeMount, Rule::WriteWholeMount]
    );
    let reads = "path \"secret/data/*\" {\n  capabilities = [\"read\"]\n}\n";
    assert!(rules(reads, "other.hcl").is_empty());
}
