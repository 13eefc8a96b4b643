//! Logged-in Vault sessions shared by every reconcile.
//!
//! A store's Vault settings and credential coordinates form its [`SessionKey`]; stores with the
//! same key share one [`Sessions`] entry, so one login serves them all. Each entry is guarded by
//! an async lock, so concurrent reconciles wait for a single login instead of each logging in.
//! A background task per session renews the token at about two thirds of its lease and logs in
//! again when renewal fails or the lease can no longer be extended. Submodules: `plan` (pure:
//! spec to plan), `credentials` (I/O: credentials and login), `renew` (the renewal task).

mod credentials;
mod plan;
mod renew;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use ferry_api::{StoreKind, VaultProvider};
use ferry_vault::Vault;
use tokio::task::AbortHandle;

use crate::error::{AgentError, Result};
use crate::metrics::Metrics;
use plan::{Method, Plan};

/// Where Kubernetes mounts the pod's own ServiceAccount token.
pub const DEFAULT_POD_TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// A session whose token expires within this margin (or a tenth of its lease, if shorter) is
/// not handed out any more.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5);

/// Everything needed to log in for one store, resolved by the caller.
#[derive(Clone, Debug)]
pub struct StoreContext {
    /// `SecretStore` or `ClusterSecretStore`.
    pub kind: StoreKind,
    /// The store's name.
    pub name: String,
    /// The store's Vault provider block.
    pub provider: VaultProvider,
    /// Namespace in which credential references without a namespace resolve: the
    /// SecretStore's own namespace, or for a ClusterSecretStore the ExternalSecret's namespace.
    pub ref_namespace: String,
}

impl StoreContext {
    /// The identity of the session this store logs in with. An invalid spec still gets a key
    /// (naming the store), but [`Sessions::get`] refuses it.
    pub fn session_key(&self) -> SessionKey {
        match plan::plan(self) {
            Ok(plan) => SessionKey(Arc::new(Identity::Plan(Box::new(plan)))),
            Err(_) => SessionKey(Arc::new(Identity::Invalid {
                kind: self.kind.as_str(),
                name: self.name.clone(),
                ref_namespace: self.ref_namespace.clone(),
            })),
        }
    }
}

/// Identity of a Vault session: server, Vault namespace, CA source, auth method, mount, role
/// and the coordinates (never the contents) of the credential sources. Two stores with the
/// same identity share one session.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionKey(Arc<Identity>);

#[derive(Debug, PartialEq, Eq, Hash)]
enum Identity {
    Plan(Box<Plan>),
    Invalid {
        kind: &'static str,
        name: String,
        ref_namespace: String,
    },
}

impl SessionKey {
    /// Server address of the session (empty for an invalid spec), for logs and metrics.
    pub fn server(&self) -> &str {
        match &*self.0 {
            Identity::Plan(p) => &p.server,
            Identity::Invalid { .. } => "",
        }
    }

    /// Auth method of the session (`token`, `approle`, `kubernetes`, `jwt`, or `invalid`).
    pub fn method(&self) -> &'static str {
        match &*self.0 {
            Identity::Plan(p) => p.method.name(),
            Identity::Invalid { .. } => "invalid",
        }
    }
}

/// The cache of logged-in Vault clients; one per agent process, cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

struct Inner {
    kube: kube::Client,
    pod_token_path: PathBuf,
    /// A Secret no store may read (the agent's HMAC key), as (namespace, name).
    protected: Option<(String, String)>,
    slots: Mutex<HashMap<SessionKey, Arc<Slot>>>,
    /// Where logins and token renewals are counted.
    metrics: Metrics,
}

/// One session key's entry; the async lock serializes logins for the key.
#[derive(Default)]
struct Slot {
    current: tokio::sync::Mutex<Option<Arc<Session>>>,
}

/// A logged-in token and the clients carrying it.
struct Session {
    /// Client for KV reads (provider namespace).
    vault: Vault,
    /// Client for the token's own operations (login namespace).
    auth_vault: Vault,
    /// Whether Ferry obtained the token (and may revoke it); false for a static token.
    revocable: bool,
    /// When the token expires; `None` for tokens without TTL.
    expires_at: Mutex<Option<Instant>>,
    /// How long before `expires_at` the token stops being handed out.
    margin: Duration,
    /// When the session was last handed out.
    last_used: Mutex<Instant>,
    /// The renewal task, aborted when the session is dropped.
    renewer: Mutex<Option<AbortHandle>>,
}

impl Session {
    fn usable(&self) -> bool {
        lock(&self.expires_at).is_none_or(|at| Instant::now() + self.margin < at)
    }

    fn idle_for(&self) -> Duration {
        lock(&self.last_used).elapsed()
    }

