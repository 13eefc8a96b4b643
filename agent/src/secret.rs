//! Writing the target Secret: server-side apply with one field manager, only when the keyed
//! HMAC of the desired data differs from what the Secret holds.
//!
//! The agent remembers, per Secret, the resourceVersion at which it last saw the Secret in
//! sync and the HMAC it had then. While the metadata cache shows the same resourceVersion, a
//! reconcile costs no API call at all; after any change to the Secret (a hand edit, a delete,
//! an agent restart) it reads the Secret once, compares, and writes only if needed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use ferry_api::{ADOPT_ANNOTATION, CreationPolicy, ExternalSecret, FIELD_MANAGER, MANAGED_LABEL};
use ferry_secret::hmac::{data_hmac, object_key, rendered_hmac, restart_fingerprint};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, PartialObjectMeta, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use crate::error::{AgentError, Result};
use crate::metrics::Metrics;
use crate::shape::{Rendered, SecretData};

/// Annotation holding the keyed HMAC of the data Ferry wrote (never an unkeyed hash).
pub const HMAC_ANNOTATION: &str = "ferry.dev/data-hmac";
/// Annotation naming the ExternalSecret that manages the Secret (used to map Secret events to
/// their ExternalSecret when there is no ownerReference: Orphan and Merge).
pub const EXTERNAL_SECRET_ANNOTATION: &str = "ferry.dev/external-secret";
/// Annotation recording, for ExternalSecrets that ask for rollout restarts, the data
/// fingerprint (a keyed HMAC prefix) of the last write that changed the data: the restarts
/// due for that content (see [`crate::restart`]).
pub const RESTART_FOR_ANNOTATION: &str = "ferry.dev/restart-for";

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
    metrics: Metrics,
}

impl SecretWriter {
    /// A writer that uses `cache` (a metadata-only reflector of managed Secrets) and counts
    /// its writes in `metrics`.
    pub fn new(
        client: Client,
        hmac_key: zeroize::Zeroizing<Vec<u8>>,
        cache: Store<PartialObjectMeta<Secret>>,
        metrics: Metrics,
    ) -> Self {
        Self {
            client,
            hmac_key,
            cache,
            in_sync: Mutex::default(),
            metrics,
        }
    }

    /// Whether the Secret currently exists, according to the metadata cache.
    pub fn exists(&self, namespace: &str, name: &str) -> bool {
        self.cache
            .get(&ObjectRef::new(name).within(namespace))
            .is_some()
    }

    /// The key of this ExternalSecret's fingerprints (derived from the master key and its
    /// UID; namespace/name for an object that has none yet).
    fn key(&self, es: &ExternalSecret) -> zeroize::Zeroizing<Vec<u8>> {
        let id = es.uid().unwrap_or_else(|| {
            let (ns, name) = (es.namespace().unwrap_or_default(), es.name_any());
            format!("{ns}/{name}")
        });
        object_key(&self.hmac_key, &id)
    }

    /// The rollout-restart fingerprint of `data` for this ExternalSecret.
    pub fn restart_fingerprint(&self, es: &ExternalSecret, data: &SecretData) -> String {
        let key = self.key(es);
        restart_fingerprint(&key, &data_hmac(&key, data))
    }

