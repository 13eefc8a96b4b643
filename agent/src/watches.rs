//! What makes a reconcile happen: one list+watch per kind, each cached once, and the mappings
//! from a changed object to the ExternalSecrets it concerns.
//!
//! - ExternalSecrets: their watch fills the cache the main controller reads, and triggers it
//!   on a change to the spec, the labels or the annotations (not to the status alone: our own
//!   status patches among them).
//! - Managed Secrets (label `reconcile.external-secrets.io/managed=true`), metadata only, so
//!   memory follows the Secrets Ferry writes: an edit or a deletion by someone else maps back
//!   to the ExternalSecret for drift repair; the events of the agent's own writes are skipped.
//! - SecretStores and ClusterSecretStores: one [`SharedWatch`] each, whose cache both the
//!   store status controllers and store resolution read, and whose changes (deletions
//!   included) go to the store controller and to the ExternalSecrets referencing the store.
//!
//! Every cache drops `managedFields` (never read, and the largest part of most objects).
//!
//! Why not kube-runtime 5's own shared streams (`reflector::store_shared` and
//! `Writer::subscribe`): its subscribers are never told of deletions (kube-rs/kube#1590), and
//! a subscriber whose object was deleted before it polled returns `Pending` without a waker,
//! after which it never wakes and the watch stalls once the buffer is full. The controllers
//! still take the shared stream through kube-runtime's `for_shared_stream` and
//! `watches_shared_stream`; [`SharedWatch`] only does the fan-out.

use std::convert::Infallible;
use std::pin::pin;
use std::sync::Arc;

use ferry_api::{ExternalSecret, MANAGED_LABEL, StoreKind};
use futures::channel::mpsc;
use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::context::{AgentConfig, Ctx};
use crate::secret::EXTERNAL_SECRET_ANNOTATION;

/// One list+watch of a kind, cached once, with every object it touches (applied or deleted)
/// handed to each subscriber.
pub struct SharedWatch<K: Resource<DynamicType = ()> + Clone + 'static> {
    api: Api<K>,
    writer: Writer<K>,
    cache: Store<K>,
    subscribers: Vec<mpsc::UnboundedSender<Arc<K>>>,
}

impl<K> SharedWatch<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync,
{
    /// A watch of every object `api` reaches.
    pub fn new(api: Api<K>) -> Self {
        let (cache, writer) = reflector::store();
        Self {
            api,
            writer,
            cache,
            subscribers: Vec::new(),
        }
    }

    /// The cache the watch fills.
    pub fn cache(&self) -> Store<K> {
        self.cache.clone()
    }

    /// A stream of every object the watch touches from now on (the initial list included).
    /// Call before [`SharedWatch::run`].
    pub fn subscribe(&mut self) -> mpsc::UnboundedReceiver<Arc<K>> {
        let (tx, rx) = mpsc::unbounded();
        self.subscribers.push(tx);
        rx
    }

    /// Lists and watches, with kube-runtime's default backoff after errors, filling the cache
    /// and feeding the subscribers. Never returns; drop it to stop.
    pub async fn run(self) -> Infallible {
        let Self {
            api,
            writer,
            mut subscribers,
            ..
        } = self;
        let watch = watcher(api, watcher::Config::default())
            .default_backoff()
            .modify(|o| o.managed_fields_mut().clear());
        let mut touched = pin!(reflector::reflector(writer, watch).touched_objects());
        while let Some(object) = touched.next().await {
            match object {
                Ok(object) => {
                    let object = Arc::new(object);
                    subscribers.retain(|s| s.unbounded_send(object.clone()).is_ok());
                }
                Err(err) => {
                    let kind = K::kind(&());
                    tracing::debug!(%kind, error = %err, "watch failed; retrying");
                }
            }
        }
        // A watcher retries for ever; its stream does not end.
        std::future::pending().await
    }
}

