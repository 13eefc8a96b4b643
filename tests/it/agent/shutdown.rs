//! Stopping the agent at any moment of its start-up ends it promptly: before its caches have
//! listed anything (kube-runtime's controller alone would wait forever there) and after.

#![allow(clippy::unwrap_used)]

use crate::support::common;
use std::time::Duration;

use ferry_testenv::TestEnv;

#[tokio::test]
async fn stops_promptly_before_and_after_its_caches_fill() {
    let env = TestEnv::new("shutdown").await;
    for round in 0..4 {
        let agent = common::start_agent(&env).await;
        if round % 2 == 1 {
            // Let the caches list first: the controllers' own graceful shutdown applies.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        tokio::time::timeout(Duration::from_secs(20), agent.stop())
            .await
            .unwrap_or_else(|_| panic!("round {round}: the agent did not stop within 20 s"));
    }
}
