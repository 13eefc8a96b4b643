//! Unit tests of the phase 3 manifests.

use super::*;

const HTTPS: &str = r#"
vault: { address: "http://127.0.0.1:8200" }
init:
  recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]
  bundle: { file: ./init.age }
env:
  - { name: GITHUB_TOKEN, path: flux/git, key: password }
  - { name: GIT_USER, path: flux/git, key: username }
  - { name: SSH_KEY, path: flux/ssh, key: identity }
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

#[test]
fn https_with_the_default_user_name_is_a_literal_and_a_vault_key() {
    let cfg = config("{ https: { passwordEnv: GITHUB_TOKEN } }");
    let creds = credentials(&cfg).unwrap();
    assert_eq!(creds.literals().collect::<Vec<_>>(), [("username", "git")]);
    assert_eq!(
        creds.vault_keys().collect::<Vec<_>>(),
        [("password", "flux/git", "password")]
    );
    let es = external_secret(&cfg, &creds);
    assert_eq!(es["spec"]["target"]["creationPolicy"], "Merge");
    assert_eq!(es["spec"]["target"]["name"], "flux-system");
    assert_eq!(
        es["spec"]["data"],
        json!([{ "secretKey": "password",
            "remoteRef": { "key": "flux/git", "property": "password" } }])
    );
    let secret = secret_literals(&cfg, &creds, "uid-1");
    assert_eq!(secret["data"], json!({ "username": "Z2l0" }));
    assert_eq!(secret["metadata"]["ownerReferences"][0]["uid"], "uid-1");
    assert_eq!(secret["metadata"]["ownerReferences"][0]["controller"], true);
}

#[test]
fn every_key_from_vault_means_creation_policy_owner() {
    let cfg = config("{ https: { usernameEnv: GIT_USER, passwordEnv: GITHUB_TOKEN } }");
    let creds = credentials(&cfg).unwrap();
    assert!(!creds.has_literals());
    let es = external_secret(&cfg, &creds);
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

#[test]
fn the_store_uses_kubernetes_auth_as_the_agent() {
    let cfg = config("{ https: { passwordEnv: GITHUB_TOKEN } }");
    let store = store(&cfg, Some(b"PEM"));
    assert_eq!(store["kind"], "ClusterSecretStore");
    assert_eq!(store["spec"]["controller"], "blue");
    let vault = &store["spec"]["provider"]["vault"];
    assert_eq!(vault["server"], "http://127.0.0.1:8200");
    assert_eq!(vault["path"], "secret");
    assert_eq!(vault["version"], "v2");
    assert_eq!(vault["caBundle"], "UEVN");
    let k8s = &vault["auth"]["kubernetes"];
    assert_eq!(k8s["role"], "ferry-agent");
    assert_eq!(k8s["mountPath"], "kubernetes");
    assert_eq!(
        k8s["serviceAccountRef"],
        json!({ "name": "ferry-agent", "namespace": "ferry-system" })
    );
    let role = agent_role(&cfg);
    assert_eq!(role.bound_service_account_names, ["ferry-agent"]);
    assert_eq!(role.bound_service_account_namespaces, ["ferry-system"]);
    assert_eq!(role.policies, ["ferry-agent"]);
    assert_eq!(role.ttl, Some(AGENT_TOKEN_TTL));
}

#[test]
fn a_namespaced_store_lives_with_flux() {
    let mut cfg = config("{ https: { passwordEnv: GITHUB_TOKEN } }");
    cfg.agent.store_kind = StoreKind::SecretStore;
    let store = store(&cfg, None);
    assert_eq!(store["kind"], "SecretStore");
    assert_eq!(store["metadata"]["namespace"], "flux-system");
    assert!(store["spec"]["provider"]["vault"].get("caBundle").is_none());
    let sa = &store["spec"]["provider"]["vault"]["auth"]["kubernetes"]["serviceAccountRef"];
    assert_eq!(sa["namespace"], "flux-system");
    assert_eq!(
        agent_role(&cfg).bound_service_account_namespaces,
        ["ferry-system", "flux-system"]
    );
    let es = external_secret(&cfg, &credentials(&cfg).unwrap());
    assert_eq!(es["spec"]["secretStoreRef"]["kind"], "SecretStore");
}
