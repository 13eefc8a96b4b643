//! `age-keygen` for the demo, where the real tool may be missing: writes a new age x25519
//! identity to the file given as the only argument (created with mode 0600, never
//! overwritten) and prints its public recipient (`age1…`) on stdout.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::process::ExitCode;

use age::secrecy::ExposeSecret;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: age-keygen IDENTITY_FILE");
        return ExitCode::from(2);
    };
    let identity = age::x25519::Identity::generate();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path);
    let written = file.and_then(|mut f| {
        writeln!(f, "# created by ferry-testenv age-keygen")?;
        writeln!(f, "# public key: {}", identity.to_public())?;
        writeln!(f, "{}", identity.to_string().expose_secret())?;
        f.sync_all()
    });
    if let Err(e) = written {
        eprintln!("age-keygen: writing {}: {e}", path.to_string_lossy());
        return ExitCode::FAILURE;
    }
    println!("{}", identity.to_public());
    ExitCode::SUCCESS
}
