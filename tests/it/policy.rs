//! Ferry's rendered policy templates against the real OpenBao and API server: the
//! app-readonly policy reads its app's paths and not a neighbour's, the namespace-scoped
//! policy follows the namespace of the service account that logged in, and the bootstrap
//! policy allows what bootstrap phases 1 to 4 do and nothing more (with `sudo` needed
//! exactly where the template says).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::common::{create_service_account, kubernetes_mount, service_account_token};
use ferry_policy::{AppParams, PolicyParams, Template, render, render_checked};
use ferry_testenv::TestEnv;
use ferry_vault::{
    KubernetesAuthConfig, KubernetesRole, KvData, KvVersion, Login, SecretString, TokenRequest,
    Vault, VaultError,
};

fn kv(value: &str) -> KvData {
    KvData::from_pairs([("value".to_string(), SecretString::from(value.to_string()))])
}

/// Renders `template`, checking it lints clean, as Ferry writes it.
fn rendered(template: Template, params: &PolicyParams) -> String {
    render_checked(template, template.source(), params).unwrap()
}

/// Writes `hcl` as policy `name` (as root) and returns a client holding a token carrying only
/// that policy.
async fn token_with(env: &TestEnv, name: &str, hcl: &str) -> Vault {
    env.vault.write_policy(name, hcl).await.unwrap();
    let auth = env
        .vault
        .create_token(&TokenRequest {
            policies: vec![name.to_string()],
            ttl: Some(Duration::from_secs(600)),
            ..TokenRequest::default()
        })
        .await
        .unwrap();
    env.vault.with_token(auth.client_token)
}

#[track_caller]
fn assert_forbidden<T: std::fmt::Debug>(result: Result<T, VaultError>, what: &str) {
    match result {
        Err(e) if e.is_forbidden() => {}
        other => panic!("{what}: expected 403, got {other:?}"),
    }
}

async fn read_value(vault: &Vault, mount: &str, path: &str) -> Result<String, VaultError> {
    let secret = vault.kv_read(mount, path, KvVersion::V2, None).await?;
    let secret = secret.unwrap_or_else(|| panic!("{path} exists"));
    Ok(secret
        .data
        .get("value")
        .unwrap()
        .as_str()
        .unwrap()
        .to_string())
}

#[tokio::test]
async fn app_readonly_reads_its_own_paths_only() {
    let env = TestEnv::new("policy-app").await;
    let mount = env.kv_mount.as_str();
    for (path, value) in [
        ("shop/db", "shop-db"),
        ("shop/api", "shop-api"),
        ("cart/db", "cart"),
    ] {
        env.vault
            .kv_write(mount, &env.path(path), KvVersion::V2, &kv(value), None)
            .await
            .unwrap();
    }
    let params = PolicyParams {
        mount: mount.to_string(),
        app: Some(AppParams {
            name: "shop".into(),
            paths: vec![env.path("shop/*")],
        }),
        ..PolicyParams::default()
    };
    let hcl = rendered(Template::AppReadonly, &params);
    let shop = token_with(&env, &format!("{}-shop", env.prefix), &hcl).await;

    assert_eq!(
        read_value(&shop, mount, &env.path("shop/db"))
            .await
            .unwrap(),
        "shop-db"
    );
    assert_eq!(
        read_value(&shop, mount, &env.path("shop/api"))
            .await
            .unwrap(),
        "shop-api"
    );
    // The neighbour app's path, writes and listings are denied.
    assert_forbidden(
        read_value(&shop, mount, &env.path("cart/db")).await,
        "neighbour read",
    );
    let write = shop
        .kv_write(mount, &env.path("shop/db"), KvVersion::V2, &kv("x"), None)
        .await;
    assert_forbidden(write, "write");
    assert_forbidden(
        shop.kv_list(mount, &env.path("shop"), KvVersion::V2).await,
        "list",
    );
}

/// The accessor of auth mount `mount` (`MountInfo` does not carry it).
async fn auth_accessor(vault: &Vault, mount: &str) -> String {
    // `Default::default()` is `GET`: the test crate has no direct reqwest dependency.
    let methods = vault
        .raw(Default::default(), "sys/auth", None)
        .await
        .unwrap()
        .unwrap();
    methods["data"][format!("{mount}/")]["accessor"]
        .as_str()
        .unwrap_or_else(|| panic!("no accessor for {mount} in {methods}"))
        .to_string()
}

