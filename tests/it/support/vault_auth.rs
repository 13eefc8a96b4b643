//! Vault's side of the password and certificate auth methods, set up for one test on a real
//! OpenBao: read policies, userpass users, an LDAP mount pointed at a real slapd, TLS
//! certificate roles; and the Kubernetes Secrets that hold the credentials.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use base64::Engine;
use ferry_testenv::ldap::Ldap;
use ferry_testenv::pki::TestPki;
use ferry_testenv::{OpenBao, TestEnv};
use ferry_vault::Vault;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

/// A policy `<env.prefix>-<name>` allowing reads of `<mount>/data/<path>` (a KV v2 mount) for
/// each path (globs allowed); returns its name.
pub async fn read_policy(
    env: &TestEnv,
    vault: &Vault,
    mount: &str,
    name: &str,
    paths: &[String],
) -> String {
    let policy = format!("{}-{name}", env.prefix);
    let hcl: String = paths
        .iter()
        .map(|p| format!("path \"{mount}/data/{p}\" {{ capabilities = [\"read\"] }}\n"))
        .collect();
    vault.write_policy(&policy, &hcl).await.unwrap();
    policy
}

async fn post(vault: &Vault, path: &str, body: serde_json::Value) {
    vault
        .raw(Method::POST, path, Some(&body))
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
}

/// A userpass mount `up-<prefix>` with `user`, whose tokens carry `policy`; returns the mount.
pub async fn userpass(
    env: &TestEnv,
    vault: &Vault,
    user: &str,
    password: &SecretString,
    policy: &str,
) -> String {
    let mount = format!("up-{}", env.prefix);
    vault.enable_auth(&mount, "userpass").await.unwrap();
    let body = json!({ "password": password.expose_secret(), "token_policies": [policy] });
    post(vault, &format!("auth/{mount}/users/{user}"), body).await;
    mount
}

/// An LDAP mount `ldap-<prefix>` pointed at `url`, binding users as
/// `uid=<user>,ou=people,…`; `user`'s tokens carry `policy`. Returns the mount.
pub async fn ldap(env: &TestEnv, vault: &Vault, url: &str, user: &str, policy: &str) -> String {
    let mount = format!("ldap-{}", env.prefix);
    vault.enable_auth(&mount, "ldap").await.unwrap();
    let config = json!({
        "url": url,
        "userdn": ferry_testenv::ldap::PEOPLE,
        "userattr": "uid",
        "request_timeout": "5s",
    });
    post(vault, &format!("auth/{mount}/config"), config).await;
    let body = json!({ "policies": [policy] });
    post(vault, &format!("auth/{mount}/users/{user}"), body).await;
    mount
}

/// A TLS certificate mount `cert-<prefix>` with the role `role`, which admits client
/// certificates issued by `client_ca_pem` and gives tokens `policy`. Returns the mount.
pub async fn cert(
    env: &TestEnv,
    vault: &Vault,
    role: &str,
    client_ca_pem: &str,
    policy: &str,
) -> String {
    let mount = format!("cert-{}", env.prefix);
    vault.enable_auth(&mount, "cert").await.unwrap();
    let body = json!({ "certificate": client_ca_pem, "token_policies": [policy] });
    post(vault, &format!("auth/{mount}/certs/{role}"), body).await;
    mount
}

