//! The planner of each auth method: from its block in `spec.provider.vault.auth` to a
//! [`Method`], with ESO's defaults and precedence inside the block, and the tenant rules of
//! the parent module (a SecretStore's credentials come from its own namespace only; the
//! agent's own token serves ClusterSecretStores only).

use ferry_api::vault::{
    DEFAULT_KUBERNETES_TOKEN_KEY, VaultAppRole, VaultCertAuth, VaultJwtAuth, VaultKubernetesAuth,
    VaultLdapAuth, VaultUserPassAuth,
};
use ferry_api::{ServiceAccountSelector, StoreKind};

use super::{
    AUTH, DEFAULT_JWT_AUDIENCE, DEFAULT_TOKEN_EXPIRATION_SECONDS, JwtSource, Method, RoleIdSource,
    StoreContext, invalid, mount_path, ref_namespace, required, secret_key,
};
use crate::error::{AgentError, Result};

pub(super) fn app_role(store: &StoreContext, a: &VaultAppRole) -> Result<Method> {
    let field = format!("{AUTH}.appRole");
    let mount = mount_path(&a.path, &format!("{field}.path"))?;
    // Like ESO: the inline roleId wins over roleRef.
    let role_id = match a.role_id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => RoleIdSource::Literal(id.to_owned()),
        _ => match &a.role_ref {
            Some(r) => {
                RoleIdSource::Secret(secret_key(store, r, &format!("{field}.roleRef"), None)?)
            }
            None => return Err(invalid(&field, "neither roleId nor roleRef is set")),
        },
    };
    let secret_id = secret_key(store, &a.secret_ref, &format!("{field}.secretRef"), None)?;
    Ok(Method::AppRole {
        mount,
        role_id,
        secret_id,
    })
}

pub(super) fn kubernetes(store: &StoreContext, k: &VaultKubernetesAuth) -> Result<Method> {
    let field = format!("{AUTH}.kubernetes");
    let mount = mount_path(&k.mount_path, &format!("{field}.mountPath"))?;
    let role = required(&k.role, &format!("{field}.role"))?;
    // Precedence as in ESO: serviceAccountRef, then secretRef, then the pod's own token. The
    // pod's token is the agent's own identity: only a ClusterSecretStore (admin
    // configuration) may use it, never a namespaced SecretStore a tenant controls.
    let jwt = if let Some(sa) = &k.service_account_ref {
        token_request(
            store,
            sa,
            &format!("{field}.serviceAccountRef"),
            Vec::new(),
            DEFAULT_TOKEN_EXPIRATION_SECONDS,
        )?
    } else if let Some(r) = &k.secret_ref {
        JwtSource::Secret(secret_key(
            store,
            r,
            &format!("{field}.secretRef"),
            Some(DEFAULT_KUBERNETES_TOKEN_KEY),
        )?)
    } else if store.kind == StoreKind::ClusterSecretStore {
        JwtSource::PodToken
    } else {
        return Err(invalid(
            &field,
            "a SecretStore must set serviceAccountRef or secretRef: the agent's own \
             ServiceAccount token serves only ClusterSecretStores",
        ));
    };
    Ok(Method::Kubernetes { mount, role, jwt })
}

