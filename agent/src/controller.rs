//! Wiring: the watches, caches and controllers of one agent process.
//!
//! - ExternalSecrets drive the main controller.
//! - Managed Secrets are watched metadata-only, filtered by the managed label, so memory follows
//!   the Secrets Ferry writes and not the cluster's other Secrets; any change maps back to its
//!   ExternalSecret for drift repair.
//! - SecretStores and ClusterSecretStores have their own status controllers, and a change to a
//!   store requeues the ExternalSecrets that reference it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferry_api::{ClusterSecretStore, ExternalSecret, MANAGED_LABEL, SecretStore, StoreKind};
use futures::{FutureExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PartialObjectMeta, PostParams};
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::context::{AgentConfig, Backoff, Ctx, Events};
use crate::error::{AgentError, KubeCause, Result};
use crate::fetch::Fetcher;
use crate::handle::StatsHandle;
use crate::hmac::generate_key;
use crate::metrics::{self, Metrics};
use crate::reconcile::{error_policy, reconcile};
use crate::secret::{EXTERNAL_SECRET_ANNOTATION, SecretWriter};
use crate::session::Sessions;
use crate::store_resolve::StoreCaches;
use crate::store_status::{reconcile_cluster_store, reconcile_store, store_error_policy};

/// A configured agent, ready to run.
pub struct Agent {
    ctx: Arc<Ctx>,
    secret_cache_writer: reflector::store::Writer<PartialObjectMeta<Secret>>,
    stores: (Controller<SecretStore>, Controller<ClusterSecretStore>),
}

impl Agent {
    /// Loads (or creates) the HMAC key and builds the caches and controllers.
    pub async fn new(client: Client, config: AgentConfig) -> Result<Agent> {
        let hmac_key = load_or_create_hmac_key(&client, &config).await?;
        let (secret_cache, secret_cache_writer) = reflector::store();
        let ss = Controller::new(
            scoped::<SecretStore>(&client, &config),
            watcher::Config::default(),
        );
        let css = Controller::new(
            Api::<ClusterSecretStore>::all(client.clone()),
            watcher::Config::default(),
        );
        let stores = StoreCaches {
            namespaced: ss.store(),
            cluster: css.store(),
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
            stores,
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
            secret_cache_writer,
            stores: (ss, css),
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
            secret_cache_writer,
            stores: (ss, css),
        } = self;
        let stopped = || shutdown.clone().cancelled_owned();
        let store_caches = ctx.stores.clone();
        let ss = ss
            .graceful_shutdown_on(stopped())
            .run(reconcile_store, store_error_policy, ctx.clone())
            .for_each(|_| async {});
        let ss = drive(ss, store_caches.namespaced.clone(), shutdown);
        let css = css
            .graceful_shutdown_on(stopped())
            .run(reconcile_cluster_store, store_error_policy, ctx.clone())
            .for_each(|_| async {});
        let css = drive(css, store_caches.cluster.clone(), shutdown);
        let es = run_external_secrets(ctx.clone(), secret_cache_writer, store_caches, shutdown);
        let janitor = janitor(ctx.clone(), stopped());
        let cancel = async {
            shutdown.cancelled().await;
            ctx.cancel.store(true, Ordering::Relaxed);
        };
        let (_, _, _, es, ()) = tokio::join!(ss, css, janitor, es, cancel);
        tracing::info!("controllers stopped; revoking Vault tokens");
        ctx.sessions.revoke_all().await;
        es
    }
}

/// How often caches are trimmed, and how long an unused cache entry or session is kept.
const JANITOR_EVERY: std::time::Duration = std::time::Duration::from_secs(300);
const IDLE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Trims the caches periodically, so memory follows the live set of objects: Vault answers
/// and sessions unused for an hour (a later use reads or logs in again), and in-sync records of
/// Secrets that are gone.
async fn janitor(ctx: Arc<Ctx>, shutdown: impl Future<Output = ()>) {
    let trim = async {
        let mut tick = tokio::time::interval(JANITOR_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            ctx.fetcher.evict(IDLE);
            ctx.sessions.evict_idle(IDLE).await;
            ctx.secrets.prune();
        }
    };
    tokio::select! {
        _ = shutdown => {}
        _ = trim => {}
    }
}