/// A Secret `name` in the test's namespace with `pairs` as its data.
pub async fn secret(env: &TestEnv, name: &str, pairs: &[(&str, &str)]) {
    let data: BTreeMap<&str, &str> = pairs.iter().copied().collect();
    let secret: Secret =
        serde_json::from_value(json!({ "metadata": { "name": name }, "stringData": data }))
            .unwrap();
    Api::<Secret>::namespaced(env.kube.clone(), &env.namespace)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

/// A random password (never printed).
pub fn password(what: &str) -> SecretString {
    SecretString::from(format!("{what}-{}-pw", ferry_testenv::unique_suffix()))
}

/// Every password and certificate method, each with a store that logs in and one whose
/// credential is wrong, and an ExternalSecret reading through each: for the redaction test.
pub struct Fixtures {
    /// Credentials that must never show: passwords, wrong passwords, private-key lines.
    pub forbidden: Vec<String>,
    /// The ExternalSecrets and the Ready reason each ends with.
    pub expect: Vec<(String, &'static str)>,
    /// The servers and certificates of the test's own, kept until the fixtures go.
    _keep: Vec<Box<dyn std::any::Any + Send>>,
}

/// Sets up [`Fixtures`]: userpass on the shared OpenBao, LDAP on an OpenBao with LDAP auth
/// against a real slapd, TLS certificate auth on an OpenBao TLS listener.
pub async fn fixtures(env: &TestEnv) -> Fixtures {
    put_on(&env.vault, &env.kv_mount, env, "auth-kv").await;
    let mut f = Fixtures {
        forbidden: Vec::new(),
        expect: Vec::new(),
        _keep: Vec::new(),
    };
    let policy = read_policy(env, &env.vault, &env.kv_mount, "auth", &[env.path("*")]).await;
    let pw = password("userpass");
    let mount = userpass(env, &env.vault, "app", &pw, &policy).await;
    let auth = |secret: &str| {
        json!({ "userPass": { "path": mount, "username": "app",
            "secretRef": { "name": secret, "key": "password" } } })
    };
    f.pair(
        env,
        "userpass",
        &env.vault_addr.clone(),
        &env.kv_mount.clone(),
        &pw,
        auth,
        json!({}),
    )
    .await;
    f.ldap(env).await;
    f.cert(env).await;
    f
}

/// Writes `<prefix>/<path>` = `{"k": "auth-value"}` through `vault` into KV v2 `mount`.
async fn put_on(vault: &Vault, mount: &str, env: &TestEnv, path: &str) {
    let kv = ferry_vault::KvData::new(json!({ "k": "auth-value" }).as_object().unwrap().clone());
    let path = env.path(path);
    let written = vault.kv_write(mount, &path, ferry_vault::KvVersion::V2, &kv, None);
    written.await.unwrap();
}

/// A root client of an OpenBao of the test's own.
fn root_of(bao: &OpenBao) -> Vault {
    let root = bao.root_token.as_ref().unwrap().expose_secret().to_owned();
    Vault::connect(&ferry_vault::VaultConfig::new(bao.address.clone()))
        .unwrap()
        .with_token(SecretString::from(root))
}

impl Fixtures {
    /// A right and a wrong password for `method`: Secrets, stores and ExternalSecrets.
    #[allow(clippy::too_many_arguments)]
    async fn pair(
        &mut self,
        env: &TestEnv,
        method: &str,
        server: &str,
        mount: &str,
        pw: &SecretString,
        auth: impl Fn(&str) -> serde_json::Value,
        extra: serde_json::Value,
    ) {
        let wrong = format!("wrong-{method}-{}", ferry_testenv::unique_suffix());
        // The credential Secrets are `<store>-cred`; each ExternalSecret writes `<store>`.
        let right_cred = format!("{method}-right-cred");
        secret(env, &right_cred, &[("password", pw.expose_secret())]).await;
        secret(
            env,
            &format!("{method}-wrong-cred"),
            &[("password", &wrong)],
        )
        .await;
        for (which, reason) in [("right", "SecretSynced"), ("wrong", "SecretSyncedError")] {
            let name = format!("{method}-{which}");
            let auth = auth(&format!("{name}-cred"));
            self.store_and_reader(env, &name, server, mount, auth, &extra)
                .await;
            self.expect.push((name, reason));
        }
        self.forbidden
            .extend([pw.expose_secret().to_owned(), wrong]);
    }

    async fn store_and_reader(
        &self,
        env: &TestEnv,
        name: &str,
        server: &str,
        mount: &str,
        auth: serde_json::Value,
        extra: &serde_json::Value,
    ) {
        let mut vault = json!({ "server": server, "path": mount, "auth": auth });
        if let (Some(v), Some(extra)) = (vault.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        let spec = json!({ "controller": env.prefix, "provider": { "vault": vault } });
        let body = json!({ "metadata": { "name": name }, "spec": spec });
        super::eso::create(env, "v1", "SecretStore", body).await;
        let spec = json!({
            "secretStoreRef": { "name": name },
            "data": [ { "secretKey": "k",
                "remoteRef": { "key": env.path("auth-kv"), "property": "k" } } ]
        });
        super::eso::external_secret(env, name, spec).await;
    }

    async fn ldap(&mut self, env: &TestEnv) {
        let pw = password("ldap");
        let ldap = Ldap::start(&[("app", &pw)]).unwrap();
        let bao = OpenBao::dev_with_ldap_auth();
        let root = root_of(&bao);
        put_on(&root, "secret", env, "auth-kv").await;
        let policy = read_policy(env, &root, "secret", "auth", &[env.path("*")]).await;
        let mount = self::ldap(env, &root, &ldap.url, "app", &policy).await;
        let auth = |secret: &str| {
            json!({ "ldap": { "path": mount, "username": "app",
                "secretRef": { "name": secret, "key": "password" } } })
        };
        let address = bao.address.clone();
        self.pair(env, "ldap", &address, "secret", &pw, auth, json!({}))
            .await;
        self._keep.push(Box::new(ldap));
        self._keep.push(Box::new(bao));
    }

    async fn cert(&mut self, env: &TestEnv) {
        let pki = TestPki::generate().unwrap();
        let bao = OpenBao::dev_with_tls(&pki);
        let root = root_of(&bao);
        put_on(&root, "secret", env, "auth-kv").await;
        let policy = read_policy(env, &root, "secret", "auth", &[env.path("*")]).await;
        let mount = cert(env, &root, "agent", &pki.pem("client-ca.pem"), &policy).await;
        let (right, wrong) = (("client.pem", "client.key"), ("server.pem", "server.key"));
        for ((crt, key), which) in [(right, "right"), (wrong, "wrong")] {
            let (name, cred) = (format!("cert-{which}"), format!("cert-{which}-cred"));
            let key_pem = pki.pem(key);
            let pair = [("tls.crt", pki.pem(crt)), ("tls.key", key_pem.clone())];
            let pair = pair.each_ref().map(|(k, v)| (*k, v.as_str()));
            secret(env, &cred, &pair).await;
            let auth = json!({ "cert": { "path": mount, "vaultRole": "agent",
                "clientCert": { "name": cred, "key": "tls.crt" },
                "secretRef": { "name": cred, "key": "tls.key" } } });
            let ca = base64::engine::general_purpose::STANDARD.encode(pki.pem("server-ca.pem"));
            let extra = json!({ "caBundle": ca });
            let server = bao.tls_address.clone().unwrap();
            self.store_and_reader(env, &name, &server, "secret", auth, &extra)
                .await;
            let reason = if which == "right" {
                "SecretSynced"
            } else {
                "SecretSyncedError"
            };
            self.expect.push((name, reason));
            let lines = key_pem.lines().filter(|l| !l.starts_with("-----"));
            self.forbidden.extend(lines.map(str::to_owned));
        }
        self._keep.push(Box::new(bao));
        self._keep.push(Box::new(pki));
    }
}