/// The ExternalSecret watch, filling `writer`'s cache: triggers on a change to the spec, the
/// labels or the annotations.
pub fn external_secrets(
    client: &Client,
    config: &AgentConfig,
    writer: Writer<ExternalSecret>,
) -> impl Stream<Item = Result<ExternalSecret, watcher::Error>> + Send + 'static {
    let watch = watcher(
        scoped::<ExternalSecret>(client, config),
        watcher::Config::default(),
    )
    .modify(|es| es.managed_fields_mut().clear());
    reflector::reflector(writer, watch)
        .default_backoff()
        .applied_objects()
        .predicate_filter(spec_and_metadata, Default::default())
}

/// The managed-Secret watch (metadata only), filling `writer`'s cache: the Secrets someone
/// else changed or deleted (a deleted Secret is already gone from the cache when its event
/// gets here, so it is never mistaken for our own write).
pub fn managed_secrets(
    ctx: &Arc<Ctx>,
    writer: Writer<PartialObjectMeta<Secret>>,
) -> impl Stream<Item = Result<PartialObjectMeta<Secret>, watcher::Error>> + Send + 'static {
    let managed = watcher::Config::default().labels(&format!("{MANAGED_LABEL}=true"));
    let api = scoped::<PartialObjectMeta<Secret>>(&ctx.client, &ctx.config);
    let watch = watcher(api, managed).modify(|s| s.managed_fields_mut().clear());
    let ctx = ctx.clone();
    reflector::reflector(writer, watch)
        .default_backoff()
        .touched_objects()
        .try_filter(move |s| std::future::ready(!own_write(&ctx, s)))
}

/// Whether this event is that of the agent's own last write of the Secret.
fn own_write(ctx: &Ctx, secret: &PartialObjectMeta<Secret>) -> bool {
    let (Some(ns), Some(rv)) = (secret.namespace(), secret.resource_version()) else {
        return false;
    };
    let name = secret.name_any();
    ctx.secrets.exists(&ns, &name) && ctx.secrets.is_own_write(&ns, &name, &rv)
}

/// What a change must touch to trigger a reconcile: the spec (its generation), the labels or
/// the annotations (force-sync among them). A status-only change does not.
fn spec_and_metadata(es: &ExternalSecret) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    es.metadata.generation.hash(&mut hasher);
    es.metadata.labels.hash(&mut hasher);
    es.metadata.annotations.hash(&mut hasher);
    es.metadata.deletion_timestamp.is_some().hash(&mut hasher);
    Some(hasher.finish())
}

/// Maps a managed Secret to the ExternalSecret that manages it.
pub fn secret_owner(secret: PartialObjectMeta<Secret>) -> Option<ObjectRef<ExternalSecret>> {
    let ns = secret.namespace()?;
    let by_owner = secret
        .owner_references()
        .iter()
        .find(|o| o.kind == "ExternalSecret" && o.api_version.starts_with("external-secrets.io/"))
        .map(|o| o.name.clone());
    let name = by_owner.or_else(|| {
        secret
            .annotations()
            .get(EXTERNAL_SECRET_ANNOTATION)
            .cloned()
    })?;
    Some(ObjectRef::new(&name).within(&ns))
}

/// The ExternalSecrets in `cache` that reference the store `kind`/`name` (a SecretStore in
/// `namespace`; a ClusterSecretStore has none), as their main store or in a `sourceRef`.
pub fn referencing(
    cache: &Store<ExternalSecret>,
    kind: StoreKind,
    name: &str,
    namespace: Option<String>,
) -> Vec<ObjectRef<ExternalSecret>> {
    cache
        .state()
        .iter()
        .filter(|es| {
            let ours = namespace.is_none() || es.namespace() == namespace;
            ours && crate::shape::reads_from(&es.spec, kind, name)
        })
        .map(|es| ObjectRef::from_obj(es.as_ref()))
        .collect()
}

/// An API for a namespaced kind in the watched namespace (`--namespace`), or in all.
pub fn scoped<K>(client: &Client, config: &AgentConfig) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}
