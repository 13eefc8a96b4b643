//! The cache janitor: trims the agent's caches periodically, so memory follows the live set
//! of objects: Vault answers and sessions unused for an hour (a later use reads or logs in
//! again), and in-sync records of Secrets that are gone.

use std::future::Future;
use std::time::Duration;

use crate::context::Ctx;

/// How often the caches are trimmed.
const EVERY: Duration = Duration::from_secs(300);
/// How long an unused cache entry or session is kept.
const IDLE: Duration = Duration::from_secs(3600);

/// Trims the caches every five minutes until `shutdown` resolves.
pub async fn run(ctx: &Ctx, shutdown: impl Future<Output = ()>) {
    let trim = async {
        let mut tick = tokio::time::interval(EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            ctx.fetcher.evict(IDLE);
            ctx.sessions.evict_idle(IDLE).await;
            ctx.secrets.prune();
        }
    };
    tokio::select! {
        () = shutdown => {}
        () = trim => {}
    }
}
