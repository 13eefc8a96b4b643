//! Wiring: the caches, watches and controllers of one agent, and their shutdown.
//!
//! - The ExternalSecret controller ([`crate::reconcile`]) is triggered by its own watch, by
//!   managed Secrets changed by someone else, and by changes to the stores its objects
//!   reference (see [`crate::watches`]).
//! - The SecretStore and ClusterSecretStore status controllers ([`crate::store_status`]) read
//!   the same store watches and caches.
//! - The janitor ([`crate::janitor`]) trims the caches.
//!
//! On shutdown the controllers stop taking work, reconciles in flight finish, templates still
//! rendering stop, then the agent's Vault tokens are revoked.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferry_api::{ClusterSecretStore, ExternalSecret, SecretStore, StoreKind};
use futures::channel::mpsc::UnboundedReceiver;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, Store};
use kube::{Client, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::context::{AgentConfig, Backoff, Ctx, Events};
use crate::error::Result;
use crate::fetch::Fetcher;
use crate::handle::StatsHandle;
use crate::metrics::{self, Metrics};
use crate::reconcile::{error_policy, reconcile};
use crate::secret::SecretWriter;
use crate::session::Sessions;
use crate::store_resolve::StoreCaches;
use crate::store_status::{reconcile_cluster_store, reconcile_store, store_error_policy};
use crate::watches::{self, SharedWatch, referencing, scoped, secret_owner};
use crate::{hmac_key, janitor};

/// A configured agent, ready to run.
pub struct Agent {
    ctx: Arc<Ctx>,
    secrets: reflector::store::Writer<PartialObjectMeta<Secret>>,
    stores: StoreWatches,
}

/// The watches of the two store kinds.
struct StoreWatches {
    namespaced: SharedWatch<SecretStore>,
    cluster: SharedWatch<ClusterSecretStore>,
}

/// What the ExternalSecret controller hears of the stores.
type StoreChanges = (
    UnboundedReceiver<Arc<SecretStore>>,
    UnboundedReceiver<Arc<ClusterSecretStore>>,
);

impl Agent {
    /// Loads (or creates) the HMAC key and builds the agent's caches, clients and metrics.
    pub async fn new(client: Client, config: AgentConfig) -> Result<Agent> {
        let hmac_key = hmac_key::load_or_create(&client, &config).await?;
        let (secret_cache, secrets) = reflector::store();
        let stores = StoreWatches {
            namespaced: SharedWatch::new(scoped(&client, &config)),
            cluster: SharedWatch::new(Api::all(client.clone())),
        };
        let metrics = Metrics::default();
        let sessions = Sessions::with_metrics(
            client.clone(),
            config.pod_token_path.clone(),
            metrics.clone(),
        )
        .protecting(&config.own_namespace, &config.hmac_key_secret);
        let mut registry = metrics.registry();
        registry.register_collector(metrics::session_gauges(sessions.clone()));
        let ctx = Arc::new(Ctx {
            sessions,
            fetcher: Fetcher::new(metrics.clone()),
            secrets: SecretWriter::new(client.clone(), hmac_key, secret_cache, metrics.clone()),
            stores: StoreCaches {
                namespaced: stores.namespaced.cache(),
                cluster: stores.cluster.cache(),
            },
            metrics,
            registry,
            backoff: Backoff::new(config.backoff_base, config.backoff_max),
            events: Events::new(client.clone(), &config.reporter),
            synced: AtomicBool::new(false),
            cancel: Arc::new(AtomicBool::new(false)),
            client,
            config,
        });
        Ok(Agent {
            ctx,
            secrets,
            stores,
        })
    }

    /// A handle on the agent's counters, readiness and metrics.
    pub fn stats(&self) -> StatsHandle {
        StatsHandle(self.ctx.clone())
    }

    /// Runs until `stop` resolves, then revokes the agent's Vault tokens.
    pub async fn run(self, stop: impl Future<Output = ()> + Send + Sync + 'static) -> Result<()> {
        let token = CancellationToken::new();
        let run = async {
            let result = self.run_until(&token).await;
            token.cancel();
            result
        };
        let stopped = token.run_until_cancelled(async {
            stop.await;
            token.cancel();
        });
        let (result, _) = tokio::join!(run, stopped);
        result
    }

    /// Runs until `shutdown` is cancelled: the controllers stop taking new work, reconciles in
    /// flight finish (their Secret writes included), then the agent's Vault tokens are revoked.
    pub async fn run_until(self, shutdown: &CancellationToken) -> Result<()> {
        let Agent {
            ctx,
            secrets,
            stores:
                StoreWatches {
                    mut namespaced,
                    mut cluster,
                },
        } = self;
        let changes = (namespaced.subscribe(), cluster.subscribe());
        let ss = Controller::for_shared_stream(namespaced.subscribe(), namespaced.cache());
        let css = Controller::for_shared_stream(cluster.subscribe(), cluster.cache());
        let controllers = async {
            tokio::join!(
                run_external_secrets(&ctx, secrets, changes, shutdown),
                run_store_controller(ss, reconcile_store, &ctx, shutdown),
                run_store_controller(css, reconcile_cluster_store, &ctx, shutdown),
                janitor::run(&ctx, shutdown.cancelled()),
                crate::push::controllers::run(&ctx, shutdown),
                stop_rendering(&ctx, shutdown),
            )
        };
        let watches = async { tokio::join!(namespaced.run(), cluster.run()) };
        // The watches never end; they are dropped once the controllers are done.
        let (es, ..) = tokio::select! {
            done = controllers => done,
            (never, _) = watches => match never {},
        };
        tracing::info!("controllers stopped; revoking Vault tokens");
        ctx.sessions.revoke_all().await;
        es
    }
}

/// Sets the flag that stops templates still rendering once `shutdown` is cancelled.
async fn stop_rendering(ctx: &Ctx, shutdown: &CancellationToken) {
    shutdown.cancelled().await;
    ctx.cancel.store(true, Ordering::Relaxed);
}

/// Runs a store status controller until `shutdown`.
async fn run_store_controller<K, F>(
    controller: Controller<K>,
    reconcile: impl FnMut(Arc<K>, Arc<Ctx>) -> F,
    ctx: &Arc<Ctx>,
    shutdown: &CancellationToken,
) where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
    K: Send + Sync + 'static,
    F: Future<Output = Result<Action>> + Send + 'static,
{
    let cache = controller.store();
    let run = controller
        .graceful_shutdown_on(shutdown.clone().cancelled_owned())
        .run(reconcile, store_error_policy, ctx.clone())
        .for_each(|_| async {});
    drive(run, cache, shutdown).await;
}

/// Runs the ExternalSecret controller until `shutdown`, once both store caches are filled
/// (resolving a store before would flap statuses at start-up); marks the agent synced once
/// the ExternalSecret cache is filled too.
async fn run_external_secrets(
    ctx: &Arc<Ctx>,
    secrets: reflector::store::Writer<PartialObjectMeta<Secret>>,
    stores: StoreChanges,
    shutdown: &CancellationToken,
) -> Result<()> {
    let (cache, controller) = external_secret_controller(ctx, secrets, stores);
    // A shutdown while waiting (caches that never fill, e.g. without RBAC) ends it here.
    let caches = async {
        let _ = ctx.stores.namespaced.wait_until_ready().await;
        let _ = ctx.stores.cluster.wait_until_ready().await;
    };
    tokio::select! {
        () = caches => {}
        () = shutdown.cancelled() => return Ok(()),
    }
    let run = controller
        .graceful_shutdown_on(shutdown.clone().cancelled_owned())
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|_| async {});
    let synced = async {
        let filled = cache.wait_until_ready().await;
        ctx.synced.store(filled.is_ok(), Ordering::Relaxed);
        std::future::pending::<()>().await;
    };
    let run = async {
        tokio::select! {
            () = run => {}
            () = synced => {}
        }
    };
    drive(run, cache.clone(), shutdown).await;
    Ok(())
}

