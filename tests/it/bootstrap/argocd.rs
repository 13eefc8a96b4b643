//! Phase 3 for Argo CD, with no Flux section: the repository Secrets of a real HTTPS Git
//! server (`git http-backend` behind basic auth) and a real SSH Git server (Debian's sshd)
//! are taken over by ExternalSecrets, keep Argo CD's label and non-secret keys, and a real
//! `git clone` with exactly each switched Secret's credentials works. The Applications that
//! use the repositories (a minimal Application CRD written here, served by the API server)
//! get the refresh annotation; one that uses another repository does not.
//!
//! Argo CD itself does not run: the clone stands in for its repo-server's fetch, with the
//! Secret's `username`/`password`, or its `sshPrivateKey` and the host key Argo CD would
//! read from `argocd-ssh-known-hosts-cm`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use ferry_bootstrap::BootstrapError;
use ferry_testenv::git::{self, GitServer};
use ferry_testenv::ssh::{self, SshGitServer};
use ferry_vault::{ExposeSecret, SecretString};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::core::ResourceExt;
use serde_json::json;

use crate::support::bootstrap::Fixture;
use crate::support::common;

const SECRET_TYPE: &str = "argocd.argoproj.io/secret-type";
const REFRESH: &str = "argocd.argoproj.io/refresh";
const FLUX: &str =
    "flux:\n  namespace: {ns}\n  auth: {https: {username: git, passwordEnv: GITHUB_TOKEN}}\n";

