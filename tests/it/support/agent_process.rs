//! Running the real `ferry agent` binary as a child process in tests: start it with flags and
//! environment, scrape its HTTP endpoints, send it SIGTERM or SIGKILL. A process still running
//! when its handle is dropped is killed.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A running `ferry` process.
pub struct AgentProcess {
    child: Child,
    /// `127.0.0.1:<port>` of its metrics server.
    pub metrics: String,
    /// Its log file (stderr).
    pub log: PathBuf,
}

impl AgentProcess {
    /// Starts `ferry agent` with `args` (the metrics address is added) and extra `envs`; stderr
    /// goes to `log_dir/<name>.log`.
    pub fn start(name: &str, log_dir: &Path, args: &[String], envs: &[(&str, String)]) -> Self {
        Self::start_with(
            Command::new(env!("CARGO_BIN_EXE_ferry")),
            name,
            log_dir,
            args,
            envs,
        )
    }

    /// Like [`AgentProcess::start`], with a prepared command (e.g. a wrapper that runs
    /// `ferry` in a private mount namespace); `ferry agent` and `args` are appended.
    pub fn start_with(
        mut cmd: Command,
        name: &str,
        log_dir: &Path,
        args: &[String],
        envs: &[(&str, String)],
    ) -> Self {
        let port = ferry_testenv::process::free_port();
        let metrics = format!("127.0.0.1:{port}");
        let log = log_dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).unwrap();
        cmd.arg("agent")
            .args(args)
            .arg(format!("--metrics-addr={metrics}"))
            .env(
                "FERRY_LOG",
                "info,ferry_agent=debug,rustify=off,vaultrs=off",
            )
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        AgentProcess {
            child,
            metrics,
            log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: the process dies at once, without any clean-up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits up to `timeout` for the exit status.
    pub async fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the agent did not exit within {timeout:?} of SIGTERM; log: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether it has exited, and how.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Its log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET `path` from its metrics server: (status code, body), or `None` when it does not
    /// answer (yet).
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(&self.metrics, path).await
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.kill();
        }
    }
}

/// A minimal HTTP/1.0 GET.
pub async fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.ok()?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// The value of an unlabelled sample `name` in a Prometheus text body.
pub fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}
