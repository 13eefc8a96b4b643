//! A real Git server on loopback that requires HTTP basic auth.
//!
//! Git's own smart-HTTP server, `git http-backend`, runs as a CGI program behind a small axum
//! server. Every request must carry the configured user name and password; anything else gets
//! `401` with `WWW-Authenticate: Basic`, which is what makes `git clone` a real proof that a set
//! of credentials works. The server serves one bare repository, `repo.git`, created with one
//! commit, and refuses pushes.
//!
//! The server runs on its own thread and Tokio runtime, so a test may call a blocking
//! `git clone` from any context. Dropping [`GitServer`] stops it and removes the repository.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, header};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::AsyncWriteExt;

/// The CGI program that implements Git's smart HTTP protocol.
pub const HTTP_BACKEND: &str = "/usr/lib/git-core/git-http-backend";

/// The largest request body accepted (a clone's negotiation is a few kilobytes).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// A running loopback Git server; dropping it stops the server.
pub struct GitServer {
    /// The clone URL of the served repository, without credentials, e.g.
    /// `http://127.0.0.1:41234/repo.git`.
    pub url: String,
    /// The served repository's one commit (hex object id).
    pub head: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _root: tempfile::TempDir,
}

/// What every request handler needs.
struct Served {
    root: PathBuf,
    username: String,
    password: SecretString,
}

impl GitServer {
    /// Creates a bare repository with one commit and serves it on a free loopback port,
    /// accepting only `username` with `password`.
    pub fn start(username: &str, password: SecretString) -> Result<GitServer, String> {
        let root = tempfile::Builder::new()
            .prefix("ferry-git-")
            .tempdir()
            .map_err(|e| format!("creating the repository directory: {e}"))?;
        let head = create_repository(root.path())?;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| format!("binding a loopback port: {e}"))?;
        std_listener
            .set_nonblocking(true)
            .map_err(|e| format!("configuring the listener: {e}"))?;
        let addr: SocketAddr = std_listener
            .local_addr()
            .map_err(|e| format!("reading the listener's address: {e}"))?;
        let served = Arc::new(Served {
            root: root.path().to_path_buf(),
            username: username.to_owned(),
            password,
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let thread = std::thread::Builder::new()
            .name("git-server".into())
            .spawn(move || serve(std_listener, served, stop_rx, ready_tx))
            .map_err(|e| format!("spawning the server thread: {e}"))?;
        ready_rx
            .recv()
            .map_err(|_| "the git server thread ended before it was ready".to_owned())??;
        Ok(GitServer {
            url: format!("http://{addr}/repo.git"),
            head,
            stop: Some(stop_tx),
            thread: Some(thread),
            _root: root,
        })
    }

    /// The clone URL with `username` and `password` in it, for `git clone`. Never print it.
    pub fn url_with_credentials(&self, username: &str, password: &str) -> SecretString {
        let enc = |s: &str| percent_encode(s);
        let rest = self.url.trim_start_matches("http://");
        SecretString::from(format!("http://{}:{}@{rest}", enc(username), enc(password)))
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs the HTTP server until `stop` fires.
fn serve(
    listener: std::net::TcpListener,
    served: Arc<Served>,
    stop: tokio::sync::oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(format!("building the server runtime: {e}")));
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(format!("registering the listener: {e}")));
                return;
            }
        };
        let app = Router::new().fallback(handle).with_state(served);
        let _ = ready.send(Ok(()));
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.await;
            })
            .await;
    });
}

/// Checks the credentials, then hands the request to `git http-backend`.
async fn handle(State(served): State<Arc<Served>>, request: Request<Body>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    if !authorised(&parts.headers, &served) {
        let mut response = error(StatusCode::UNAUTHORIZED, "authentication required");
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"ferry-test\""),
        );
        return response;
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return error(StatusCode::BAD_REQUEST, "unreadable request body"),
    };
    match run_backend(&served, &parts.method, &parts.uri, &parts.headers, body).await {
        Ok(response) => response,
        Err(message) => error(StatusCode::INTERNAL_SERVER_ERROR, &message),
    }
}

/// Whether the request carries exactly the configured basic-auth credentials.
fn authorised(headers: &HeaderMap, served: &Served) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return false;
    };
    match decoded.split_once(':') {
        Some((user, password)) => {
            user == served.username && password == served.password.expose_secret()
        }
        None => false,
    }
}

