//! The agent's Vault sessions and KV fetcher against a real kube-apiserver and OpenBao: one
//! login per auth method (token, AppRole, Kubernetes via TokenRequest and via a Secret, JWT),
//! login sharing and invalidation, background renewal, single-flight reads and tenant
//! isolation.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::support::common::{create_service_account, kubernetes_mount, service_account_token};
use ferry_agent::AgentError;
use ferry_agent::fetch::Fetcher;
use ferry_agent::session::{SessionKey, Sessions, StoreContext};
use ferry_api::vault::{
    VaultAppRole, VaultAuth, VaultJwtAuth, VaultKubernetesAuth,
    VaultKubernetesServiceAccountTokenAuth,
};
use ferry_api::{SecretKeySelector, ServiceAccountSelector, StoreKind, VaultProvider};
use ferry_testenv::TestEnv;
use ferry_vault::{
    JwtAuthConfig, JwtRole, KubernetesRole, KvData, KvSecret, KvVersion, TokenRequest, Vault,
    VaultError,
};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

const VALUE: &str = "s3cr3t-value";

/// Writes `<prefix>/app/db` and a policy allowing reads under the prefix; returns the policy.
async fn seed(env: &TestEnv) -> String {
    let data = KvData::from_pairs([("password".into(), SecretString::from(VALUE.to_string()))]);
    let path = env.path("app/db");
    let written = env
        .vault
        .kv_write(&env.kv_mount, &path, KvVersion::V2, &data, None);
    written.await.expect("writing the seeded secret");
    let policy = format!("{}-read", env.prefix);
    let (mount, prefix) = (&env.kv_mount, &env.prefix);
    let hcl = format!("path \"{mount}/data/{prefix}/*\" {{ capabilities = [\"read\"] }}");
    let written = env.vault.write_policy(&policy, &hcl);
    written.await.expect("writing the policy");
    policy
}

fn store(env: &TestEnv, kind: StoreKind, name: &str, auth: VaultAuth) -> StoreContext {
    StoreContext {
        kind,
        name: name.into(),
        provider: VaultProvider {
            server: env.vault_addr.clone(),
            path: Some(env.kv_mount.clone()),
            auth: Some(auth),
            ..VaultProvider::default()
        },
        ref_namespace: env.namespace.clone(),
    }
}

fn secret_store(env: &TestEnv, name: &str, auth: VaultAuth) -> StoreContext {
    store(env, StoreKind::SecretStore, name, auth)
}

fn key_ref(name: &str, key: Option<&str>) -> SecretKeySelector {
    SecretKeySelector {
        name: name.into(),
        namespace: None,
        key: key.map(str::to_owned),
    }
}

async fn create_secret(env: &TestEnv, name: &str, pairs: &[(&str, &str)]) {
    let data: BTreeMap<&str, &str> = pairs.iter().copied().collect();
    let secret = json!({ "metadata": { "name": name }, "stringData": data });
    Api::<Secret>::namespaced(env.kube.clone(), &env.namespace)
        .create(
            &PostParams::default(),
            &serde_json::from_value(secret).expect("a Secret"),
        )
        .await
        .expect("creating a Secret");
}

/// An AppRole mount with a role carrying `policy`; returns (mount, role ID, secret ID).
async fn approle(
    env: &TestEnv,
    policy: &str,
    ttl: Option<Duration>,
) -> (String, String, SecretString) {
    let (v, mount) = (&env.vault, format!("approle-{}", env.prefix));
    v.enable_auth(&mount, "approle")
        .await
        .expect("enabling AppRole");
    let policies = [policy.to_string()];
    let role = v.write_approle_role(&mount, "app", &policies, ttl);
    role.await.expect("writing the AppRole role");
    let role_id = v.approle_role_id(&mount, "app").await.expect("role ID");
    let secret_id = v.approle_secret_id(&mount, "app").await.expect("secret ID");
    (mount, role_id, secret_id)
}

fn approle_auth(mount: &str, role_id: &str) -> VaultAuth {
    VaultAuth {
        app_role: Some(VaultAppRole {
            path: mount.into(),
            role_id: Some(role_id.into()),
            role_ref: None,
            secret_ref: key_ref("approle", Some("secret-id")),
        }),
        ..VaultAuth::default()
    }
}

