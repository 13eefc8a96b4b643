//! The fixture of the bootstrap tests: an uninitialised OpenBao of its own, this test's
//! namespace for everything (agent, Flux Secret, app), a bootstrap.yaml and an age identity
//! in a temporary directory, the in-process agent serving this test's controller class,
//! and the end-state checks (each value in KV exactly once, no plaintext on disk or in the
//! cluster).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use age::secrecy::ExposeSecret as _;
use ferry_bootstrap::runner::{Inputs, Report, RunOptions};
use ferry_bootstrap::{BootstrapError, EnvValues, Progress, Timeouts};
use ferry_config::BootstrapConfig;
use ferry_testenv::{KubeSandbox, OpenBao, TestEnv};
use ferry_vault::{KvVersion, Vault, VaultConfig};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams};

use crate::support::common::{self, RunningAgent};

/// The declared variables and their test values (unique per test, never logged).
pub const NAMES: [&str; 3] = ["GITHUB_TOKEN", "MYAPP_DB_PASSWORD", "MYAPP_API_KEY"];

pub struct Fixture {
    pub env: TestEnv,
    pub bao: OpenBao,
    pub dir: tempfile::TempDir,
    pub identity: PathBuf,
    pub config_path: PathBuf,
    pub config: BootstrapConfig,
    pub values: BTreeMap<String, String>,
    pub agent: Option<RunningAgent>,
}

impl Fixture {
    /// A fresh uninitialised OpenBao, namespace, config and identity; the agent started.
    pub async fn new(test: &str) -> Fixture {
        Self::on(TestEnv::new(test).await).await
    }

    /// Like [`Fixture::new`], on the kube-sandbox `cluster` instead of the shared one.
    pub async fn with_cluster(cluster: &KubeSandbox, test: &str) -> Fixture {
        Self::on(TestEnv::with_cluster(cluster, test).await).await
    }

