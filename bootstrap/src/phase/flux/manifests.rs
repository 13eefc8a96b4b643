//! The pure half of phase 3: which Secret key comes from where, and the objects applied
//! (the agent's Vault role, the store, the ExternalSecret, the Flux Secret's literal keys).
//!
//! A key whose value is an `env` entry is read from Vault by the agent through the
//! ExternalSecret. A key written literally in `bootstrap.yaml` (an HTTPS user name, SSH
//! `known_hosts`) is not a secret and is not in Vault: bootstrap writes it into the Secret
//! itself, under its own field manager. An ExternalSecret cannot set a literal without a
//! template, so when there are literal keys the ExternalSecret uses `creationPolicy: Merge`
//! (the agent leaves the literal keys alone) and bootstrap makes the ExternalSecret the
//! Secret's controlling owner; with no literal keys it is a plain `creationPolicy: Owner`.

use ferry_config::{BootstrapConfig, FluxAuth, KvVersion, StoreKind, ValueSource};
use ferry_vault::KubernetesRole;
use serde_json::{Value, json};

use crate::error::BootstrapError;

/// The external-secrets.io API version phase 3 writes.
pub const ESO_API_VERSION: &str = "external-secrets.io/v1";

/// The TTL of the agent's Vault tokens; the agent renews them before they run out.
pub const AGENT_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// One key of the Flux Secret and where its value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A KV secret's key, written by phase 2 from the `env` entry `env`.
    Vault {
        /// The `env` entry's name.
        env: String,
        /// The KV path, relative to the mount.
        path: String,
        /// The key inside that KV secret.
        key: String,
    },
    /// A value written in `bootstrap.yaml` (not a secret).
    Literal(String),
}

/// The keys of the Flux Secret, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// (Secret key, source) pairs.
    pub keys: Vec<(String, KeySource)>,
}

impl Credentials {
    /// The keys read from Vault, as (Secret key, KV path, KV key).
    pub fn vault_keys(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.keys.iter().filter_map(|(name, source)| match source {
            KeySource::Vault { path, key, .. } => {
                Some((name.as_str(), path.as_str(), key.as_str()))
            }
            KeySource::Literal(_) => None,
        })
    }

    /// The literal keys, as (Secret key, value).
    pub fn literals(&self) -> impl Iterator<Item = (&str, &str)> {
        self.keys.iter().filter_map(|(name, source)| match source {
            KeySource::Literal(value) => Some((name.as_str(), value.as_str())),
            KeySource::Vault { .. } => None,
        })
    }

    /// Whether some key is a literal (and the ExternalSecret therefore merges).
    pub fn has_literals(&self) -> bool {
        self.literals().next().is_some()
    }
}

/// Where each key of the Flux Secret comes from, per `flux.auth`.
pub fn credentials(config: &BootstrapConfig) -> Result<Credentials, BootstrapError> {
    let mut keys = Vec::new();
    let mut add = |name: &str, field: &str, source: ValueSource<'_>| {
        let source = match source {
            ValueSource::Literal(value) => KeySource::Literal(value.to_owned()),
            ValueSource::Env(env) => {
                let entry =
                    config
                        .env_entry(env)
                        .ok_or_else(|| BootstrapError::InvalidArgument {
                            field: format!("flux.auth.{field}"),
                            message: format!("names no entry of `env`: {env}"),
                        })?;
                KeySource::Vault {
                    env: env.to_owned(),
                    path: entry.path.clone(),
                    key: entry.key.clone(),
                }
            }
        };
        keys.push((name.to_owned(), source));
        Ok::<(), BootstrapError>(())
    };
    match &config.flux.auth {
        FluxAuth::Https(https) => {
            add("username", "https.usernameEnv", https.username_source())?;
            add(
                "password",
                "https.passwordEnv",
                ValueSource::Env(&https.password_env),
            )?;
        }
        FluxAuth::Ssh(ssh) => {
            add(
                "identity",
                "ssh.identityEnv",
                ValueSource::Env(&ssh.identity_env),
            )?;
            if let Some(source) = ssh.known_hosts_source() {
                add("known_hosts", "ssh.knownHostsEnv", source)?;
            }
        }
    }
    Ok(Credentials { keys })
}

