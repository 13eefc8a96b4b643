//! The GitOps sections: `flux` with a GitHub App, `argocd`, at least one of the two, their
//! URLs and names, and the rules credential values must pass (an RSA key generated here by
//! `ssh-keygen`, never a committed one).

use std::process::Command;

use secrecy::SecretString;

use super::{MINIMAL, edit, ok, parse_err, problem, problems};
use crate::{
    ArgoCdAuth, CheckFailure, FluxAuth, GitAuth, RepoType, TokenFormat, ValueRule, check_rule,
};

/// `MINIMAL` with `flux.auth` replaced by `auth` (indented under `flux:`) and `env` by `env`.
fn with_flux_auth(env: &str, auth: &str) -> String {
    let text = edit(
        MINIMAL,
        "env:\n  - name: GIT_TOKEN\n    path: flux/git\n    key: password\n",
        env,
    );
    edit(
        &text,
        "  auth:\n    https:\n      passwordEnv: GIT_TOKEN\n",
        auth,
    )
}

const APP_ENV: &str = "env:
  - {name: APP_ID, path: flux/app, key: id}
  - {name: APP_INSTALLATION, path: flux/app, key: installation}
  - {name: APP_KEY, path: flux/app, key: key}
";

const APP_AUTH: &str = "  auth:
    githubApp:
      appIdEnv: APP_ID
      installationIdEnv: APP_INSTALLATION
      privateKeyEnv: APP_KEY
";

#[test]
fn flux_takes_a_github_app_with_rules_for_each_value() {
    let config = ok(&with_flux_auth(APP_ENV, APP_AUTH));
    let flux = config.flux.as_ref().unwrap();
    let FluxAuth::GithubApp(app) = &flux.auth else {
        panic!("githubApp")
    };
    assert_eq!(app.base_url, None);
    let refs: Vec<_> = config
        .credential_env_refs()
        .into_iter()
        .map(|r| (r.field, r.env, r.rule))
        .collect();
    let at = |f: &str| format!("flux.auth.githubApp.{f}");
    assert_eq!(
        refs,
        [
            (at("appIdEnv"), "APP_ID", Some(ValueRule::NumericId)),
            (
                at("installationIdEnv"),
                "APP_INSTALLATION",
                Some(ValueRule::NumericId)
            ),
            (
                at("privateKeyEnv"),
                "APP_KEY",
                Some(ValueRule::Format(TokenFormat::RsaPrivateKey))
            ),
        ]
    );
}

#[test]
fn a_github_app_needs_exactly_one_installation_and_known_env_entries() {
    let both = with_flux_auth(
        APP_ENV,
        &edit(
            APP_AUTH,
            "      privateKeyEnv",
            "      installationOwnerEnv: APP_INSTALLATION\n      privateKeyEnv",
        ),
    );
    let (field, _, message) = problem(&both);
    assert_eq!(field, "flux.auth.githubApp");
    assert!(message.contains("exactly one"), "{message}");
    let neither = with_flux_auth(
        APP_ENV,
        &edit(APP_AUTH, "      installationIdEnv: APP_INSTALLATION\n", ""),
    );
    assert_eq!(problem(&neither).0, "flux.auth.githubApp");
    let unknown = with_flux_auth(APP_ENV, &edit(APP_AUTH, "APP_KEY", "APP_PEM"));
    let (field, _, message) = problem(&unknown);
    assert_eq!(field, "flux.auth.githubApp.privateKeyEnv");
    assert!(message.contains("names no entry"), "{message}");
    let base = edit(
        APP_AUTH,
        "      privateKeyEnv",
        "      baseUrl: ftp://x\n      privateKeyEnv",
    );
    assert_eq!(
        problem(&with_flux_auth(APP_ENV, &base)).0,
        "flux.auth.githubApp.baseUrl"
    );
    let two = edit(
        APP_AUTH,
        "  auth:\n",
        "  auth:\n    https: {passwordEnv: APP_KEY}\n",
    );
    let (_, _, message) = parse_err(&with_flux_auth(APP_ENV, &two));
    assert!(message.contains("only one of"), "{message}");
}

