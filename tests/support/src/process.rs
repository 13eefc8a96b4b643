//! Child processes that cannot outlive the test binary.
//!
//! Each server runs under a guardian thread that spawned it with `PR_SET_PDEATHSIG`: the kernel
//! kills the server when that thread ends, which happens when the owning [`Server`] is dropped
//! or when the test process dies for any reason (including SIGKILL). Standard output is drained
//! into a log file, and the start-up waits for a marker line the server prints when ready.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running server process; dropping it stops the process.
pub struct Server {
    stop: Option<mpsc::Sender<()>>,
    guardian: Option<std::thread::JoinHandle<()>>,
    log: PathBuf,
}

impl Server {
    /// Starts `cmd`, waits up to `timeout` for a stdout line that starts with `marker`, and
    /// returns the server with the rest of that line. Output goes to `log`.
    pub fn start(
        mut cmd: Command,
        log: &Path,
        marker: &'static str,
        timeout: Duration,
    ) -> Result<(Server, String), String> {
        let log_path = log.to_path_buf();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<String, String>>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let name = format!("{:?}", cmd.get_program());
        let guardian_log = log_path.clone();
        let guardian = std::thread::Builder::new()
            .name(format!("guardian {name}"))
            .spawn(move || guard(&mut cmd, &guardian_log, marker, ready_tx, stop_rx))
            .map_err(|e| format!("spawning guardian thread: {e}"))?;
        let server = Server {
            stop: Some(stop_tx),
            guardian: Some(guardian),
            log: log_path,
        };
        match ready_rx.recv_timeout(timeout) {
            Ok(Ok(rest)) => Ok((server, rest)),
            Ok(Err(err)) => Err(format!("{name}: {err} (log: {})", server.log.display())),
            Err(_) => Err(format!(
                "{name}: not ready within {timeout:?} (log: {})",
                server.log.display()
            )),
        }
    }

    /// Path of the file that holds the server's output.
    pub fn log(&self) -> &Path {
        &self.log
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(guardian) = self.guardian.take() {
            let _ = guardian.join();
        }
    }
}

fn guard(
    cmd: &mut Command,
    log: &Path,
    marker: &'static str,
    ready: mpsc::Sender<Result<String, String>>,
    stop: mpsc::Receiver<()>,
) {
    let mut out = match std::fs::File::create(log) {
        Ok(f) => f,
        Err(e) => {
            let _ = ready.send(Err(format!("creating log {}: {e}", log.display())));
            return;
        }
    };
    let stderr = match out.try_clone() {
        Ok(f) => f,
        Err(e) => {
            let _ = ready.send(Err(format!("cloning log handle: {e}")));
            return;
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr);
    die_with_this_thread(cmd);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(format!("spawning: {e}")));
            return;
        }
    };
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut ready = Some(ready);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = writeln!(out, "{line}");
                if let Some(rest) = line.trim_start().strip_prefix(marker)
                    && let Some(tx) = ready.take()
                {
                    let _ = tx.send(Ok(rest.trim().to_string()));
                }
            }
            if let Some(tx) = ready.take() {
                let _ = tx.send(Err("exited before it was ready".to_string()));
            }
        });
    }
    // Block until the owner drops its end, then stop the child politely, then firmly.
    let _ = stop.recv();
    terminate(&mut child);
}

fn terminate(child: &mut std::process::Child) {
    let pid = child.id() as libc::pid_t;
    #[allow(unsafe_code)]
    // SAFETY: kill(2) on a pid we spawned and have not reaped yet.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    for _ in 0..50 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn die_with_this_thread(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    #[allow(unsafe_code)]
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no Rust state.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A free TCP port on 127.0.0.1 (the listener is closed before returning).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding an ephemeral port on 127.0.0.1")
}

/// A scratch directory for one server's data, `<tmp>/ferry-testenv/<pid>-<random>`.
///
/// The servers of a test binary live as long as the process, so their `TempDir`s are never
/// dropped and the directories (etcd alone writes ~120 MiB) would pile up run after run.
/// Directories whose owning process has exited are removed here first.
pub fn scratch_dir() -> tempfile::TempDir {
    let base = std::env::temp_dir().join("ferry-testenv");
    std::fs::create_dir_all(&base).unwrap_or_else(|e| panic!("creating {}: {e}", base.display()));
    remove_orphans(&base);
    tempfile::Builder::new()
        .prefix(&format!("{}-", std::process::id()))
        .tempdir_in(&base)
        .unwrap_or_else(|e| panic!("creating a directory under {}: {e}", base.display()))
}

/// Removes the scratch directories of test processes that no longer run.
fn remove_orphans(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