async fn run_external_secrets(
    ctx: Arc<Ctx>,
    secret_cache_writer: reflector::store::Writer<PartialObjectMeta<Secret>>,
    stores: StoreCaches,
    shutdown: &CancellationToken,
) -> Result<()> {
    let config = &ctx.config;
    let managed = watcher::Config::default().labels(&format!("{MANAGED_LABEL}=true"));
    let secrets = reflector::reflector(
        secret_cache_writer,
        watcher(
            scoped::<PartialObjectMeta<Secret>>(&ctx.client, config),
            managed,
        )
        .modify(|s| s.managed_fields_mut().clear()),
    )
    .default_backoff()
    .touched_objects()
    .try_filter({
        // The events of the agent's own writes need no reconcile; edits and deletes do (a
        // deleted Secret is already gone from the cache when its event gets here).
        let ctx = ctx.clone();
        move |s| {
            let own = match (s.namespace(), s.resource_version()) {
                (Some(ns), Some(rv)) => {
                    let name = s.name_any();
                    ctx.secrets.exists(&ns, &name) && ctx.secrets.is_own_write(&ns, &name, &rv)
                }
                _ => false,
            };
            std::future::ready(!own)
        }
    });
    let es_api = scoped::<ExternalSecret>(&ctx.client, config);
    let (es_cache, es_writer) = reflector::store();
    // The cache drops managedFields (never read, and the largest part of each object); its
    // triggers skip events that change only the status (our own status patches among them).
    let es_triggers = reflector::reflector(
        es_writer,
        watcher(es_api, watcher::Config::default()).modify(|es| es.managed_fields_mut().clear()),
    )
    .default_backoff()
    .applied_objects()
    .predicate_filter(spec_and_metadata, Default::default());
    let controller = Controller::for_stream(es_triggers, es_cache.clone())
        .with_config(ControllerConfig::default().concurrency(config.concurrency));
    let es_for_ss = es_cache.clone();
    let es_for_css = es_cache.clone();
    let ss_api = scoped::<SecretStore>(&ctx.client, config);
    let css_api = Api::<ClusterSecretStore>::all(ctx.client.clone());
    let controller = controller
        .watches_stream(secrets, secret_owner)
        .watches(ss_api, watcher::Config::default(), move |s: SecretStore| {
            referencing(
                &es_for_ss,
                StoreKind::SecretStore,
                &s.name_any(),
                s.namespace(),
            )
        })
        .watches(
            css_api,
            watcher::Config::default(),
            move |s: ClusterSecretStore| {
                referencing(
                    &es_for_css,
                    StoreKind::ClusterSecretStore,
                    &s.name_any(),
                    None,
                )
            },
        )
        .graceful_shutdown_on(shutdown.clone().cancelled_owned());
    // Resolving a store before the store caches are filled would flap statuses at start-up.
    // A shutdown while waiting (caches that never fill, e.g. without RBAC) ends it here.
    let caches = async {
        let _ = stores.namespaced.wait_until_ready().await;
        let _ = stores.cluster.wait_until_ready().await;
    };
    tokio::select! {
        () = caches => {}
        () = shutdown.cancelled() => return Ok(()),
    }
    let run = controller
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|_| async {});
    let synced = async {
        let filled = es_cache.wait_until_ready().await;
        ctx.synced.store(filled.is_ok(), Ordering::Relaxed);
        std::future::pending::<()>().await;
    };
    let run = async {
        tokio::select! {
            () = run => {}
            () = synced => {}
        }
    };
    drive(run, es_cache.clone(), shutdown).await;
    Ok(())
}

/// Polls a controller's stream until it ends.
///
/// kube-runtime 5's controller never ends when its shutdown fires before its cache's first
/// list has completed: the runner keeps waiting for a readiness that the stopped watcher can
/// no longer deliver. No reconcile can have started in that case, so the stream is dropped
/// instead; once the cache is ready, the controller's own graceful shutdown applies (reconciles
/// in flight finish).
async fn drive<K>(
    run: impl Future<Output = ()>,
    cache: reflector::Store<K>,
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
fn secret_owner(secret: PartialObjectMeta<Secret>) -> Option<ObjectRef<ExternalSecret>> {
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

/// The ExternalSecrets that reference a store.
fn referencing(
    cache: &reflector::Store<ExternalSecret>,
    kind: StoreKind,
    name: &str,
    namespace: Option<String>,
) -> Vec<ObjectRef<ExternalSecret>> {
    cache
        .state()
        .iter()
        .filter(|es| {
            let r = &es.spec.secret_store_ref;
            r.kind == kind && r.name == name && (namespace.is_none() || es.namespace() == namespace)
        })
        .map(|es| ObjectRef::from_obj(es.as_ref()))
        .collect()
}

fn scoped<K>(client: &Client, config: &AgentConfig) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The HMAC key lives in a Secret the agent owns; it is created with a random key when absent.
async fn load_or_create_hmac_key(
    client: &Client,
    config: &AgentConfig,
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let (ns, name) = (&config.own_namespace, &config.hmac_key_secret);
    let fail = |reason: String| AgentError::LoadHmacKey {
        namespace: ns.clone(),
        name: name.clone(),
        reason,
    };
    let api = Api::<Secret>::namespaced(client.clone(), ns);
    for _ in 0..3 {
        if let Some(secret) = api
            .get_opt(name)
            .await
            .map_err(|e| fail(KubeCause::from(e).to_string()))?
        {
            let key = secret.data.and_then(|mut d| d.remove("key")).map(|b| b.0);
            return match key {
                Some(key) if key.len() >= 16 => Ok(zeroize::Zeroizing::new(key)),
                _ => Err(fail("data.key is missing or shorter than 16 bytes".into())),
            };
        }
        let key = generate_key();
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            data: Some([("key".to_string(), k8s_openapi::ByteString(key.to_vec()))].into()),
            type_: Some("Opaque".into()),
            ..Default::default()
        };
        match api.create(&PostParams::default(), &secret).await {
            Ok(_) => return Ok(key),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(fail(KubeCause::from(e).to_string())),
        }
    }
    Err(fail(
        "the Secret keeps being created and deleted concurrently".into(),
    ))
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
