//! Leader election with two real `ferry agent` processes against the real API server: only the
//! Lease holder runs the controllers; when it is killed (SIGKILL, no clean-up) the standby takes
//! over within the lease duration and syncs; SIGTERM releases the Lease.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use crate::support::agent_process::{AgentProcess, sample};
use crate::support::common::{
    eventually, external_secret, install_crds, put, secret_data, token_store,
};
use ferry_testenv::TestEnv;
use k8s_openapi::api::coordination::v1::Lease;
use serde_json::json;

const LEASE_SECONDS: u64 = 4;

fn agent_args(env: &TestEnv, name: &str) -> Vec<String> {
    vec![
        format!("--kubeconfig={}", env.kubeconfig.display()),
        format!("--namespace={}", env.namespace),
        format!("--own-namespace={}", env.namespace),
        format!("--controller-class={}", env.prefix),
        "--leader-elect".into(),
        "--lease-name=ferry-test".into(),
        format!("--lease-duration={LEASE_SECONDS}"),
        format!("--pod-name={name}"),
    ]
}

async fn holder(env: &TestEnv) -> Option<String> {
    let leases = kube::Api::<Lease>::namespaced(env.kube.clone(), &env.namespace);
    leases
        .get_opt("ferry-test")
        .await
        .unwrap()?
        .spec?
        .holder_identity
}

async fn metric(agent: &AgentProcess, name: &str) -> Option<f64> {
    let (code, body) = agent.get("/metrics").await?;
    (code == 200).then(|| sample(&body, name)).flatten()
}

fn spec(env: &TestEnv, target: &str) -> serde_json::Value {
    json!({
        "refreshInterval": "1h",
        "secretStoreRef": { "name": "vault", "kind": "SecretStore" },
        "target": { "name": target },
        "data": [{ "secretKey": "password", "remoteRef": { "key": env.path("app"), "property": "password" } }]
    })
}

#[tokio::test]
async fn standby_takes_over_within_the_lease_when_the_leader_is_killed() {
    let env = TestEnv::new("leader-failover").await;
    install_crds(&env.kube).await;
    token_store(&env, "vault").await;
    put(&env, "app", json!({ "password": "first" })).await;
    let logs = tempfile::tempdir().unwrap();

    let mut a = AgentProcess::start("a", logs.path(), &agent_args(&env, "agent-a"), &[]);
    eventually(Duration::from_secs(20), "agent-a to lead", || async {
        (holder(&env).await.as_deref() == Some("agent-a")).then_some(())
    })
    .await;
    let mut b = AgentProcess::start("b", logs.path(), &agent_args(&env, "agent-b"), &[]);
    // The standby answers /readyz (it is ready to take over) and does not lead.
    eventually(Duration::from_secs(20), "agent-b to stand by", || async {
        let (code, body) = b.get("/readyz").await?;
        (code == 200 && body.contains("standby")).then_some(())
    })
    .await;

    external_secret(&env, "one", spec(&env, "one")).await;
    eventually(Duration::from_secs(20), "secret one", || async {
        secret_data(&env, "one")
            .await
            .filter(|d| d["password"] == "first")
    })
    .await;
    // Only the leader ran controllers: it wrote, the standby has no agent (no write counter)
    // and reports ferry_leader 0.
    assert_eq!(metric(&a, "ferry_leader").await, Some(1.0));
    assert!(metric(&a, "ferry_secret_writes_total").await.unwrap() >= 1.0);
    assert_eq!(metric(&b, "ferry_leader").await, Some(0.0));
    assert_eq!(metric(&b, "ferry_secret_writes_total").await, None);
    assert!(
        !b.log_text().contains("reconciled ExternalSecret"),
        "the standby reconciled"
    );

    a.kill();
    let killed = Instant::now();
    eventually(Duration::from_secs(30), "agent-b to take over", || async {
        (holder(&env).await.as_deref() == Some("agent-b")).then_some(())
    })
    .await;
    let takeover = killed.elapsed();
    // The standby sees the Lease's last renewal at most one retry period late, then waits one
    // lease duration on its own clock; 2 s of slack for the API calls.
    let bound = Duration::from_secs(LEASE_SECONDS)
        + Duration::from_secs(LEASE_SECONDS) / 3
        + Duration::from_secs(2);
    assert!(
        takeover < bound,
        "takeover took {takeover:?}, bound {bound:?}"
    );
    eprintln!(
        "leader failover: standby took over {takeover:?} after SIGKILL (lease {LEASE_SECONDS} s)"
    );

    put(&env, "app", json!({ "password": "second" })).await;
    external_secret(&env, "two", spec(&env, "two")).await;
    eventually(
        Duration::from_secs(20),
        "secret two, synced by the new leader",
        || async {
            secret_data(&env, "two")
                .await
                .filter(|d| d["password"] == "second")
        },
    )
    .await;
    assert_eq!(metric(&b, "ferry_leader").await, Some(1.0));

    // SIGTERM: a clean exit that gives the Lease up at once.
    let status = b.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "exit {status:?}; log: {}", b.log_text());
    assert_eq!(holder(&env).await, None);
    assert!(b.log_text().contains("released the leader lease"));
}

/// A leader whose Lease is taken (here by hand, as a partitioned leader would find it) stops its
/// controllers at its next renewal and exits non-zero, so Kubernetes restarts it as a standby.
#[tokio::test]
async fn a_leader_that_loses_its_lease_stops_and_exits_non_zero() {
    let env = TestEnv::new("leader-lost").await;
    install_crds(&env.kube).await;
    let logs = tempfile::tempdir().unwrap();
    let mut a = AgentProcess::start("a", logs.path(), &agent_args(&env, "agent-a"), &[]);
    eventually(Duration::from_secs(20), "agent-a to lead", || async {
        (holder(&env).await.as_deref() == Some("agent-a")).then_some(())
    })
    .await;
    let leases = kube::Api::<Lease>::namespaced(env.kube.clone(), &env.namespace);
    let mut lease = leases.get("ferry-test").await.unwrap();
    let spec = lease.spec.as_mut().unwrap();
    spec.holder_identity = Some("intruder".into());
    spec.lease_duration_seconds = Some(60);
    leases
        .replace("ferry-test", &Default::default(), &lease)
        .await
        .unwrap();
    let taken = Instant::now();
    let status = loop {
        if let Some(status) = a.exited() {
            break status;
        }
        assert!(
            taken.elapsed() < Duration::from_secs(15),
            "agent-a kept running"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success(), "a leader that lost its lease exited 0");
    // It notices at its next renewal: within a third of the lease, plus slack.
    assert!(
        taken.elapsed() < Duration::from_secs(LEASE_SECONDS),
        "{:?}",
        taken.elapsed()
    );
    assert!(a.log_text().contains("lost the leader lease"));
    assert_eq!(holder(&env).await.as_deref(), Some("intruder"));
}
