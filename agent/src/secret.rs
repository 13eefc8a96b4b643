//! Writing the target Secret: server-side apply with one field manager, only when the keyed
//! HMAC of the desired data differs from what the Secret holds.
//!
//! The agent remembers, per Secret, the resourceVersion at which it last saw the Secret in
//! sync and the HMAC it had then. While the metadata cache shows the same resourceVersion, a
//! reconcile costs no API call at all; after any change to the Secret (a hand edit, a delete,
//! an agent restart) it reads the Secret once, compares, and writes only if needed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use ferry_api::{CreationPolicy, ExternalSecret, FIELD_MANAGER, MANAGED_LABEL};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, PartialObjectMeta, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use crate::error::{AgentError, Result};
use crate::hmac::data_hmac;
use crate::shape::SecretData;

/// Annotation holding the keyed HMAC of the data Ferry wrote (never an unkeyed hash).
pub const HMAC_ANNOTATION: &str = "ferry.dev/data-hmac";
/// Annotation naming the ExternalSecret that manages the Secret (used to map Secret events to
/// their ExternalSecret when there is no ownerReference: Orphan and Merge).
pub const EXTERNAL_SECRET_ANNOTATION: &str = "ferry.dev/external-secret";

/// What a sync did to the Secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// The Secret did not exist and was created.
    Created,
    /// The Secret's data or metadata was updated.
    Updated,
    /// Nothing needed writing.
    Unchanged,
    /// creationPolicy None: nothing is ever written.
    NotManaged,
}

/// The Secret side of the agent: API access, the metadata cache and the in-sync memory.
pub struct SecretWriter {
    client: Client,
    hmac_key: zeroize::Zeroizing<Vec<u8>>,
    cache: Store<PartialObjectMeta<Secret>>,
    in_sync: Mutex<HashMap<(String, String), (String, String)>>,
    writes: std::sync::atomic::AtomicU64,
}

impl SecretWriter {
    /// A writer that uses `cache` (a metadata-only reflector of managed Secrets).
    pub fn new(
        client: Client,
        hmac_key: zeroize::Zeroizing<Vec<u8>>,
        cache: Store<PartialObjectMeta<Secret>>,
    ) -> Self {
        Self {
            client,
            hmac_key,
            cache,
            in_sync: Mutex::default(),
            writes: Default::default(),
        }
    }

    /// Number of Secret writes (apply, patch, delete) so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the Secret currently exists, according to the metadata cache.
    pub fn exists(&self, namespace: &str, name: &str) -> bool {
        self.cache
            .get(&ObjectRef::new(name).within(namespace))
            .is_some()
    }

    /// The keyed HMAC of `data`.
    pub fn hmac(&self, data: &SecretData) -> String {
        data_hmac(&self.hmac_key, data)
    }

    /// Makes the target Secret hold `data`, as the ExternalSecret's creationPolicy says.
    pub async fn sync(&self, es: &ExternalSecret, data: &SecretData) -> Result<Written> {
        let policy = es.spec.target.creation_policy;
        if policy == CreationPolicy::None {
            return Ok(Written::NotManaged);
        }
        let (ns, name) = target(es);
        let want = self.hmac(data);
        if self.remembered_in_sync(&ns, &name, &want) {
            return Ok(Written::Unchanged);
        }
        let api = Api::<Secret>::namespaced(self.client.clone(), &ns);
        let current = get_secret(&api, &ns, &name).await?;
        check_takeover(es, current.as_ref(), &ns, &name)?;
        if let Some(secret) = &current
            && in_sync(es, secret, data, &want, &self.hmac_key)
        {
            self.remember(&ns, &name, secret.resource_version(), &want);
            return Ok(Written::Unchanged);
        }
        let applied = self.apply(&api, es, current.as_ref(), data, &want).await?;
        self.remember(&ns, &name, applied.resource_version(), &want);
        Ok(if current.is_some() {
            Written::Updated
        } else {
            Written::Created
        })
    }

