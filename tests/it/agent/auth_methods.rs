//! The password and certificate auth methods end to end, each against the real thing: userpass
//! on the shared OpenBao, LDAP against a real OpenLDAP (slapd on loopback), TLS certificate
//! auth against an OpenBao TLS listener that requires client certificates from a client CA.
//! Wrong credentials give `Ready=False` without Vault's text; the cloud methods stay "not
//! supported", naming the field.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::support::common::*;
use crate::support::vault_auth::{self, password, read_policy, secret};
use base64::Engine;
use ferry_testenv::{OpenBao, TestEnv, ldap::Ldap, pki::TestPki};
use ferry_vault::{KvData, KvVersion, Vault, VaultConfig};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// A SecretStore of this test's class on `server` with `auth`.
async fn store(env: &TestEnv, name: &str, server: &str, auth: Value, extra: Value) {
    let mut vault = json!({ "server": server, "path": env.kv_mount, "auth": auth });
    if let (Some(vault), Some(extra)) = (vault.as_object_mut(), extra.as_object()) {
        vault.extend(extra.clone());
    }
    let spec = json!({ "controller": env.prefix, "provider": { "vault": vault } });
    create(
        env,
        "v1",
        "SecretStore",
        json!({ "metadata": { "name": name }, "spec": spec }),
    )
    .await;
}

/// An ExternalSecret reading `<prefix>/app` property `k` through `store`.
async fn reader(env: &TestEnv, name: &str, store: &str) {
    let spec = json!({
        "secretStoreRef": { "name": store },
        "data": [ { "secretKey": "k", "remoteRef": { "key": env.path("app"), "property": "k" } } ]
    });
    external_secret(env, name, spec).await;
}

/// A store's Ready condition as (reason, message), once it has one.
async fn store_ready(env: &TestEnv, name: &str) -> Option<(String, String)> {
    let gvk = GroupVersionKind::gvk("external-secrets.io", "v1", "SecretStore");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "secretstores");
    let api = Api::<DynamicObject>::namespaced_with(env.kube.clone(), &env.namespace, &ar);
    let store = api.get_opt(name).await.unwrap()?;
    let conditions = store.data["status"]["conditions"].as_array()?.clone();
    let ready = conditions.iter().find(|c| c["type"] == "Ready")?;
    let text = |k: &str| ready[k].as_str().unwrap_or_default().to_owned();
    Some((text("reason"), text("message")))
}

async fn wait_store_reason(env: &TestEnv, name: &str, reason: &str) -> String {
    let what = format!("store {name} to be {reason}");
    eventually(Duration::from_secs(20), &what, || async {
        store_ready(env, name)
            .await
            .filter(|(r, _)| r == reason)
            .map(|(_, m)| m)
    })
    .await
}

/// No text of Vault's login answer and no credential in a status message.
fn assert_clean(message: &str, secrets: &[&str]) {
    for vault_text in [
        "invalid username or password",
        "ldap operation failed",
        "permission denied",
    ] {
        assert!(!message.contains(vault_text), "Vault's text in: {message}");
    }
    for secret in secrets {
        assert!(!message.contains(secret), "a credential in: {message}");
    }
}

#[tokio::test]
async fn userpass_logs_in_and_a_wrong_password_is_refused_without_vaults_text() {
    let env = TestEnv::new("userpass").await;
    let agent = start_agent(&env).await;
    put(&env, "app", json!({ "k": "v-from-userpass" })).await;
    let policy = read_policy(&env, &env.vault, &env.kv_mount, "read", &[env.path("*")]).await;
    let pw = password("userpass");
    let mount = vault_auth::userpass(&env, &env.vault, "app", &pw, &policy).await;
    secret(&env, "creds", &[("password", pw.expose_secret())]).await;
    let wrong = "wrong-password-8841";
    secret(&env, "wrong", &[("password", wrong)]).await;
    let auth = |secret: &str| {
        json!({ "userPass": { "path": mount, "username": "app",
            "secretRef": { "name": secret, "key": "password" } } })
    };
    store(&env, "up", &env.vault_addr, auth("creds"), json!({})).await;
    store(&env, "up-wrong", &env.vault_addr, auth("wrong"), json!({})).await;
    reader(&env, "good", "up").await;
    reader(&env, "bad", "up-wrong").await;
    wait_reason(&env, "good", "SecretSynced").await;
    assert_eq!(
        secret_data(&env, "good").await.unwrap()["k"],
        "v-from-userpass"
    );
    let msg = wait_reason(&env, "bad", "SecretSyncedError").await;
    assert!(msg.contains("userpass") && msg.contains(&mount), "{msg}");
    assert_clean(&msg, &[wrong, pw.expose_secret()]);
    assert!(
        secret_data(&env, "bad").await.is_none(),
        "no data without a login"
    );
    wait_store_reason(&env, "up", "Valid").await;
    let msg = wait_store_reason(&env, "up-wrong", "ValidationFailed").await;
    assert_clean(&msg, &[wrong, pw.expose_secret()]);
    agent.stop().await;
}