    fn stop_renewer(&self) {
        if let Some(handle) = lock(&self.renewer).take() {
            handle.abort();
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop_renewer();
    }
}

/// Whether two clients come from the same login. Every login opens its own connection, and
/// [`Vault::address`] borrows from that connection's shared state, so equal pointers mean the
/// same connection (both are alive here, so the address cannot have been reused).
fn same_session(a: &Vault, b: &Vault) -> bool {
    std::ptr::eq(a.address(), b.address())
}

/// Locks a std mutex, recovering from poisoning (the data stays consistent: no invariant spans
/// a panic point).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Stops a dropped session's renewer and revokes its token if Ferry obtained it.
async fn revoke(key: &SessionKey, session: &Session) {
    session.stop_renewer();
    if session.revocable
        && let Err(e) = session.auth_vault.revoke_self().await
    {
        tracing::warn!(
            server = key.server(),
            method = key.method(),
            error = %e,
            "revoking a Vault token failed"
        );
    }
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("keys", &self.len())
            .field("logins", &self.logins())
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// A cache using `kube` for credentials and `pod_token_path` (default
    /// [`DEFAULT_POD_TOKEN_PATH`]) for Kubernetes auth without a referenced token.
    pub fn new(kube: kube::Client, pod_token_path: Option<PathBuf>) -> Sessions {
        Self::with_metrics(kube, pod_token_path, Metrics::default())
    }

    /// [`Sessions::new`], counting logins and renewals in `metrics`.
    pub fn with_metrics(
        kube: kube::Client,
        pod_token_path: Option<PathBuf>,
        metrics: Metrics,
    ) -> Sessions {
        Sessions {
            inner: Arc::new(Inner {
                kube,
                pod_token_path: pod_token_path
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_POD_TOKEN_PATH)),
                slots: Mutex::new(HashMap::new()),
                metrics,
                protected: None,
            }),
        }
    }

    /// The same cache, refusing any store whose credentials name the Secret `namespace/name`
    /// (the agent's HMAC key). Call before the cache is shared.
    pub fn protecting(self, namespace: &str, name: &str) -> Sessions {
        let mut inner = match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner,
            Err(shared) => return Sessions { inner: shared },
        };
        inner.protected = Some((namespace.to_owned(), name.to_owned()));
        Sessions {
            inner: Arc::new(inner),
        }
    }

    /// A logged-in Vault client for the store. Concurrent callers for one key share a single
    /// login; the token is cached and renewed in the background until invalidated or revoked.
    pub async fn get(&self, store: &StoreContext) -> Result<(SessionKey, Vault)> {
        let plan = plan::plan(store)?;
        if let Some((ns, name)) = &self.inner.protected
            && let Some(r) = plan
                .secret_refs()
                .into_iter()
                .find(|r| r.namespace == *ns && r.name == *name)
        {
            return Err(AgentError::ReadCredential {
                what: r.describe("Secret"),
                reason: "it is the agent's own HMAC key Secret, which no store may use".into(),
            });
        }
        let key = SessionKey(Arc::new(Identity::Plan(Box::new(plan.clone()))));
        let slot = self.inner.slot(&key);
        let mut current = slot.current.lock().await;
        if let Some(session) = current.as_ref().filter(|s| s.usable()) {
            *lock(&session.last_used) = Instant::now();
            return Ok((key, session.vault.clone()));
        }
        let session = Inner::login(&self.inner, &key, &plan, store).await?;
        let vault = session.vault.clone();
        *current = Some(session);
        Ok((key, vault))
    }

    /// Called after Vault answered 403 with this session's token: drops it, but only if it is
    /// still the cached token, so concurrent callers do not each force a login. The next
    /// [`Sessions::get`] logs in again.
    pub async fn invalidate(&self, key: &SessionKey, vault: &Vault) {
        let Some(slot) = lock(&self.inner.slots).get(key).cloned() else {
            return;
        };
        let mut current = slot.current.lock().await;
        if current
            .as_ref()
            .is_some_and(|s| same_session(&s.vault, vault))
        {
            tracing::info!(
                server = key.server(),
                method = key.method(),
                "dropping a Vault session after a permission error"
            );
            *current = None;
        }
    }

    /// Revokes every cached token Ferry obtained (static tokens are left alone, as in ESO) and
    /// stops the renewers. Used at shutdown.
    pub async fn revoke_all(&self) {
        let slots: Vec<(SessionKey, Arc<Slot>)> = lock(&self.inner.slots).drain().collect();
        let revokes = slots.into_iter().map(|(key, slot)| async move {
            if let Some(session) = slot.current.lock().await.take() {
                revoke(&key, &session).await;
            }
        });
        futures::future::join_all(revokes).await;
    }

    /// Drops (and revokes, as [`Sessions::revoke_all`] does) sessions not handed out for
    /// `idle`, so that sessions of deleted stores stop being renewed. Called periodically.
    pub async fn evict_idle(&self, idle: Duration) {
        let slots: Vec<(SessionKey, Arc<Slot>)> = lock(&self.inner.slots)
            .iter()
            .map(|(k, s)| (k.clone(), Arc::clone(s)))
            .collect();
        let mut idle_sessions = Vec::new();
        for (key, slot) in slots {
            // A locked slot is in use (or logging in): not idle.
            let Ok(mut current) = slot.current.try_lock() else {
                continue;
            };
            if current.as_ref().is_some_and(|s| s.idle_for() >= idle)
                && let Some(session) = current.take()
            {
                idle_sessions.push((key, session));
            }
        }
        // Forget empty slots nobody else holds (new holders need the map's lock).
        lock(&self.inner.slots).retain(|_, slot| {
            Arc::strong_count(slot) > 1 || slot.current.try_lock().map_or(true, |c| c.is_some())
        });
        let revokes = idle_sessions
            .iter()
            .map(|(key, session)| revoke(key, session));
        futures::future::join_all(revokes).await;
    }

    /// Number of cached sessions (`ferry_vault_sessions`).
    pub fn len(&self) -> usize {
        lock(&self.inner.slots).len()
    }

    /// Whether no session is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shortest remaining lifetime among cached tokens that have a TTL
    /// (`ferry_vault_token_ttl_seconds`).
    pub fn min_ttl(&self) -> Option<Duration> {
        let slots: Vec<Arc<Slot>> = lock(&self.inner.slots).values().cloned().collect();
        let now = Instant::now();
        slots
            .iter()
            .filter_map(|slot| {
                let current = slot.current.try_lock().ok()?;
                let expires = *lock(&current.as_ref()?.expires_at);
                expires.map(|at| at.saturating_duration_since(now))
            })
            .min()
    }

    /// Number of successful logins so far (read from the metrics; for tests).
    pub fn logins(&self) -> u64 {
        self.inner.metrics.logins()
    }
}

