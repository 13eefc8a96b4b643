//! One shutdown handle for the whole process: a signal handler (or a lost leader lease)
//! triggers it once, and every part that must stop (controllers, the HTTP server, the lease
//! loop) waits on its own clone.

use std::future::Future;

use tokio::sync::watch;

/// A cloneable "stop now" flag: [`Shutdown::trigger`] sets it, [`Shutdown::wait`] resolves
/// once it is set (at once if it already is).
#[derive(Clone, Debug)]
pub struct Shutdown {
    tx: std::sync::Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A handle that has not been triggered.
    pub fn new() -> Self {
        let (tx, _) = watch::channel(false);
        Self {
            tx: std::sync::Arc::new(tx),
        }
    }

    /// Asks everything waiting on this handle to stop. Idempotent.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Whether [`Shutdown::trigger`] was called.
    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// A future that resolves once the handle is triggered; it owns its receiver, so it can
    /// be handed to a task or to kube-runtime's `graceful_shutdown_on`.
    pub fn wait(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let mut rx = self.tx.subscribe();
        async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
        }
    }

    /// Triggers the handle when `signal` resolves (used to bridge an outside future, such as
    /// a test's stop channel, into the handle).
    pub fn trigger_on<F>(&self, signal: F) -> impl Future<Output = ()> + use<F>
    where
        F: Future<Output = ()>,
    {
        let this = self.clone();
        async move {
            tokio::select! {
                () = signal => this.trigger(),
                () = this.wait() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Shutdown;

    #[tokio::test]
    async fn every_waiter_wakes_and_late_waiters_resolve_at_once() {
        let shutdown = Shutdown::new();
        let early = tokio::spawn(shutdown.wait());
        assert!(!shutdown.is_triggered());
        shutdown.trigger();
        early.await.expect("the early waiter finishes");
        shutdown.wait().await;
        assert!(shutdown.is_triggered());
    }
}
