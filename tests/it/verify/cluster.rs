//! `ferry verify`'s cluster checks against the real API server and OpenBao: every planted
//! problem is found with its rule and object, a clean setup synced by the real agent has no
//! findings, the root-token accessor check tells revoked, live and not-permitted apart, and no
//! report format ever carries a value.

// Helpers outside #[test] functions panic on failure just like the tests.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::time::Duration;

use crate::support::common::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferry_testenv::TestEnv;
use ferry_vault::{KvVersion, TokenRequest};
use ferry_verify::{
    ClusterScope, Finding, Format, KnownEntry, ObjectName, RootToken, Scanner, rules,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};

/// A value that only this run knows, long and with base64-sensitive characters.
fn known_value(env: &TestEnv) -> String {
    format!("kv+{}/Zq8tK2pLm9xR4w", env.prefix)
}

async fn apply<K>(env: &TestEnv, body: Value)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(body).unwrap();
    Api::<K>::namespaced(env.kube.clone(), &env.namespace)
        .create(&PostParams::default(), &obj)
        .await
        .unwrap();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Every report format of `findings`, concatenated.
fn all_reports(findings: &[Finding]) -> String {
    let mut text = String::new();
    for format in [Format::Table, Format::Json, Format::Sarif] {
        let mut out = Vec::new();
        ferry_verify::write_report(findings, format, &mut out).unwrap();
        text.push_str(&String::from_utf8(out).unwrap());
    }
    text
}

/// `(rule, Kind/name)` of each finding, sorted.
fn summary(findings: &[Finding]) -> Vec<(String, String)> {
    let mut s: Vec<(String, String)> = findings
        .iter()
        .map(|f| {
            let obj = f.location.object_ref().unwrap_or_default();
            let short = obj.split('/').next_back().unwrap_or_default().to_owned();
            let kind = obj.split('/').next().unwrap_or_default();
            (f.rule.clone(), format!("{kind}/{short}"))
        })
        .collect();
    s.sort();
    s.dedup();
    s
}

async fn scanner_for(env: &TestEnv) -> Scanner {
    let entries = [KnownEntry {
        path: env.path("app"),
        key: "password".into(),
    }];
    let known = ferry_verify::read_known_values(&env.vault, &env.kv_mount, KvVersion::V2, &entries)
        .await
        .unwrap();
    assert!(known.too_short.is_empty());
    Scanner::with_labels(known.values).unwrap()
}