    async fn apply(
        &self,
        api: &Api<Secret>,
        es: &ExternalSecret,
        current: Option<&Secret>,
        data: &SecretData,
        hmac: &str,
    ) -> Result<Secret> {
        let (ns, name) = target(es);
        let err = |source: kube::Error| AgentError::ApplySecret {
            namespace: ns.clone(),
            name: name.clone(),
            source: Box::new(source),
        };
        // Keys someone else added to a Secret we own outright are removed first: server-side
        // apply only removes fields this manager owned.
        let extra = extra_keys(es, current, data);
        if !extra.is_empty() {
            let nulls: BTreeMap<&str, Option<()>> = extra.iter().map(|k| (*k, None)).collect();
            let patch = Patch::Merge(json!({ "data": nulls }));
            api.patch(&name, &PatchParams::default(), &patch)
                .await
                .map_err(err)?;
            self.count_write();
        }
        let body = desired_secret(es, current, data, hmac);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let applied = api
            .patch(&name, &params, &Patch::Apply(&body))
            .await
            .map_err(err)?;
        self.count_write();
        Ok(applied)
    }

    /// deletionPolicy Delete: removes the Secret, when it is ours.
    pub async fn delete(&self, es: &ExternalSecret) -> Result<bool> {
        let (ns, name) = target(es);
        let api = Api::<Secret>::namespaced(self.client.clone(), &ns);
        let Some(secret) = get_secret(&api, &ns, &name).await? else {
            return Ok(false);
        };
        if !managed_by(&secret, es) {
            return Ok(false);
        }
        let deleted = api.delete(&name, &DeleteParams::default()).await;
        match deleted {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(source) => {
                return Err(AgentError::DeleteSecret {
                    namespace: ns,
                    name,
                    source: Box::new(source),
                });
            }
        }
        self.count_write();
        self.forget(&ns, &name);
        Ok(true)
    }

    /// deletionPolicy Merge: removes the keys this agent wrote, keeping the Secret.
    pub async fn remove_our_keys(&self, es: &ExternalSecret) -> Result<bool> {
        let (ns, name) = target(es);
        if !self.exists(&ns, &name) {
            return Ok(false);
        }
        let api = Api::<Secret>::namespaced(self.client.clone(), &ns);
        // Applying without data releases every data key this field manager owned.
        let body = json!({ "apiVersion": "v1", "kind": "Secret",
            "metadata": { "name": name, "labels": { MANAGED_LABEL: "true" },
                "annotations": { EXTERNAL_SECRET_ANNOTATION: es.name_any() } } });
        let params = PatchParams::apply(FIELD_MANAGER).force();
        api.patch(&name, &params, &Patch::Apply(&body))
            .await
            .map_err(|source| AgentError::ApplySecret {
                namespace: ns.clone(),
                name: name.clone(),
                source: Box::new(source),
            })?;
        self.count_write();
        self.forget(&ns, &name);
        Ok(true)
    }

    fn remembered_in_sync(&self, ns: &str, name: &str, want: &str) -> bool {
        let Some(meta) = self.cache.get(&ObjectRef::new(name).within(ns)) else {
            return false;
        };
        let rv = meta.resource_version().unwrap_or_default();
        let memory = self.in_sync.lock().unwrap_or_else(|p| p.into_inner());
        memory
            .get(&(ns.to_string(), name.to_string()))
            .is_some_and(|(r, h)| *r == rv && h == want)
    }

    fn remember(&self, ns: &str, name: &str, rv: Option<String>, hmac: &str) {
        let mut memory = self.in_sync.lock().unwrap_or_else(|p| p.into_inner());
        match rv {
            Some(rv) => memory.insert((ns.into(), name.into()), (rv, hmac.into())),
            None => memory.remove(&(ns.to_string(), name.to_string())),
        };
    }

    /// Forgets what the agent knew of a Secret (its ExternalSecret is gone or changed target).
    pub fn forget(&self, ns: &str, name: &str) {
        let mut memory = self.in_sync.lock().unwrap_or_else(|p| p.into_inner());
        memory.remove(&(ns.to_string(), name.to_string()));
    }

    /// Drops what the agent remembers of Secrets that no longer exist (called periodically, so
    /// memory follows the live set).
    pub fn prune(&self) {
        let mut memory = self.in_sync.lock().unwrap_or_else(|p| p.into_inner());
        memory.retain(|(ns, name), _| self.cache.get(&ObjectRef::new(name).within(ns)).is_some());
    }