#[tokio::test]
async fn namespace_scoped_follows_the_service_account_namespace() {
    let env = TestEnv::new("policy-ns").await;
    let mount = env.kv_mount.as_str();
    // Each namespace's folder is named after the namespace.
    let own = format!("{}/x", env.namespace);
    let other = format!("{}-other/x", env.namespace);
    for (path, value) in [(&own, "mine"), (&other, "theirs")] {
        env.vault
            .kv_write(mount, path, KvVersion::V2, &kv(value), None)
            .await
            .unwrap();
    }
    let auth_mount = kubernetes_mount(&env).await;
    let accessor = auth_accessor(&env.vault, &auth_mount).await;
    assert!(accessor.starts_with("auth_kubernetes_"), "{accessor}");
    let params = PolicyParams {
        mount: mount.to_string(),
        kubernetes_accessor: Some(accessor.clone()),
        ..PolicyParams::default()
    };
    let hcl = rendered(Template::NamespaceScoped, &params);
    assert!(hcl.contains(&format!(
        "{{{{identity.entity.aliases.{accessor}.metadata.service_account_namespace}}}}"
    )));
    let policy = format!("{}-ns", env.prefix);
    env.vault.write_policy(&policy, &hcl).await.unwrap();
    let role = KubernetesRole {
        bound_service_account_names: vec!["reader".into()],
        bound_service_account_namespaces: vec![env.namespace.clone()],
        policies: vec![policy.clone()],
        ttl: Some(Duration::from_secs(600)),
        audience: None,
    };
    env.vault
        .write_kubernetes_role(&auth_mount, "reader", &role)
        .await
        .unwrap();
    create_service_account(&env, "reader").await;
    let jwt = service_account_token(&env, "reader", Vec::new()).await;
    let login = Login::Kubernetes {
        mount: auth_mount.clone(),
        role: "reader".into(),
        jwt: SecretString::from(jwt),
    };
    let auth = env.vault.login(&login).await.unwrap();
    let reader = env.vault.with_token(auth.client_token);

    assert_eq!(read_value(&reader, mount, &own).await.unwrap(), "mine");
    let listed = reader
        .kv_list(mount, &env.namespace, KvVersion::V2)
        .await
        .unwrap();
    assert_eq!(listed, ["x"]);
    assert_forbidden(read_value(&reader, mount, &other).await, "other namespace");
    assert_forbidden(
        reader
            .kv_write(mount, &own, KvVersion::V2, &kv("x"), None)
            .await,
        "write",
    );
    // A token with the same policy but no Kubernetes identity reads nothing: the identity
    // template does not resolve.
    let plain = token_with(&env, &policy, &hcl).await;
    assert_forbidden(read_value(&plain, mount, &own).await, "token without alias");
}

/// Retries `op` while a freshly mounted KV v2 engine is still upgrading (any error other
/// than 403 or a check-and-set mismatch), for up to 20 s.
async fn kv_ready<F, Fut, T>(mut op: F) -> Result<T, VaultError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, VaultError>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match op().await {
            Err(e)
                if !e.is_forbidden()
                    && !e.is_cas_mismatch()
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
}