    /// Makes the target Secret hold the rendered data, type, labels and annotations; also
    /// tells whether the Secret's data (the keys this ExternalSecret writes) changed: true on
    /// creation and on an update whose data differs, false when only metadata (labels,
    /// annotations, type, owner) was written. With `restarts`, a write also keeps
    /// [`RESTART_FOR_ANNOTATION`] up to date.
    pub async fn sync(
        &self,
        es: &ExternalSecret,
        rendered: &Rendered,
        restarts: bool,
    ) -> Result<(Written, bool)> {
        let policy = es.spec.target.creation_policy;
        if policy == CreationPolicy::None {
            return Ok((Written::NotManaged, false));
        }
        let (ns, name) = target(es);
        let key = self.key(es);
        let want = rendered_hmac(&key, &rendered.data, rendered.meta());
        if self.remembered_in_sync(&ns, &name, &want) {
            return Ok((Written::Unchanged, false));
        }
        let api = Api::<Secret>::namespaced(self.client.clone(), &ns);
        let current = get_secret(&api, &ns, &name).await?;
        check_takeover(es, current.as_ref(), &ns, &name)?;
        let data = &rendered.data;
        let data_want = data_hmac(&key, data);
        let data_have = current.as_ref().map(|s| relevant_hmac(es, s, data, &key));
        if let Some(secret) = &current
            && data_have.as_deref() == Some(data_want.as_str())
            && in_sync(es, secret, rendered, &want)
        {
            self.remember(&ns, &name, secret.resource_version(), &want);
            return Ok((Written::Unchanged, false));
        }
        let changed = data_have.as_deref() != Some(data_want.as_str());
        let restart_for = match (restarts, changed) {
            (false, _) => None,
            (true, true) => Some(restart_fingerprint(&key, &data_want)),
            (true, false) => current
                .as_ref()
                .and_then(|s| s.annotations().get(RESTART_FOR_ANNOTATION).cloned()),
        };
        let desired = Desired {
            rendered,
            hmac: &want,
            restart_for: restart_for.as_deref(),
        };
        let applied = self.apply(&api, es, current.as_ref(), &desired).await?;
        self.remember(&ns, &name, applied.resource_version(), &want);
        let written = if current.is_some() {
            Written::Updated
        } else {
            Written::Created
        };
        Ok((written, changed))
    }

    async fn apply(
        &self,
        api: &Api<Secret>,
        es: &ExternalSecret,
        current: Option<&Secret>,
        desired: &Desired<'_>,
    ) -> Result<Secret> {
        let data = &desired.rendered.data;
        let (ns, name) = target(es);
        let err = |source: kube::Error| AgentError::ApplySecret {
            namespace: ns.clone(),
            name: name.clone(),
            source: source.into(),
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
        let body = desired_secret(es, current, desired);
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
                    source: source.into(),
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
                source: source.into(),
            })?;
        self.count_write();
        self.forget(&ns, &name);
        Ok(true)
    }

    /// An annotation of the Secret as the metadata cache last saw it.
    pub fn cached_annotation(&self, ns: &str, name: &str, key: &str) -> Option<String> {
        let meta = self.cache.get(&ObjectRef::new(name).within(ns))?;
        meta.annotations().get(key).cloned()
    }

    /// Whether `rv` is the resourceVersion of the agent's own last write of this Secret, so
    /// its watch event needs no reconcile.
    pub fn is_own_write(&self, ns: &str, name: &str, rv: &str) -> bool {
        let memory = self.in_sync.lock().unwrap_or_else(|p| p.into_inner());
        memory
            .get(&(ns.to_string(), name.to_string()))
            .is_some_and(|(r, _)| r == rv)
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
        self.metrics.secret_written();
    }
}

async fn get_secret(api: &Api<Secret>, ns: &str, name: &str) -> Result<Option<Secret>> {
    api.get_opt(name)
        .await
        .map_err(|source| AgentError::GetObject {
            kind: "Secret",
            namespace: ns.to_string(),
            name: name.to_string(),
            source: source.into(),
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
                return Err(conflict(
                    "is controlled by another owner; creationPolicy Owner will not take it over",
                ));
            }
            check_adoptable(es, secret).map_err(conflict)
        }
        (CreationPolicy::Orphan, Some(secret)) => check_adoptable(es, secret).map_err(conflict),
        _ => Ok(()),
    }
}

/// Whether Owner or Orphan may take over an existing Secret (and remove its other keys): only
/// one this ExternalSecret already manages, one Ferry or ESO manages (their label), or one
/// whose writer marked it with [`ADOPT_ANNOTATION`]. Anything else (an application's Secret,
/// a Helm release) is left alone: creating an ExternalSecret must not be a way to take over,
/// strip or garbage-collect a Secret one could not write.
fn check_adoptable(es: &ExternalSecret, secret: &Secret) -> std::result::Result<(), &'static str> {
    let managed = managed_by(secret, es)
        || secret.labels().get(MANAGED_LABEL).map(String::as_str) == Some("true");
    let marked = secret
        .annotations()
        .get(ADOPT_ANNOTATION)
        .map(String::as_str)
        == Some("true");
    if managed || marked {
        Ok(())
    } else {
        Err(
            "exists and is not managed by Ferry or ESO; Ferry does not adopt it unless it is \
             annotated ferry.dev/adopt=true",
        )
    }
}