/// The ExternalSecret controller and its cache, with every trigger: its own watch, managed
/// Secrets, and the stores its objects reference.
fn external_secret_controller(
    ctx: &Arc<Ctx>,
    secrets: reflector::store::Writer<PartialObjectMeta<Secret>>,
    (namespaced, cluster): StoreChanges,
) -> (Store<ExternalSecret>, Controller<ExternalSecret>) {
    let (cache, writer) = reflector::store();
    let triggers = watches::external_secrets(&ctx.client, &ctx.config, writer);
    let config = ControllerConfig::default().concurrency(ctx.config.concurrency);
    let (for_ss, for_css) = (cache.clone(), cache.clone());
    let controller = Controller::for_stream(triggers, cache.clone())
        .with_config(config)
        .watches_stream(watches::managed_secrets(ctx, secrets), secret_owner)
        .watches_shared_stream(namespaced, move |s: Arc<SecretStore>| {
            referencing(
                &for_ss,
                StoreKind::SecretStore,
                &s.name_any(),
                s.namespace(),
            )
        })
        .watches_shared_stream(cluster, move |s: Arc<ClusterSecretStore>| {
            referencing(&for_css, StoreKind::ClusterSecretStore, &s.name_any(), None)
        });
    (cache, controller)
}

/// Polls a controller's stream until it ends.
///
/// kube-runtime 5's controller never ends when its shutdown fires before its cache's first
/// list has completed: the runner keeps waiting for a readiness that the stopped watcher can
/// no longer deliver. No reconcile can have started in that case, so the stream is dropped
/// instead; once the cache is ready, the controller's own graceful shutdown applies (reconciles
/// in flight finish).
pub(crate) async fn drive<K>(
    run: impl Future<Output = ()>,
    cache: Store<K>,
    shutdown: &CancellationToken,
) where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    let stopped_before_ready = async {
        shutdown.cancelled().await;
        if cache.wait_until_ready().now_or_never().is_some() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = run => {}
        () = stopped_before_ready => {}
    }
}

#[cfg(test)]
mod tests {
    use tokio_util::sync::CancellationToken;

    /// The shutdown token as the agent uses it: every waiter wakes, and one that starts
    /// waiting after the cancellation resolves at once.
    #[tokio::test]
    async fn every_waiter_wakes_and_late_waiters_resolve_at_once() {
        let shutdown = CancellationToken::new();
        let early = tokio::spawn(shutdown.clone().cancelled_owned());
        assert!(!shutdown.is_cancelled());
        shutdown.cancel();
        early.await.expect("the early waiter finishes");
        shutdown.cancelled().await;
        assert!(shutdown.is_cancelled());
    }
}
