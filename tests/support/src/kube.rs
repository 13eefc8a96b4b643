//! A real Kubernetes control plane: the Go program under `tests/kube-sandbox` (embedded etcd,
//! kube-apiserver, kube-controller-manager) started on loopback. Stopped when dropped.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::process::Server;

/// A running kube-sandbox.
pub struct KubeSandbox {
    /// Admin kubeconfig written by the sandbox.
    pub kubeconfig: PathBuf,
    /// The service-account signing key's public half (PEM), for Vault's JWT auth.
    pub sa_public_key: PathBuf,
    /// The process; dropping it stops the control plane.
    _server: Server,
    _dir: tempfile::TempDir,
}

/// The kube-sandbox binary: `$FERRY_KUBE_SANDBOX`, or the one `tests/kube-sandbox/build.sh`
/// builds.
pub fn sandbox_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FERRY_KUBE_SANDBOX") {
        return PathBuf::from(path);
    }
    let path = crate::sandbox_bin_dir().join("kube-sandbox");
    assert!(
        path.exists(),
        "kube-sandbox not built at {}: run scripts/sandbox-tools.sh (or set FERRY_KUBE_SANDBOX)",
        path.display()
    );
    path
}

impl KubeSandbox {
    /// Starts etcd, kube-apiserver and kube-controller-manager and waits until the API server is
    /// ready and the service-account controller has run.
    pub fn start() -> KubeSandbox {
        let dir = crate::process::scratch_dir();
        let data = dir.path().join("data");
        let mut cmd = Command::new(sandbox_binary());
        cmd.arg(format!("--data-dir={}", data.display()));
        let (server, kubeconfig) = Server::start(
            cmd,
            &dir.path().join("sandbox.log"),
            "READY ",
            Duration::from_secs(90),
        )
        .unwrap_or_else(|e| panic!("starting kube-sandbox: {e}"));
        KubeSandbox {
            kubeconfig: PathBuf::from(kubeconfig),
            sa_public_key: data.join("sa.pub"),
            _server: server,
            _dir: dir,
        }
    }
}
