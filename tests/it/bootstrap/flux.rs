//! Phase 3 end to end, with the real `ferry` binary: an uninitialised OpenBao, the real API
//! server, the agent in-process, and a real Git server on loopback (`git http-backend` behind
//! basic auth) that accepts only the GITHUB_TOKEN value as password.
//!
//! Flux itself does not run here. Its GitRepository CRD is installed with a small schema
//! written for this test, and a task of the test plays the part of Flux's source-controller:
//! when it sees `reconcile.fluxcd.io/requestedAt` on the GitRepository it reads the
//! credentials Secret, runs a real `git clone` with them, and writes `lastHandledReconcileAt`
//! and the Ready condition through the status subresource, as the controller would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::common;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::support::bootstrap::Fixture;
use ferry_testenv::KubeSandbox;
use ferry_testenv::git::{self, GitServer};
use ferry_vault::{KvVersion, SecretString};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::core::ResourceExt;
use serde_json::{Value, json};

const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

/// The kube-sandbox these tests run on. Flux's GitRepository CRD is cluster-wide, and once it
/// is installed every bootstrap requests a reconcile and waits for Flux; these tests install
/// it, so they get a cluster of their own (one for the three of them) and the other bootstrap
/// tests, sharing the test process's cluster, keep one without Flux.
fn cluster_with_flux() -> &'static KubeSandbox {
    static CLUSTER: OnceLock<KubeSandbox> = OnceLock::new();
    CLUSTER.get_or_init(KubeSandbox::start)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_switches_flux_to_vault_and_git_clone_proves_it() {
    let fx = Fixture::with_cluster(cluster_with_flux(), "flux-e2e").await;
    let ns = fx.env.namespace.clone();
    let token = fx.values["GITHUB_TOKEN"].clone();
    let server = GitServer::start("git", SecretString::from(token.clone())).unwrap();

    // What `flux bootstrap` leaves behind: a plaintext Secret and a GitRepository using it.
    plaintext_flux_secret(&fx, json!({ "username": "git", "password": token })).await;
    let (flux, clones) = flux_installed(&fx, &server).await;

    let run = run_ferry_bootstrap(&fx, 60).await;
    for value in fx.values.values() {
        assert!(!run.stdout.contains(value) && !run.stderr.contains(value));
    }
    assert!(
        run.status.success(),
        "ferry bootstrap failed:\n{}",
        run.stderr
    );
    for step in [
        "write the agent policy",
        "apply the Flux ExternalSecret",
        "wait for the Flux Secret to match Vault",
        "request a Flux reconcile of the GitRepository",
        "wait for the GitRepository to be Ready",
    ] {
        assert!(run.step_done(3, step), "phase 3 step {step:?} not done");
    }
    assert!(run.step_is_wait(3, "wait for the Flux Secret to match Vault"));

    // The Secret is now controlled by the ExternalSecret and holds what Vault holds.
    let secret = Api::<Secret>::namespaced(fx.env.kube.clone(), &ns)
        .get("flux-system")
        .await
        .unwrap();
    let es = Api::<ferry_api::ExternalSecret>::namespaced(fx.env.kube.clone(), &ns)
        .get("flux-system")
        .await
        .unwrap();
    let owner = secret
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true));
    assert_eq!(owner.map(|o| o.uid.as_str()), es.uid().as_deref());
    let data = secret.data.clone().unwrap();
    let (username, password) = (text(&data["username"].0), text(&data["password"].0));
    assert_eq!(username, "git");
    let root = fx.root().await;
    let kv = root
        .kv_read("secret", "flux/git", KvVersion::V2, None)
        .await
        .unwrap()
        .unwrap();
    let in_vault = kv.data.get("password").and_then(Value::as_str).unwrap();
    assert!(
        password == in_vault,
        "the Flux Secret's password differs from Vault's"
    );
    fx.assert_kv_written_once(&root).await;
    root.revoke_self().await.unwrap();
    fx.assert_no_plaintext().await;

    // The proof: the Secret's credentials clone the repository; a wrong password does not.
    let dir = tempfile::tempdir().unwrap();
    let good = server.url_with_credentials(&username, &password);
    let bad = server.url_with_credentials(&username, "not-the-token");
    let (cloned, refused) = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || {
            (
                git::clone(&good, &dir.join("a")),
                git::clone(&bad, &dir.join("b")),
            )
        }
    })
    .await
    .unwrap();
    assert!(
        cloned,
        "git clone with the Flux Secret's credentials failed"
    );
    assert!(!refused, "git clone with a wrong password succeeded");

    // Flux (played by the test) was asked to reconcile, cloned with the switched
    // credentials, and reported Ready.
    let repo = git_repositories(&fx).get("flux-system").await.unwrap();
    let requested = repo.annotations().get(REQUESTED_AT).cloned().unwrap();
    assert_eq!(
        repo.data["status"]["lastHandledReconcileAt"].as_str(),
        Some(requested.as_str())
    );
    assert_eq!(*clones.lock().unwrap(), vec![true]);
    flux.abort();
    fx.stop().await;
}