/// Logs in for `store` and reads the seeded secret with the session's token.
async fn login_and_read(env: &TestEnv, sessions: &Sessions, store: &StoreContext) -> Vault {
    let (_, vault) = sessions.get(store).await.expect("logging in");
    let secret = vault
        .kv_read(&env.kv_mount, &env.path("app/db"), KvVersion::V2, None)
        .await
        .expect("reading the seeded secret")
        .expect("the seeded secret exists");
    assert_eq!(secret.data.expose()["password"], VALUE);
    vault
}

/// One read of `path` through the fetcher, with the root token.
async fn fetch(
    fetcher: &Fetcher,
    key: &SessionKey,
    env: &TestEnv,
    path: &str,
    max_age: Duration,
) -> Result<Option<Arc<KvSecret>>, VaultError> {
    let mount = &env.kv_mount;
    fetcher
        .read(key, &env.vault, mount, path, KvVersion::V2, None, max_age)
        .await
}

#[tokio::test]
async fn token_secret_ref_logs_in_and_is_never_revoked() {
    let env = TestEnv::new("sess-token").await;
    let policy = seed(&env).await;
    let token = env
        .vault
        .create_token(&TokenRequest {
            policies: vec![policy],
            ttl: Some(Duration::from_secs(3600)),
            renewable: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .client_token;
    create_secret(&env, "vault-token", &[("token", token.expose_secret())]).await;
    let auth = VaultAuth {
        token_secret_ref: Some(key_ref("vault-token", Some("token"))),
        ..VaultAuth::default()
    };
    let sessions = Sessions::new(env.kube.clone(), None);
    let store = secret_store(&env, "token", auth);
    login_and_read(&env, &sessions, &store).await;
    assert_eq!(sessions.logins(), 1);

    // The token belongs to the user: shutting down leaves it valid.
    sessions.revoke_all().await;
    env.vault.with_token(token).lookup_self().await.unwrap();
}

#[tokio::test]
async fn approle_with_role_id_and_role_ref() {
    let env = TestEnv::new("sess-approle").await;
    let policy = seed(&env).await;
    let (mount, role_id, secret_id) = approle(&env, &policy, None).await;
    create_secret(
        &env,
        "approle",
        &[
            ("secret-id", secret_id.expose_secret()),
            ("role-id", &role_id),
        ],
    )
    .await;
    let sessions = Sessions::new(env.kube.clone(), None);

    let inline = secret_store(&env, "inline", approle_auth(&mount, &role_id));
    let first = login_and_read(&env, &sessions, &inline).await;

    let mut by_ref = approle_auth(&mount, "");
    if let Some(a) = by_ref.app_role.as_mut() {
        a.role_id = None;
        a.role_ref = Some(key_ref("approle", Some("role-id")));
    }
    let by_ref = secret_store(&env, "by-ref", by_ref);
    let second = login_and_read(&env, &sessions, &by_ref).await;
    assert_ne!(inline.session_key(), by_ref.session_key());
    assert_eq!(sessions.logins(), 2);

    // Ferry's own tokens are revoked at shutdown.
    sessions.revoke_all().await;
    for vault in [first, second] {
        let err = vault.lookup_self().await.unwrap_err();
        assert!(err.is_forbidden(), "expected a revoked token, got {err}");
    }
}

#[tokio::test]
async fn kubernetes_via_service_account_ref_and_secret_ref() {
    let env = TestEnv::new("sess-k8s").await;
    let policy = seed(&env).await;
    let mount = kubernetes_mount(&env).await;
    create_service_account(&env, "app").await;
    let audience = format!("vault-{}", env.prefix);
    for (role, audience) in [("aud", Some(audience.clone())), ("plain", None)] {
        let role_spec = KubernetesRole {
            bound_service_account_names: vec!["app".into()],
            bound_service_account_namespaces: vec![env.namespace.clone()],
            policies: vec![policy.clone()],
            ttl: Some(Duration::from_secs(600)),
            audience,
        };
        env.vault
            .write_kubernetes_role(&mount, role, &role_spec)
            .await
            .unwrap();
    }
    let auth = |role: &str, sa: Option<Vec<String>>, secret: Option<SecretKeySelector>| {
        let service_account_ref = sa.map(|audiences| ServiceAccountSelector {
            name: "app".into(),
            namespace: None,
            audiences,
        });
        VaultAuth {
            kubernetes: Some(VaultKubernetesAuth {
                mount_path: mount.clone(),
                role: role.into(),
                service_account_ref,
                secret_ref: secret,
            }),
            ..VaultAuth::default()
        }
    };
    let sessions = Sessions::new(env.kube.clone(), None);

    // serviceAccountRef: a TokenRequest for the role's audience.
    let by_sa = auth("aud", Some(vec![audience]), None);
    login_and_read(&env, &sessions, &secret_store(&env, "sa", by_sa)).await;
    assert_eq!(sessions.logins(), 1);
    // The role's audience is enforced: a token requested for another audience is refused.
    let wrong = auth("aud", Some(vec!["other".into()]), None);
    match sessions.get(&secret_store(&env, "wrong", wrong)).await {
        Err(AgentError::Login { method, .. }) => assert_eq!(method, "kubernetes"),
        other => panic!("expected a refused login, got {:?}", other.map(|(k, _)| k)),
    }

    // secretRef: a token kept in a Secret, under the default key `token` (as in ESO).
    let jwt = service_account_token(&env, "app", Vec::new()).await;
    create_secret(&env, "app-token", &[("token", &jwt)]).await;
    let by_secret = auth("plain", None, Some(key_ref("app-token", None)));
    login_and_read(&env, &sessions, &secret_store(&env, "s", by_secret)).await;
    assert_eq!(sessions.logins(), 2);
    sessions.revoke_all().await;
}

#[tokio::test]
async fn jwt_via_kubernetes_service_account_token() {
    let env = TestEnv::new("sess-jwt").await;
    let Some(pem) = env.kube_sa_public_key_pem.clone() else {
        eprintln!("skipped: the cluster's service-account signing key is unknown");
        return;
    };
    let policy = seed(&env).await;
    create_service_account(&env, "app").await;
    let mount = format!("jwt-{}", env.prefix);
    env.vault.enable_auth(&mount, "jwt").await.unwrap();
    let config = JwtAuthConfig {
        jwt_validation_pubkeys: vec![pem],
        ..JwtAuthConfig::default()
    };
    env.vault.configure_jwt_auth(&mount, &config).await.unwrap();
    let role = JwtRole {
        // ESO requests the `vault` audience when none is given.
        bound_audiences: vec!["vault".into()],
        bound_subject: Some(format!("system:serviceaccount:{}:app", env.namespace)),
        policies: vec![policy],
        ttl: Some(Duration::from_secs(600)),
        ..JwtRole::default()
    };
    env.vault
        .write_jwt_role(&mount, "app", &role)
        .await
        .unwrap();
    let auth = VaultAuth {
        jwt: Some(VaultJwtAuth {
            path: mount,
            role: Some("app".into()),
            secret_ref: None,
            kubernetes_service_account_token: Some(VaultKubernetesServiceAccountTokenAuth {
                service_account_ref: ServiceAccountSelector {
                    name: "app".into(),
                    namespace: None,
                    audiences: Vec::new(),
                },
                audiences: None,
                expiration_seconds: None,
            }),
        }),
        ..VaultAuth::default()
    };
    let sessions = Sessions::new(env.kube.clone(), None);
    login_and_read(&env, &sessions, &secret_store(&env, "jwt", auth)).await;
    assert_eq!(sessions.logins(), 1);
    sessions.revoke_all().await;
}

#[tokio::test]
async fn one_login_per_identity_and_invalidation() {
    let env = TestEnv::new("sess-share").await;
    let policy = seed(&env).await;
    let (mount, role_id, secret_id) = approle(&env, &policy, None).await;
    create_secret(&env, "approle", &[("secret-id", secret_id.expose_secret())]).await;
    let sessions = Sessions::new(env.kube.clone(), None);
    let a = secret_store(&env, "a", approle_auth(&mount, &role_id));

    // 20 reconciles asking at once: one login.
    let gets = (0..20).map(|_| sessions.get(&a));
    let results = futures::future::join_all(gets).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(sessions.logins(), 1);

    // Another store with the same identity shares the session.
    let b = secret_store(&env, "b", approle_auth(&mount, &role_id));
    let (key_b, _) = sessions.get(&b).await.unwrap();
    assert_eq!(key_b, a.session_key());
    assert_eq!(sessions.logins(), 1);

    // After a 403, invalidation forces exactly one new login...
    let (key, stale) = sessions.get(&a).await.unwrap();
    sessions.invalidate(&key, &stale).await;
    let fresh = login_and_read(&env, &sessions, &a).await;
    assert_eq!(sessions.logins(), 2);
    // ...and a late caller still holding the old client does not drop the new session.
    sessions.invalidate(&key, &stale).await;
    sessions.get(&b).await.unwrap();
    assert_eq!(sessions.logins(), 2);
    fresh.lookup_self().await.unwrap();

    // Idle sessions are dropped and their tokens revoked.
    sessions.evict_idle(Duration::ZERO).await;
    assert!(sessions.is_empty());
    assert!(fresh.lookup_self().await.unwrap_err().is_forbidden());
}

#[tokio::test]
async fn short_lived_tokens_are_renewed_in_the_background() {
    let env = TestEnv::new("sess-renew").await;
    let policy = seed(&env).await;
    let (mount, role_id, secret_id) = approle(&env, &policy, Some(Duration::from_secs(4))).await;
    create_secret(&env, "approle", &[("secret-id", secret_id.expose_secret())]).await;
    let sessions = Sessions::new(env.kube.clone(), None);
    let s = secret_store(&env, "renew", approle_auth(&mount, &role_id));
    let first = login_and_read(&env, &sessions, &s).await;
    // Without renewal the 4-second token would be dead (and replaced) by now.
    tokio::time::sleep(Duration::from_secs(7)).await;
    first.lookup_self().await.unwrap();
    login_and_read(&env, &sessions, &s).await;
    assert_eq!(sessions.logins(), 1);
    sessions.revoke_all().await;
}

#[tokio::test]
async fn secret_store_cannot_reference_another_namespace() {
    let env = TestEnv::new("sess-tenant").await;
    let auth = VaultAuth {
        token_secret_ref: Some(SecretKeySelector {
            name: "vault-token".into(),
            namespace: Some("kube-system".into()),
            key: Some("token".into()),
        }),
        ..VaultAuth::default()
    };
    let sessions = Sessions::new(env.kube.clone(), None);
    match sessions
        .get(&secret_store(&env, "evil", auth.clone()))
        .await
    {
        Err(e @ AgentError::ReadCredential { .. }) => {
            assert!(e.to_string().contains("cross-namespace"), "{e}");
        }
        other => panic!("expected a refusal, got {:?}", other.map(|(k, _)| k)),
    }
    assert_eq!(sessions.logins(), 0);
    // The same reference from a ClusterSecretStore is allowed (and fails only because the
    // Secret does not exist).
    match sessions
        .get(&store(&env, StoreKind::ClusterSecretStore, "css", auth))
        .await
    {
        Err(AgentError::ReadCredential { what, reason }) => {
            assert!(what.contains("kube-system/vault-token"), "{what}");
            assert!(reason.contains("does not exist"), "{reason}");
        }
        other => panic!("expected a missing Secret, got {:?}", other.map(|(k, _)| k)),
    }
}

#[tokio::test]
async fn fetcher_single_flight_and_window() {
    let env = TestEnv::new("sess-fetch").await;
    seed(&env).await;
    let auth = VaultAuth {
        token_secret_ref: Some(key_ref("vault-token", Some("token"))),
        ..VaultAuth::default()
    };
    let key = secret_store(&env, "fetch", auth).session_key();
    let fetcher = Fetcher::default();
    let path = env.path("app/db");
    let minute = Duration::from_secs(60);
    let read = |path, max_age| fetch(&fetcher, &key, &env, path, max_age);

    let results = futures::future::join_all((0..20).map(|_| read(&path, minute))).await;
    assert_eq!(fetcher.reads(), 1);
    let values: Vec<Arc<_>> = results.into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert!(values.iter().all(|v| v.data.expose()["password"] == VALUE));

    // Within the window: no request. A forced read (max age 0): one request.
    read(&path, minute).await.unwrap().unwrap();
    assert_eq!(fetcher.reads(), 1);
    read(&path, Duration::ZERO).await.unwrap().unwrap();
    assert_eq!(fetcher.reads(), 2);

    // "Not found" is an answer too, and is reused.
    let missing = env.path("app/missing");
    assert!(read(&missing, minute).await.unwrap().is_none());
    assert!(read(&missing, minute).await.unwrap().is_none());
    assert_eq!(fetcher.reads(), 3);

    // Eviction drops old entries; the next read asks Vault again.
    tokio::time::sleep(Duration::from_millis(20)).await;
    fetcher.evict(Duration::from_millis(10));
    assert!(fetcher.is_empty());
    read(&path, minute).await.unwrap().unwrap();
    assert_eq!(fetcher.reads(), 4);
}
