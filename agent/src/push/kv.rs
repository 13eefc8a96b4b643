//! Writing a PushSecret's values into one Vault KV path, and removing them again.
//!
//! Every write is decided on what was just read, and a KV v2 write carries check-and-set
//! (`cas` = the version read), so a write by someone else in between is never overwritten:
//! Vault refuses ours, and we read again, merge again and retry. A property push merges into
//! the secret's other properties; a whole-secret push replaces it. Nothing is written when
//! the keyed HMAC of what Vault holds equals that of what we would write.
//!
//! Ownership follows ESO's Vault provider: a secret a push created carries `managed-by:
//! external-secrets` (KV v2 custom metadata; for KV v1 a `custom_metadata` object in the
//! data), and a push never writes into, or removes from, an existing secret without it.

use std::collections::{BTreeMap, BTreeSet};

use ferry_api::PushSecretUpdatePolicy;
use ferry_secret::hmac::{constant_time_eq, data_hmac};
use ferry_vault::{KvData, KvVersion, Vault, VaultError};
use secrecy::ExposeSecret;
use serde_json::{Map, Value};

use super::plan::{MetadataMerge, PathPlan};
use crate::metrics::Metrics;
use crate::shape::SecretData;

/// The ownership marker's key, in KV v2 custom metadata (and in the KV v1 marker object).
pub const MANAGED_BY_KEY: &str = "managed-by";
/// The ownership marker's value (ESO's, so either controller recognises the other's pushes).
pub const MANAGED_BY_VALUE: &str = "external-secrets";
/// The KV v1 data key holding the marker object.
pub const KV1_METADATA_KEY: &str = "custom_metadata";

/// How many times a write refused by check-and-set is read, merged and tried again.
pub const CAS_ATTEMPTS: usize = 5;

/// One KV path of one store, with the client that reaches it.
pub struct Target<'a> {
    /// A logged-in client for the store.
    pub vault: &'a Vault,
    /// The KV mount.
    pub mount: String,
    /// The path inside the mount.
    pub path: String,
    /// The mount's KV version.
    pub engine: KvVersion,
    /// Where request counts go.
    pub metrics: &'a Metrics,
    /// The key comparisons are made under.
    pub hmac_key: &'a [u8],
}

/// Why a push or delete at one path could not go on.
#[derive(Debug)]
pub enum KvFailure {
    /// Vault answered with an error.
    Vault(VaultError),
    /// The secret exists and carries no ownership marker.
    NotManaged,
    /// Check-and-set refused every attempt (someone keeps writing).
    Contended,
}

impl From<VaultError> for KvFailure {
    fn from(err: VaultError) -> Self {
        KvFailure::Vault(err)
    }
}

/// What a push did at one path.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Whether anything was written.
    pub wrote: bool,
    /// `spec.data` entries whose value is now in Vault because of this push (written now or
    /// already equal); entries skipped by `IfNotExists` are not among them.
    pub entries: BTreeSet<usize>,
    /// How many writes check-and-set refused before one went through.
    pub cas_retries: usize,
}

/// What Vault holds at the path.
struct Remote {
    /// The data of the latest version, if it exists and is not deleted.
    data: Option<KvData>,
    /// KV v2: the current version (the `cas` of the next write); 0 when there is none.
    version: u64,
    /// KV v2 custom metadata.
    custom: BTreeMap<String, String>,
}

impl Remote {
    fn managed(&self, engine: KvVersion) -> bool {
        match engine {
            KvVersion::V2 => {
                self.custom.get(MANAGED_BY_KEY).map(String::as_str) == Some(MANAGED_BY_VALUE)
            }
            KvVersion::V1 => {
                self.data
                    .as_ref()
                    .and_then(|d| d.get(KV1_METADATA_KEY))
                    .and_then(|m| m.get(MANAGED_BY_KEY))
                    .and_then(Value::as_str)
                    == Some(MANAGED_BY_VALUE)
            }
        }
    }
}