#[test]
fn flux_or_argocd_is_required_and_the_error_names_both() {
    let text = edit(
        MINIMAL,
        "flux:\n  auth:\n    https:\n      passwordEnv: GIT_TOKEN\n",
        "",
    );
    let (field, _, message) = problem(&text);
    assert_eq!(field, "flux");
    assert!(
        message.contains("`flux`") && message.contains("`argocd`"),
        "{message}"
    );
}

/// `MINIMAL` with its `flux` section replaced by `argocd`.
fn argocd(section: &str) -> String {
    let env = "env:\n  - name: GIT_TOKEN\n    path: flux/git\n    key: password\n  \
               - {name: DEPLOY_KEY, path: argocd/ssh, key: key}\n  \
               - {name: APP_ID, path: argocd/app, key: id}\n  \
               - {name: APP_INSTALLATION, path: argocd/app, key: installation}\n";
    let text = edit(
        MINIMAL,
        "env:\n  - name: GIT_TOKEN\n    path: flux/git\n    key: password\n",
        env,
    );
    edit(
        &text,
        "flux:\n  auth:\n    https:\n      passwordEnv: GIT_TOKEN\n",
        section,
    )
}

const ARGOCD: &str = "argocd:
  repositories:
    - name: deployments
      url: https://git.example.com/org/deployments.git
      project: platform
      auth: {https: {passwordEnv: GIT_TOKEN}}
    - name: infra
      url: git@git.example.com:org/infra.git
      auth: {ssh: {privateKeyEnv: DEPLOY_KEY}}
  repoCreds:
    - name: org-app
      url: https://github.com/org
      auth: {githubApp: {appIdEnv: APP_ID, installationIdEnv: APP_INSTALLATION, privateKeyEnv: GIT_TOKEN}}
";

#[test]
fn argocd_alone_parses_with_defaults() {
    let config = ok(&argocd(ARGOCD));
    assert!(config.flux.is_none());
    let argocd = config.argocd.as_ref().unwrap();
    assert_eq!(argocd.namespace, "argocd");
    assert_eq!(argocd.repositories[0].repo_type, RepoType::Git);
    assert_eq!(argocd.repositories[0].project.as_deref(), Some("platform"));
    assert!(matches!(argocd.repositories[1].auth, ArgoCdAuth::Ssh(_)));
    assert!(matches!(argocd.repo_creds[0].auth, GitAuth::GithubApp(_)));
    let fields: Vec<String> = config
        .credential_env_refs()
        .into_iter()
        .map(|r| r.field)
        .collect();
    assert!(fields.contains(&"argocd.repositories[1].auth.ssh.privateKeyEnv".to_owned()));
    assert!(fields.contains(&"argocd.repoCreds[0].auth.githubApp.privateKeyEnv".to_owned()));
}

#[test]
fn argocd_refuses_bad_urls_names_and_auth_shapes() {
    let cases = [
        (
            "https://git.example.com/org/deployments.git",
            "https://user:pw@git.example.com/x.git",
            "argocd.repositories[0].url",
        ),
        (
            "https://git.example.com/org/deployments.git",
            "https://git.example.com/{{ .x }}.git",
            "argocd.repositories[0].url",
        ),
        (
            "git@git.example.com:org/infra.git",
            "https://git.example.com/org/infra.git",
            "argocd.repositories[1].url",
        ),
        (
            "https://github.com/org\n",
            "git@github.com:org\n",
            "argocd.repoCreds[0].url",
        ),
        (
            "name: infra",
            "name: deployments",
            "argocd.repositories[1].name",
        ),
        ("name: org-app", "name: Org_App", "argocd.repoCreds[0].name"),
        (
            "project: platform",
            "project: a/b",
            "argocd.repositories[0].project",
        ),
        (
            "installationIdEnv: APP_INSTALLATION",
            "installationOwnerEnv: APP_INSTALLATION",
            "argocd.repoCreds[0].auth.githubApp.installationOwnerEnv",
        ),
        (
            "privateKeyEnv: DEPLOY_KEY",
            "privateKeyEnv: NOT_DECLARED",
            "argocd.repositories[1].auth.ssh.privateKeyEnv",
        ),
    ];
    for (from, to, field) in cases {
        let text = argocd(&edit(ARGOCD, from, to));
        let all = problems(&text);
        assert!(
            all.iter().any(|p| p.0 == field),
            "{to:?}: expected a problem at {field}, got {all:#?}"
        );
        for (_, _, message) in &all {
            assert!(!message.contains("pw@"), "{message}");
        }
    }
    let empty = argocd("argocd:\n  namespace: argocd\n");
    assert_eq!(problem(&empty).0, "argocd");
    let clash = argocd(&format!(
        "{ARGOCD}flux:\n  namespace: argocd\n  secretName: infra\n  auth: {{https: {{passwordEnv: GIT_TOKEN}}}}\n"
    ));
    let (field, _, message) = problem(&clash);
    assert_eq!(field, "argocd.repositories[1].name");
    assert!(message.contains("flux.secretName"), "{message}");
}

