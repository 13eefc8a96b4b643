//! Proves the test environment is made of real components: each test asserts something a fake
//! would not do (check-and-set refusal, watch events, server-side apply ownership, optimistic
//! concurrency, TokenReview call-back, garbage collection).

use std::collections::BTreeMap;
use std::time::Duration;

use ferry_testenv::TestEnv;
use ferry_vault::{
    InitRequest, KubernetesAuthConfig, KubernetesRole, KvData, KvVersion, Login, Vault, VaultConfig,
};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, ObjectMeta, Patch,
    PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::wait::{await_condition, conditions};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

fn kv(pairs: &[(&str, &str)]) -> KvData {
    KvData::from_pairs(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), SecretString::from(v.to_string()))),
    )
}

fn api_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

#[tokio::test]
async fn kv_v2_versions_and_check_and_set() {
    let env = TestEnv::new("kv-v2").await;
    let (mount, path) = (env.kv_mount.as_str(), env.path("app/db"));
    let v2 = KvVersion::V2;

    assert!(
        env.vault
            .kv_read(mount, &path, v2, None)
            .await
            .unwrap()
            .is_none()
    );
    let first = env
        .vault
        .kv_write(mount, &path, v2, &kv(&[("password", "one")]), Some(0))
        .await;
    assert_eq!(first.unwrap(), Some(1));
    let second = env
        .vault
        .kv_write(mount, &path, v2, &kv(&[("password", "two")]), Some(1))
        .await;
    assert_eq!(second.unwrap(), Some(2));

    let latest = env
        .vault
        .kv_read(mount, &path, v2, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.version, Some(2));
    assert_eq!(latest.data.expose()["password"], "two");
    let pinned = env
        .vault
        .kv_read(mount, &path, v2, Some(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pinned.version, Some(1));
    assert_eq!(pinned.data.expose()["password"], "one");

    // A writer that still believes version 1 is current is refused, and nothing changes.
    let stale = env
        .vault
        .kv_write(mount, &path, v2, &kv(&[("password", "three")]), Some(1))
        .await;
    let err = stale.unwrap_err();
    assert!(
        err.is_cas_mismatch(),
        "expected a check-and-set refusal, got {err}"
    );
    let meta = env.vault.kv_metadata(mount, &path).await.unwrap().unwrap();
    assert_eq!(meta.current_version, 2);
}

#[tokio::test]
async fn api_server_serves_crds_watches_apply_and_conflicts() {
    let env = TestEnv::new("kube-api").await;
    let ns = env.namespace.as_str();

    // A CRD is registered, becomes Established and is served.
    let plural = format!("widgets{}", env.prefix.replace('-', ""));
    let kind = "Widget";
    let group = "sandbox.ferry.dev";
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": { "name": format!("{plural}.{group}") },
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": { "plural": plural, "singular": plural.trim_end_matches('s'), "kind": kind },
            "versions": [{ "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": { "type": "object",
                    "x-kubernetes-preserve-unknown-fields": true } } }]
        }
    }))
    .unwrap();
    let crds = Api::<CustomResourceDefinition>::all(env.kube.clone());
    crds.create(&PostParams::default(), &crd).await.unwrap();
    let crd_name = crd.metadata.name.clone().unwrap();
    let established = await_condition(crds, &crd_name, conditions::is_crd_established());
    tokio::time::timeout(Duration::from_secs(30), established)
        .await
        .unwrap()
        .unwrap();

    // An object of it is created and the watch sees it.
    let gvk = GroupVersionKind::gvk(group, "v1", kind);
    let ar = ApiResource::from_gvk_with_plural(&gvk, &plural);
    let widgets = Api::<DynamicObject>::namespaced_with(env.kube.clone(), ns, &ar);
    let rv = widgets
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version;
    let mut events = widgets
        .watch(&WatchParams::default().timeout(30), &rv.unwrap_or_default())
        .await
        .unwrap()
        .boxed();
    let mut widget = DynamicObject::new("w1", &ar).within(ns);
    widget.data = json!({ "spec": { "size": 3 } });
    widgets
        .create(&PostParams::default(), &widget)
        .await
        .unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = events.try_next().await.unwrap() {
            if let WatchEvent::Added(obj) = event {
                return obj;
            }
        }
        panic!("watch ended without an Added event");
    })
    .await
    .unwrap();
    assert_eq!(seen.metadata.name.as_deref(), Some("w1"));
    assert_eq!(seen.data["spec"]["size"], 3);

    // A Secret written by server-side apply records its field manager; a second manager that
    // claims the same field without force is refused with a conflict.
    let secrets = Api::<Secret>::namespaced(env.kube.clone(), ns);
    let applied = json!({ "apiVersion": "v1", "kind": "Secret",
        "metadata": { "name": "applied" }, "stringData": { "user": "ferry" } });
    let secret = secrets
        .patch(
            "applied",
            &PatchParams::apply("ferry-test"),
            &Patch::Apply(&applied),
        )
        .await
        .unwrap();
    let managers: Vec<_> = secret.metadata.managed_fields.unwrap_or_default();
    assert!(
        managers
            .iter()
            .any(|m| m.manager.as_deref() == Some("ferry-test")
                && m.operation.as_deref() == Some("Apply")),
        "field manager not recorded: {managers:?}"
    );
    let rival = json!({ "apiVersion": "v1", "kind": "Secret",
        "metadata": { "name": "applied" }, "stringData": { "user": "someone-else" } });
    let err = secrets
        .patch(
            "applied",
            &PatchParams::apply("rival"),
            &Patch::Apply(&rival),
        )
        .await
        .unwrap_err();
    assert_eq!(
        api_code(&err),
        Some(409),
        "expected an apply conflict, got {err}"
    );

    // An update that carries a stale resourceVersion is answered 409.
    let maps = Api::<ConfigMap>::namespaced(env.kube.clone(), ns);
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("occ".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("k".to_string(), "v1".to_string())])),
        ..Default::default()
    };
    let original = maps.create(&PostParams::default(), &cm).await.unwrap();
    let mut fresh = original.clone();
    fresh.data = Some(BTreeMap::from([("k".to_string(), "v2".to_string())]));
    maps.replace("occ", &PostParams::default(), &fresh)
        .await
        .unwrap();
    let mut stale = original;
    stale.data = Some(BTreeMap::from([("k".to_string(), "v3".to_string())]));
    let err = maps
        .replace("occ", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some(409), "expected a conflict, got {err}");
}