    fn count_write(&self) {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn get_secret(api: &Api<Secret>, ns: &str, name: &str) -> Result<Option<Secret>> {
    api.get_opt(name)
        .await
        .map_err(|source| AgentError::GetObject {
            kind: "Secret",
            namespace: ns.to_string(),
            name: name.to_string(),
            source: Box::new(source),
        })
}

/// The target Secret's namespace and name.
pub fn target(es: &ExternalSecret) -> (String, String) {
    (
        es.namespace().unwrap_or_default(),
        es.target_name().to_string(),
    )
}

/// Whether this ExternalSecret manages the Secret (ownerReference or our annotation).
fn managed_by(secret: &Secret, es: &ExternalSecret) -> bool {
    let uid = es.uid();
    let owned = secret
        .owner_references()
        .iter()
        .any(|o| Some(&o.uid) == uid.as_ref());
    let annotated = secret.annotations().get(EXTERNAL_SECRET_ANNOTATION) == Some(&es.name_any());
    owned || annotated
}

/// Refuses to take over a Secret that another controller owns, or to merge into nothing.
fn check_takeover(
    es: &ExternalSecret,
    current: Option<&Secret>,
    ns: &str,
    name: &str,
) -> Result<()> {
    let conflict = |reason: &str| AgentError::SecretConflict {
        namespace: ns.to_string(),
        name: name.to_string(),
        reason: reason.to_string(),
    };
    match (es.spec.target.creation_policy, current) {
        (CreationPolicy::Merge, None) => Err(AgentError::MergeTargetMissing {
            namespace: ns.to_string(),
            name: name.to_string(),
        }),
        (CreationPolicy::Owner, Some(secret)) => {
            let uid = es.uid();
            let foreign = secret
                .owner_references()
                .iter()
                .any(|o| o.controller == Some(true) && Some(&o.uid) != uid.as_ref());
            if foreign {
                Err(conflict(
                    "is controlled by another owner; creationPolicy Owner will not take it over",
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// Whether the Secret already holds exactly what we would write.
fn in_sync(
    es: &ExternalSecret,
    secret: &Secret,
    data: &SecretData,
    want: &str,
    key: &[u8],
) -> bool {
    let actual = secret.data.clone().unwrap_or_default();
    let relevant: BTreeMap<_, _> = match es.spec.target.creation_policy {
        CreationPolicy::Merge => actual
            .into_iter()
            .filter(|(k, _)| data.get(k).is_some())
            .collect(),
        _ => actual,
    };
    let have = data_hmac(key, &SecretData::from_byte_strings(&relevant));
    let annotations = secret.annotations();
    let labelled = secret.labels().get(MANAGED_LABEL).map(String::as_str) == Some("true");
    let owner_ok = es.spec.target.creation_policy != CreationPolicy::Owner
        || es
            .uid()
            .is_some_and(|uid| secret.owner_references().iter().any(|o| o.uid == uid));
    let immutable_ok = !es.spec.target.immutable || secret.immutable == Some(true);
    have == want
        && annotations.get(HMAC_ANNOTATION).map(String::as_str) == Some(want)
        && annotations.get(EXTERNAL_SECRET_ANNOTATION) == Some(&es.name_any())
        && labelled
        && owner_ok
        && immutable_ok
}

/// Data keys of a Secret we own outright that the desired data does not have.
fn extra_keys<'a>(
    es: &ExternalSecret,
    current: Option<&'a Secret>,
    data: &SecretData,
) -> Vec<&'a str> {
    if es.spec.target.creation_policy == CreationPolicy::Merge {
        return Vec::new();
    }
    current
        .and_then(|s| s.data.as_ref())
        .map(|d| {
            d.keys()
                .filter(|k| data.get(k).is_none())
                .map(String::as_str)
                .collect()
        })
        .unwrap_or_default()
}

/// The server-side apply body for the Secret.
fn desired_secret(
    es: &ExternalSecret,
    current: Option<&Secret>,
    data: &SecretData,
    hmac: &str,
) -> serde_json::Value {
    let (_, name) = target(es);
    let mut metadata = json!({
        "name": name,
        "labels": { MANAGED_LABEL: "true" },
        "annotations": { HMAC_ANNOTATION: hmac, EXTERNAL_SECRET_ANNOTATION: es.name_any() },
    });
    if es.spec.target.creation_policy == CreationPolicy::Owner
        && let Some(owner) = es.controller_owner_ref(&())
    {
        metadata["ownerReferences"] = json!([owner]);
    }
    let mut body = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "data": data.to_byte_strings(),
    });
    if current.is_none() {
        body["type"] = json!("Opaque");
    }
    if es.spec.target.immutable {
        body["immutable"] = json!(true);
    }
    body
}