impl Target<'_> {
    /// `mount/path`, for errors and logs.
    pub fn describe(&self) -> String {
        format!("{}/{}", self.mount, self.path)
    }

    async fn read(&self) -> Result<Remote, VaultError> {
        let read = self
            .vault
            .kv_read(&self.mount, &self.path, self.engine, None)
            .await;
        self.metrics.vault_request("kv_read", status(&read));
        if let Some(secret) = read? {
            return Ok(Remote {
                version: secret.version.unwrap_or(0),
                custom: secret.custom_metadata,
                data: Some(secret.data),
            });
        }
        let none = Remote {
            data: None,
            version: 0,
            custom: BTreeMap::new(),
        };
        if self.engine == KvVersion::V1 {
            return Ok(none);
        }
        // Deleted or never written: the metadata still has the version to write after.
        let meta = self.vault.kv_metadata(&self.mount, &self.path).await;
        self.metrics.vault_request("kv_metadata", status(&meta));
        Ok(match meta? {
            Some(m) => Remote {
                version: m.current_version,
                custom: m.custom_metadata,
                ..none
            },
            None => none,
        })
    }

    async fn write(&self, data: &KvData, cas: u64) -> Result<(), VaultError> {
        let cas = (self.engine == KvVersion::V2).then_some(cas);
        let wrote = self
            .vault
            .kv_write(&self.mount, &self.path, self.engine, data, cas)
            .await;
        self.metrics.vault_request("kv_write", status(&wrote));
        wrote.map(|_| ())
    }

    async fn write_custom(&self, custom: &BTreeMap<String, String>) -> Result<(), VaultError> {
        let wrote = self
            .vault
            .kv_set_custom_metadata(&self.mount, &self.path, custom)
            .await;
        self.metrics
            .vault_request("kv_metadata_write", status(&wrote));
        wrote
    }

    async fn delete(&self, version: u64) -> Result<(), VaultError> {
        let deleted = match self.engine {
            KvVersion::V2 => {
                self.vault
                    .kv_delete_version(&self.mount, &self.path, version)
                    .await
            }
            KvVersion::V1 => {
                self.vault
                    .kv_delete_latest(&self.mount, &self.path, self.engine)
                    .await
            }
        };
        self.metrics.vault_request("kv_delete", status(&deleted));
        deleted
    }

    /// Makes the path hold what `plan` wants, as `policy` allows; retries on check-and-set.
    pub async fn push(
        &self,
        plan: &PathPlan,
        policy: PushSecretUpdatePolicy,
    ) -> Result<Pushed, KvFailure> {
        let mut cas_retries = 0;
        for _ in 0..CAS_ATTEMPTS {
            let remote = self.read().await?;
            let skip = skipped(plan, &remote, policy);
            let entries = wanted(plan)
                .difference(&skip)
                .copied()
                .collect::<BTreeSet<_>>();
            if entries.is_empty() {
                return Ok(Pushed {
                    wrote: false,
                    entries,
                    cas_retries,
                });
            }
            if remote.data.is_some() && !remote.managed(self.engine) {
                return Err(KvFailure::NotManaged);
            }
            let desired = self.desired(plan, remote.data.as_ref(), &skip);
            let custom = self.desired_custom(plan, &remote);
            let same_data = remote.data.as_ref().is_some_and(|d| self.same(d, &desired));
            if same_data && custom.is_none() {
                return Ok(Pushed {
                    wrote: false,
                    entries,
                    cas_retries,
                });
            }
            if let Some(custom) = &custom {
                self.write_custom(custom).await?;
            }
            if same_data {
                return Ok(Pushed {
                    wrote: true,
                    entries,
                    cas_retries,
                });
            }
            match self.write(&desired, remote.version).await {
                Ok(()) => {
                    return Ok(Pushed {
                        wrote: true,
                        entries,
                        cas_retries,
                    });
                }
                Err(err) if err.is_cas_mismatch() => {
                    cas_retries += 1;
                    tracing::info!(path = %self.describe(), "a concurrent write won the check-and-set; reading again");
                }
                Err(err) => return Err(err.into()),
            }
        }
        Err(KvFailure::Contended)
    }

    /// Removes what the places in `ours` (property, or `None` for the whole secret) put at
    /// the path, deleting the secret only when nothing else is left in it. A secret without
    /// the ownership marker is left alone. Returns whether anything was written.
    pub async fn remove(&self, ours: &BTreeSet<Option<String>>) -> Result<bool, KvFailure> {
        let mut wrote = false;
        for _ in 0..CAS_ATTEMPTS {
            let remote = self.read().await?;
            let Some(data) = &remote.data else {
                return Ok(wrote);
            };
            if !remote.managed(self.engine) {
                return Ok(wrote);
            }
            let mut rest = data.expose().clone();
            if self.engine == KvVersion::V1 {
                rest.remove(KV1_METADATA_KEY);
            }
            let whole = ours.contains(&None);
            let before = rest.len();
            for property in ours.iter().flatten() {
                rest.remove(property);
            }
            if !whole && rest.len() == before {
                drop(KvData::new(rest));
                return Ok(wrote);
            }
            let result = if whole || rest.is_empty() {
                drop(KvData::new(rest));
                self.delete(remote.version).await
            } else {
                self.write(&self.with_marker(rest), remote.version).await
            };
            match result {
                // A later version, if any, is someone else's write: left alone.
                Ok(()) if whole => return Ok(true),
                // Read again: a write that came in between may still hold our properties.
                Ok(()) => wrote = true,
                Err(err) if err.is_cas_mismatch() => {}
                Err(err) => return Err(err.into()),
            }
        }
        Err(KvFailure::Contended)
    }

    /// What the secret should hold: the whole push (or what is there), with the properties
    /// set on top and, for KV v1, the ownership marker.
    fn desired(&self, plan: &PathPlan, current: Option<&KvData>, skip: &BTreeSet<usize>) -> KvData {
        let whole = plan.whole.as_ref().filter(|w| !skip.contains(&w.index));
        let mut map = match (whole, current) {
            (Some(w), _) => w.data.expose().clone(),
            (None, Some(c)) => c.expose().clone(),
            (None, None) => Map::new(),
        };
        for (name, property) in &plan.properties {
            if !skip.contains(&property.index) {
                let value = Value::String(property.value.expose_secret().to_owned());
                map.insert(name.clone(), value);
            }
        }
        if self.engine == KvVersion::V1 {
            map.remove(KV1_METADATA_KEY);
            return self.with_marker(map);
        }
        KvData::new(map)
    }

    fn with_marker(&self, mut map: Map<String, Value>) -> KvData {
        if self.engine == KvVersion::V1 {
            let marker = serde_json::json!({ MANAGED_BY_KEY: MANAGED_BY_VALUE });
            map.insert(KV1_METADATA_KEY.to_owned(), marker);
        }
        KvData::new(map)
    }

    /// KV v2: the custom metadata to write, when it differs from what the secret has.
    fn desired_custom(&self, plan: &PathPlan, remote: &Remote) -> Option<BTreeMap<String, String>> {
        if self.engine != KvVersion::V2 {
            return None;
        }
        let mut want = match plan.metadata_merge {
            MetadataMerge::Merge => remote.custom.clone(),
            MetadataMerge::Replace => BTreeMap::new(),
        };
        want.extend(plan.custom_metadata.clone());
        want.insert(MANAGED_BY_KEY.to_owned(), MANAGED_BY_VALUE.to_owned());
        (want != remote.custom).then_some(want)
    }

    /// Whether two secrets hold the same data, compared by keyed HMAC.
    fn same(&self, a: &KvData, b: &KvData) -> bool {
        let tag = |d: &KvData| data_hmac(self.hmac_key, &canonical(d));
        constant_time_eq(&tag(a), &tag(b))
    }
}