#[tokio::test]
async fn planted_problems_are_found_and_no_report_shows_a_value() {
    let env = TestEnv::new("verify-cluster-planted").await;
    install_crds(&env.kube).await;
    let value = known_value(&env);
    put(&env, "app", json!({ "password": value })).await;
    let scanner = scanner_for(&env).await;
    let ns = env.namespace.clone();
    let token = format!("hv{}.CAESIJ3kd8Fz2LmQp9Xw7Rt5Yb1Nc", "s");

    // Two ExternalSecrets that are not Ready: one never synced, one failing with a message that
    // (wrongly) quotes the value, which must not be copied into any finding.
    for name in ["never-synced", "failing"] {
        external_secret(
            &env,
            name,
            json!({
                "secretStoreRef": { "name": "nowhere", "kind": "SecretStore" },
                "data": [{ "secretKey": "k", "remoteRef": { "key": "x", "property": "y" } }]
            }),
        )
        .await;
    }
    let es_api: Api<DynamicObject> = Api::namespaced_with(
        env.kube.clone(),
        &ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("external-secrets.io", "v1", "ExternalSecret"),
            "externalsecrets",
        ),
    );
    let status = json!({ "status": { "conditions": [{
        "type": "Ready", "status": "False", "reason": "SecretSyncedError",
        "message": format!("could not sync {value}"),
        "lastTransitionTime": "2026-01-01T00:00:00Z" }] } });
    es_api
        .patch_status("failing", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();

    // A plain Secret in a namespace with ExternalSecrets, one holding a Vault token.
    apply::<Secret>(
        &env,
        json!({ "metadata": { "name": "plain" },
        "stringData": { "password": "not-from-vault" } }),
    )
    .await;
    apply::<Secret>(
        &env,
        json!({ "metadata": { "name": "leftover-token" },
        "stringData": { "token": token } }),
    )
    .await;
    // A plaintext "init bundle".
    apply::<Secret>(
        &env,
        json!({ "metadata": { "name": "ferry-init" },
        "stringData": { "bundle": "{\"unseal_keys_b64\":[\"abc\"],\"root_token\":\"x\"}" } }),
    )
    .await;
    // A Helm release whose values hold the known value.
    let release = json!({ "name": "web", "config": { "values": { "password": value } } });
    let payload = STANDARD.encode(gzip(release.to_string().as_bytes()));
    apply::<Secret>(
        &env,
        json!({ "metadata": { "name": "sh.helm.release.v1.web.v1",
        "labels": { "owner": "helm", "name": "web" } },
        "type": "helm.sh/release.v1", "data": { "release": STANDARD.encode(payload) } }),
    )
    .await;
    // A ConfigMap with the value base64-encoded, and one whose last-applied copy has it.
    apply::<ConfigMap>(
        &env,
        json!({ "metadata": { "name": "settings" },
        "data": { "app.env": format!("DB_PASSWORD_B64={}\n", STANDARD.encode(&value)) } }),
    )
    .await;
    let applied = json!({ "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": "applied" }, "data": { "password": value } });
    apply::<ConfigMap>(
        &env,
        json!({ "metadata": { "name": "applied", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": applied.to_string() } },
        "data": { "note": "clean now" } }),
    )
    .await;
    // A Deployment with the value as an env literal.
    apply::<Deployment>(
        &env,
        json!({ "metadata": { "name": "web" }, "spec": {
        "selector": { "matchLabels": { "app": "web" } },
        "template": { "metadata": { "labels": { "app": "web" } }, "spec": { "containers": [{
            "name": "web", "image": "registry.invalid/web:1",
            "env": [{ "name": "MODE", "value": "prod" }, { "name": "DB_PASSWORD", "value": value }]
        }] } } } }),
    )
    .await;

    let scope = ClusterScope {
        namespaces: vec![ns.clone()],
        git_secrets: Vec::new(),
        init_bundle_secret: Some(ObjectName::new(&ns, "ferry-init")),
        exempt_secrets: Vec::new(),
    };
    let findings = ferry_verify::check_cluster(&env.kube, &scanner, &scope)
        .await
        .unwrap();
    let got = summary(&findings);
    let want: Vec<(String, String)> = [
        (rules::EXTERNAL_SECRET_NOT_READY, "ExternalSecret/failing"),
        (
            rules::EXTERNAL_SECRET_NOT_READY,
            "ExternalSecret/never-synced",
        ),
        (rules::INIT_MATERIAL_PLAINTEXT, "Secret/ferry-init"),
        (rules::KNOWN_VALUE, "ConfigMap/applied"),
        (rules::KNOWN_VALUE, "ConfigMap/settings"),
        (rules::KNOWN_VALUE, "Deployment/web"),
        (rules::KNOWN_VALUE, "Secret/sh.helm.release.v1.web.v1"),
        (rules::SECRET_NOT_VAULT_BACKED, "Secret/leftover-token"),
        (rules::SECRET_NOT_VAULT_BACKED, "Secret/plain"),
        (rules::VAULT_TOKEN, "Secret/leftover-token"),
    ]
    .iter()
    .map(|(r, o)| ((*r).to_owned(), (*o).to_owned()))
    .collect();
    assert_eq!(got, want, "{findings:#?}");

    let fields: Vec<String> = findings.iter().map(|f| f.location.to_string()).collect();
    for expected in [
        format!("Deployment/{ns}/web spec.template.spec.containers[0].env[1] (DB_PASSWORD)"),
        format!(
            "ConfigMap/{ns}/applied metadata.annotations[{}]",
            ferry_verify::LAST_APPLIED
        ),
        format!("Secret/{ns}/sh.helm.release.v1.web.v1 data.release"),
        format!("ExternalSecret/{ns}/failing status.conditions[Ready]"),
    ] {
        assert!(fields.contains(&expected), "{expected} not in {fields:#?}");
    }
    let reports = all_reports(&findings);
    for secret in [value.clone(), STANDARD.encode(&value), token] {
        assert!(!reports.contains(&secret), "a report carries a value");
    }
    assert!(
        !reports.contains("could not sync"),
        "a controller message was copied"
    );
}

