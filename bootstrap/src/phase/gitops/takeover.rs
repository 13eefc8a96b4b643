//! The pure half of taking over one Git credentials Secret (Flux's, or an Argo CD
//! repository's): which key comes from where, the ExternalSecret, the literal keys.
//!
//! A key whose value is an `env` entry is read from Vault by the agent through the
//! ExternalSecret. A key written literally in `bootstrap.yaml` (a user name, SSH
//! `known_hosts`, an Argo CD URL or type) is not a secret and is not in Vault. An
//! ExternalSecret cannot set a literal without a template, so there are two ways:
//!
//! - [`Literals::Written`] (Flux): the ExternalSecret uses `creationPolicy: Merge` when there
//!   are literal keys (the agent leaves them alone), bootstrap writes them under its own
//!   field manager and makes the ExternalSecret the Secret's controlling owner; with no
//!   literal keys it is a plain `creationPolicy: Owner`.
//! - [`Literals::Templated`] (Argo CD): the ExternalSecret owns the Secret
//!   (`creationPolicy: Owner`) and its `target.template` carries the literal keys and the
//!   Secret's labels, merged with the keys read from Vault (`mergePolicy: Merge`).

use std::collections::BTreeMap;

use ferry_config::{BootstrapConfig, ValueSource};
use serde_json::{Value, json};

use crate::error::BootstrapError;

/// The external-secrets.io API version phase 3 writes.
pub const ESO_API_VERSION: &str = "external-secrets.io/v1";

/// One key of a credentials Secret and where its value comes from.
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

/// The keys of a credentials Secret, in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// (Secret key, source) pairs.
    pub keys: Vec<(String, KeySource)>,
}

impl Credentials {
    /// Adds the key `name`, taking its value from `source`; `field` is the config field
    /// that names an `env` entry, for the error when there is no such entry.
    pub fn add(
        &mut self,
        config: &BootstrapConfig,
        name: &str,
        field: &str,
        source: ValueSource<'_>,
    ) -> Result<(), BootstrapError> {
        let source = match source {
            ValueSource::Literal(value) => KeySource::Literal(value.to_owned()),
            ValueSource::Env(env) => {
                let entry =
                    config
                        .env_entry(env)
                        .ok_or_else(|| BootstrapError::InvalidArgument {
                            field: field.to_owned(),
                            message: format!("names no entry of `env`: {env}"),
                        })?;
                KeySource::Vault {
                    env: env.to_owned(),
                    path: entry.path.clone(),
                    key: entry.key.clone(),
                }
            }
        };
        self.keys.push((name.to_owned(), source));
        Ok(())
    }

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

    /// Whether some key is a literal.
    pub fn has_literals(&self) -> bool {
        self.literals().next().is_some()
    }
}

/// How the literal keys reach the Secret (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literals {
    /// Bootstrap writes them; the ExternalSecret merges when there are any.
    Written,
    /// The ExternalSecret's template carries them, with these labels for the Secret.
    Templated {
        /// Labels the Secret must carry.
        labels: BTreeMap<String, String>,
    },
}

/// One credentials Secret that phase 3 puts behind an ExternalSecret of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Takeover {
    /// How steps name it: `Flux`, `Argo CD repository deployments`.
    pub label: String,
    /// The namespace of the Secret and of the ExternalSecret.
    pub namespace: String,
    /// The Secret's name, which the ExternalSecret shares.
    pub name: String,
    /// Its keys.
    pub creds: Credentials,
    /// How its literal keys are written.
    pub literals: Literals,
}

impl Takeover {
    /// The Secret as `namespace/name`.
    pub fn secret(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Whether the ExternalSecret owns the Secret outright (`creationPolicy: Owner`), so
    /// that an existing Secret has to be marked for adoption first.
    pub fn owns_outright(&self) -> bool {
        match self.literals {
            Literals::Written => !self.creds.has_literals(),
            Literals::Templated { .. } => true,
        }
    }

    /// Whether bootstrap writes literal keys itself.
    pub fn writes_literals(&self) -> bool {
        self.literals == Literals::Written && self.creds.has_literals()
    }

    /// Labels the Secret must carry.
    pub fn labels(&self) -> Option<&BTreeMap<String, String>> {
        match &self.literals {
            Literals::Written => None,
            Literals::Templated { labels } => Some(labels),
        }
    }

    /// The ExternalSecret that takes the Secret over, served by the agent's store.
    pub fn external_secret(&self, config: &BootstrapConfig) -> Value {
        let data: Vec<Value> = self
            .creds
            .vault_keys()
            .map(|(name, path, key)| {
                json!({ "secretKey": name, "remoteRef": { "key": path, "property": key } })
            })
            .collect();
        let policy = if self.owns_outright() {
            "Owner"
        } else {
            "Merge"
        };
        let mut target = json!({
            "name": self.name,
            "creationPolicy": policy,
            "deletionPolicy": "Retain",
        });
        if let Literals::Templated { labels } = &self.literals {
            let literals: serde_json::Map<String, Value> = self
                .creds
                .literals()
                .map(|(name, value)| (name.to_owned(), json!(value)))
                .collect();
            target["template"] = json!({
                "engineVersion": "v2",
                "mergePolicy": "Merge",
                "metadata": { "labels": labels },
                "data": literals,
            });
        }
        json!({
            "apiVersion": ESO_API_VERSION,
            "kind": "ExternalSecret",
            "metadata": { "name": self.name, "namespace": self.namespace },
            "spec": {
                "refreshInterval": "1h",
                "secretStoreRef": {
                    "name": config.agent.store_name,
                    "kind": config.agent.store_kind.as_str(),
                },
                "target": target,
                "data": data,
            },
        })
    }

    /// The literal keys of the Secret and its controlling owner, the ExternalSecret
    /// (`es_uid`); applied by bootstrap only when [`Takeover::writes_literals`].
    pub fn secret_literals(&self, es_uid: &str) -> Value {
        use base64::Engine;
        let data: serde_json::Map<String, Value> = self
            .creds
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
                "name": self.name,
                "namespace": self.namespace,
                "ownerReferences": [{
                    "apiVersion": ESO_API_VERSION,
                    "kind": "ExternalSecret",
                    "name": self.name,
                    "uid": es_uid,
                    "controller": true,
                    "blockOwnerDeletion": true,
                }],
            },
            "data": data,
        })
    }
}
