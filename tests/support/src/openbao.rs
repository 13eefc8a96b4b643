//! Real OpenBao servers: a dev-mode server with a known root token, and an uninitialised,
//! persistent-storage server for init and unseal tests. Both are stopped when dropped.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use secrecy::SecretString;

use crate::process::{Server, free_port};

/// A running OpenBao server.
pub struct OpenBao {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
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

const STARTED: &str = "==> OpenBao server started!";

impl OpenBao {
    /// Starts `bao server -dev` on a free loopback port with a random root token. KV v2 is
    /// mounted at `secret/`.
    pub fn dev() -> OpenBao {
        let dir = crate::process::scratch_dir();
        let port = free_port();
        let token = format!("root-{}", crate::unique_suffix());
        let mut cmd = Command::new(bao_binary());
        cmd.args([
            "server",
            "-dev",
            "-dev-no-store-token",
            &format!("-dev-root-token-id={token}"),
            &format!("-dev-listen-address=127.0.0.1:{port}"),
        ])
        .env("HOME", dir.path());
        let (server, _) = Server::start(
            cmd,
            &dir.path().join("bao.log"),
            STARTED,
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("starting OpenBao dev server: {e}"));
        OpenBao {
            address: format!("http://127.0.0.1:{port}"),
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