#[tokio::test]
async fn a_clean_setup_synced_by_the_agent_has_no_findings() {
    let env = TestEnv::new("verify-cluster-clean").await;
    let agent = start_agent(&env).await;
    let value = known_value(&env);
    put(&env, "app", json!({ "password": value })).await;
    token_store(&env, "vault").await;
    external_secret(
        &env,
        "app",
        json!({
            "secretStoreRef": { "name": "vault", "kind": "SecretStore" },
            "target": { "name": "app" },
            "data": [{ "secretKey": "password",
                       "remoteRef": { "key": env.path("app"), "property": "password" } }]
        }),
    )
    .await;
    wait_reason(&env, "app", "SecretSynced").await;
    // An age-armored init bundle, a ConfigMap and a Deployment with no value in them.
    let armored = "-----BEGIN AGE ENCRYPTED FILE-----\n\
                   YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBh\n\
                   -----END AGE ENCRYPTED FILE-----\n";
    apply::<Secret>(
        &env,
        json!({ "metadata": { "name": "ferry-init" },
        "stringData": { "bundle": armored } }),
    )
    .await;
    apply::<ConfigMap>(
        &env,
        json!({ "metadata": { "name": "settings" },
        "data": { "mode": "prod" } }),
    )
    .await;
    apply::<Deployment>(
        &env,
        json!({ "metadata": { "name": "web" }, "spec": {
        "selector": { "matchLabels": { "app": "web" } },
        "template": { "metadata": { "labels": { "app": "web" } }, "spec": { "containers": [{
            "name": "web", "image": "registry.invalid/web:1",
            "env": [{ "name": "DB_PASSWORD", "valueFrom": { "secretKeyRef": {
                "name": "app", "key": "password" } } }]
        }] } } } }),
    )
    .await;

    let scanner = scanner_for(&env).await;
    let ns = env.namespace.clone();
    let scope = ClusterScope {
        namespaces: vec![ns.clone()],
        git_secrets: vec![ObjectName::new(&ns, "app")],
        init_bundle_secret: Some(ObjectName::new(&ns, "ferry-init")),
        // The SecretStore's own credential (a test shortcut; production uses Kubernetes auth).
        exempt_secrets: vec![format!("{ns}/vault-token")],
    };
    let findings = ferry_verify::check_cluster(&env.kube, &scanner, &scope)
        .await
        .unwrap();
    assert_eq!(findings, Vec::new());

    // Without the exemption, the store's token Secret is the one finding.
    let strict = ClusterScope {
        exempt_secrets: Vec::new(),
        ..scope
    };
    let findings = ferry_verify::check_cluster(&env.kube, &scanner, &strict)
        .await
        .unwrap();
    assert_eq!(
        summary(&findings),
        vec![(
            rules::SECRET_NOT_VAULT_BACKED.to_owned(),
            "Secret/vault-token".to_owned()
        )]
    );
    agent.stop().await;
}

/// Records `accessor` where bootstrap records the root token's accessor.
async fn record_accessor(env: &TestEnv, accessor: &str) {
    let mut data = serde_json::Map::new();
    data.insert(
        ferry_verify::ROOT_TOKEN_ACCESSOR_KEY.to_owned(),
        json!(accessor),
    );
    let cm = json!({ "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": ferry_verify::BOOTSTRAP_STATE_CONFIGMAP }, "data": data });
    Api::<ConfigMap>::namespaced(env.kube.clone(), &env.namespace)
        .patch(
            ferry_verify::BOOTSTRAP_STATE_CONFIGMAP,
            &PatchParams::apply("verify-test").force(),
            &Patch::Apply(&cm),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn root_token_accessor_tells_revoked_live_and_skipped_apart() {
    let env = TestEnv::new("verify-root-token").await;
    let ns = env.namespace.clone();
    let check = |vault: ferry_vault::Vault| {
        let kube = env.kube.clone();
        let ns = ns.clone();
        async move {
            ferry_verify::check_root_token(&kube, &vault, &ns)
                .await
                .unwrap()
        }
    };
    assert_eq!(check(env.vault.clone()).await, RootToken::NotRecorded);

    // A stand-in for the root token: a token whose accessor is recorded.
    let request = TokenRequest {
        policies: vec!["default".into()],
        ttl: Some(Duration::from_secs(600)),
        ..TokenRequest::default()
    };
    let stand_in = env.vault.create_token(&request).await.unwrap();
    record_accessor(&env, &stand_in.accessor).await;
    let live = check(env.vault.clone()).await;
    assert_eq!(live, RootToken::Live);
    let finding = live.finding(&ns).unwrap();
    assert_eq!(finding.rule, rules::ROOT_TOKEN_NOT_REVOKED);
    assert_eq!(
        finding.location.to_string(),
        format!("ConfigMap/{ns}/ferry-bootstrap data.rootTokenAccessor")
    );

    // A verify token without permission on lookup-accessor: skipped, not a failure.
    let weak = env.vault.create_token(&request).await.unwrap();
    let weak = env.vault.with_token(weak.client_token);
    assert!(matches!(
        check(weak.clone()).await,
        RootToken::Skipped { .. }
    ));

    env.vault
        .with_token(stand_in.client_token)
        .revoke_self()
        .await
        .unwrap();
    assert_eq!(check(env.vault.clone()).await, RootToken::Revoked);
    weak.revoke_self().await.unwrap();
}