/// A user name from Vault too: every key comes through the ExternalSecret, which then owns
/// the Secret outright (creationPolicy Owner). The plaintext Secret found holds a stale
/// token and a key of its own; both are gone after the switch, and the clone works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_from_vault_takes_over_a_stale_secret() {
    let mut fx = Fixture::with_cluster(cluster_with_flux(), "flux-owner").await;
    let yaml = std::fs::read_to_string(&fx.config_path).unwrap();
    let yaml = yaml
        .replace(
            "{https: {username: git, passwordEnv: GITHUB_TOKEN}}",
            "{https: {usernameEnv: GIT_USERNAME, passwordEnv: GITHUB_TOKEN}}",
        )
        .replace(
            "env:\n",
            "env:\n  - {name: GIT_USERNAME, path: flux/git, key: username}\n",
        );
    std::fs::write(&fx.config_path, yaml).unwrap();
    fx.config = ferry_config::load(&fx.config_path).unwrap();
    fx.values.insert("GIT_USERNAME".into(), "flux-bot".into());
    let ns = fx.env.namespace.clone();
    let token = fx.values["GITHUB_TOKEN"].clone();
    let server = GitServer::start("flux-bot", SecretString::from(token.clone())).unwrap();
    plaintext_flux_secret(
        &fx,
        json!({ "username": "git", "password": "a-stale-token", "ca.crt": "not a CA" }),
    )
    .await;
    let (flux, clones) = flux_installed(&fx, &server).await;

    let run = run_ferry_bootstrap(&fx, 60).await;
    for value in fx.values.values().filter(|v| v.as_str() != "flux-bot") {
        assert!(!run.stdout.contains(value) && !run.stderr.contains(value));
    }
    assert!(
        run.status.success(),
        "ferry bootstrap failed:\n{}",
        run.stderr
    );

    let es = Api::<ferry_api::ExternalSecret>::namespaced(fx.env.kube.clone(), &ns)
        .get("flux-system")
        .await
        .unwrap();
    let policy = serde_json::to_value(es.spec.target.creation_policy).unwrap();
    assert_eq!(policy, "Owner");
    let secret = Api::<Secret>::namespaced(fx.env.kube.clone(), &ns)
        .get("flux-system")
        .await
        .unwrap();
    let owner = secret
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true));
    assert_eq!(owner.map(|o| o.uid.as_str()), es.uid().as_deref());
    let data = secret.data.unwrap();
    let keys: Vec<&str> = data.keys().map(String::as_str).collect();
    assert_eq!(keys, ["password", "username"]);
    assert_eq!(text(&data["username"].0), "flux-bot");
    assert!(
        text(&data["password"].0) == token,
        "the stale token was not replaced"
    );
    let root = fx.root().await;
    fx.assert_kv_written_once(&root).await;
    root.revoke_self().await.unwrap();
    fx.assert_no_plaintext().await;
    assert_eq!(*clones.lock().unwrap(), vec![true]);
    flux.abort();
    fx.stop().await;
}

