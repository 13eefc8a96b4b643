//! Unit tests of [`super::plan`]: ESO's defaults and precedence, tenant isolation and the
//! identity of sessions.

use ferry_api::vault::{
    CaProvider, VaultAppRole, VaultAuth, VaultCertAuth, VaultJwtAuth, VaultKubernetesAuth,
    VaultKubernetesServiceAccountTokenAuth, VaultLdapAuth, VaultUserPassAuth,
};
use ferry_api::{SecretKeySelector, ServiceAccountSelector, StoreKind, VaultProvider};

use super::*;

fn store(kind: StoreKind, auth: VaultAuth) -> StoreContext {
    StoreContext {
        kind,
        name: "vault".into(),
        provider: VaultProvider {
            server: "https://vault.example:8200/".into(),
            auth: Some(auth),
            ..VaultProvider::default()
        },
        ref_namespace: "team-a".into(),
    }
}

fn sel(name: &str, namespace: Option<&str>, key: Option<&str>) -> SecretKeySelector {
    SecretKeySelector {
        name: name.into(),
        namespace: namespace.map(str::to_owned),
        key: key.map(str::to_owned),
    }
}

fn token_auth(namespace: Option<&str>) -> VaultAuth {
    VaultAuth {
        token_secret_ref: Some(sel("vault-token", namespace, Some("token"))),
        ..VaultAuth::default()
    }
}

#[test]
fn token_plan_and_normalization() -> Result<()> {
    let mut s = store(StoreKind::SecretStore, token_auth(None));
    s.provider.namespace = Some("/ns1/".into());
    let p = plan(&s)?;
    assert_eq!(p.server, "https://vault.example:8200");
    assert_eq!(p.namespace.as_deref(), Some("ns1"));
    assert_eq!(p.auth_namespace, None);
    assert_eq!(p.ca, CaSource::System);
    let Method::Token { token } = &p.method else {
        panic!("expected a token plan, got {p:?}");
    };
    assert_eq!(
        (token.namespace.as_str(), token.key.as_str()),
        ("team-a", "token")
    );
    Ok(())
}

