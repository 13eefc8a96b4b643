//! Test environment for Ferry's integration tests, made of real components.
//!
//! One OpenBao dev server and one kube-sandbox (etcd + kube-apiserver + kube-controller-manager)
//! are started lazily, once per test process, and die with it. Ferry's integration tests are one
//! binary (`tests/it`), so that is one pair of servers for the whole run. Each test calls
//! [`TestEnv::new`] and gets its own namespace and Vault path prefix, so tests run in parallel
//! against the one pair of servers.
//!
//! A test that would change what the servers look like to every other test starts its own:
//! [`OpenBao::uninitialised`] for one to initialise, seal or stop, and a [`KubeSandbox`] with
//! [`TestEnv::with_cluster`] for cluster-wide state others depend on (a CRD whose presence
//! changes what the code under test does).
//!
//! To run against an existing cluster and Vault instead, set `FERRY_TEST_KUBECONFIG`, and
//! `FERRY_TEST_VAULT_ADDR` with `FERRY_TEST_VAULT_TOKEN` (and optionally
//! `FERRY_TEST_VAULT_KV_MOUNT`, default `secret`, a KV v2 mount).

pub mod git;
pub mod kube;
pub mod ldap;
pub mod openbao;
pub mod pki;
pub mod process;
pub mod ssh;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use ::kube::api::{Api, PostParams};
use ::kube::config::{KubeConfigOptions, Kubeconfig};
use ::kube::{Client, Config};
use ferry_vault::{Vault, VaultConfig};
use k8s_openapi::api::core::v1::Namespace;
use secrecy::{ExposeSecret, SecretString};

pub use crate::kube::KubeSandbox;
pub use crate::openbao::OpenBao;

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where `scripts/sandbox-tools.sh` puts the real components: `target/sandbox/bin`, under
/// `$CARGO_TARGET_DIR` when that is set.
pub fn sandbox_bin_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
        .join("sandbox/bin")
}

/// A short suffix unique within this process and very likely across processes.
pub fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}{n}", std::process::id() % 0xfff, nanos % 0xffff)
}

/// Where the shared servers are, whether started here or given by the environment.
struct Shared {
    kubeconfig: PathBuf,
    sa_public_key: Option<PathBuf>,
    vault_addr: String,
    vault_token: SecretString,
    kv_mount: String,
    _kube: Option<KubeSandbox>,
    _bao: Option<OpenBao>,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let kv_mount =
            std::env::var("FERRY_TEST_VAULT_KV_MOUNT").unwrap_or_else(|_| "secret".to_string());
        let given_vault = match (
            std::env::var("FERRY_TEST_VAULT_ADDR"),
            std::env::var("FERRY_TEST_VAULT_TOKEN"),
        ) {
            (Ok(addr), Ok(token)) => Some((addr, SecretString::from(token))),
            _ => None,
        };
        let given_kubeconfig = std::env::var_os("FERRY_TEST_KUBECONFIG").map(PathBuf::from);
        // The two servers start side by side: the API server takes a few seconds, OpenBao one.
        let (kube, bao) = std::thread::scope(|scope| {
            let bao = given_vault.is_none().then(|| scope.spawn(OpenBao::dev));
            let kube = given_kubeconfig.is_none().then(KubeSandbox::start);
            let bao = bao.map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            });
            (kube, bao)
        });
        let (kubeconfig, sa_public_key) = match &kube {
            Some(sandbox) => (
                sandbox.kubeconfig.clone(),
                Some(sandbox.sa_public_key.clone()),
            ),
            None => (
                given_kubeconfig.expect("a kube-sandbox is started unless a cluster is given"),
                None,
            ),
        };
        let (vault_addr, vault_token) = match &bao {
            Some(bao) => (
                bao.address.clone(),
                bao.root_token.clone().expect("dev server has a root token"),
            ),
            None => given_vault.expect("a dev server is started unless a Vault is given"),
        };
        Shared {
            kubeconfig,
            sa_public_key,
            vault_addr,
            vault_token,
            kv_mount,
            _kube: kube,
            _bao: bao,
        }
    })
}

