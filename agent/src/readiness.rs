//! Whether a running agent can do its job (`/readyz`): its caches are filled, and at least
//! one store of its controller class is reachable (its status is Ready, or a login
//! succeeded). With no store of its class yet there is nothing to reach, and it is ready.

use std::sync::atomic::Ordering;

use ferry_api::ConditionStatus;

use crate::context::Ctx;
use crate::store_resolve::is_our_class;

/// `Ok(what)` when ready, `Err(why)` when not.
pub fn readiness(ctx: &Ctx) -> std::result::Result<&'static str, &'static str> {
    if !ctx.synced.load(Ordering::Relaxed) {
        return Err("caches not synced yet");
    }
    let class = &ctx.config.controller_class;
    let namespaced = ctx.stores.namespaced.state();
    let cluster = ctx.stores.cluster.state();
    let ours = namespaced
        .iter()
        .map(|s| (&s.spec, s.status.as_ref()))
        .chain(cluster.iter().map(|s| (&s.spec.0, s.status.as_ref())))
        .filter(|(spec, _)| is_our_class(spec, class))
        .map(|(_, status)| status.and_then(|s| s.ready_condition()))
        .collect::<Vec<_>>();
    let reachable = ours
        .iter()
        .any(|c| c.is_some_and(|c| c.status == ConditionStatus::True));
    if ours.is_empty() {
        Ok("ready: no store of this controller class yet")
    } else if reachable || ctx.metrics.logins() > 0 {
        Ok("ready")
    } else {
        Err("no store is reachable")
    }
}