/// The entries of a plan.
fn wanted(plan: &PathPlan) -> BTreeSet<usize> {
    let whole = plan.whole.iter().map(|w| w.index);
    whole
        .chain(plan.properties.values().map(|p| p.index))
        .collect()
}

/// The entries `IfNotExists` leaves out: a whole secret when the secret exists, a property
/// when the secret has it.
fn skipped(plan: &PathPlan, remote: &Remote, policy: PushSecretUpdatePolicy) -> BTreeSet<usize> {
    let Some(data) = remote
        .data
        .as_ref()
        .filter(|_| policy == PushSecretUpdatePolicy::IfNotExists)
    else {
        return BTreeSet::new();
    };
    let whole = plan.whole.iter().map(|w| w.index);
    let props = plan
        .properties
        .iter()
        .filter(|(name, _)| data.get(name).is_some())
        .map(|(_, p)| p.index);
    whole.chain(props).collect()
}

/// A secret as key → JSON text of the value, for the keyed HMAC.
fn canonical(data: &KvData) -> SecretData {
    let mut out = SecretData::new();
    for (key, value) in data.expose() {
        let mut text = zeroize::Zeroizing::new(Vec::new());
        if serde_json::to_writer(&mut *text, value).is_ok() {
            out.insert_zeroizing(key.clone(), text);
        }
    }
    out
}

fn status<T>(result: &Result<T, VaultError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(err) => err.category(),
    }
}
