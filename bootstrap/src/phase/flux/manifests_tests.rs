//! Unit tests of the Flux Secret's keys and of its ExternalSecret.

#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;
use crate::phase::gitops::KeySource;

const HTTPS: &str = r#"
vault: { address: "http://127.0.0.1:8200" }
init:
  recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]
  bundle: { file: ./init.age }
env:
  - { name: GITHUB_TOKEN, path: flux/git, key: password }
  - { name: GIT_USER, path: flux/git, key: username }
  - { name: SSH_KEY, path: flux/ssh, key: identity }
  - { name: APP_ID, path: flux/app, key: id }
  - { name: APP_INSTALLATION, path: flux/app, key: installation }
  - { name: APP_OWNER, path: flux/app, key: owner }
  - { name: APP_KEY, path: flux/app, key: key }
flux:
  auth: { https: { passwordEnv: GITHUB_TOKEN } }
agent: { controllerClass: blue }
"#;

fn config(auth: &str) -> BootstrapConfig {
    let text = HTTPS.replace(
        "auth: { https: { passwordEnv: GITHUB_TOKEN } }",
        &format!("auth: {auth}"),
    );
    ferry_config::parse(&text, "test.yaml").unwrap()
}

fn target(cfg: &BootstrapConfig) -> Takeover {
    takeover(cfg, credentials(cfg).unwrap()).unwrap()
}

#[test]
fn https_with_the_default_user_name_is_a_literal_and_a_vault_key() {
    let cfg = config("{ https: { passwordEnv: GITHUB_TOKEN } }");
    let t = target(&cfg);
    assert_eq!(
        t.creds.literals().collect::<Vec<_>>(),
        [("username", "git")]
    );
    assert_eq!(
        t.creds.vault_keys().collect::<Vec<_>>(),
        [("password", "flux/git", "password")]
    );
    assert_eq!(
        (t.label.as_str(), t.secret()),
        ("Flux", "flux-system/flux-system".into())
    );
    let es = t.external_secret(&cfg);
    assert_eq!(es["spec"]["target"]["creationPolicy"], "Merge");
    assert_eq!(es["spec"]["target"]["name"], "flux-system");
    assert!(es["spec"]["target"].get("template").is_none());
    assert_eq!(
        es["spec"]["data"],
        json!([{ "secretKey": "password",
            "remoteRef": { "key": "flux/git", "property": "password" } }])
    );
    let secret = t.secret_literals("uid-1");
    assert_eq!(secret["data"], json!({ "username": "Z2l0" }));
    assert_eq!(secret["metadata"]["ownerReferences"][0]["uid"], "uid-1");
    assert_eq!(secret["metadata"]["ownerReferences"][0]["controller"], true);
}

#[test]
fn every_key_from_vault_means_creation_policy_owner() {
    let cfg = config("{ https: { usernameEnv: GIT_USER, passwordEnv: GITHUB_TOKEN } }");
    let t = target(&cfg);
    assert!(!t.creds.has_literals() && t.owns_outright() && !t.writes_literals());
    let es = t.external_secret(&cfg);
    assert_eq!(es["spec"]["target"]["creationPolicy"], "Owner");
    assert_eq!(es["spec"]["data"].as_array().unwrap().len(), 2);
}

#[test]
fn ssh_takes_identity_from_vault_and_known_hosts_literally() {
    let cfg = config(r#"{ ssh: { identityEnv: SSH_KEY, knownHosts: "host ssh-ed25519 AAAA" } }"#);
    let creds = credentials(&cfg).unwrap();
    assert_eq!(
        creds.vault_keys().collect::<Vec<_>>(),
        [("identity", "flux/ssh", "identity")]
    );
    assert_eq!(
        creds.literals().collect::<Vec<_>>(),
        [("known_hosts", "host ssh-ed25519 AAAA")]
    );
}

fn vault(path: &str, key: &str, env: &str) -> KeySource {
    KeySource::Vault {
        env: env.into(),
        path: path.into(),
        key: key.into(),
    }
}

#[test]
fn a_github_app_gives_flux_2_5s_exact_keys() {
    let cfg = config(
        "{ githubApp: { appIdEnv: APP_ID, installationIdEnv: APP_INSTALLATION, \
         privateKeyEnv: APP_KEY } }",
    );
    let t = target(&cfg);
    let keys: Vec<(String, KeySource)> = t.creds.keys.clone();
    assert_eq!(
        keys,
        [
            ("githubAppID".into(), vault("flux/app", "id", "APP_ID")),
            (
                "githubAppInstallationID".into(),
                vault("flux/app", "installation", "APP_INSTALLATION")
            ),
            (
                "githubAppPrivateKey".into(),
                vault("flux/app", "key", "APP_KEY")
            ),
        ]
    );
    // Every key from Vault: the ExternalSecret owns the Secret and no PAT key remains.
    let es = t.external_secret(&cfg);
    assert_eq!(es["spec"]["target"]["creationPolicy"], "Owner");
    let names: Vec<&str> = es["spec"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["secretKey"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "githubAppID",
            "githubAppInstallationID",
            "githubAppPrivateKey"
        ]
    );

    let by_owner = config(
        "{ githubApp: { appIdEnv: APP_ID, installationOwnerEnv: APP_OWNER, \
         privateKeyEnv: APP_KEY, baseUrl: \"https://ghe.example.com/api/v3\" } }",
    );
    let t = target(&by_owner);
    let names: Vec<&str> = t.creds.keys.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "githubAppID",
            "githubAppInstallationOwner",
            "githubAppPrivateKey",
            "githubAppBaseURL"
        ]
    );
    assert_eq!(
        t.creds.literals().collect::<Vec<_>>(),
        [("githubAppBaseURL", "https://ghe.example.com/api/v3")]
    );
    assert!(t.writes_literals());
}

#[test]
fn without_a_flux_section_the_switch_refuses_to_run() {
    let mut cfg = config("{ https: { passwordEnv: GITHUB_TOKEN } }");
    cfg.flux = None;
    let err = credentials(&cfg).unwrap_err();
    assert!(err.to_string().starts_with("flux:"), "{err}");
    assert_eq!(external_secret_name(&cfg), "");
}
