//! The PushSecret and ClusterPushSecret controllers and what triggers them.
//!
//! - PushSecrets: one list+watch ([`SharedWatch`]), whose cache both controllers read. A
//!   PushSecret reconciles on a change to its spec, labels or annotations (not to its status
//!   alone), at its `refreshInterval`, and after a failure with backoff. The source Secret is
//!   not watched (as in ESO): a change to it is pushed at the next refresh.
//! - ClusterPushSecrets (only when the agent watches every namespace: one confined to a
//!   namespace has no business creating objects in others): their own watch, a metadata
//!   watch of Namespaces (a change of labels reconciles every ClusterPushSecret), and the
//!   PushSecrets they control (a deleted or edited one is put back).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use ferry_api::{ClusterPushSecret, PushSecret};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use tokio_util::sync::CancellationToken;

use super::PushCtx;
use super::cluster::{self, ClusterCtx};
use super::reconcile::{error_policy, reconcile};
use crate::context::Ctx;
use crate::controller::drive;
use crate::watches::{SharedWatch, scoped};

/// Runs the push controllers until `shutdown`; they start once the store caches are filled.
pub async fn run(ctx: &Arc<Ctx>, shutdown: &CancellationToken) {
    let caches = async {
        let _ = ctx.stores.namespaced.wait_until_ready().await;
        let _ = ctx.stores.cluster.wait_until_ready().await;
    };
    tokio::select! {
        () = caches => {}
        () = shutdown.cancelled() => return,
    }
    let mut pushes = SharedWatch::new(scoped::<PushSecret>(&ctx.client, &ctx.config));
    let changes = pushes.subscribe();
    let children = pushes.subscribe();
    let cache = pushes.cache();
    let pctx = Arc::new(PushCtx::new(ctx.clone()));
    let config = ControllerConfig::default().concurrency(ctx.config.concurrency);
    let push = Controller::for_shared_stream(spec_changes(changes), cache.clone())
        .with_config(config)
        .graceful_shutdown_on(shutdown.clone().cancelled_owned())
        .run(reconcile, error_policy, pctx)
        .for_each(|_| async {});
    let push = drive(push, cache.clone(), shutdown);
    let clusters = async {
        if ctx.config.namespace.is_none() {
            run_cluster(ctx, children, cache, shutdown).await;
        }
    };
    let controllers = async { tokio::join!(push, clusters) };
    // The watch never ends; it is dropped once the controllers are done.
    tokio::select! {
        _ = controllers => {}
        never = pushes.run() => match never {},
    }
}

/// The ClusterPushSecret controller.
async fn run_cluster(
    ctx: &Arc<Ctx>,
    children: impl Stream<Item = Arc<PushSecret>> + Send + 'static,
    pushes: reflector::Store<PushSecret>,
    shutdown: &CancellationToken,
) {
    let (namespaces, writer) = reflector::store();
    let namespaces_api = Api::<PartialObjectMeta<Namespace>>::all(ctx.client.clone());
    let ns_watch = watcher(namespaces_api, watcher::Config::default())
        .modify(|n| n.managed_fields_mut().clear());
    let ns_changes = reflector::reflector(writer, ns_watch)
        .default_backoff()
        .touched_objects()
        .predicate_filter(labels_and_deletion, Default::default());
    let controller = Controller::new(
        Api::<ClusterPushSecret>::all(ctx.client.clone()),
        watcher::Config::default(),
    );
    let all = controller.store();
    let cache = all.clone();
    let cctx = Arc::new(ClusterCtx {
        agent: ctx.clone(),
        namespaces,
        pushes,
    });
    let by_name = all.clone();
    let run = controller
        .watches_stream(ns_changes, move |_: PartialObjectMeta<Namespace>| {
            all.state()
                .iter()
                .map(|c| ObjectRef::from_obj(c.as_ref()))
                .collect::<Vec<_>>()
        })
        .watches_shared_stream(children, move |ps: Arc<PushSecret>| {
            concerned(&by_name, &ps)
        })
        .graceful_shutdown_on(shutdown.clone().cancelled_owned())
        .run(cluster::reconcile, cluster::error_policy, cctx)
        .for_each(|_| async {});
    drive(run, cache, shutdown).await;
}

/// The ClusterPushSecrets a PushSecret change concerns: the one that controls it, or, for a
/// PushSecret none controls, those that would create one of its name (it may have been in
/// their way, and now be gone).
fn concerned(
    all: &reflector::Store<ClusterPushSecret>,
    ps: &PushSecret,
) -> Vec<ObjectRef<ClusterPushSecret>> {
    let owner = ps
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true) && o.kind == "ClusterPushSecret");
    if let Some(owner) = owner {
        return vec![ObjectRef::new(&owner.name)];
    }
    let name = ps.name_any();
    all.state()
        .iter()
        .filter(|c| c.push_secret_name() == name)
        .map(|c| ObjectRef::from_obj(c.as_ref()))
        .collect()
}

/// What a Namespace change must touch to matter: its labels, or its deletion.
fn labels_and_deletion(ns: &PartialObjectMeta<Namespace>) -> Option<u64> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    ns.metadata.labels.hash(&mut hasher);
    ns.metadata.deletion_timestamp.is_some().hash(&mut hasher);
    Some(hasher.finish())
}

/// How many PushSecrets' hashes [`spec_changes`] keeps before it starts afresh.
const MAX_SEEN: usize = 65_536;

/// The PushSecrets whose spec, labels, annotations or deletion changed (our own status
/// patches and finalizer edits trigger nothing).
fn spec_changes(
    changes: impl Stream<Item = Arc<PushSecret>> + Send,
) -> impl Stream<Item = Arc<PushSecret>> + Send {
    let mut seen: HashMap<ObjectRef<PushSecret>, u64> = HashMap::new();
    changes.filter(move |ps| {
        let key = ObjectRef::from_obj(ps.as_ref());
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        ps.metadata.generation.hash(&mut hasher);
        ps.metadata.labels.hash(&mut hasher);
        ps.metadata.annotations.hash(&mut hasher);
        ps.metadata.deletion_timestamp.is_some().hash(&mut hasher);
        ps.metadata.uid.hash(&mut hasher);
        let hash = hasher.finish();
        let changed = seen.insert(key, hash) != Some(hash);
        if seen.len() > MAX_SEEN {
            // Bounded memory: forgetting the hashes costs one extra reconcile each, no more.
            seen.clear();
        }
        std::future::ready(changed)
    })
}
