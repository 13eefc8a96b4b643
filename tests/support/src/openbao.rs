//! Real OpenBao servers: a dev-mode server with a known root token (optionally with a second,
//! TLS listener that requires client certificates), and an uninitialised, persistent-storage
//! server for init and unseal tests. All are stopped when dropped.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use secrecy::SecretString;

use crate::process::{Server, free_port};

/// A running OpenBao server.
pub struct OpenBao {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// `https://127.0.0.1:<port>` of the TLS listener, for [`OpenBao::dev_with_tls`].
    pub tls_address: Option<String>,
    /// The root token, for dev-mode servers (init creates one for the others).
    pub root_token: Option<SecretString>,
    /// The process; dropping it stops the server.
    _server: Server,
    _dir: tempfile::TempDir,
}

/// The `bao` binary: `$FERRY_BAO`, or the one `scripts/sandbox-tools.sh` installs.
pub fn bao_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FERRY_BAO") {
        return PathBuf::from(path);
    }
    let path = crate::sandbox_bin_dir().join("bao");
    assert!(
        path.exists(),
        "OpenBao not installed at {}: run scripts/sandbox-tools.sh (or set FERRY_BAO)",
        path.display()
    );
    path
}

/// An OpenBao with the LDAP auth method built in: `$FERRY_BAO_LDAP`, or the one
/// `scripts/sandbox-tools.sh` installs as `bao-ldap` (OpenBao 2.7 moved LDAP auth out of the
/// main binary into an external plugin; 2.6.2 is the last release that builds it in).
pub fn ldap_bao_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FERRY_BAO_LDAP") {
        return PathBuf::from(path);
    }
    let path = crate::sandbox_bin_dir().join("bao-ldap");
    assert!(
        path.exists(),
        "OpenBao with LDAP auth not installed at {}: run scripts/sandbox-tools.sh (or set \
         FERRY_BAO_LDAP)",
        path.display()
    );
    path
}

const STARTED: &str = "==> OpenBao server started!";

impl OpenBao {
    /// Starts `bao server -dev` on a free loopback port with a random root token. KV v2 is
    /// mounted at `secret/`.
    pub fn dev() -> OpenBao {
        Self::dev_with_config(&bao_binary(), None)
    }

    /// [`OpenBao::dev`] from [`ldap_bao_binary`], for tests of the LDAP auth method.
    pub fn dev_with_ldap_auth() -> OpenBao {
        Self::dev_with_config(&ldap_bao_binary(), None)
    }

    /// [`OpenBao::dev`] with a second listener that speaks TLS with the PKI's server
    /// certificate and requires a client certificate issued by its client CA (as a production
    /// listener does for TLS certificate auth). Its address is [`OpenBao::tls_address`].
    pub fn dev_with_tls(pki: &crate::pki::TestPki) -> OpenBao {
        let (port, cluster_port) = (free_port(), free_port());
        let listener = format!(
            r#"listener "tcp" {{
  address = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cluster_port}"
  tls_cert_file = "{cert}"
  tls_key_file = "{key}"
  tls_client_ca_file = "{client_ca}"
  tls_require_and_verify_client_cert = true
}}
"#,
            cert = pki.file("server.pem").display(),
            key = pki.file("server.key").display(),
            client_ca = pki.file("client-ca.pem").display(),
        );
        let mut bao = Self::dev_with_config(&bao_binary(), Some(&listener));
        bao.tls_address = Some(format!("https://127.0.0.1:{port}"));
        bao
    }

    /// A dev server of `binary`, with `config` (HCL) as an extra configuration file when given.
    fn dev_with_config(binary: &std::path::Path, config: Option<&str>) -> OpenBao {
        let dir = crate::process::scratch_dir();
        let port = free_port();
        let token = format!("root-{}", crate::unique_suffix());
        let mut cmd = Command::new(binary);
        cmd.args([
            "server",
            "-dev",
            "-dev-no-store-token",
            &format!("-dev-root-token-id={token}"),
            &format!("-dev-listen-address=127.0.0.1:{port}"),
        ])
        .env("HOME", dir.path());
        if let Some(config) = config {
            let path = dir.path().join("extra.hcl");
            std::fs::write(&path, config).expect("writing OpenBao's extra config");
            cmd.arg(format!("-config={}", path.display()));
        }
        let (server, _) = Server::start(
            cmd,
            &dir.path().join("bao.log"),
            STARTED,
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("starting OpenBao dev server: {e}"));
        OpenBao {
            address: format!("http://127.0.0.1:{port}"),
            tls_address: None,
            root_token: Some(SecretString::from(token)),
            _server: server,
            _dir: dir,
        }
    }

    /// Starts an uninitialised OpenBao with integrated (raft) storage in a fresh temporary directory.
    pub fn uninitialised() -> OpenBao {
        Self::uninitialised_with_listener("")
    }

    /// [`OpenBao::uninitialised`] with extra settings in its `listener "tcp"` block, e.g.
    /// `disable_unauthed_generate_root_endpoints = false` (OpenBao 2.5.3+ disables the
    /// unauthenticated `sys/generate-root` endpoints unless a listener allows them).
    pub fn uninitialised_with_listener(extra: &str) -> OpenBao {
        let dir = crate::process::scratch_dir();
        let port = free_port();
        let cluster_port = free_port();
        let config = format!(
            r#"storage "raft" {{
  path = "{storage}"
  node_id = "ferry-test"
  performance_multiplier = 1
}}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cluster_port}"
  tls_disable = true
  {extra}
}}
api_addr = "http://127.0.0.1:{port}"
cluster_addr = "http://127.0.0.1:{cluster_port}"
disable_mlock = true
ui = false
"#,
            storage = dir.path().join("data").display()
        );
        std::fs::create_dir_all(dir.path().join("data")).expect("creating the storage directory");
        let config_path = dir.path().join("bao.hcl");
        std::fs::write(&config_path, config).expect("writing OpenBao config");
        let mut cmd = Command::new(bao_binary());
        cmd.args(["server", &format!("-config={}", config_path.display())]);
        let (server, _) = Server::start(
            cmd,
            &dir.path().join("bao.log"),
            STARTED,
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("starting OpenBao persistent-storage server: {e}"));
        OpenBao {
            address: format!("http://127.0.0.1:{port}"),
            tls_address: None,
            root_token: None,
            _server: server,
            _dir: dir,
        }
    }
}

/// Waits until an unsealed server is the active node and accepts writes. Right after unseal,
/// integrated storage elects itself leader, and until then requests fail with "local node not
/// active but active cluster node not found"; `sys/health` answers 200 only once it is active.
/// A token write (create and revoke a child token) then proves writes go through.
pub async fn wait_until_active(root: &ferry_vault::Vault) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let health = root.raw(Default::default(), "sys/health", None).await;
        let write = async {
            let child = root
                .create_token(&ferry_vault::TokenRequest::default())
                .await?;
            root.revoke_token(&child.client_token).await
        };
        let result = match health {
            Ok(_) => write.await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => return,
            Err(e) if std::time::Instant::now() > deadline => {
                panic!("OpenBao did not become active within 30 s: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