/// With no agent serving the store, the wait ends in a timeout that names the Secret and says what
/// was last seen, never a value; the plaintext Secret is left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_agent_serving_the_store_the_wait_times_out_naming_the_secret() {
    let fx = Fixture::with_cluster(cluster_with_flux(), "flux-no-agent").await;
    // The store names a controller class no agent serves, so nothing syncs the ExternalSecret.
    let yaml = std::fs::read_to_string(&fx.config_path).unwrap();
    let class = format!("controllerClass: {}", fx.env.prefix);
    assert!(yaml.contains(&class));
    let yaml = yaml.replace(&class, "controllerClass: no-agent-serves-this");
    std::fs::write(&fx.config_path, yaml).unwrap();
    let token = fx.values["GITHUB_TOKEN"].clone();
    plaintext_flux_secret(&fx, json!({ "username": "git", "password": token })).await;
    let run = run_ferry_bootstrap(&fx, 3).await;
    for value in fx.values.values() {
        assert!(!run.stdout.contains(value) && !run.stderr.contains(value));
    }
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    let ns = &fx.env.namespace;
    let failed = run
        .events
        .iter()
        .find(|e| e["event"] == "step.failed" && e["phase"] == 3)
        .unwrap_or_else(|| panic!("no failed phase 3 step: {}", run.stderr));
    assert_eq!(failed["step"], "wait for the Flux Secret to match Vault");
    let detail = failed["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("Secret {ns}/flux-system to match Vault")),
        "{detail}"
    );
    assert!(detail.contains("no Ready condition"), "{detail}");
    let data = common::secret_data(&fx.env, "flux-system").await.unwrap();
    assert!(data["password"] == token, "the plaintext Secret changed");
    fx.stop().await;
}

/// Flux as `flux bootstrap` leaves it: the GitRepository CRD, the GitRepository
/// `flux-system` pointing at `server`, and (played by the test) its source-controller.
async fn flux_installed(
    fx: &Fixture,
    server: &GitServer,
) -> (tokio::task::JoinHandle<()>, Arc<Mutex<Vec<bool>>>) {
    install_git_repository_crd(&fx.env.kube).await;
    git_repositories(fx)
        .create(
            &PostParams::default(),
            &git_repository(&fx.env.namespace, &server.url),
        )
        .await
        .unwrap();
    let clones = Arc::new(Mutex::new(Vec::new()));
    let ns = fx.env.namespace.clone();
    let task = tokio::spawn(play_flux(fx.env.kube.clone(), ns, Arc::clone(&clones)));
    (task, clones)
}

/// The Secret `flux bootstrap` creates for HTTPS: user name and token in plaintext (or
/// whatever `string_data` says).
async fn plaintext_flux_secret(fx: &Fixture, string_data: Value) {
    let secret: Secret = serde_json::from_value(json!({
        "metadata": { "name": "flux-system" },
        "stringData": string_data,
    }))
    .unwrap();
    Api::<Secret>::namespaced(fx.env.kube.clone(), &fx.env.namespace)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

/// Installs a minimal `GitRepository` CRD (source.toolkit.fluxcd.io/v1) and waits until it
/// is served.
async fn install_git_repository_crd(kube: &kube::Client) {
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": { "name": "gitrepositories.source.toolkit.fluxcd.io" },
        "spec": {
            "group": "source.toolkit.fluxcd.io",
            "scope": "Namespaced",
            "names": { "kind": "GitRepository", "plural": "gitrepositories",
                "singular": "gitrepository", "listKind": "GitRepositoryList" },
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": { "status": {} },
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": { "type": "object", "properties": {
                            "url": { "type": "string" },
                            "interval": { "type": "string" },
                            "ref": { "type": "object", "properties": {
                                "branch": { "type": "string" } } },
                            "secretRef": { "type": "object", "properties": {
                                "name": { "type": "string" } } },
                        } },
                        "status": { "type": "object",
                            "x-kubernetes-preserve-unknown-fields": true },
                    },
                } },
            }],
        },
    }))
    .unwrap();
    let api = Api::<CustomResourceDefinition>::all(kube.clone());
    match api.create(&PostParams::default(), &crd).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("creating the GitRepository CRD: {e}"),
    }
    common::eventually(Duration::from_secs(30), "the GitRepository CRD", || {
        let api = api.clone();
        async move {
            let crd = api
                .get("gitrepositories.source.toolkit.fluxcd.io")
                .await
                .ok()?;
            let conditions = crd.status?.conditions?;
            conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
                .then_some(())
        }
    })
    .await;
}

fn git_repository_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk("source.toolkit.fluxcd.io", "v1", "GitRepository");
    ApiResource::from_gvk_with_plural(&gvk, "gitrepositories")
}

