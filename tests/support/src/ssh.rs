//! A real Git server over SSH on loopback: Debian's OpenSSH server (`sshd`) with a
//! configuration of its own, serving bare repositories to one client key.
//!
//! Every server gets a scratch directory with a fresh ed25519 host key, a fresh ed25519
//! client key (only its public half stays on disk, in `authorized_keys`), an `sshd_config`
//! and a small forced command. The server listens on a free loopback port and runs as the
//! current user: public-key login as that user is the only way in (root is allowed with a
//! key, `StrictModes` is off because the scratch directory lives under `/tmp`). The forced
//! command serves exactly `git-upload-pack` and `git-receive-pack` on the repositories in
//! [`SshGitServer::repos_dir`]; anything else, a shell included, is refused.
//!
//! A `git clone` with [`clone`] uses exactly one identity and one `known_hosts` file with
//! strict host key checking, no agent and no user configuration, so it is a real proof that
//! a pair of `identity` + `known_hosts` values works.
//!
//! `sshd` comes from Debian's `openssh-server` package (`scripts/os-packages.sh` installs
//! it); `$FERRY_SSHD` names another binary. The private key is held in a [`SecretString`]
//! and written to disk only for the duration of one `git` call, mode 0600.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::process::{Server, free_port};

/// Where Debian's `openssh-server` installs the daemon.
pub const DEFAULT_SSHD: &str = "/usr/sbin/sshd";

/// The line `sshd -D -e` prints once it listens.
const LISTENING: &str = "Server listening on ";

/// A running SSH Git server; dropping it stops `sshd` and removes its directory.
pub struct SshGitServer {
    /// The clone URL of the served repository, e.g. `ssh://root@127.0.0.1:40022/repo.git`.
    pub url: String,
    /// The served repository's one commit (hex object id).
    pub head: String,
    /// The `known_hosts` line for this server's host key, e.g.
    /// `[127.0.0.1]:40022 ssh-ed25519 AAAA…`.
    pub known_hosts: String,
    /// The loopback port.
    pub port: u16,
    identity: SecretString,
    _server: Server,
    dir: tempfile::TempDir,
}

/// The `sshd` binary: `$FERRY_SSHD`, or Debian's.
pub fn sshd_binary() -> PathBuf {
    std::env::var_os("FERRY_SSHD").map_or_else(|| PathBuf::from(DEFAULT_SSHD), PathBuf::from)
}

impl SshGitServer {
    /// Creates a bare repository `repo.git` with one commit, keys and a configuration, and
    /// starts `sshd` on a free loopback port.
    pub fn start() -> Result<SshGitServer, String> {
        let sshd = sshd_binary();
        if !sshd.exists() {
            return Err(format!(
                "{} not found: run scripts/os-packages.sh (Debian's openssh-server) or set FERRY_SSHD",
                sshd.display()
            ));
        }
        privilege_separation_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("ferry-ssh-")
            .tempdir()
            .map_err(|e| format!("creating the server directory: {e}"))?;
        let repos = dir.path().join("repos");
        std::fs::create_dir(&repos).map_err(|e| format!("creating {}: {e}", repos.display()))?;
        let head = crate::git::create_repository(&repos)?;
        let host_key = dir.path().join("host_ed25519");
        keygen(&host_key, "ferry-test-host")?;
        let (identity, public) = generate_key()?;
        write_file(&dir.path().join("authorized_keys"), &public, 0o600)?;
        let serve = dir.path().join("git-serve");
        write_file(&serve, &forced_command(&repos), 0o755)?;
        let user = current_user()?;
        let port = free_port();
        let config = dir.path().join("sshd_config");
        write_file(&config, &sshd_config(dir.path(), port, &user), 0o600)?;
        let mut cmd = Command::new("/bin/sh");
        // `sshd -e` logs to stderr; the readiness line is read from stdout.
        cmd.args(["-c", "exec \"$0\" -D -e -f \"$1\" 2>&1"])
            .arg(&sshd)
            .arg(&config);
        let (server, _) = Server::start(
            cmd,
            &dir.path().join("sshd.log"),
            LISTENING,
            Duration::from_secs(20),
        )?;
        let host_public = std::fs::read_to_string(host_key.with_extension("pub"))
            .map_err(|e| format!("reading the host public key: {e}"))?;
        let known_hosts = known_hosts_line(port, &host_public)?;
        Ok(SshGitServer {
            url: format!("ssh://{user}@127.0.0.1:{port}/repo.git"),
            head,
            known_hosts,
            port,
            identity,
            _server: server,
            dir,
        })
    }