#[tokio::test]
async fn bootstrap_allows_phases_one_to_four_and_nothing_more() {
    let env = TestEnv::new("policy-boot").await;
    let kv_mount = format!("kv-{}", env.prefix);
    let k8s_mount = format!("boot-{}", env.prefix);
    let agent_policy = format!("{}-agent", env.prefix);
    let params = PolicyParams {
        mount: kv_mount.clone(),
        bootstrap_paths: vec!["flux-system/git".into()],
        policy_names: vec![agent_policy.clone()],
        kubernetes_mount: k8s_mount.clone(),
        ..PolicyParams::default()
    };
    let hcl = rendered(Template::Bootstrap, &params);
    let boot_policy = format!("{}-bootstrap", env.prefix);
    let boot = token_with(&env, &boot_policy, &hcl).await;
    let v2 = BTreeMap::from([("version".to_string(), "2".to_string())]);

    // Phase 1: mount KV v2 and enable Kubernetes auth there, and only there.
    assert!(boot.list_mounts().await.unwrap().contains_key("sys/"));
    boot.enable_mount(&kv_mount, "kv", v2.clone())
        .await
        .unwrap();
    let other_mount = boot.enable_mount(&format!("{kv_mount}-x"), "kv", v2).await;
    assert_forbidden(other_mount, "another secrets mount");
    boot.enable_auth(&k8s_mount, "kubernetes").await.unwrap();
    assert!(
        boot.list_auth_methods()
            .await
            .unwrap()
            .contains_key(&format!("{k8s_mount}/"))
    );
    assert_forbidden(
        boot.enable_auth(&format!("{k8s_mount}-x"), "kubernetes")
            .await,
        "another auth mount",
    );
    let config = KubernetesAuthConfig {
        host: env.kube_host.clone(),
        ca_cert_pem: Some(env.kube_ca_pem.clone()),
        token_reviewer_jwt: None,
        disable_local_ca_jwt: true,
        issuer: None,
    };
    boot.configure_kubernetes_auth(&k8s_mount, &config)
        .await
        .unwrap();

    // Phase 2: check-and-set writes on the declared path; never without `options`, never a
    // clobber, never a read of the value back, never another path.
    let git = "flux-system/git";
    let pw = kv("pw");
    let first = kv_ready(|| boot.kv_write(&kv_mount, git, KvVersion::V2, &pw, Some(0))).await;
    assert_eq!(first.unwrap(), Some(1));
    let again = boot
        .kv_write(&kv_mount, git, KvVersion::V2, &kv("pw2"), Some(0))
        .await;
    assert!(
        again.as_ref().is_err_and(VaultError::is_cas_mismatch),
        "{again:?}"
    );
    let meta = boot.kv_metadata(&kv_mount, git).await.unwrap().unwrap();
    assert_eq!(meta.current_version, 1);
    let second = boot
        .kv_write(&kv_mount, git, KvVersion::V2, &kv("pw2"), Some(1))
        .await;
    assert_eq!(second.unwrap(), Some(2));
    assert_forbidden(
        boot.kv_write(&kv_mount, git, KvVersion::V2, &kv("x"), None)
            .await,
        "write without check-and-set",
    );
    assert_forbidden(
        boot.kv_read(&kv_mount, git, KvVersion::V2, None).await,
        "read back",
    );
    assert_forbidden(
        boot.kv_write(
            &kv_mount,
            "flux-system/other",
            KvVersion::V2,
            &kv("x"),
            Some(0),
        )
        .await,
        "undeclared path",
    );

    // Phases 3 and 4: Ferry's policies by name, Kubernetes roles, child tokens.
    let agent_params = PolicyParams {
        mount: kv_mount.clone(),
        agent_paths: vec!["flux-system/*".into()],
        ..PolicyParams::default()
    };
    let agent_hcl = render(Template::Agent, &agent_params).unwrap();
    boot.write_policy(&agent_policy, &agent_hcl).await.unwrap();
    assert_forbidden(
        boot.write_policy(&format!("{}-other", env.prefix), &agent_hcl)
            .await,
        "a policy Ferry does not manage",
    );
    let role = KubernetesRole {
        bound_service_account_names: vec!["ferry-agent".into()],
        bound_service_account_namespaces: vec![env.namespace.clone()],
        policies: vec![agent_policy.clone()],
        ttl: Some(Duration::from_secs(600)),
        audience: None,
    };
    boot.write_kubernetes_role(&k8s_mount, "ferry-agent", &role)
        .await
        .unwrap();
    let child = boot
        .create_token(&TokenRequest {
            policies: vec![boot_policy.clone()],
            ttl: Some(Duration::from_secs(60)),
            ..TokenRequest::default()
        })
        .await
        .unwrap();
    env.vault.revoke_token(&child.client_token).await.unwrap();

    // And the end: the token revokes itself.
    boot.revoke_self().await.unwrap();
    assert!(boot.lookup_self().await.is_err());
}

#[tokio::test]
async fn enabling_kubernetes_auth_really_needs_sudo() {
    let env = TestEnv::new("policy-sudo").await;
    let k8s_mount = format!("nosudo-{}", env.prefix);
    let params = PolicyParams {
        bootstrap_paths: vec!["x".into()],
        policy_names: vec!["x".into()],
        kubernetes_mount: k8s_mount.clone(),
        ..PolicyParams::default()
    };
    let hcl = rendered(Template::Bootstrap, &params);
    let without = hcl.replace(r#""read", "sudo"]"#, r#""read"]"#);
    assert_ne!(without, hcl, "the template grants sudo on sys/auth/<mount>");
    let boot = token_with(&env, &format!("{}-nosudo", env.prefix), &without).await;
    assert_forbidden(
        boot.enable_auth(&k8s_mount, "kubernetes").await,
        "enable auth without sudo",
    );
}