#[tokio::test]
async fn vault_kubernetes_auth_calls_back_into_the_api_server() {
    let env = TestEnv::new("trust-chain").await;
    let ns = env.namespace.as_str();
    let sa_name = "app";

    // A ServiceAccount allowed to have its own tokens reviewed (Vault uses the login JWT as
    // the reviewer when it has no reviewer token of its own).
    let sas = Api::<ServiceAccount>::namespaced(env.kube.clone(), ns);
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(sa_name.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    sas.create(&PostParams::default(), &sa).await.unwrap();
    let binding = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(format!("{}-auth-delegator", env.prefix)),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: "system:auth-delegator".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: sa_name.into(),
            namespace: Some(ns.into()),
            ..Default::default()
        }]),
    };
    Api::<ClusterRoleBinding>::all(env.kube.clone())
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(600),
            ..Default::default()
        },
        ..Default::default()
    };
    let issued = sas
        .create_token_request(sa_name, &PostParams::default(), &request)
        .await;
    let jwt = SecretString::from(issued.unwrap().status.unwrap().token);

    // Vault's Kubernetes auth pointed at this API server, a role bound to the ServiceAccount
    // and a policy that allows one path only.
    let auth_mount = format!("k8s-{}", env.prefix);
    env.vault
        .enable_auth(&auth_mount, "kubernetes")
        .await
        .unwrap();
    let config = KubernetesAuthConfig {
        host: env.kube_host.clone(),
        ca_cert_pem: Some(env.kube_ca_pem.clone()),
        token_reviewer_jwt: None,
        disable_local_ca_jwt: true,
        issuer: None,
    };
    env.vault
        .configure_kubernetes_auth(&auth_mount, &config)
        .await
        .unwrap();
    let policy = format!("{}-read", env.prefix);
    let hcl = format!(
        "path \"{}/data/{}/*\" {{ capabilities = [\"read\"] }}",
        env.kv_mount,
        env.path("allowed")
    );
    env.vault.write_policy(&policy, &hcl).await.unwrap();
    let role = KubernetesRole {
        bound_service_account_names: vec![sa_name.into()],
        bound_service_account_namespaces: vec![ns.into()],
        policies: vec![policy],
        ttl: Some(Duration::from_secs(300)),
        audience: None,
    };
    env.vault
        .write_kubernetes_role(&auth_mount, "app", &role)
        .await
        .unwrap();
    let (mount, v2) = (env.kv_mount.as_str(), KvVersion::V2);
    for path in ["allowed/db", "denied/db"] {
        let data = kv(&[("pw", "x")]);
        env.vault
            .kv_write(mount, &env.path(path), v2, &data, None)
            .await
            .unwrap();
    }

    // A forged token is refused: Vault really asked the API server. One character inside the
    // signature changes (not the last one, whose low bits base64url may ignore).
    let mut forged_jwt = jwt.expose_secret().as_bytes().to_vec();
    let i = forged_jwt.len() - 10;
    forged_jwt[i] = if forged_jwt[i] == b'A' { b'B' } else { b'A' };
    let forged = Login::Kubernetes {
        mount: auth_mount.clone(),
        role: "app".into(),
        jwt: SecretString::from(String::from_utf8(forged_jwt).unwrap()),
    };
    assert!(
        env.vault.login(&forged).await.is_err(),
        "a forged JWT must not log in"
    );

    let login = Login::Kubernetes {
        mount: auth_mount,
        role: "app".into(),
        jwt,
    };
    let auth = env.vault.login(&login).await.unwrap();
    let app = env.vault.with_token(auth.client_token);
    let allowed = app
        .kv_read(mount, &env.path("allowed/db"), v2, None)
        .await
        .unwrap();
    assert_eq!(allowed.unwrap().data.expose()["pw"], "x");
    let err = app
        .kv_read(mount, &env.path("denied/db"), v2, None)
        .await
        .unwrap_err();
    assert!(err.is_forbidden(), "expected permission denied, got {err}");
}

