//! KV reads shared by every reconcile: single-flight and windowed.
//!
//! Reads are keyed by (session, mount, path, engine, version). Concurrent callers for one key
//! share one request; a successful answer (including "not found") is reused while it is
//! younger than the caller's `max_age`; errors are shared only with the callers that were
//! already waiting for the failed request, never kept for later ones. Cached values stay in
//! [`KvSecret`]s, whose data is zeroized on drop. [`mount_and_path`] maps an ExternalSecret's
//! remote key onto the store's KV mount the way ESO does.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ferry_api::{VaultKvVersion, VaultProvider};
use ferry_vault::{Cause, KvSecret, KvVersion, Vault, VaultError};

use crate::metrics::Metrics;
use crate::session::SessionKey;

/// Single-flight, windowed KV reads shared by all reconciles.
#[derive(Clone, Default)]
pub struct Fetcher {
    entries: Arc<Mutex<HashMap<ReadKey, Arc<Entry>>>>,
    metrics: Metrics,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct ReadKey {
    session: SessionKey,
    mount: String,
    path: String,
    engine: KvVersion,
    version: Option<u64>,
}

/// One key's state; its async lock makes concurrent callers wait for the request in flight.
#[derive(Default)]
struct Entry {
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The last successful answer and when its request was sent.
    value: Option<(Instant, Option<Arc<KvSecret>>)>,
    /// The last failure and when it was received, for callers that waited for it.
    failure: Option<(Instant, Cause)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetcher")
            .field("entries", &self.len())
            .field("reads", &self.reads())
            .finish()
    }
}

impl Fetcher {
    /// A fetcher that counts its requests in `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        Self {
            entries: Arc::default(),
            metrics,
        }
    }

    /// Reads `mount`/`path` (optionally a KV v2 `version`). Concurrent callers for the same
    /// (session, mount, path, version) share one request; a successful result (including "not
    /// found") younger than `max_age` is returned without a request; `max_age == 0` forces a
    /// read (force-sync), though it still shares a request sent after the call began. Errors
    /// are not cached.
    #[allow(clippy::too_many_arguments)]
    pub async fn read(
        &self,
        key: &SessionKey,
        vault: &Vault,
        mount: &str,
        path: &str,
        engine: KvVersion,
        version: Option<u64>,
        max_age: Duration,
    ) -> Result<Option<Arc<KvSecret>>, VaultError> {
        let called = Instant::now();
        let read_key = ReadKey {
            session: key.clone(),
            mount: mount.to_owned(),
            path: path.to_owned(),
            engine,
            version,
        };
        let entry = Arc::clone(lock(&self.entries).entry(read_key).or_default());
        let mut state = entry.state.lock().await;
        if let Some((sent, value)) = &state.value
            && (*sent >= called || called.duration_since(*sent) < max_age)
        {
            return Ok(value.clone());
        }
        if let Some((failed, cause)) = &state.failure
            && *failed >= called
        {
            return Err(VaultError::KvRead {
                mount: mount.to_owned(),
                path: path.to_owned(),
                cause: cause.clone(),
            });
        }
        let sent = Instant::now();
        let answer = vault.kv_read(mount, path, engine, version).await;
        self.metrics.vault_request("kv_read", read_status(&answer));
        match answer {
            Ok(secret) => {
                let secret = secret.map(Arc::new);
                state.value = Some((sent, secret.clone()));
                state.failure = None;
                Ok(secret)
            }
            Err(e) => {
                state.failure = Some((Instant::now(), e.cause().clone()));
                Err(e)
            }
        }
    }

    /// Number of requests actually sent to Vault (read from the metrics; for tests).
    pub fn reads(&self) -> u64 {
        self.metrics.vault_reads()
    }

    /// Drops cache entries whose answer is older than `older_than`, and entries without an
    /// answer; entries with a request in flight are kept.
    pub fn evict(&self, older_than: Duration) {
        let now = Instant::now();
        lock(&self.entries).retain(|_, entry| match entry.state.try_lock() {
            Ok(state) => state
                .value
                .as_ref()
                .is_some_and(|(sent, _)| now.duration_since(*sent) < older_than),
            Err(_) => true,
        });
    }

    /// Number of cached entries.
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The `status` label of a KV read's answer: `ok`, `not_found`, or the error's category.
fn read_status<T>(answer: &Result<Option<T>, VaultError>) -> &'static str {
    match answer {
        Ok(Some(_)) => "ok",
        Ok(None) => "not_found",
        Err(e) => e.category(),
    }
}

