//! The built `ferry verify` binary on temporary Git repositories, with known values read from a
//! real OpenBao (and the cluster check against the real API server): exit codes 0 / 1 / 2, and
//! no value, token or Vault token on stdout or stderr in any format.

// Helpers outside #[test] functions panic on failure just like the tests.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferry_testenv::TestEnv;
use ferry_vault::{ExposeSecret, KvData, KvVersion};
use serde_json::{Value, json};

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(status.status.success(), "git {args:?} failed");
}

/// A repository whose history holds `files` in one commit; `then_delete` removes some again in
/// a second commit, so they are only in history.
fn repo(files: &[(&str, &str)], then_delete: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "first"]);
    if !then_delete.is_empty() {
        for name in then_delete {
            std::fs::remove_file(dir.path().join(name)).unwrap();
        }
        git(dir.path(), &["add", "-A"]);
        git(dir.path(), &["commit", "-q", "-m", "second"]);
    }
    dir
}

/// A classic GitHub token with a valid checksum, assembled so the literal never sits in source.
fn github_token() -> String {
    let random = "Xb7Qk2LmZ9pR4tW8vN3cF6hJ1aS5dG";
    let sum = ferry_verify::github_checksum(random.as_bytes());
    format!("gh{}_{random}{}", "p", String::from_utf8_lossy(&sum))
}