/// The Vault Kubernetes auth role of the agent: its ServiceAccount in its namespace (and,
/// for a namespaced store, in Flux's namespace, where that store's ServiceAccount lives).
pub fn agent_role(config: &BootstrapConfig) -> KubernetesRole {
    let agent = &config.agent;
    let mut namespaces = vec![agent.namespace.clone()];
    if agent.store_kind == StoreKind::SecretStore && config.flux.namespace != agent.namespace {
        namespaces.push(config.flux.namespace.clone());
    }
    KubernetesRole {
        bound_service_account_names: vec![agent.service_account.clone()],
        bound_service_account_namespaces: namespaces,
        policies: vec![agent.policy.clone()],
        ttl: Some(AGENT_TOKEN_TTL),
        // Ferry requests the agent's tokens for this audience, never the API server's.
        audience: Some(ferry_api::vault::DEFAULT_TOKEN_AUDIENCE.to_owned()),
    }
}

/// The namespace the agent's ServiceAccount is referenced in by the store: the agent's own
/// for a ClusterSecretStore, Flux's for a SecretStore (a namespaced store can only name a
/// ServiceAccount of its own namespace).
pub fn store_service_account_namespace(config: &BootstrapConfig) -> &str {
    match config.agent.store_kind {
        StoreKind::ClusterSecretStore => &config.agent.namespace,
        StoreKind::SecretStore => &config.flux.namespace,
    }
}

/// The store's manifest: the Vault provider with Kubernetes auth as the agent's
/// ServiceAccount. `ca_pem` is the PEM bundle from `vault.caFile` / `vault.caPem`.
pub fn store(config: &BootstrapConfig, ca_pem: Option<&[u8]>) -> Value {
    use base64::Engine;
    let agent = &config.agent;
    let mut metadata = json!({ "name": agent.store_name });
    if agent.store_kind == StoreKind::SecretStore {
        metadata["namespace"] = json!(config.flux.namespace);
    }
    let mut vault = json!({
        "server": config.vault.address,
        "path": config.kv.mount,
        "version": match config.kv.version { KvVersion::V1 => "v1", KvVersion::V2 => "v2" },
        "auth": { "kubernetes": {
            "mountPath": config.kubernetes_auth.mount,
            "role": agent.role,
            "serviceAccountRef": {
                "name": agent.service_account,
                "namespace": store_service_account_namespace(config),
            },
        } },
    });
    if let Some(ns) = &config.vault.namespace {
        vault["namespace"] = json!(ns);
    }
    if let Some(pem) = ca_pem {
        vault["caBundle"] = json!(base64::engine::general_purpose::STANDARD.encode(pem));
    }
    let mut spec = json!({ "provider": { "vault": vault } });
    if let Some(class) = &agent.controller_class {
        spec["controller"] = json!(class);
    }
    json!({
        "apiVersion": ESO_API_VERSION,
        "kind": agent.store_kind.as_str(),
        "metadata": metadata,
        "spec": spec,
    })
}

/// The name of the ExternalSecret that manages the Flux Secret: the Secret's own name.
pub fn external_secret_name(config: &BootstrapConfig) -> &str {
    &config.flux.secret_name
}

/// The ExternalSecret that takes over the Flux Secret.
pub fn external_secret(config: &BootstrapConfig, creds: &Credentials) -> Value {
    let data: Vec<Value> = creds
        .vault_keys()
        .map(|(name, path, key)| {
            json!({ "secretKey": name, "remoteRef": { "key": path, "property": key } })
        })
        .collect();
    let policy = if creds.has_literals() {
        "Merge"
    } else {
        "Owner"
    };
    json!({
        "apiVersion": ESO_API_VERSION,
        "kind": "ExternalSecret",
        "metadata": {
            "name": external_secret_name(config),
            "namespace": config.flux.namespace,
        },
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {
                "name": config.agent.store_name,
                "kind": config.agent.store_kind.as_str(),
            },
            "target": {
                "name": config.flux.secret_name,
                "creationPolicy": policy,
                "deletionPolicy": "Retain",
            },
            "data": data,
        },
    })
}

/// The literal keys of the Flux Secret and its controlling owner, the ExternalSecret
/// (`es_uid`); applied by bootstrap only when there are literal keys.
pub fn secret_literals(config: &BootstrapConfig, creds: &Credentials, es_uid: &str) -> Value {
    use base64::Engine;
    let data: serde_json::Map<String, Value> = creds
        .literals()
        .map(|(name, value)| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(value);
            (name.to_owned(), json!(encoded))
        })
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": config.flux.secret_name,
            "namespace": config.flux.namespace,
            "ownerReferences": [{
                "apiVersion": ESO_API_VERSION,
                "kind": "ExternalSecret",
                "name": external_secret_name(config),
                "uid": es_uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "data": data,
    })
}

#[cfg(test)]
#[path = "manifests_tests.rs"]
mod tests;
