//! `/readyz` semantics, through the agent's own readiness check: ready once the caches are
//! synced when no store of its class exists; not ready while its only store cannot be reached;
//! ready again as soon as one store is.

#![allow(clippy::unwrap_used)]

use crate::support::common;
use std::time::Duration;

use ferry_testenv::TestEnv;
use serde_json::json;

#[tokio::test]
async fn ready_needs_synced_caches_and_a_reachable_store() {
    let env = TestEnv::new("readiness").await;
    let agent = common::start_agent(&env).await;
    let wait = Duration::from_secs(20);
    common::eventually(wait, "ready with no store", || async {
        agent.stats.readiness().ok()
    })
    .await;

    // The only store of our class points at a closed port: not ready.
    common::create(
        &env,
        "v1",
        "SecretStore",
        json!({
            "metadata": { "name": "unreachable" },
            "spec": {
                "controller": env.prefix,
                "provider": { "vault": {
                    "server": "http://127.0.0.1:1", "path": env.kv_mount, "version": "v2",
                    "auth": { "tokenSecretRef": { "name": "missing", "key": "token" } }
                } }
            }
        }),
    )
    .await;
    let why = common::eventually(wait, "not ready with an unreachable store", || async {
        agent.stats.readiness().err()
    })
    .await;
    assert_eq!(why, "no store is reachable");

    // A reachable store makes the agent ready again.
    common::token_store(&env, "reachable").await;
    let what = common::eventually(wait, "ready with a reachable store", || async {
        agent.stats.readiness().ok()
    })
    .await;
    assert_eq!(what, "ready");
    agent.stop().await;
}