pub(super) fn jwt(store: &StoreContext, j: &VaultJwtAuth) -> Result<Method> {
    let field = format!("{AUTH}.jwt");
    let mount = mount_path(&j.path, &format!("{field}.path"))?;
    let role = match j.role.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() => r.to_owned(),
        _ => {
            return Err(AgentError::Unsupported {
                field: format!("{field}.role"),
                feature: "JWT login without a role (the mount's default role)".to_owned(),
            });
        }
    };
    let jwt = if let Some(r) = &j.secret_ref {
        JwtSource::Secret(secret_key(store, r, &format!("{field}.secretRef"), None)?)
    } else if let Some(t) = &j.kubernetes_service_account_token {
        // ESO appends `audiences` (default ["vault"]) to serviceAccountRef.audiences.
        let extra = t
            .audiences
            .clone()
            .unwrap_or_else(|| vec![DEFAULT_JWT_AUDIENCE.to_owned()]);
        token_request(
            store,
            &t.service_account_ref,
            &format!("{field}.kubernetesServiceAccountToken.serviceAccountRef"),
            extra,
            t.expiration_seconds
                .unwrap_or(DEFAULT_TOKEN_EXPIRATION_SECONDS),
        )?
    } else {
        return Err(invalid(
            &field,
            "neither secretRef nor kubernetesServiceAccountToken is set",
        ));
    };
    Ok(Method::Jwt { mount, role, jwt })
}

fn token_request(
    store: &StoreContext,
    sa: &ServiceAccountSelector,
    field: &str,
    extra_audiences: Vec<String>,
    expiration_seconds: i64,
) -> Result<JwtSource> {
    let name = required(&sa.name, &format!("{field}.name"))?;
    let requested = sa.namespace.as_deref().filter(|n| !n.is_empty());
    let namespace = ref_namespace(store, requested, || {
        format!(
            "ServiceAccount {}/{name} ({field})",
            requested.unwrap_or("")
        )
    })?;
    let mut audiences = sa.audiences.clone();
    audiences.extend(extra_audiences);
    audiences.retain(|a| !a.trim().is_empty());
    if audiences.is_empty() {
        // No audience would mean the API server's own: never request that.
        audiences.push(DEFAULT_JWT_AUDIENCE.to_owned());
    }
    Ok(JwtSource::TokenRequest {
        namespace,
        name,
        audiences,
        expiration_seconds,
    })
}

/// Userpass login: ESO's `userPass` block.
pub(super) fn user_pass(store: &StoreContext, u: &VaultUserPassAuth) -> Result<Method> {
    let field = format!("{AUTH}.userPass");
    let (mount, username, password) =
        password_login(store, &field, &u.path, &u.username, &u.secret_ref)?;
    Ok(Method::UserPass {
        mount,
        username,
        password,
    })
}

/// LDAP login: ESO's `ldap` block.
pub(super) fn ldap(store: &StoreContext, l: &VaultLdapAuth) -> Result<Method> {
    let field = format!("{AUTH}.ldap");
    let (mount, username, password) =
        password_login(store, &field, &l.path, &l.username, &l.secret_ref)?;
    Ok(Method::Ldap {
        mount,
        username,
        password,
    })
}

/// The mount, user name and password reference of a user/password login. The user name
/// becomes one segment of the login path.
fn password_login(
    store: &StoreContext,
    field: &str,
    path: &str,
    username: &str,
    secret_ref: &ferry_api::SecretKeySelector,
) -> Result<(String, String, super::KeyRef)> {
    let mount = mount_path(path, &format!("{field}.path"))?;
    let username = required(username, &format!("{field}.username"))?;
    if username.contains('/') || username.chars().any(char::is_control) {
        return Err(invalid(
            &format!("{field}.username"),
            "must not contain '/' or control characters",
        ));
    }
    let password = secret_key(store, secret_ref, &format!("{field}.secretRef"), None)?;
    Ok((mount, username, password))
}

/// TLS certificate login: ESO's `cert` block (`clientCert` and `secretRef` for the key).
pub(super) fn cert(store: &StoreContext, c: &VaultCertAuth) -> Result<Method> {
    let field = format!("{AUTH}.cert");
    let mount = mount_path(&c.path, &format!("{field}.path"))?;
    let role = c
        .vault_role
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    let cert = secret_key(store, &c.client_cert, &format!("{field}.clientCert"), None)?;
    let key = secret_key(store, &c.secret_ref, &format!("{field}.secretRef"), None)?;
    Ok(Method::Cert {
        mount,
        role,
        cert,
        key,
    })
}