fn keygen(bits: &str, format: &str) -> SecretString {
    keygen_typed(&["-t", "rsa", "-b", bits, "-m", format])
}

fn keygen_typed(kind: &[&str]) -> SecretString {
    let dir = tempfile_dir();
    let path = dir.join("key");
    let status = Command::new("ssh-keygen")
        .arg("-q")
        .args(kind)
        .args(["-N", "", "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen (Debian's openssh-client) runs");
    assert!(status.success());
    let key = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    SecretString::from(key)
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ferry-config-rsa-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_app_key_must_be_a_real_rsa_key_of_2048_bits_or_more() {
    let rule = ValueRule::Format(TokenFormat::RsaPrivateKey);
    assert_eq!(check_rule(rule, &keygen("2048", "PEM")), Ok(()));
    assert_eq!(check_rule(rule, &keygen("2048", "PKCS8")), Ok(()));
    let short = check_rule(rule, &keygen("1024", "PEM")).unwrap_err();
    assert!(short.to_string().contains("shorter than 2048"), "{short}");
    // An ed25519 OpenSSH key is a private key, but not an RSA one.
    let ed25519 = check_rule(rule, &keygen_typed(&["-t", "ed25519"])).unwrap_err();
    assert!(ed25519.to_string().contains("expected an RSA"), "{ed25519}");
    let reason = |text: &str| check_rule(rule, &SecretString::from(text.to_owned())).unwrap_err();
    assert!(
        matches!(reason("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"),
        CheckFailure::Format { reason, .. } if reason.contains("PKCS#1"))
    );
    assert!(matches!(reason("not a key"), CheckFailure::Format { .. }));
    assert!(matches!(reason(""), CheckFailure::Empty));
    // A key whose body was tampered with no longer parses or is inconsistent.
    let good = keygen("2048", "PEM");
    use secrecy::ExposeSecret;
    let lines: Vec<&str> = good.expose_secret().lines().collect();
    let mut broken: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    broken[5] = broken[5].chars().rev().collect();
    let failure = check_rule(rule, &SecretString::from(broken.join("\n"))).unwrap_err();
    assert!(!failure.to_string().contains(lines[5]), "{failure}");
}

#[test]
fn ids_and_owners_have_their_shapes() {
    let check = |rule, text: &str| check_rule(rule, &SecretString::from(text.to_owned()));
    assert_eq!(check(ValueRule::NumericId, "123456"), Ok(()));
    for bad in ["", "0", "012", "12a", " 1", "-1", "99999999999999999999"] {
        assert!(check(ValueRule::NumericId, bad).is_err(), "{bad:?}");
    }
    assert_eq!(check(ValueRule::GithubOwner, "my-org"), Ok(()));
    for bad in ["", "-org", "my org", "org/x", &"a".repeat(40)] {
        let err = check(ValueRule::GithubOwner, bad).unwrap_err();
        assert!(!err.to_string().contains(bad) || bad.is_empty(), "{err}");
    }
}