/// A root client of `bao`'s HTTP listener, with `<prefix>/app` holding `{"k": value}` in its
/// KV v2 mount `secret` and a policy reading under the prefix; returns (client, policy).
async fn own_vault(env: &TestEnv, bao: &OpenBao, value: &str) -> (Vault, String) {
    let root = bao.root_token.as_ref().unwrap().expose_secret().to_owned();
    let admin = Vault::connect(&VaultConfig::new(bao.address.clone()))
        .unwrap()
        .with_token(SecretString::from(root));
    let kv = KvData::new(json!({ "k": value }).as_object().unwrap().clone());
    let path = env.path("app");
    let written = admin.kv_write("secret", &path, KvVersion::V2, &kv, None);
    written.await.unwrap();
    let policy = read_policy(env, &admin, "secret", "read", &[env.path("*")]).await;
    (admin, policy)
}

/// LDAP on its own OpenBao: 2.7 moved the LDAP auth method out of the main binary (into an
/// external plugin), so this one is OpenBao 2.6.2, the last release with it built in.
#[tokio::test]
async fn ldap_logs_in_against_a_real_openldap() {
    let env = TestEnv::new("ldap").await;
    let pw = password("ldap");
    let ldap = Ldap::start(&[("app", &pw)]).unwrap();
    let bao = OpenBao::dev_with_ldap_auth();
    let (admin, policy) = own_vault(&env, &bao, "v-from-ldap").await;
    let mount = vault_auth::ldap(&env, &admin, &ldap.url, "app", &policy).await;
    let agent = start_agent(&env).await;
    secret(&env, "creds", &[("password", pw.expose_secret())]).await;
    let wrong = "wrong-ldap-password-2207";
    secret(&env, "wrong", &[("password", wrong)]).await;
    let auth = |secret: &str| {
        json!({ "ldap": { "path": mount, "username": "app",
            "secretRef": { "name": secret, "key": "password" } } })
    };
    let extra = json!({ "path": "secret" });
    store(&env, "corp", &bao.address, auth("creds"), extra.clone()).await;
    store(&env, "corp-wrong", &bao.address, auth("wrong"), extra).await;
    reader(&env, "good", "corp").await;
    reader(&env, "bad", "corp-wrong").await;
    wait_reason(&env, "good", "SecretSynced").await;
    assert_eq!(secret_data(&env, "good").await.unwrap()["k"], "v-from-ldap");
    let msg = wait_reason(&env, "bad", "SecretSyncedError").await;
    assert!(msg.contains("ldap") && msg.contains(&mount), "{msg}");
    assert_clean(&msg, &[wrong, pw.expose_secret()]);
    agent.stop().await;
    drop((bao, ldap));
}

#[tokio::test]
async fn tls_certificate_auth_against_a_listener_with_a_client_ca() {
    let env = TestEnv::new("cert").await;
    let pki = TestPki::generate().unwrap();
    let bao = OpenBao::dev_with_tls(&pki);
    let (admin, policy) = own_vault(&env, &bao, "v-from-cert").await;
    let client_ca = pki.pem("client-ca.pem");
    let mount = vault_auth::cert(&env, &admin, "agent", &client_ca, &policy).await;
    let (client_pem, client_key) = (pki.pem("client.pem"), pki.pem("client.key"));
    secret(
        &env,
        "client",
        &[("tls.crt", &client_pem), ("tls.key", &client_key)],
    )
    .await;
    // A certificate of the server's CA: the listener refuses it.
    let (other_pem, other_key) = (pki.pem("server.pem"), pki.pem("server.key"));
    secret(
        &env,
        "other",
        &[("tls.crt", &other_pem), ("tls.key", &other_key)],
    )
    .await;
    let agent = start_agent(&env).await;
    let tls = bao.tls_address.clone().unwrap();
    let ca = base64::engine::general_purpose::STANDARD.encode(pki.pem("server-ca.pem"));
    let auth = |secret: &str| {
        json!({ "cert": { "path": mount, "vaultRole": "agent",
            "clientCert": { "name": secret, "key": "tls.crt" },
            "secretRef": { "name": secret, "key": "tls.key" } } })
    };
    let extra = json!({ "path": "secret", "caBundle": ca });
    store(&env, "tls", &tls, auth("client"), extra.clone()).await;
    store(&env, "tls-other", &tls, auth("other"), extra).await;
    reader(&env, "good", "tls").await;
    reader(&env, "bad", "tls-other").await;
    wait_reason(&env, "good", "SecretSynced").await;
    assert_eq!(secret_data(&env, "good").await.unwrap()["k"], "v-from-cert");
    let msg = wait_reason(&env, "bad", "SecretSyncedError").await;
    let key_line = other_key.lines().nth(1).unwrap_or_default();
    assert_clean(
        &msg,
        &[key_line, client_key.lines().nth(1).unwrap_or_default()],
    );
    assert!(secret_data(&env, "bad").await.is_none());
    agent.stop().await;
    drop(bao);
}

#[tokio::test]
async fn cloud_auth_methods_stay_not_supported_naming_the_field() {
    let env = TestEnv::new("cloud-auth").await;
    let agent = start_agent(&env).await;
    for (name, method) in [("aws", "iam"), ("google", "gcp")] {
        let auth = json!({ method: { "role": "r" } });
        store(&env, name, &env.vault_addr, auth, json!({})).await;
        let msg = wait_store_reason(&env, name, "InvalidProviderConfig").await;
        let field = format!("spec.provider.vault.auth.{method}");
        assert!(
            msg.contains(&field) && msg.contains("not supported"),
            "{msg}"
        );
    }
    agent.stop().await;
}