/// Runs `ferry verify` with a clean environment plus `envs`.
fn ferry(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.arg("verify").args(args).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(envs.iter().copied());
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_no_secret(out: &Output, secrets: &[&str]) {
    let all = text(out);
    for s in secrets {
        assert!(!all.contains(s), "output carries a secret value");
    }
}

async fn put(env: &TestEnv, path: &str, key: &str, value: &str) {
    let mut map = serde_json::Map::new();
    map.insert(key.to_owned(), Value::String(value.to_owned()));
    env.vault
        .kv_write(
            &env.kv_mount,
            &env.path(path),
            KvVersion::V2,
            &KvData::new(map),
            None,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn exit_codes_and_no_value_in_any_format() {
    let env = TestEnv::new("verify-cli").await;
    let value = format!("cli-{}-Zq8+tK2/pLm9", env.prefix);
    put(&env, "cli", "token", &value).await;
    let root = env.root_token();
    let token = github_token();
    let b64 = STANDARD.encode(&value);
    let planted = repo(
        &[
            ("README.md", "# demo\n"),
            ("ci.env", &format!("GITHUB_TOKEN={token}\n")),
            ("values.yaml", &format!("db:\n  passwordB64: {b64}\n")),
        ],
        &["values.yaml"],
    );
    let repo_arg = planted.path().to_str().unwrap();
    let known = format!("{}#token", env.path("cli"));
    let vault_env = [
        ("VAULT_ADDR", env.vault_addr.as_str()),
        ("VAULT_TOKEN", root.expose_secret()),
    ];
    let secrets = [
        value.as_str(),
        b64.as_str(),
        token.as_str(),
        root.expose_secret(),
    ];
    for format in ["table", "json", "sarif"] {
        let out = ferry(
            &[
                "--repo",
                repo_arg,
                "--skip-cluster",
                "--skip-env",
                "--known-path",
                &known,
                "--format",
                format,
            ],
            &vault_env,
        );
        assert_eq!(out.status.code(), Some(1), "{format}: {}", text(&out));
        assert_no_secret(&out, &secrets);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("known-value") && stdout.contains("github-token"),
            "{stdout}"
        );
        if format != "table" {
            serde_json::from_str::<Value>(&stdout).expect("a JSON report");
        }
    }
    // The JSON report as a baseline accepts everything found: exit 0.
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline.json");
    let out = ferry(
        &[
            "--repo",
            repo_arg,
            "--skip-cluster",
            "--skip-env",
            "--known-path",
            &known,
            "--format",
            "json",
            "--output",
            baseline.to_str().unwrap(),
        ],
        &vault_env,
    );
    assert_eq!(out.status.code(), Some(1));
    let out = ferry(
        &[
            "--repo",
            repo_arg,
            "--skip-cluster",
            "--skip-env",
            "--known-path",
            &known,
            "--baseline",
            baseline.to_str().unwrap(),
        ],
        &vault_env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A known value given through an environment variable (CI), no Vault at all.
    let out = ferry(
        &[
            "--repo",
            repo_arg,
            "--skip-cluster",
            "--skip-env",
            "--known-value-env",
            "CI_SECRET",
            "--no-history",
            "--format",
            "json",
        ],
        &[("CI_SECRET", value.as_str())],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_no_secret(&out, &secrets);

    // A clean repository, and the cluster check on this test's empty namespace: exit 0. Build
    // output (target/, node_modules/) is skipped by default, other directories with --exclude.
    let clean = repo(&[("README.md", "# nothing to see\n")], &[]);
    for dir in ["target/debug", "node_modules/x", "build"] {
        std::fs::create_dir_all(clean.path().join(dir)).unwrap();
        std::fs::write(clean.path().join(dir).join("leak.env"), &token).unwrap();
    }
    let clean_arg = clean.path().to_str().unwrap();
    let git_only = ["--repo", clean_arg, "--skip-cluster", "--skip-env"];
    let out = ferry(&git_only, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let reported = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        reported.contains("build/leak.env") && !reported.contains("target/"),
        "{reported}"
    );
    let out = ferry(&[&git_only[..], &["--exclude", "build"]].concat(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    std::fs::remove_dir_all(clean.path().join("build")).unwrap();
    let out = ferry(
        &[
            "--repo",
            clean.path().to_str().unwrap(),
            "--skip-env",
            "--known-path",
            &known,
            "--kubeconfig",
            env.kubeconfig.to_str().unwrap(),
            "--namespace",
            &env.namespace,
        ],
        &vault_env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_no_secret(&out, &secrets);

    // Errors: exit 2, naming the input and never a value.
    let missing = format!("{}#token", env.path("absent"));
    let out = ferry(
        &[
            "--repo",
            repo_arg,
            "--skip-cluster",
            "--known-path",
            &missing,
        ],
        &vault_env,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains(&env.path("absent")), "{}", text(&out));
    let out = ferry(
        &["--repo", repo_arg, "--skip-cluster", "--known-path", &known],
        &[
            ("VAULT_ADDR", "http://127.0.0.1:9"),
            ("VAULT_TOKEN", root.expose_secret()),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_no_secret(&out, &secrets);
    let out = ferry(&["--repo", repo_arg, "--format", "xml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = ferry(&["--repo", "/nonexistent/repo", "--skip-cluster"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("/nonexistent/repo"), "{}", text(&out));
    let out = ferry(
        &["--repo", repo_arg, "--skip-cluster", "--known-path", &known],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "no Vault token is an error");
}

/// bootstrap.yaml pointing at the test's Vault, with one `env` entry.
fn bootstrap_yaml(env: &TestEnv, var: &str, bundle: &Path) -> String {
    format!(
        "vault:\n  address: {addr}\ninit:\n  recipients:\n    - \
         age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n  bundle:\n    \
         file: {bundle}\nkv:\n  mount: {mount}\nenv:\n  - name: {var}\n    path: {path}\n    \
         key: token\nflux:\n  auth:\n    https:\n      passwordEnv: {var}\n",
        addr = env.vault_addr,
        mount = env.kv_mount,
        bundle = bundle.display(),
        path = env.path("boot"),
    )
}

#[tokio::test]
async fn config_drives_known_values_and_the_environment_check() {
    let env = TestEnv::new("verify-cli-env").await;
    let value = format!("boot-{}-9f3kQ", env.prefix);
    put(&env, "boot", "token", &value).await;
    let root = env.root_token();
    let var = "FERRY_TEST_GIT_TOKEN";
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bootstrap.yaml");
    let bundle = dir.path().join("init.age");
    std::fs::write(&config, bootstrap_yaml(&env, var, &bundle)).unwrap();
    let config = config.to_str().unwrap();

    // The variable is still set: one finding naming it, not its value.
    let out = ferry(
        &[
            "--config",
            config,
            "--skip-git",
            "--skip-cluster",
            "--format",
            "json",
        ],
        &[(var, value.as_str())],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_no_secret(&out, &[&value]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["findings"],
        json!([{ "rule": "bootstrap-env-set", "location": { "type": "env", "name": var },
                 "message": report["findings"][0]["message"] }])
    );
    // Unset: clean.
    let out = ferry(&["--config", config, "--skip-git", "--skip-cluster"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // A plaintext init bundle file is a finding; age ciphertext is not.
    std::fs::write(&bundle, "{\"root_token\":\"x\"}").unwrap();
    let out = ferry(&["--config", config, "--skip-git", "--skip-cluster"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("init-material-plaintext"));
    std::fs::write(&bundle, "age-encryption.org/v1\n-> X25519 abc\n").unwrap();
    let out = ferry(&["--config", config, "--skip-git", "--skip-cluster"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // The same config names the known value in Vault: found in a repository.
    let planted = repo(&[("notes.txt", &format!("token was {value}\n"))], &[]);
    let out = ferry(
        &[
            "--config",
            config,
            "--repo",
            planted.path().to_str().unwrap(),
            "--skip-cluster",
            "--format",
            "sarif",
        ],
        &[("VAULT_TOKEN", root.expose_secret())],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_no_secret(&out, &[&value, root.expose_secret()]);
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "known-value");

    // An unreadable config is an error naming the file.
    let out = ferry(
        &["--config", "/nonexistent/bootstrap.yaml", "--skip-git"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("/nonexistent/bootstrap.yaml"));
}

/// A malformed `--allowlist` or `--baseline` is an input error (exit 2) that names the file,
/// the entry and the line and column, and never echoes the file's content: a token pasted
/// into it as a key, a value or inside broken syntax stays out of the output.
#[test]
fn malformed_allowlist_and_baseline_never_echo_their_content() {
    let token = github_token();
    let planted = repo(&[("README.md", "# demo\n")], &[]);
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "--allowlist",
            "allow.yaml",
            format!("allow:\n  - rule: x\n    {token}: y\n    reason: r\n"),
            "line 3, column 5: allow[0]",
        ),
        (
            "--allowlist",
            "allow.yaml",
            format!("allow:\n  - rule: {token}\n    path: a\n"),
            "allow[0]",
        ),
        (
            "--allowlist",
            "allow.yaml",
            format!("allow:\n  - rule: \"{token}\n"),
            "line 3, column 1",
        ),
        (
            "--baseline",
            "base.json",
            format!("{{\"findings\": [{{\"rule\": [\"{token}\"]}}]}}"),
            "findings[0]",
        ),
        (
            "--baseline",
            "base.json",
            format!("{{\"findings\": [], \"{token}\": "),
            "line 1",
        ),
    ];
    for (flag, name, content, place) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, &content).unwrap();
        let out = ferry(
            &[
                "--repo",
                planted.path().to_str().unwrap(),
                "--skip-cluster",
                "--skip-env",
                flag,
                file.to_str().unwrap(),
            ],
            &[],
        );
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{all}");
        assert!(all.contains(file.to_str().unwrap()), "{all}");
        assert!(all.contains(place), "{place:?} missing: {all}");
        assert!(!all.contains(&token[..12]), "the content was echoed: {all}");
    }
}