#[test]
fn secret_store_refuses_other_namespaces() {
    let s = store(StoreKind::SecretStore, token_auth(Some("team-b")));
    match plan(&s) {
        Err(AgentError::ReadCredential { what, reason }) => {
            assert!(what.contains("team-b/vault-token"), "{what}");
            assert!(reason.contains("cross-namespace"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Naming its own namespace is fine.
    assert!(plan(&store(StoreKind::SecretStore, token_auth(Some("team-a")))).is_ok());
}

#[test]
fn cluster_store_uses_the_reference_namespace_or_the_callers() -> Result<()> {
    let p = plan(&store(
        StoreKind::ClusterSecretStore,
        token_auth(Some("vault")),
    ))?;
    assert!(matches!(&p.method, Method::Token { token } if token.namespace == "vault"));
    let p = plan(&store(StoreKind::ClusterSecretStore, token_auth(None)))?;
    assert!(matches!(&p.method, Method::Token { token } if token.namespace == "team-a"));
    Ok(())
}

#[test]
fn kubernetes_defaults_follow_eso() -> Result<()> {
    let k = |k: VaultKubernetesAuth| VaultAuth {
        kubernetes: Some(k),
        ..VaultAuth::default()
    };
    let base = VaultKubernetesAuth {
        role: "app".into(),
        ..VaultKubernetesAuth::default()
    };
    // The pod's own token serves a ClusterSecretStore only (admin configuration).
    let p = plan(&store(StoreKind::ClusterSecretStore, k(base.clone())))?;
    assert_eq!(
        p.method,
        Method::Kubernetes {
            mount: "kubernetes".into(),
            role: "app".into(),
            jwt: JwtSource::PodToken,
        }
    );
    match plan(&store(StoreKind::SecretStore, k(base.clone()))) {
        Err(AgentError::ValidateSpec { field, message }) => {
            assert_eq!(field, "spec.provider.vault.auth.kubernetes");
            assert!(message.contains("serviceAccountRef"), "{message}");
        }
        other => panic!("a SecretStore must not use the agent's token, got {other:?}"),
    }
    let with_secret = VaultKubernetesAuth {
        secret_ref: Some(sel("sa-token", None, None)),
        ..base.clone()
    };
    let p = plan(&store(StoreKind::SecretStore, k(with_secret)))?;
    assert!(
        matches!(&p.method, Method::Kubernetes { jwt: JwtSource::Secret(r), .. } if r.key == "token")
    );
    let with_sa = VaultKubernetesAuth {
        service_account_ref: Some(ServiceAccountSelector {
            name: "app".into(),
            namespace: None,
            audiences: vec!["vault-a".into()],
        }),
        ..base
    };
    let p = plan(&store(StoreKind::SecretStore, k(with_sa.clone())))?;
    let Method::Kubernetes { jwt, .. } = p.method else {
        panic!("expected kubernetes");
    };
    assert_eq!(
        jwt,
        JwtSource::TokenRequest {
            namespace: "team-a".into(),
            name: "app".into(),
            audiences: vec!["vault-a".into()],
            expiration_seconds: 600,
        }
    );
    // No audience (or only blank ones) never means the API server's: Vault's default.
    let mut no_audience = with_sa;
    if let Some(sa) = no_audience.service_account_ref.as_mut() {
        sa.audiences = vec![" ".into()];
    }
    let p = plan(&store(StoreKind::SecretStore, k(no_audience)))?;
    assert!(matches!(&p.method, Method::Kubernetes {
        jwt: JwtSource::TokenRequest { audiences, .. }, .. } if audiences == &["vault"]));
    Ok(())
}

#[test]
fn jwt_token_request_appends_the_default_audience() -> Result<()> {
    let auth = VaultAuth {
        jwt: Some(VaultJwtAuth {
            role: Some(" reader ".into()),
            kubernetes_service_account_token: Some(VaultKubernetesServiceAccountTokenAuth {
                service_account_ref: ServiceAccountSelector {
                    name: "app".into(),
                    namespace: None,
                    audiences: vec!["a".into()],
                },
                audiences: None,
                expiration_seconds: None,
            }),
            ..VaultJwtAuth::default()
        }),
        ..VaultAuth::default()
    };
    let p = plan(&store(StoreKind::SecretStore, auth))?;
    let Method::Jwt { mount, role, jwt } = p.method else {
        panic!("expected jwt");
    };
    assert_eq!((mount.as_str(), role.as_str()), ("jwt", "reader"));
    assert!(
        matches!(jwt, JwtSource::TokenRequest { audiences, expiration_seconds: 600, .. }
        if audiences == ["a", "vault"])
    );
    Ok(())
}

#[test]
fn approle_prefers_the_inline_role_id() -> Result<()> {
    let auth = VaultAuth {
        app_role: Some(VaultAppRole {
            role_id: Some("rid".into()),
            role_ref: Some(sel("approle", None, Some("role-id"))),
            secret_ref: sel("approle", None, Some("secret-id")),
            ..VaultAppRole::default()
        }),
        ..VaultAuth::default()
    };
    let p = plan(&store(StoreKind::SecretStore, auth))?;
    assert!(
        matches!(&p.method, Method::AppRole { mount, role_id: RoleIdSource::Literal(id), .. }
        if mount == "approle" && id == "rid")
    );
    let missing = VaultAuth {
        app_role: Some(VaultAppRole {
            secret_ref: sel("approle", None, None),
            role_id: Some("rid".into()),
            ..VaultAppRole::default()
        }),
        ..VaultAuth::default()
    };
    assert!(matches!(
        plan(&store(StoreKind::SecretStore, missing)),
        Err(AgentError::ValidateSpec { field, .. }) if field.ends_with("appRole.secretRef.key")
    ));
    Ok(())
}

#[test]
fn password_and_certificate_methods() -> Result<()> {
    let ldap = VaultAuth {
        ldap: Some(VaultLdapAuth {
            username: " alice ".into(),
            secret_ref: sel("ldap", None, Some("password")),
            ..VaultLdapAuth::default()
        }),
        jwt: Some(VaultJwtAuth::default()),
        ..VaultAuth::default()
    };
    // ESO tries ldap before jwt.
    let p = plan(&store(StoreKind::SecretStore, ldap))?;
    let Method::Ldap {
        mount,
        username,
        password,
    } = &p.method
    else {
        panic!("expected an LDAP plan, got {p:?}");
    };
    assert_eq!((mount.as_str(), username.as_str()), ("ldap", "alice"));
    assert_eq!(password.field, "spec.provider.vault.auth.ldap.secretRef");
    assert_eq!(p.secret_refs().len(), 1);

    let user_pass = |user: &str, ns: Option<&str>| VaultAuth {
        user_pass: Some(VaultUserPassAuth {
            path: "/corp-userpass/".into(),
            username: user.into(),
            secret_ref: sel("creds", ns, Some("password")),
        }),
        ..VaultAuth::default()
    };
    let p = plan(&store(StoreKind::SecretStore, user_pass("app", None)))?;
    assert!(
        matches!(&p.method, Method::UserPass { mount, .. } if mount == "corp-userpass"),
        "{p:?}"
    );
    assert_eq!(p.method.name(), "userpass");
    for bad in ["", "a/b"] {
        assert!(matches!(
            plan(&store(StoreKind::SecretStore, user_pass(bad, None))),
            Err(AgentError::ValidateSpec { field, .. }) if field.ends_with("userPass.username")
        ));
    }
    // A SecretStore's password comes from its own namespace only.
    assert!(matches!(
        plan(&store(
            StoreKind::SecretStore,
            user_pass("app", Some("team-b"))
        )),
        Err(AgentError::ReadCredential { .. })
    ));
    let p = plan(&store(
        StoreKind::ClusterSecretStore,
        user_pass("app", Some("vault")),
    ))?;
    assert_eq!(p.secret_refs()[0].namespace, "vault");

    let cert = VaultAuth {
        cert: Some(VaultCertAuth {
            vault_role: Some("web".into()),
            client_cert: sel("client", None, Some("tls.crt")),
            secret_ref: sel("client", None, Some("tls.key")),
            ..VaultCertAuth::default()
        }),
        ..VaultAuth::default()
    };
    let p = plan(&store(StoreKind::SecretStore, cert.clone()))?;
    let Method::Cert { mount, role, .. } = &p.method else {
        panic!("expected a certificate plan, got {p:?}");
    };
    assert_eq!((mount.as_str(), role.as_deref()), ("cert", Some("web")));
    let keys: Vec<&str> = p.secret_refs().iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["tls.crt", "tls.key"]);
    let mut plain = store(StoreKind::SecretStore, cert);
    plain.provider.server = "http://vault.example:8200".into();
    assert!(matches!(
        plan(&plain),
        Err(AgentError::ValidateSpec { field, .. }) if field == "spec.provider.vault.server"
    ));
    Ok(())
}

#[test]
fn unsupported_and_missing_methods() {
    let iam = VaultAuth {
        iam: Some(serde_json::json!({"vaultRole": "r"})),
        gcp: Some(serde_json::json!({"role": "r"})),
        ..VaultAuth::default()
    };
    assert!(matches!(
        plan(&store(StoreKind::SecretStore, iam)),
        Err(AgentError::Unsupported { field, .. }) if field == "spec.provider.vault.auth.iam"
    ));
    let mut other = VaultAuth::default();
    other
        .other
        .insert("oci".into(), serde_json::json!({"role": "x"}));
    assert!(matches!(
        plan(&store(StoreKind::SecretStore, other)),
        Err(AgentError::Unsupported { field, .. }) if field == "spec.provider.vault.auth.oci"
    ));
    let mut none = store(StoreKind::SecretStore, VaultAuth::default());
    assert!(matches!(plan(&none), Err(AgentError::ValidateSpec { field, .. }) if field == AUTH));
    none.provider.auth = None;
    assert!(matches!(plan(&none), Err(AgentError::ValidateSpec { field, .. }) if field == AUTH));
}

#[test]
fn ca_provider_namespaces() {
    let ca = |namespace: Option<&str>| CaProvider {
        name: "vault-ca".into(),
        key: Some("ca.crt".into()),
        namespace: namespace.map(str::to_owned),
        ..CaProvider::default()
    };
    let with_ca = |kind, namespace| {
        let mut s = store(kind, token_auth(None));
        s.provider.ca_provider = Some(ca(namespace));
        s
    };
    assert!(matches!(
        plan(&with_ca(StoreKind::SecretStore, Some("other"))),
        Err(AgentError::ReadCredential { .. })
    ));
    assert!(matches!(
        plan(&with_ca(StoreKind::ClusterSecretStore, None)),
        Err(AgentError::ValidateSpec { .. })
    ));
    let ok = plan(&with_ca(StoreKind::ClusterSecretStore, Some("vault")));
    assert!(matches!(ok, Ok(Plan { ca: CaSource::Secret(r), .. }) if r.namespace == "vault"));
}

#[test]
fn identity_ignores_the_store_but_not_the_credentials() {
    let a = store(StoreKind::SecretStore, token_auth(None));
    let mut b = a.clone();
    b.name = "other-store".into();
    assert_eq!(a.session_key(), b.session_key());
    let mut c = a.clone();
    c.ref_namespace = "team-b".into();
    assert_ne!(a.session_key(), c.session_key());
    let mut d = a.clone();
    d.provider.ca_bundle = Some(k8s_openapi::ByteString(b"pem".to_vec()));
    assert_ne!(a.session_key(), d.session_key());
    let dbg = format!("{:?}", d.session_key());
    assert!(!dbg.contains("pem\""), "{dbg}");
}
