//! The loopback Git server of [`ferry_testenv::git`] as a program, for the demo: serves a
//! fresh repository with one commit, accepting only `USERNAME` with the password read from
//! the environment variable `PASSWORD_ENV` (never from the command line). Prints
//! `READY <clone URL>` and serves until killed.

use std::process::ExitCode;

use ferry_testenv::git::GitServer;
use secrecy::SecretString;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [username, password_env] = args.as_slice() else {
        eprintln!("usage: git-server USERNAME PASSWORD_ENV");
        return ExitCode::from(2);
    };
    let Ok(password) = std::env::var(password_env) else {
        eprintln!("git-server: {password_env} is not set");
        return ExitCode::from(2);
    };
    let server = match GitServer::start(username, SecretString::from(password)) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("git-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("READY {}", server.url);
    loop {
        std::thread::park();
    }
}
