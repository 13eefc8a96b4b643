//! A real OpenLDAP server for Vault's LDAP auth method: Debian's `slapd` (package `slapd`,
//! installed by `scripts/os-packages.sh`) on a free loopback port, with a data directory and
//! a `slapd.conf` of its own, loaded with `slapadd` before it starts: the suffix
//! `dc=ferry,dc=test`, the organisational unit `ou=people` and one `inetOrgPerson` per user.
//! Users bind as `uid=<name>,ou=people,dc=ferry,dc=test` with their password. The server stops
//! when dropped, and dies with the test process.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};

use crate::process::{Server, free_port};

/// The directory's suffix.
pub const SUFFIX: &str = "dc=ferry,dc=test";
/// Where the users are.
pub const PEOPLE: &str = "ou=people,dc=ferry,dc=test";

/// The line printed right before slapd starts.
const SPAWNED: &str = "ferry-testenv: starting slapd";

/// A running slapd.
pub struct Ldap {
    /// `ldap://127.0.0.1:<port>`.
    pub url: String,
    _server: Server,
    _dir: tempfile::TempDir,
}

/// The `slapd` binary: `$FERRY_SLAPD`, or Debian's.
fn slapd_binary() -> PathBuf {
    std::env::var_os("FERRY_SLAPD").map_or_else(|| PathBuf::from("/usr/sbin/slapd"), PathBuf::from)
}

impl Ldap {
    /// Starts slapd with one entry per `(user, password)`.
    pub fn start(users: &[(&str, &SecretString)]) -> Result<Ldap, String> {
        let slapd = slapd_binary();
        if !slapd.exists() {
            return Err(format!(
                "slapd not installed at {}: run scripts/os-packages.sh (or set FERRY_SLAPD)",
                slapd.display()
            ));
        }
        let dir = crate::process::scratch_dir();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).map_err(|e| format!("creating {}: {e}", data.display()))?;
        let conf = dir.path().join("slapd.conf");
        std::fs::write(&conf, config(&dir.path().join("slapd.pid"), &data))
            .map_err(|e| format!("writing slapd.conf: {e}"))?;
        let ldif = dir.path().join("entries.ldif");
        write_private(&ldif, &entries(users))?;
        let slapadd = slapd.with_file_name("slapadd");
        let loaded = Command::new(&slapadd)
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(&ldif)
            .output()
            .map_err(|e| format!("running {}: {e}", slapadd.display()))?;
        // The LDIF holds the passwords: it goes as soon as the entries are in.
        let _ = std::fs::remove_file(&ldif);
        if !loaded.status.success() {
            let stderr = String::from_utf8_lossy(&loaded.stderr);
            return Err(format!("slapadd failed: {}", stderr.trim()));
        }
        let port = free_port();
        let url = format!("ldap://127.0.0.1:{port}");
        // `-d` keeps slapd in the foreground (so it dies with the test process) and logs
        // connections and operations (256) to the log. It prints no line of its own to wait
        // for (its debug lines start with a timestamp), so the shell prints one before it
        // becomes slapd, and the port tells when it listens.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo \"$1\"; exec \"$0\" -f \"$2\" -h \"$3\" -d 256"])
            .arg(&slapd)
            .arg(SPAWNED)
            .arg(&conf)
            .arg(format!("{url}/"));
        let log = dir.path().join("slapd.log");
        let (server, _) = Server::start(cmd, &log, SPAWNED, Duration::from_secs(10))?;
        wait_for_port(port, Duration::from_secs(15))
            .map_err(|e| format!("{e} (log: {})", server.log().display()))?;
        Ok(Ldap {
            url,
            _server: server,
            _dir: dir,
        })
    }

    /// The DN a user binds as.
    pub fn user_dn(user: &str) -> String {
        format!("uid={user},{PEOPLE}")
    }
}

/// A `slapd.conf` with the core schemas and one MDB database for [`SUFFIX`], readable by
/// anyone who binds (Vault binds as the user, then reads the user's entry).
fn config(pid: &std::path::Path, data: &std::path::Path) -> String {
    format!(
        "include /etc/ldap/schema/core.schema\n\
         include /etc/ldap/schema/cosine.schema\n\
         include /etc/ldap/schema/inetorgperson.schema\n\
         pidfile {pid}\n\
         modulepath /usr/lib/ldap\n\
         moduleload back_mdb\n\
         database mdb\n\
         maxsize 10485760\n\
         suffix \"{SUFFIX}\"\n\
         directory {data}\n\
         access to attrs=userPassword by anonymous auth by * none\n\
         access to * by users read by * none\n",
        pid = pid.display(),
        data = data.display(),
    )
}

/// The entries: the suffix, `ou=people` and one person per user.
fn entries(users: &[(&str, &SecretString)]) -> String {
    let mut ldif = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: ferry\ndc: ferry\n\n\
         dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n"
    );
    for (user, password) in users {
        ldif.push_str(&format!(
            "dn: {dn}\nobjectClass: inetOrgPerson\nuid: {user}\ncn: {user}\nsn: {user}\n\
             userPassword: {password}\n\n",
            dn = Ldap::user_dn(user),
            password = password.expose_secret(),
        ));
    }
    ldif
}

/// Writes a file only its owner can read.
fn write_private(path: &std::path::Path, content: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("creating {}: {e}", path.display()))?;
    file.write_all(content.as_bytes())
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
fn wait_for_port(port: u16, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "slapd did not listen on port {port} within {timeout:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