    async fn on(env: TestEnv) -> Fixture {
        // The listener allows the unauthenticated generate-root endpoints that re-runs with
        // --identity use (OpenBao 2.5.3+ disables them by default).
        let bao = OpenBao::uninitialised_with_listener(
            "disable_unauthed_generate_root_endpoints = false",
        );
        let dir = tempfile::tempdir().unwrap();
        let key = age::x25519::Identity::generate();
        let identity = dir.path().join("operator.key");
        std::fs::write(&identity, key.to_string().expose_secret()).unwrap();
        let ns = env.namespace.clone();
        let yaml = format!(
            r#"vault:
  address: {addr}
init:
  keyShares: 3
  keyThreshold: 2
  recipients: ["{recipient}"]
  bundle:
    file: {dir}/vault-init.age
    secret: {{namespace: {ns}, name: vault-init-bundle}}
kubernetesAuth:
  reviewerServiceAccount: ferry-vault-reviewer
env:
  - {{name: GITHUB_TOKEN, path: flux/git, key: password, check: {{nonEmpty: true}}}}
  - {{name: MYAPP_DB_PASSWORD, path: myapp/db, key: password}}
  - {{name: MYAPP_API_KEY, path: myapp/api, key: key}}
flux:
  namespace: {ns}
  auth: {{https: {{username: git, passwordEnv: GITHUB_TOKEN}}}}
agent:
  namespace: {ns}
  storeKind: SecretStore
  controllerClass: {class}
apps:
  - name: myapp
    namespace: {ns}
    serviceAccount: myapp
    paths: ["myapp/*"]
    externalSecrets:
      - name: myapp-secrets
        create:
          data:
            - {{secretKey: database-password, key: myapp/db, property: password}}
            - {{secretKey: api-key, key: myapp/api, property: key}}
"#,
            addr = bao.address,
            recipient = key.to_public(),
            dir = dir.path().display(),
            class = env.prefix,
        );
        let config_path = dir.path().join("bootstrap.yaml");
        std::fs::write(&config_path, &yaml).unwrap();
        let config = ferry_config::load(&config_path).unwrap();
        let values = NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| (name.to_string(), format!("v{i}-{}-Zq8rT5wK", env.prefix)))
            .collect();
        let agent = common::start_agent_with(&env, common::config(&env)).await;
        Fixture {
            env,
            bao,
            dir,
            identity,
            config_path,
            config,
            values,
            agent: Some(agent),
        }
    }

    /// Replaces `from` with `to` in bootstrap.yaml (which must contain it) and reloads it.
    pub fn edit_config(&mut self, from: &str, to: &str) {
        let yaml = std::fs::read_to_string(&self.config_path).unwrap();
        assert!(yaml.contains(from), "bootstrap.yaml lacks {from:?}");
        std::fs::write(&self.config_path, yaml.replacen(from, to, 1)).unwrap();
        self.config = ferry_config::load(&self.config_path).unwrap();
    }

    pub async fn kube_config(&self) -> kube::Config {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.env.kubeconfig).unwrap();
        kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap()
    }

    /// Options for this test: its namespace verified, short waits, `--identity`.
    pub fn options(&self) -> RunOptions {
        let mut options = RunOptions {
            verify_namespaces: vec![self.env.namespace.clone()],
            timeouts: Timeouts {
                ready: Duration::from_secs(60),
                ..Timeouts::default()
            },
            ..RunOptions::default()
        };
        options.access.identity = Some(self.identity.clone());
        options
    }

    /// Runs bootstrap in-process with `values` as the environment.
    pub async fn run_with(
        &self,
        values: &BTreeMap<String, String>,
        options: &RunOptions,
    ) -> Result<Report, BootstrapError> {
        let inputs = Inputs {
            config: self.config.clone(),
            kube_config: self.kube_config().await,
            values: EnvValues::read(&self.config, |name| values.get(name).cloned()),
        };
        ferry_bootstrap::runner::run(inputs, options, &Progress::quiet()).await
    }

    pub async fn run(&self, options: &RunOptions) -> Result<Report, BootstrapError> {
        self.run_with(&self.values, options).await
    }

    /// Vault without a token.
    pub fn vault(&self) -> Vault {
        Vault::connect(&VaultConfig::new(self.bao.address.clone())).unwrap()
    }

    /// A fresh root token minted from the bundle (the test's own admin access).
    pub async fn root(&self) -> Vault {
        self.vault().with_token(self.root_token().await)
    }

    /// The token behind [`Fixture::root`].
    pub async fn root_token(&self) -> secrecy::SecretString {
        let kube = self.env.kube.clone();
        let bundle = ferry_bootstrap::session::open_bundle(&kube, &self.config, &self.identity)
            .await
            .unwrap();
        ferry_bootstrap::session::generate_root(&self.vault(), &bundle.unseal_keys())
            .await
            .unwrap()
    }

    /// The state ConfigMap's data.
    pub async fn state(&self) -> BTreeMap<String, String> {
        Api::<ConfigMap>::namespaced(self.env.kube.clone(), &self.env.namespace)
            .get("ferry-bootstrap")
            .await
            .unwrap()
            .data
            .unwrap_or_default()
    }

    /// Every declared value is in KV exactly once, as the only (current) version.
    pub async fn assert_kv_written_once(&self, root: &Vault) {
        for entry in &self.config.env {
            let meta = root
                .kv_metadata("secret", &entry.path)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{} missing in KV", entry.path));
            assert_eq!(meta.current_version, 1, "{}: versions", entry.path);
            assert_eq!(meta.versions.len(), 1, "{}: versions", entry.path);
            let secret = root
                .kv_read("secret", &entry.path, KvVersion::V2, None)
                .await
                .unwrap()
                .unwrap();
            let got = secret.data.get(&entry.key).and_then(|v| v.as_str());
            assert!(
                got == Some(self.values[&entry.name].as_str()),
                "{} holds the wrong value",
                entry.name
            );
        }
    }

    /// No value in any file under the temporary directory, and none in a ConfigMap or a
    /// Secret of the namespace except the Secrets ExternalSecrets own.
    pub async fn assert_no_plaintext(&self) {
        for file in walk(self.dir.path()) {
            let bytes = std::fs::read(&file).unwrap();
            for (name, value) in &self.values {
                assert!(
                    !contains(&bytes, value.as_bytes()),
                    "{name} in plaintext in {}",
                    file.display()
                );
            }
        }
        let ns = &self.env.namespace;
        let lp = ListParams::default();
        let cms = Api::<ConfigMap>::namespaced(self.env.kube.clone(), ns)
            .list(&lp)
            .await
            .unwrap();
        for cm in cms {
            let text = serde_json::to_string(&cm.data).unwrap();
            for (name, value) in &self.values {
                assert!(!text.contains(value.as_str()), "{name} in a ConfigMap");
            }
        }
        let secrets = Api::<Secret>::namespaced(self.env.kube.clone(), ns)
            .list(&lp)
            .await
            .unwrap();
        for secret in secrets {
            let owned = secret
                .metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.kind == "ExternalSecret");
            if owned {
                continue;
            }
            for bytes in secret.data.iter().flatten().map(|(_, v)| &v.0) {
                for (name, value) in &self.values {
                    assert!(
                        !contains(bytes, value.as_bytes()),
                        "{name} in Secret {:?}",
                        secret.metadata.name
                    );
                }
            }
        }
    }

    /// The app's Secret holds the values from Vault.
    pub async fn assert_app_secret(&self) {
        let data = common::secret_data(&self.env, "myapp-secrets")
            .await
            .unwrap();
        assert_eq!(data["database-password"], self.values["MYAPP_DB_PASSWORD"]);
        assert_eq!(data["api-key"], self.values["MYAPP_API_KEY"]);
    }

    pub async fn stop(mut self) {
        if let Some(agent) = self.agent.take() {
            agent.stop().await;
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