/// One test's slice of the shared environment.
pub struct TestEnv {
    /// A client for the API server (admin credentials), bound to this test's runtime.
    pub kube: Client,
    /// The API server's address as Vault should reach it.
    pub kube_host: String,
    /// The API server's CA bundle (PEM).
    pub kube_ca_pem: String,
    /// The service-account signing public key (PEM), when the sandbox is ours; `None` against
    /// an existing cluster.
    pub kube_sa_public_key_pem: Option<String>,
    /// The admin kubeconfig file.
    pub kubeconfig: PathBuf,
    /// This test's namespace, created fresh.
    pub namespace: String,
    /// A Vault client holding the root (or given admin) token.
    pub vault: Vault,
    /// Vault's address.
    pub vault_addr: String,
    /// The KV v2 mount the tests write under.
    pub kv_mount: String,
    /// This test's path prefix inside `kv_mount`, and the stem for its policy and mount names.
    pub prefix: String,
}

impl TestEnv {
    /// Creates a namespace and a Vault prefix named after `test` plus a unique suffix, on the
    /// shared servers.
    pub async fn new(test: &str) -> TestEnv {
        let shared = shared();
        Self::create(test, &shared.kubeconfig, shared.sa_public_key.as_deref()).await
    }

    /// Like [`TestEnv::new`], on the kube-sandbox `cluster` instead of the shared one (the Vault is
    /// still the shared one). For tests that change cluster-wide state the other tests rely on.
    pub async fn with_cluster(cluster: &KubeSandbox, test: &str) -> TestEnv {
        Self::create(test, &cluster.kubeconfig, Some(&cluster.sa_public_key)).await
    }

    async fn create(
        test: &str,
        kubeconfig_path: &std::path::Path,
        sa_public_key: Option<&std::path::Path>,
    ) -> TestEnv {
        let shared = shared();
        let id = format!("{}-{}", sanitize(test), unique_suffix());
        let kubeconfig = Kubeconfig::read_from(kubeconfig_path).expect("reading kubeconfig");
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("loading kubeconfig");
        let kube_host = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        let kube_ca_pem = config
            .root_cert
            .as_deref()
            .map(pem_bundle)
            .unwrap_or_default();
        let kube = Client::try_from(config).expect("building the Kubernetes client");
        let ns = Namespace {
            metadata: ::kube::api::ObjectMeta {
                name: Some(id.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<Namespace>::all(kube.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("creating the test namespace");
        let vault = Vault::connect(&VaultConfig::new(shared.vault_addr.clone()))
            .expect("connecting to Vault")
            .with_token(SecretString::from(
                shared.vault_token.expose_secret().to_string(),
            ));
        let kube_sa_public_key_pem = sa_public_key
            .map(|p| std::fs::read_to_string(p).expect("reading the service-account public key"));
        TestEnv {
            kube,
            kube_host,
            kube_ca_pem,
            kube_sa_public_key_pem,
            kubeconfig: kubeconfig_path.to_path_buf(),
            namespace: id.clone(),
            vault,
            vault_addr: shared.vault_addr.clone(),
            kv_mount: shared.kv_mount.clone(),
            prefix: id,
        }
    }

    /// The admin token of the shared Vault (the dev server's root token), for tests that put it
    /// into a Secret for a tokenSecretRef store.
    pub fn root_token(&self) -> SecretString {
        SecretString::from(shared().vault_token.expose_secret().to_string())
    }

    /// A path under this test's prefix.
    pub fn path(&self, rest: &str) -> String {
        format!("{}/{}", self.prefix, rest)
    }
}

/// Lower-case, DNS-label-safe, at most 40 characters.
fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() { "t".to_string() } else { s }
}

fn pem_bundle(ders: &[Vec<u8>]) -> String {
    use base64::Engine;
    let mut out = String::new();
    for der in ders {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}
