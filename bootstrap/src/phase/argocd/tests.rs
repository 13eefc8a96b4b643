//! Unit tests of the Argo CD switch: the exact Secret keys and labels per auth, the
//! ExternalSecret's template, which Applications are refreshed.

#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::refresh::{normalize, uses_any};
use super::*;
use crate::phase::gitops::KeySource;

const CONFIG: &str = r#"
vault: { address: "http://127.0.0.1:8200" }
init:
  recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]
  bundle: { file: ./init.age }
env:
  - { name: GIT_TOKEN, path: argocd/https, key: password }
  - { name: DEPLOY_KEY, path: argocd/ssh, key: key }
  - { name: APP_ID, path: argocd/app, key: id }
  - { name: APP_INSTALLATION, path: argocd/app, key: installation }
  - { name: APP_KEY, path: argocd/app, key: key }
argocd:
  repositories:
    - name: deployments
      url: https://git.example.com/org/deployments.git
      project: platform
      auth: { https: { passwordEnv: GIT_TOKEN } }
    - name: infra
      url: git@git.example.com:org/infra.git
      auth: { ssh: { privateKeyEnv: DEPLOY_KEY } }
  repoCreds:
    - name: org-app
      url: https://github.com/org
      auth:
        githubApp:
          appIdEnv: APP_ID
          installationIdEnv: APP_INSTALLATION
          privateKeyEnv: APP_KEY
          baseUrl: https://github.example.com/api/v3
"#;

fn config() -> BootstrapConfig {
    ferry_config::parse(CONFIG, "test.yaml").unwrap()
}

fn all() -> Vec<Takeover> {
    let cfg = config();
    takeovers(&cfg, cfg.argocd.as_ref().unwrap()).unwrap()
}

fn vault(path: &str, key: &str, env: &str) -> KeySource {
    KeySource::Vault {
        env: env.into(),
        path: path.into(),
        key: key.into(),
    }
}

fn literal(value: &str) -> KeySource {
    KeySource::Literal(value.into())
}

#[test]
fn each_auth_gives_argo_cds_exact_keys() {
    let [https, ssh, app] = <[Takeover; 3]>::try_from(all()).unwrap();
    let keys = |t: &Takeover| t.creds.keys.clone();
    let pair = |k: &str, s: KeySource| (k.to_owned(), s);
    assert_eq!(
        keys(&https),
        [
            pair(
                "url",
                literal("https://git.example.com/org/deployments.git")
            ),
            pair("type", literal("git")),
            pair("name", literal("deployments")),
            pair("project", literal("platform")),
            pair("username", literal("git")),
            pair("password", vault("argocd/https", "password", "GIT_TOKEN")),
        ]
    );
    assert_eq!(
        keys(&ssh),
        [
            pair("url", literal("git@git.example.com:org/infra.git")),
            pair("type", literal("git")),
            pair("name", literal("infra")),
            pair("sshPrivateKey", vault("argocd/ssh", "key", "DEPLOY_KEY")),
        ]
    );
    // A credential template has no `name` key.
    assert_eq!(
        keys(&app),
        [
            pair("url", literal("https://github.com/org")),
            pair("type", literal("git")),
            pair("githubAppID", vault("argocd/app", "id", "APP_ID")),
            pair(
                "githubAppInstallationID",
                vault("argocd/app", "installation", "APP_INSTALLATION")
            ),
            pair("githubAppPrivateKey", vault("argocd/app", "key", "APP_KEY")),
            pair(
                "githubAppEnterpriseBaseUrl",
                literal("https://github.example.com/api/v3")
            ),
        ]
    );
    assert_eq!(https.namespace, "argocd");
    assert_eq!(https.label, "Argo CD repository deployments");
    assert_eq!(app.label, "Argo CD repo-creds org-app");
    assert_eq!(
        app.labels().unwrap()[SECRET_TYPE_LABEL],
        "repo-creds",
        "credential templates are labelled repo-creds"
    );
}

#[test]
fn the_external_secret_templates_the_label_and_literals_and_reads_secrets_from_vault() {
    let cfg = config();
    let https = all().remove(0);
    assert!(https.owns_outright() && !https.writes_literals());
    let es = https.external_secret(&cfg);
    let target = &es["spec"]["target"];
    assert_eq!(target["name"], "deployments");
    assert_eq!(target["creationPolicy"], "Owner");
    assert_eq!(target["deletionPolicy"], "Retain");
    let template = &target["template"];
    assert_eq!(template["engineVersion"], "v2");
    assert_eq!(template["mergePolicy"], "Merge");
    assert_eq!(
        template["metadata"],
        json!({ "labels": { SECRET_TYPE_LABEL: "repository" } })
    );
    assert_eq!(
        template["data"],
        json!({ "url": "https://git.example.com/org/deployments.git", "type": "git",
            "name": "deployments", "project": "platform", "username": "git" })
    );
    assert_eq!(
        es["spec"]["data"],
        json!([{ "secretKey": "password",
            "remoteRef": { "key": "argocd/https", "property": "password" } }])
    );
    assert_eq!(es["metadata"]["namespace"], "argocd");
    assert_eq!(es["spec"]["secretStoreRef"]["kind"], "ClusterSecretStore");
}

#[test]
fn a_missing_env_entry_names_the_field() {
    let mut cfg = config();
    cfg.env.retain(|e| e.name != "DEPLOY_KEY");
    let err = takeovers(&cfg, cfg.argocd.as_ref().unwrap()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("argocd.repositories[1].auth.ssh.privateKeyEnv"),
        "{text}"
    );
}

fn app(spec: serde_json::Value) -> kube::api::DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": { "name": "a", "namespace": "argocd" }, "spec": spec,
    }))
    .unwrap()
}

#[test]
fn applications_of_a_repository_or_under_a_template_are_refreshed() {
    let cfg = config();
    let argocd = cfg.argocd.as_ref().unwrap();
    let uses = |spec| uses_any(&app(spec), argocd);
    assert!(uses(
        json!({ "source": { "repoURL": "https://GIT.example.com/org/deployments" } })
    ));
    assert!(uses(json!({ "sources": [{ "repoURL": "https://x.test/a" },
            { "repoURL": "ssh://git@git.example.com/org/infra.git/" }] })));
    assert!(uses(
        json!({ "source": { "repoURL": "https://github.com/org/anything.git" } })
    ));
    assert!(!uses(
        json!({ "source": { "repoURL": "https://git.example.com/org/other.git" } })
    ));
    assert!(!uses(json!({ "source": { "chart": "x" } })));
    assert!(!uses(json!({})));
}

#[test]
fn urls_compare_without_case_suffix_or_scp_form() {
    assert_eq!(
        normalize("git@Host:org/repo.git"),
        normalize("ssh://git@host/org/repo")
    );
    assert_eq!(normalize("https://h/x.git/"), normalize("https://H/x"));
}

#[test]
fn the_plan_names_every_secret() {
    let cfg = config();
    let steps = planned_steps(cfg.argocd.as_ref().unwrap());
    assert!(
        steps[0].contains("argocd/deployments, argocd/infra"),
        "{steps:?}"
    );
    assert!(steps[1].contains("argocd/org-app"), "{steps:?}");
}