/// Whether the Secret already holds what we would write, its data aside (the caller compares
/// the data's HMAC): our label and annotations, the template's type, labels and annotations,
/// the owner and immutability.
fn in_sync(es: &ExternalSecret, secret: &Secret, rendered: &Rendered, want: &str) -> bool {
    let annotations = secret.annotations();
    let labels = secret.labels();
    let labelled = labels.get(MANAGED_LABEL).map(String::as_str) == Some("true");
    let owner_ok = es.spec.target.creation_policy != CreationPolicy::Owner
        || es
            .uid()
            .is_some_and(|uid| secret.owner_references().iter().any(|o| o.uid == uid));
    let immutable_ok = !es.spec.target.immutable || secret.immutable == Some(true);
    let type_ok = rendered
        .secret_type
        .as_ref()
        .is_none_or(|t| secret.type_.as_ref() == Some(t));
    let contains = |have: &BTreeMap<String, String>, want: &BTreeMap<String, String>| {
        want.iter().all(|(k, v)| have.get(k) == Some(v))
    };
    annotations.get(HMAC_ANNOTATION).map(String::as_str) == Some(want)
        && annotations.get(EXTERNAL_SECRET_ANNOTATION) == Some(&es.name_any())
        && labelled
        && owner_ok
        && immutable_ok
        && type_ok
        && contains(labels, &rendered.labels)
        && contains(annotations, &rendered.annotations)
}

/// The keyed HMAC of the Secret's data this ExternalSecret is responsible for: all of it, or
/// with creationPolicy Merge only the keys it writes.
fn relevant_hmac(es: &ExternalSecret, secret: &Secret, data: &SecretData, key: &[u8]) -> String {
    let actual = secret.data.clone().unwrap_or_default();
    let relevant: BTreeMap<_, _> = match es.spec.target.creation_policy {
        CreationPolicy::Merge => actual
            .into_iter()
            .filter(|(k, _)| data.get(k).is_some())
            .collect(),
        _ => actual,
    };
    data_hmac(key, &SecretData::from_byte_strings(&relevant))
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

/// What one write puts on the Secret besides its name and owner.
struct Desired<'a> {
    rendered: &'a Rendered,
    hmac: &'a str,
    restart_for: Option<&'a str>,
}

/// The server-side apply body for the Secret. The template's labels and annotations come
/// first; ours win a clash.
fn desired_secret(
    es: &ExternalSecret,
    current: Option<&Secret>,
    desired: &Desired<'_>,
) -> serde_json::Value {
    let Desired {
        rendered,
        hmac,
        restart_for,
    } = *desired;
    let (_, name) = target(es);
    let mut labels = rendered.labels.clone();
    labels.insert(MANAGED_LABEL.to_owned(), "true".to_owned());
    let mut annotations = rendered.annotations.clone();
    annotations.insert(HMAC_ANNOTATION.to_owned(), hmac.to_owned());
    annotations.insert(EXTERNAL_SECRET_ANNOTATION.to_owned(), es.name_any());
    if let Some(value) = restart_for {
        annotations.insert(RESTART_FOR_ANNOTATION.to_owned(), value.to_owned());
    }
    let mut metadata = json!({ "name": name, "labels": labels, "annotations": annotations });
    if es.spec.target.creation_policy == CreationPolicy::Owner
        && let Some(owner) = es.controller_owner_ref(&())
    {
        metadata["ownerReferences"] = json!([owner]);
    }
    let mut body = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "data": rendered.data.to_byte_strings(),
    });
    match &rendered.secret_type {
        Some(kind) => body["type"] = json!(kind),
        None if current.is_none() => body["type"] = json!("Opaque"),
        None => {}
    }
    if es.spec.target.immutable {
        body["immutable"] = json!(true);
    }
    body
}