impl Inner {
    fn slot(&self, key: &SessionKey) -> Arc<Slot> {
        Arc::clone(lock(&self.slots).entry(key.clone()).or_default())
    }

    /// Logs in with `plan` (the plan inside `key`) and starts the session's renewer. The caller
    /// holds the slot's lock.
    async fn login(
        this: &Arc<Inner>,
        key: &SessionKey,
        plan: &Plan,
        store: &StoreContext,
    ) -> Result<Arc<Session>> {
        let logged = credentials::login(&this.kube, &this.pod_token_path, store, plan).await;
        this.metrics.login(plan.method.name(), logged.is_ok());
        let logged = logged?;
        let lease = logged.auth.lease_duration;
        let static_token = matches!(plan.method, Method::Token { .. });
        tracing::info!(
            server = %plan.server,
            method = plan.method.name(),
            mount = plan.method.mount(),
            lease_seconds = lease.as_secs(),
            renewable = logged.auth.renewable,
            "logged in to Vault"
        );
        let session = Arc::new(Session {
            vault: logged.vault,
            auth_vault: logged.auth_vault,
            revocable: !static_token,
            expires_at: Mutex::new((!lease.is_zero()).then(|| Instant::now() + lease)),
            margin: EXPIRY_MARGIN.min(lease / 10),
            last_used: Mutex::new(Instant::now()),
            renewer: Mutex::new(None),
        });
        // A static token is not ours to renew (ESO does not either): it is looked up again
        // once it is about to expire. Tokens without TTL need no renewal.
        if !static_token && !lease.is_zero() {
            let task = renew::Renewal {
                inner: Arc::downgrade(this),
                session: Arc::downgrade(&session),
                key: key.clone(),
                store: store.clone(),
                metrics: this.metrics.clone(),
                lease,
                renewable: logged.auth.renewable,
            };
            let handle = tokio::spawn(task.run()).abort_handle();
            *lock(&session.renewer) = Some(handle);
        }
        Ok(session)
    }

    /// Replaces `old` (if it is still the cached session for `key`) with a fresh login.
    /// Returns `Ok(false)` when `old` is no longer cached (nothing to do).
    async fn relogin(
        this: &Arc<Inner>,
        key: &SessionKey,
        store: &StoreContext,
        old: &Weak<Session>,
    ) -> Result<bool> {
        let slot = this.slot(key);
        let mut current = slot.current.lock().await;
        let still_cached = match (current.as_ref(), old.upgrade()) {
            (Some(cur), Some(old)) => Arc::ptr_eq(cur, &old),
            _ => false,
        };
        let Identity::Plan(plan) = &*key.0 else {
            return Ok(false);
        };
        if !still_cached {
            return Ok(false);
        }
        let session = Inner::login(this, key, plan, store).await?;
        *current = Some(session);
        Ok(true)
    }

    /// Drops `old` if it is still the cached session for `key` (its token has expired).
    async fn forget(&self, key: &SessionKey, old: &Weak<Session>) {
        let Some(slot) = lock(&self.slots).get(key).cloned() else {
            return;
        };
        let mut current = slot.current.lock().await;
        if let (Some(cur), Some(old)) = (current.as_ref(), old.upgrade())
            && Arc::ptr_eq(cur, &old)
        {
            *current = None;
        }
    }
}