    /// The client's private key (OpenSSH format, ed25519), the only key the server accepts.
    pub fn identity(&self) -> SecretString {
        SecretString::from(self.identity.expose_secret().to_owned())
    }

    /// The directory of the bare repositories served (`repo.git` and any added there); the
    /// URL of `<name>.git` in it is [`SshGitServer::url_of`].
    pub fn repos_dir(&self) -> PathBuf {
        self.dir.path().join("repos")
    }

    /// The clone URL of the bare repository `name` (e.g. `repo.git`) in [`Self::repos_dir`].
    pub fn url_of(&self, name: &str) -> String {
        match self.url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => self.url.clone(),
        }
    }

    /// The server's log (sshd's own lines: connections, accepted and refused keys).
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("sshd.log")
    }
}

/// A fresh ed25519 key pair: the private key (OpenSSH format) and the public key line.
pub fn generate_key() -> Result<(SecretString, String), String> {
    let scratch = tempfile::tempdir().map_err(|e| format!("creating a key directory: {e}"))?;
    let path = scratch.path().join("id_ed25519");
    keygen(&path, "ferry-test-client")?;
    let private = std::fs::read_to_string(&path)
        .map_err(|e| format!("reading the generated private key: {e}"))?;
    let public = std::fs::read_to_string(path.with_extension("pub"))
        .map_err(|e| format!("reading the generated public key: {e}"))?;
    Ok((SecretString::from(private), public))
}

/// Runs `git clone` of `url` into `dest` over SSH with exactly `identity` and the
/// `known_hosts` lines, strict host key checking, no agent and no SSH or Git user
/// configuration. Returns whether it succeeded; output is discarded.
pub fn clone(url: &str, identity: &SecretString, known_hosts: &str, dest: &Path) -> bool {
    let Ok(scratch) = tempfile::tempdir() else {
        return false;
    };
    let key = scratch.path().join("identity");
    let hosts = scratch.path().join("known_hosts");
    if write_file(&key, identity.expose_secret(), 0o600).is_err()
        || write_file(&hosts, known_hosts, 0o600).is_err()
    {
        return false;
    }
    let ssh = format!(
        "ssh -F /dev/null -i '{}' -o IdentitiesOnly=yes -o IdentityAgent=none \
         -o UserKnownHostsFile='{}' -o GlobalKnownHostsFile=/dev/null \
         -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10",
        key.display(),
        hosts.display()
    );
    Command::new("git")
        .args(["clone", "--quiet", url])
        .arg(dest)
        .env("GIT_SSH_COMMAND", ssh)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `[127.0.0.1]:<port> <type> <base64>` from a `.pub` line.
fn known_hosts_line(port: u16, public: &str) -> Result<String, String> {
    let mut fields = public.split_whitespace();
    match (fields.next(), fields.next()) {
        (Some(kind), Some(key)) => Ok(format!("[127.0.0.1]:{port} {kind} {key}")),
        _ => Err("the host public key is malformed".to_owned()),
    }
}

/// The daemon's configuration: loopback only, public keys of `authorized_keys` only, for the
/// current user only, the forced command for every session, no forwarding or TTY.
fn sshd_config(dir: &Path, port: u16, user: &str) -> String {
    let d = dir.display();
    format!(
        "Port {port}
ListenAddress 127.0.0.1
AddressFamily inet
HostKey {d}/host_ed25519
PidFile {d}/sshd.pid
AuthorizedKeysFile {d}/authorized_keys
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
AllowUsers {user}
ForceCommand {d}/git-serve
DisableForwarding yes
PermitTTY no
PermitUserRC no
PermitUserEnvironment no
AcceptEnv GIT_PROTOCOL
MaxStartups 64
LogLevel VERBOSE
"
    )
}

/// The forced command: `git-upload-pack` or `git-receive-pack` on a repository directly
/// in `repos` (a plain name such as `repo.git`), nothing else.
fn forced_command(repos: &Path) -> String {
    format!(
        r#"#!/bin/sh
# Serves git fetch and push on the repositories in one directory; refuses anything else.
set -eu
cmd=${{SSH_ORIGINAL_COMMAND:-}}
case "$cmd" in
  "git-upload-pack '"*"'") verb=git-upload-pack ;;
  "git-receive-pack '"*"'") verb=git-receive-pack ;;
  *) echo "only git fetch and push are served here" >&2; exit 1 ;;