/// ESO's mapping of a remoteRef key onto the store's KV mount (its `buildPath`), as
/// (mount, path inside the mount); for KV v2 the path excludes `data/`, which `ferry_vault`
/// inserts.
///
/// - With `provider.path` set, that is the mount; a key that already starts with `<mount>/`
///   is not prefixed twice, and for KV v2 a `data/` right after the mount is dropped too.
/// - Without it, the key's first segment is the mount; for KV v2 a key containing `/data/`
///   is split there instead (`secret/data/app` and `secret/app` read the same secret).
pub fn mount_and_path(provider: &VaultProvider, key: &str) -> (String, String) {
    let v2 = provider.version == VaultKvVersion::V2;
    let mount = provider
        .path
        .as_deref()
        .map(|p| p.trim().trim_matches('/'))
        .filter(|p| !p.is_empty());
    if let Some(mount) = mount {
        let mut rest = key;
        if let Some(inner) = key.strip_prefix(mount).and_then(|r| r.strip_prefix('/')) {
            rest = inner;
            if v2 && let Some(inner) = rest.strip_prefix("data/") {
                rest = inner;
            }
        }
        return (mount.to_owned(), rest.to_owned());
    }
    let split = if v2 {
        key.split_once("/data/").or_else(|| key.split_once('/'))
    } else {
        key.split_once('/')
    };
    match split {
        Some((mount, path)) => (mount.to_owned(), path.to_owned()),
        None => (key.to_owned(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(path: Option<&str>, version: VaultKvVersion) -> VaultProvider {
        VaultProvider {
            server: "http://vault:8200".into(),
            path: path.map(str::to_owned),
            version,
            ..VaultProvider::default()
        }
    }

    fn mp(path: Option<&str>, version: VaultKvVersion, key: &str) -> (String, String) {
        mount_and_path(&provider(path, version), key)
    }

    fn pair(m: &str, p: &str) -> (String, String) {
        (m.to_owned(), p.to_owned())
    }

    #[test]
    fn with_a_mount() {
        use VaultKvVersion::{V1, V2};
        // Cases of ESO's buildPath documentation.
        assert_eq!(
            mp(Some("secret/path"), V2, "foo"),
            pair("secret/path", "foo")
        );
        assert_eq!(
            mp(Some("secret/path"), V1, "foo"),
            pair("secret/path", "foo")
        );
        assert_eq!(
            mp(Some("secret/path"), V2, "secret/path/foo"),
            pair("secret/path", "foo")
        );
        assert_eq!(
            mp(Some("secret/path"), V2, "secret/path/data/foo"),
            pair("secret/path", "foo")
        );
        assert_eq!(
            mp(Some("secret/path"), V1, "secret/path/foo"),
            pair("secret/path", "foo")
        );
        // KV v1 keeps a `data/` segment: it is part of the path there.
        assert_eq!(
            mp(Some("secret"), V1, "secret/data/foo"),
            pair("secret", "data/foo")
        );
        // Only a whole leading segment is a prefix.
        assert_eq!(
            mp(Some("secret"), V2, "secrets/a"),
            pair("secret", "secrets/a")
        );
        assert_eq!(
            mp(Some("/secret/"), V2, "secret/a/b"),
            pair("secret", "a/b")
        );
    }

    #[test]
    fn without_a_mount() {
        use VaultKvVersion::{V1, V2};
        assert_eq!(mp(None, V2, "secret/path/foo"), pair("secret", "path/foo"));
        assert_eq!(
            mp(None, V2, "secret/path/data/foo"),
            pair("secret/path", "foo")
        );
        assert_eq!(mp(None, V2, "secret/data/foo"), pair("secret", "foo"));
        assert_eq!(mp(None, V1, "secret/path/foo"), pair("secret", "path/foo"));
        assert_eq!(mp(Some(""), V2, "kv/app"), pair("kv", "app"));
        assert_eq!(mp(None, V2, "lonely"), pair("lonely", ""));
    }
}