fn git_repositories(fx: &Fixture) -> Api<DynamicObject> {
    Api::namespaced_with(
        fx.env.kube.clone(),
        &fx.env.namespace,
        &git_repository_resource(),
    )
}

fn git_repository(ns: &str, url: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": { "name": "flux-system", "namespace": ns },
        "spec": { "url": url, "interval": "1m", "ref": { "branch": "main" },
            "secretRef": { "name": "flux-system" } },
    }))
    .unwrap()
}

/// Plays Flux's source-controller for the GitRepository `flux-system`: on each new
/// `requestedAt` token, clone with the credentials Secret and report the outcome in status.
async fn play_flux(kube: kube::Client, ns: String, clones: Arc<Mutex<Vec<bool>>>) {
    let repos =
        Api::<DynamicObject>::namespaced_with(kube.clone(), &ns, &git_repository_resource());
    let secrets = Api::<Secret>::namespaced(kube, &ns);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Ok(repo) = repos.get("flux-system").await else {
            continue;
        };
        let Some(token) = repo.annotations().get(REQUESTED_AT).cloned() else {
            continue;
        };
        if repo.data["status"]["lastHandledReconcileAt"].as_str() == Some(token.as_str()) {
            continue;
        }
        let Ok(secret) = secrets.get("flux-system").await else {
            continue;
        };
        let data = secret.data.unwrap_or_default();
        let field = |k: &str| data.get(k).map(|v| text(&v.0)).unwrap_or_default();
        let url = repo.data["spec"]["url"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let credentials = authenticated(&url, &field("username"), &field("password"));
        let ok = tokio::task::spawn_blocking(move || {
            let dir = tempfile::tempdir().unwrap();
            git::clone(&credentials, &dir.path().join("checkout"))
        })
        .await
        .unwrap();
        clones.lock().unwrap().push(ok);
        let (status, reason) = if ok {
            ("True", "Succeeded")
        } else {
            ("False", "GitOperationFailed")
        };
        let patch = json!({ "status": {
            "lastHandledReconcileAt": token,
            "conditions": [{ "type": "Ready", "status": status, "reason": reason,
                "message": "played by the test", "lastTransitionTime": "2026-01-01T00:00:00Z" }],
        } });
        repos
            .patch_status(
                "flux-system",
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .unwrap();
    }
}

/// `url` with basic-auth user info, as Flux builds it from the Secret.
fn authenticated(url: &str, username: &str, password: &str) -> SecretString {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    let rest = url.trim_start_matches("http://");
    SecretString::from(format!("http://{}:{}@{rest}", enc(username), enc(password)))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// What a run of the `ferry` binary printed.
struct Run {
    status: std::process::ExitStatus,
    stdout: String,
    events: Vec<Value>,
    stderr: String,
}

impl Run {
    fn step_event(&self, phase: u64, step: &str) -> Option<&Value> {
        self.events
            .iter()
            .find(|e| e["event"] == "step.done" && e["phase"] == phase && e["step"] == step)
    }

    fn step_done(&self, phase: u64, step: &str) -> bool {
        self.step_event(phase, step).is_some()
    }

    fn step_is_wait(&self, phase: u64, step: &str) -> bool {
        self.step_event(phase, step)
            .is_some_and(|e| e["wait"] == true)
    }
}

/// Runs `ferry bootstrap --output json` with the fixture's config and values in the
/// environment (as an operator's shell would hold them).
async fn run_ferry_bootstrap(fx: &Fixture, wait_timeout: u64) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.arg("bootstrap")
        .arg("--config")
        .arg(&fx.config_path)
        .args([
            "--output",
            "json",
            "--wait-timeout",
            &wait_timeout.to_string(),
        ])
        .args(["--verify-namespace", &fx.env.namespace])
        .env("KUBECONFIG", &fx.env.kubeconfig)
        .env_remove("VAULT_TOKEN")
        .env_remove("FERRY_AGE_IDENTITY")
        .kill_on_drop(true);
    for (name, value) in &fx.values {
        cmd.env(name, value);
    }
    let out = tokio::time::timeout(Duration::from_secs(240), cmd.output())
        .await
        .expect("ferry bootstrap did not finish within 240 s")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let events = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect();
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        events,
        stderr,
    }
}