#[tokio::test]
async fn garbage_collector_deletes_owned_objects() {
    let env = TestEnv::new("gc").await;
    let ns = env.namespace.as_str();
    let maps = Api::<ConfigMap>::namespaced(env.kube.clone(), ns);
    let owner = ConfigMap {
        metadata: ObjectMeta {
            name: Some("owner".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let owner = maps.create(&PostParams::default(), &owner).await.unwrap();
    let secrets = Api::<Secret>::namespaced(env.kube.clone(), ns);
    let owned = Secret {
        metadata: ObjectMeta {
            name: Some("owned".into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                name: "owner".into(),
                uid: owner.metadata.uid.clone().unwrap(),
                ..Default::default()
            }]),
            ..Default::default()
        },
        ..Default::default()
    };
    secrets
        .create(&PostParams::default(), &owned)
        .await
        .unwrap();

    maps.delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    let gone = async {
        loop {
            match secrets.get_opt("owned").await.unwrap() {
                None => return,
                Some(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), gone)
        .await
        .expect("the garbage collector did not delete the owned Secret within 60 s");
}

#[tokio::test]
async fn uninitialised_openbao_inits_seals_and_unseals() {
    let bao = ferry_testenv::OpenBao::uninitialised();
    let vault = Vault::connect(&VaultConfig::new(bao.address.clone())).unwrap();
    let status = vault.seal_status().await.unwrap();
    assert!(!status.initialized && status.sealed);

    let init = vault
        .init(&InitRequest {
            secret_shares: 3,
            secret_threshold: 2,
        })
        .await
        .unwrap();
    assert_eq!(init.keys.len(), 3);
    let root = vault.with_token(init.root_token.clone());
    let err = root.list_mounts().await.unwrap_err();
    assert!(
        err.is_sealed(),
        "a sealed server must refuse requests, got {err}"
    );

    // One share is not enough; the second unseals.
    assert!(vault.unseal(&init.keys[0]).await.unwrap().sealed);
    let status = vault.unseal(&init.keys[2]).await.unwrap();
    assert!(!status.sealed && status.initialized);
    ferry_testenv::openbao::wait_until_active(&root).await;
    assert!(
        root.lookup_self()
            .await
            .unwrap()
            .policies
            .contains(&"root".to_string())
    );

    root.seal().await.unwrap();
    assert!(vault.seal_status().await.unwrap().sealed);
}
