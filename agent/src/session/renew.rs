//! The background task of one session: renews the token at about two thirds of its lease and
//! logs in again when renewal fails, when Vault caps the renewed lease (maximum TTL reached) or,
//! for a non-renewable token, before it expires. If that login fails it is retried until the
//! old token expires; then the session is dropped so the next `get()` logs in (and reports).
//!
//! The task holds only weak references: dropping the session (or the whole cache) ends it.

use std::sync::Weak;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use super::{Inner, Session, SessionKey, StoreContext, lock};
use crate::metrics::Metrics;

/// Shortest pause between two renewal attempts.
const MIN_PAUSE: Duration = Duration::from_secs(1);

/// Longest pause between two attempts to log in again.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(30);

/// Everything the renewal task of one session needs.
pub(super) struct Renewal {
    /// The cache, to replace the session after a new login.
    pub inner: Weak<Inner>,
    /// The session being kept alive.
    pub session: Weak<Session>,
    /// The session's key.
    pub key: SessionKey,
    /// The store the session was logged in for (same identity as every store sharing it).
    pub store: StoreContext,
    /// Where renewals are counted.
    pub metrics: Metrics,
    /// Lease of the login.
    pub lease: Duration,
    /// Whether the token can be renewed.
    pub renewable: bool,
}

impl Renewal {
    /// Runs until the session is dropped or replaced. Boxed: the task may log in again, and a
    /// login starts a new task, so the future's type would otherwise be recursive.
    pub fn run(self) -> BoxFuture<'static, ()> {
        Box::pin(self.keep_alive())
    }

    async fn keep_alive(self) {
        // A renewed lease shorter than a third of the first one means Vault is capping it at
        // the token's maximum TTL: log in again rather than renew ever shorter leases.
        let floor = self.lease / 3;
        let mut lease = self.lease;
        loop {
            tokio::time::sleep((lease * 2 / 3).max(MIN_PAUSE)).await;
            if !self.renewable {
                break;
            }
            let Some(vault) = self.session.upgrade().map(|s| s.auth_vault.clone()) else {
                return;
            };
            let renewed = vault.renew_self(None).await;
            let status = renewed.as_ref().map_or_else(|e| e.category(), |_| "ok");
            self.metrics.vault_request("token_renew", status);
            match renewed {
                Ok(auth) => {
                    let renewed = auth.lease_duration;
                    if !self.set_expiry(renewed) {
                        return;
                    }
                    if renewed.is_zero() {
                        return;
                    }
                    if renewed < floor {
                        tracing::debug!(
                            server = self.key.server(),
                            method = self.key.method(),
                            "Vault token near its maximum TTL; logging in again"
                        );
                        break;
                    }
                    tracing::debug!(
                        server = self.key.server(),
                        method = self.key.method(),
                        lease_seconds = renewed.as_secs(),
                        "renewed a Vault token"
                    );
                    lease = renewed;
                }
                Err(e) => {
                    tracing::warn!(
                        server = self.key.server(),
                        method = self.key.method(),
                        error = %e,
                        "renewing a Vault token failed; logging in again"
                    );
                    break;
                }
            }
        }
        self.login_again().await;
    }

    /// Records the new expiry; false when the session is gone.
    fn set_expiry(&self, lease: Duration) -> bool {
        let Some(session) = self.session.upgrade() else {
            return false;
        };
        *lock(&session.expires_at) = (!lease.is_zero()).then(|| Instant::now() + lease);
        true
    }

    /// Replaces the session with a fresh login, retrying until the old token expires.
    async fn login_again(&self) {
        loop {
            let Some(inner) = self.inner.upgrade() else {
                return;
            };
            let err = match Inner::relogin(&inner, &self.key, &self.store, &self.session).await {
                Ok(_) => return,
                Err(e) => e,
            };
            let remaining = self.session.upgrade().and_then(|s| {
                let at = (*lock(&s.expires_at))?;
                Some((at.saturating_duration_since(Instant::now()), s.margin))
            });
            tracing::warn!(
                server = self.key.server(),
                method = self.key.method(),
                category = err.category(),
                error = %err,
                "logging in to Vault again failed"
            );
            match remaining {
                None => return,
                Some((left, margin)) if left <= margin => {
                    inner.forget(&self.key, &self.session).await;
                    return;
                }
                Some((left, _)) => {
                    drop(inner);
                    tokio::time::sleep((left / 2).clamp(MIN_PAUSE, MAX_RETRY_PAUSE)).await;
                }
            }
        }
    }
}