/// The fixture's config with `flux` replaced by an `argocd` section for the two servers.
fn argocd_only(fx: &mut Fixture, https_url: &str, ssh_url: &str) {
    let ns = fx.env.namespace.clone();
    fx.edit_config(
        "env:\n",
        "env:\n  - {name: ARGO_SSH_KEY, path: argocd/ssh, key: key}\n",
    );
    fx.edit_config(
        &FLUX.replace("{ns}", &ns),
        &format!(
            "argocd:
  namespace: {ns}
  repositories:
    - name: deployments
      url: {https_url}
      project: platform
      auth: {{https: {{passwordEnv: GITHUB_TOKEN}}}}
    - name: infra
      url: {ssh_url}
      auth: {{ssh: {{privateKeyEnv: ARGO_SSH_KEY}}}}
"
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argocd_repository_secrets_are_switched_and_git_clone_proves_them() {
    let ssh_server = tokio::task::spawn_blocking(SshGitServer::start)
        .await
        .unwrap()
        .unwrap();
    let mut fx = Fixture::new("bootstrap-argocd").await;
    let token = fx.values["GITHUB_TOKEN"].clone();
    let https_server = GitServer::start("git", SecretString::from(token.clone())).unwrap();
    argocd_only(&mut fx, &https_server.url, &ssh_server.url);
    assert!(fx.config.flux.is_none());
    let key = ssh_server.identity().expose_secret().to_owned();
    fx.values.insert("ARGO_SSH_KEY".into(), key);
    let ns = fx.env.namespace.clone();

    // What `argocd repo add` leaves: a labelled plaintext Secret, here with a stale token.
    let secrets = Api::<Secret>::namespaced(fx.env.kube.clone(), &ns);
    let plaintext: Secret = serde_json::from_value(json!({
        "metadata": { "name": "deployments", "labels": { SECRET_TYPE: "repository" } },
        "stringData": { "url": https_server.url, "type": "git", "username": "git",
            "password": "a-stale-token" },
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &plaintext)
        .await
        .unwrap();
    let apps = install_applications(&fx, &https_server.url, &ssh_server.url).await;

    let report = fx.run(&fx.options()).await.unwrap();
    assert!(report.complete);

    // Both Secrets: owned by their ExternalSecret, labelled, the non-secret keys as written.
    let https = switched(&fx, "deployments").await;
    assert_eq!(
        keys(&https),
        ["name", "password", "project", "type", "url", "username"]
    );
    assert_eq!(https["url"], https_server.url);
    assert_eq!(https["type"], "git");
    assert_eq!(https["name"], "deployments");
    assert_eq!(https["project"], "platform");
    assert_eq!(https["username"], "git");
    assert!(
        https["password"] == token,
        "the stale token was not replaced"
    );
    let infra = switched(&fx, "infra").await;
    assert_eq!(keys(&infra), ["name", "sshPrivateKey", "type", "url"]);
    assert!(infra["sshPrivateKey"] == fx.values["ARGO_SSH_KEY"]);
    let root = fx.root().await;
    fx.assert_kv_written_once(&root).await;
    root.revoke_self().await.unwrap();
    fx.assert_no_plaintext().await;

    // The proof: a clone with exactly each Secret's credentials works; wrong ones do not.
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_path_buf();
    let good = https_server.url_with_credentials(&https["username"], &https["password"]);
    let bad = https_server.url_with_credentials("git", "a-stale-token");
    let ssh_key = SecretString::from(infra["sshPrivateKey"].clone());
    let (wrong_key, _) = ssh::generate_key().unwrap();
    let (ssh_url, known_hosts) = (ssh_server.url.clone(), ssh_server.known_hosts.clone());
    let clones = tokio::task::spawn_blocking(move || {
        [
            git::clone(&good, &base.join("https")),
            git::clone(&bad, &base.join("https-stale")),
            ssh::clone(&ssh_url, &ssh_key, &known_hosts, &base.join("ssh")),
            ssh::clone(&ssh_url, &wrong_key, &known_hosts, &base.join("ssh-wrong")),
        ]
    })
    .await
    .unwrap();
    assert_eq!(
        clones,
        [true, false, true, false],
        "https, stale, ssh, wrong key"
    );

    // The Applications of the two repositories were asked to refresh; the other was not.
    for (name, refreshed) in [
        ("uses-https", true),
        ("uses-ssh", true),
        ("elsewhere", false),
    ] {
        let app = apps.get(name).await.unwrap();
        let annotation = app.annotations().get(REFRESH).map(String::as_str);
        assert_eq!(
            annotation == Some("normal"),
            refreshed,
            "{name}: {annotation:?}"
        );
    }
    fx.stop().await;
}

/// A GitHub App key that is not an RSA key, a missing variable and an Argo CD SSH key that is
/// no key: one error naming each variable and field, exit code 2, and nothing written
/// (Vault is still uninitialised, no ExternalSecret exists).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_refused_before_anything_is_written() {
    let mut fx = Fixture::new("bootstrap-argocd-bad").await;
    let ns = fx.env.namespace.clone();
    fx.edit_config(
        "env:\n",
        "env:
  - {name: APP_ID, path: argocd/app, key: id}
  - {name: APP_INSTALLATION, path: argocd/app, key: installation}
  - {name: APP_KEY, path: argocd/app, key: key}
  - {name: ARGO_SSH_KEY, path: argocd/ssh, key: key}
",
    );
    fx.edit_config(
        &FLUX.replace("{ns}", &ns),
        &format!(
            "argocd:
  namespace: {ns}
  repoCreds:
    - name: org
      url: https://github.com/org
      auth: {{githubApp: {{appIdEnv: APP_ID, installationIdEnv: APP_INSTALLATION, privateKeyEnv: APP_KEY}}}}
  repositories:
    - name: infra
      url: git@git.example.com:org/infra.git
      auth: {{ssh: {{privateKeyEnv: ARGO_SSH_KEY}}}}
"
        ),
    );
    let planted =
        "-----BEGIN RSA PRIVATE KEY-----\nbm90IGFuIFJTQSBrZXk=\n-----END RSA PRIVATE KEY-----\n";
    let mut values: BTreeMap<String, String> = fx.values.clone();
    values.insert("APP_ID".into(), "123".into());
    values.insert("APP_KEY".into(), planted.into());
    values.insert("ARGO_SSH_KEY".into(), "ssh-not-a-key-Zq8rT5wK".into());
    // APP_INSTALLATION is not set.
    let err = fx.run_with(&values, &fx.options()).await.unwrap_err();
    let BootstrapError::CheckEnv { missing, failed } = &err else {
        panic!("unexpected {err}");
    };
    assert_eq!(missing, &["APP_INSTALLATION"]);
    assert_eq!(failed.len(), 2, "{failed:#?}");
    // Repositories come before credential templates.
    assert!(failed[0].starts_with(
        "ARGO_SSH_KEY (argocd.repositories[0].auth.ssh.privateKeyEnv): the value is not a valid ssh-private-key"
    ));
    assert!(failed[1].starts_with(
        "APP_KEY (argocd.repoCreds[0].auth.githubApp.privateKeyEnv): the value is not a valid rsa-private-key"
    ));
    let text = err.to_string();
    assert!(
        !text.contains("bm90IGFu") && !text.contains("Zq8rT5wK"),
        "{text}"
    );
    assert_eq!(err.exit_code(), 2);
    assert!(!fx.vault().seal_status().await.unwrap().initialized);
    let es = Api::<ferry_api::ExternalSecret>::namespaced(fx.env.kube.clone(), &ns);
    assert!(es.list(&Default::default()).await.unwrap().items.is_empty());
    fx.stop().await;
}

/// The Secret `name`, checked to be controlled by its ExternalSecret and labelled as Argo
/// CD's repository Secret; its data as text.
async fn switched(fx: &Fixture, name: &str) -> BTreeMap<String, String> {
    let ns = &fx.env.namespace;
    let secret = Api::<Secret>::namespaced(fx.env.kube.clone(), ns)
        .get(name)
        .await
        .unwrap();
    let es = Api::<ferry_api::ExternalSecret>::namespaced(fx.env.kube.clone(), ns)
        .get(name)
        .await
        .unwrap();
    let owner = secret
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true));
    assert_eq!(owner.map(|o| o.uid.as_str()), es.uid().as_deref(), "{name}");
    assert_eq!(
        secret.labels().get(SECRET_TYPE).map(String::as_str),
        Some("repository"),
        "{name}"
    );
    secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8(v.0).unwrap()))
        .collect()
}