esac
name=${{cmd#"$verb '"}}
name=${{name%"'"}}
name=${{name#/}}
case "$name" in
  ""|.*|*[!A-Za-z0-9._-]*) echo "no such repository" >&2; exit 1 ;;
esac
exec "$verb" '{}'/"$name"
"#,
        repos.display()
    )
}

/// `ssh-keygen -t ed25519` without a passphrase into `path` (and `path.pub`).
fn keygen(path: &Path, comment: &str) -> Result<(), String> {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running ssh-keygen (Debian's openssh-client): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ssh-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The current user's name, which the server lets in.
fn current_user() -> Result<String, String> {
    let out = Command::new("id")
        .arg("-un")
        .output()
        .map_err(|e| format!("running id -un: {e}"))?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() && !name.is_empty() {
        Ok(name)
    } else {
        Err("id -un did not name the current user".to_owned())
    }
}

/// `sshd` started as root needs its privilege separation directory, which Debian's
/// service unit normally creates at boot.
fn privilege_separation_dir() -> Result<(), String> {
    let dir = Path::new("/run/sshd");
    if dir.is_dir() || current_user().ok().as_deref() != Some("root") {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("setting the mode of {}: {e}", dir.display()))
}

/// Writes `text` to a new file `path` created with `mode`.
fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("creating {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn clone_needs_the_identity_and_the_host_key() {
        let server = SshGitServer::start().unwrap();
        let dest = tempfile::tempdir().unwrap();
        let at = |name: &str| dest.path().join(name);
        assert!(
            clone(
                &server.url,
                &server.identity(),
                &server.known_hosts,
                &at("ok")
            ),
            "clone with the server's identity and known_hosts failed (log: {})",
            server.log().display()
        );
        let head = crate::git::git(&at("ok"), &["rev-parse", "HEAD"]).unwrap();
        assert_eq!(head.trim(), server.head);

        let (wrong_key, _) = generate_key().unwrap();
        assert!(!clone(
            &server.url,
            &wrong_key,
            &server.known_hosts,
            &at("k")
        ));

        // Another server's host key for this address: strict checking refuses it.
        let other = tempfile::tempdir().unwrap();
        keygen(&other.path().join("host"), "other").unwrap();
        let other_pub = std::fs::read_to_string(other.path().join("host.pub")).unwrap();
        let wrong_hosts = known_hosts_line(server.port, &other_pub).unwrap();
        assert!(!clone(
            &server.url,
            &server.identity(),
            &wrong_hosts,
            &at("h")
        ));
        // No known_hosts at all: refused too, never trusted on first use.
        assert!(!clone(&server.url, &server.identity(), "", &at("n")));
        // A repository outside the served directory is refused.
        let outside = format!("{}/../{}", server.url.trim_end_matches("/repo.git"), "x");
        assert!(!clone(
            &outside,
            &server.identity(),
            &server.known_hosts,
            &at("o")
        ));
    }

    #[test]
    fn only_git_commands_are_served() {
        let server = SshGitServer::start().unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let key = scratch.path().join("id");
        let hosts = scratch.path().join("kh");
        write_file(&key, server.identity().expose_secret(), 0o600).unwrap();
        write_file(&hosts, &server.known_hosts, 0o600).unwrap();
        let user = server.url.trim_start_matches("ssh://");
        let user = user.split('@').next().unwrap();
        let out = Command::new("ssh")
            .args(["-F", "/dev/null", "-p", &server.port.to_string(), "-i"])
            .arg(&key)
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", hosts.display()))
            .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"])
            .arg(format!("{user}@127.0.0.1"))
            .arg("id")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("only git fetch and push"));
    }
}
