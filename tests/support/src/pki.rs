//! Test certificates made with the `openssl` command line: a server CA and a certificate for
//! `127.0.0.1` signed by it, and a client CA and a client certificate signed by that, for
//! TLS listeners that require client certificates (Vault's TLS certificate auth). Keys are
//! ECDSA P-256 in PKCS#8 PEM; everything lives in a temporary directory of its own.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The certificates and keys, as files and as PEM text.
pub struct TestPki {
    /// The directory holding every file.
    pub dir: tempfile::TempDir,
}

/// The extensions of each certificate (`openssl x509 -extfile`).
const CA_EXT: &str = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";
const SERVER_EXT: &str = "basicConstraints=critical,CA:FALSE\n\
                          keyUsage=critical,digitalSignature,keyEncipherment\n\
                          extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n";
const CLIENT_EXT: &str = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                          extendedKeyUsage=clientAuth\n";

impl TestPki {
    /// Generates the two CAs and the two leaf certificates (valid for two days).
    pub fn generate() -> Result<TestPki, String> {
        let dir = crate::process::scratch_dir();
        let pki = TestPki { dir };
        for (name, ext) in [
            ("ca", CA_EXT),
            ("server", SERVER_EXT),
            ("client", CLIENT_EXT),
        ] {
            std::fs::write(pki.file(&format!("{name}.ext")), ext)
                .map_err(|e| format!("writing {name}.ext: {e}"))?;
        }
        for name in ["server-ca", "server", "client-ca", "client"] {
            pki.openssl(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &format!("{name}.key"),
            ])?;
        }
        pki.sign("server-ca", None, "ferry-test-server-ca", "ca.ext", "0x11")?;
        pki.sign("client-ca", None, "ferry-test-client-ca", "ca.ext", "0x21")?;
        pki.sign(
            "server",
            Some("server-ca"),
            "127.0.0.1",
            "server.ext",
            "0x12",
        )?;
        pki.sign(
            "client",
            Some("client-ca"),
            "ferry-test-client",
            "client.ext",
            "0x22",
        )?;
        Ok(pki)
    }

    /// A file of the PKI: `server-ca.pem`, `server.pem`, `server.key`, `client-ca.pem`,
    /// `client.pem`, `client.key`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The PEM text of one of [`TestPki::file`]'s files.
    pub fn pem(&self, name: &str) -> String {
        std::fs::read_to_string(self.file(name))
            .unwrap_or_else(|e| panic!("reading {}: {e}", self.file(name).display()))
    }

    /// Signs `<name>.key` into `<name>.pem`: by `<issuer>` (its key and certificate), or
    /// self-signed.
    fn sign(
        &self,
        name: &str,
        issuer: Option<&str>,
        cn: &str,
        ext: &str,
        serial: &str,
    ) -> Result<(), String> {
        let csr = format!("{name}.csr");
        let (key, subject) = (format!("{name}.key"), format!("/CN={cn}"));
        self.openssl(&["req", "-new", "-key", &key, "-subj", &subject, "-out", &csr])?;
        let out = format!("{name}.pem");
        let mut args = vec!["x509", "-req", "-in", &csr, "-days", "2", "-extfile", ext];
        args.extend(["-set_serial", serial, "-out", &out]);
        let (issuer_pem, issuer_key);
        match issuer {
            Some(issuer) => {
                issuer_pem = format!("{issuer}.pem");
                issuer_key = format!("{issuer}.key");
                args.extend(["-CA", &issuer_pem, "-CAkey", &issuer_key]);
            }
            None => args.extend(["-signkey", &key]),
        }
        self.openssl(&args)
    }

    fn openssl(&self, args: &[&str]) -> Result<(), String> {
        run_openssl(self.dir.path(), args)
    }
}

fn run_openssl(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("running openssl (is it installed?): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {}: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