fn keys(data: &BTreeMap<String, String>) -> Vec<&str> {
    data.keys().map(String::as_str).collect()
}

/// Installs a minimal Application CRD (argoproj.io/v1alpha1, written for this test) and
/// three Applications: one per repository, and one of another repository.
async fn install_applications(fx: &Fixture, https: &str, ssh: &str) -> Api<DynamicObject> {
    install_application_crd(&fx.env.kube).await;
    let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "applications");
    let api =
        Api::<DynamicObject>::namespaced_with(fx.env.kube.clone(), &fx.env.namespace, &resource);
    let specs = [
        (
            "uses-https",
            json!({ "source": { "repoURL": https, "path": "apps" } }),
        ),
        (
            "uses-ssh",
            json!({ "sources": [{ "repoURL": "https://charts.example.com", "chart": "x" },
                { "repoURL": ssh, "path": "." }] }),
        ),
        (
            "elsewhere",
            json!({ "source": { "repoURL": "https://git.example.com/other.git" } }),
        ),
    ];
    for (name, spec) in specs {
        let app: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": { "name": name, "namespace": fx.env.namespace },
            "spec": spec,
        }))
        .unwrap();
        let params = PatchParams::apply("ferry-test").force();
        api.patch(name, &params, &Patch::Apply(&app)).await.unwrap();
    }
    api
}

async fn install_application_crd(kube: &kube::Client) {
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": { "name": "applications.argoproj.io" },
        "spec": {
            "group": "argoproj.io",
            "scope": "Namespaced",
            "names": { "kind": "Application", "plural": "applications",
                "singular": "application", "listKind": "ApplicationList" },
            "versions": [{
                "name": "v1alpha1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": { "type": "object",
                            "x-kubernetes-preserve-unknown-fields": true },
                    },
                } },
            }],
        },
    }))
    .unwrap();
    let api = Api::<CustomResourceDefinition>::all(kube.clone());
    let params = PatchParams::apply("ferry-test").force();
    api.patch("applications.argoproj.io", &params, &Patch::Apply(&crd))
        .await
        .unwrap();
    common::eventually(Duration::from_secs(30), "the Application CRD", || {
        let api = api.clone();
        async move {
            let crd = api.get("applications.argoproj.io").await.ok()?;
            let conditions = crd.status?.conditions?;
            conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
                .then_some(())
        }
    })
    .await;
}