/// Runs the CGI program for one request and turns its output into a response.
async fn run_backend(
    served: &Served,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response<Body>, String> {
    let header_str = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut cmd = tokio::process::Command::new(HTTP_BACKEND);
    cmd.env_clear()
        .env("GIT_PROJECT_ROOT", &served.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", method.as_str())
        .env("PATH_INFO", uri.path())
        .env("QUERY_STRING", uri.query().unwrap_or_default())
        .env("CONTENT_TYPE", header_str(header::CONTENT_TYPE))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env(
            "HTTP_CONTENT_ENCODING",
            header_str(header::CONTENT_ENCODING),
        )
        .env("REMOTE_USER", &served.username)
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Some(protocol) = headers.get("git-protocol").and_then(|v| v.to_str().ok()) {
        cmd.env("GIT_PROTOCOL", protocol);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("starting {HTTP_BACKEND}: {e}"))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or("the backend's stdin is not piped")?;
    let feed = async move {
        let written = stdin.write_all(&body).await;
        drop(stdin);
        written
    };
    let (fed, output) = tokio::join!(feed, child.wait_with_output());
    fed.map_err(|e| format!("writing the request to the backend: {e}"))?;
    let output = output.map_err(|e| format!("running the backend: {e}"))?;
    cgi_response(&output.stdout)
}

/// Parses CGI output: header lines, a blank line, then the body.
fn cgi_response(out: &[u8]) -> Result<Response<Body>, String> {
    let (head, body) = split_head(out).ok_or("the backend wrote no header block")?;
    let head = std::str::from_utf8(head).map_err(|_| "the backend's headers are not UTF-8")?;
    let mut response = Response::builder().status(StatusCode::OK);
    for line in head.lines().filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or("a malformed header line from the backend")?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or_default();
            let code = code
                .parse::<u16>()
                .map_err(|_| "a malformed Status line from the backend")?;
            response = response.status(code);
        } else {
            response = response.header(name.trim(), value);
        }
    }
    response
        .body(Body::from(body.to_vec()))
        .map_err(|e| format!("building the response: {e}"))
}

/// Splits at the first empty line (`\r\n\r\n` or `\n\n`).
fn split_head(out: &[u8]) -> Option<(&[u8], &[u8])> {
    let crlf = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    let lf = out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let (at, len) = match (crlf, lf) {
        (Some(a), Some(b)) => {
            if a.0 <= b.0 {
                a
            } else {
                b
            }
        }
        (a, b) => a.or(b)?,
    };
    Some((&out[..at], &out[at + len..]))
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(message.to_owned()));
    *response.status_mut() = status;
    response
}

/// Creates `root/repo.git` (bare) holding one commit with a README; returns the commit id.
pub(crate) fn create_repository(root: &Path) -> Result<String, String> {
    let work = root.join("work");
    std::fs::create_dir(&work).map_err(|e| format!("creating the work tree: {e}"))?;
    std::fs::write(
        work.join("README.md"),
        "Served by Ferry's test git server.\n",
    )
    .map_err(|e| format!("writing the README: {e}"))?;
    git(&work, &["init", "--quiet", "--initial-branch=main"])?;
    git(&work, &["add", "README.md"])?;
    git(
        &work,
        &[
            "-c",
            "user.name=Ferry Test",
            "-c",
            "user.email=test@ferry.invalid",
            "commit",
            "--quiet",
            "-m",
            "initial commit",
        ],
    )?;
    let bare = root.join("repo.git");
    git(
        root,
        &[
            "clone",
            "--quiet",
            "--bare",
            &work.to_string_lossy(),
            &bare.to_string_lossy(),
        ],
    )?;
    git(&bare, &["config", "http.receivepack", "false"])?;
    let head = git(&bare, &["rev-parse", "HEAD"])?;
    Ok(head.trim().to_owned())
}

/// Runs `git` in `dir` with a clean configuration; returns its standard output.
pub(crate) fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| format!("running git {}: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "git {} failed: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `git clone` of `url` into `dest` without any credential helper or prompt. Returns
/// whether it succeeded; git's output is discarded (a URL with credentials may appear in it).
pub fn clone(url: &SecretString, dest: &Path) -> bool {
    Command::new("git")
        .args(["clone", "--quiet", url.expose_secret()])
        .arg(dest)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "/bin/false")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for URL user info).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> GitServer {
        GitServer::start("flux", SecretString::from("s3cr:et/p@ss".to_owned())).unwrap()
    }

    #[test]
    fn clone_with_the_right_credentials_succeeds() {
        let server = server();
        let dest = tempfile::tempdir().unwrap();
        let url = server.url_with_credentials("flux", "s3cr:et/p@ss");
        assert!(clone(&url, &dest.path().join("repo")));
        let head = git(&dest.path().join("repo"), &["rev-parse", "HEAD"]).unwrap();
        assert_eq!(head.trim(), server.head);
        assert!(dest.path().join("repo/README.md").exists());
    }

    #[test]
    fn clone_without_or_with_wrong_credentials_fails() {
        let server = server();
        let dest = tempfile::tempdir().unwrap();
        let anonymous = SecretString::from(server.url.clone());
        assert!(!clone(&anonymous, &dest.path().join("a")));
        let wrong = server.url_with_credentials("flux", "wrong");
        assert!(!clone(&wrong, &dest.path().join("b")));
        let wrong_user = server.url_with_credentials("someone", "s3cr:et/p@ss");
        assert!(!clone(&wrong_user, &dest.path().join("c")));
    }

    #[test]
    fn unauthenticated_requests_get_a_basic_challenge() {
        let server = server();
        let addr = server
            .url
            .trim_start_matches("http://")
            .trim_end_matches("/repo.git");
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "GET /repo.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 401"), "{reply}");
        assert!(
            reply
                .to_ascii_lowercase()
                .contains("www-authenticate: basic")
        );
    }

    #[test]
    fn cgi_output_is_parsed() {
        let r =
            cgi_response(b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope").unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = cgi_response(b"Content-Type: x\n\nbody").unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(cgi_response(b"no header block").is_err());
    }
}
