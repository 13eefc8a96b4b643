//! Killing `ferry bootstrap` (the real binary, SIGKILL) at each phase boundary, in the
//! middle of phase 1 (after the init bundle is sealed, before unsealing), of phase 2 (after
//! the first KV write) and of phase 3 (after its first step), re-running each time with
//! `--identity`, until a run completes. The end state: every value in Vault exactly once
//! as the current version, no plaintext on disk or in the cluster.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use crate::support::bootstrap::Fixture;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Where a run is killed: the first event matching (event, phase, step prefix).
struct KillPoint {
    event: &'static str,
    phase: u64,
    step: Option<&'static str>,
}

const fn at(event: &'static str, phase: u64, step: Option<&'static str>) -> KillPoint {
    KillPoint { event, phase, step }
}

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    Killed,
    Exited(i32),
}

impl KillPoint {
    fn matches(&self, event: &Value) -> bool {
        event["event"] == self.event
            && event["phase"].as_u64() == Some(self.phase)
            && self.step.is_none_or(|prefix| {
                event["step"]
                    .as_str()
                    .is_some_and(|step| step.starts_with(prefix))
            })
    }
}

/// Runs the binary; kills it at `kill` if given and reached.
async fn run_binary(fx: &Fixture, kill: Option<&KillPoint>) -> (Ended, Vec<Value>) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.args(["bootstrap", "--output", "json", "--wait-timeout", "60"])
        .arg("--config")
        .arg(&fx.config_path)
        .arg("--identity")
        .arg(&fx.identity)
        .arg("--verify-namespace")
        .arg(&fx.env.namespace)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KUBECONFIG", &fx.env.kubeconfig)
        .env("FERRY_LOG", "error,rustify=off,vaultrs=off")
        .envs(fx.values.iter())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut events = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let hit = kill.is_some_and(|k| k.matches(&event));
        events.push(event);
        if hit {
            child.start_kill().unwrap();
            child.wait().await.unwrap();
            return (Ended::Killed, events);
        }
    }
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    (Ended::Exited(status.code().unwrap_or(-1)), events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_every_phase_boundary_and_mid_phase_it_converges() {
    let fx = Fixture::new("bootstrap-kill").await;
    let points = [
        at("step.done", 1, Some("initialise Vault")),
        at("phase.done", 1, None),
        at("step.done", 2, Some("write ")),
        at("phase.done", 2, None),
        at("step.done", 3, None),
        at("phase.done", 3, None),
        at("phase.done", 4, None),
    ];
    for point in &points {
        let (ended, events) = run_binary(&fx, Some(point)).await;
        assert_eq!(
            ended,
            Ended::Killed,
            "never reached {} phase {} {:?}; events: {events:?}",
            point.event,
            point.phase,
            point.step
        );
    }
    let (ended, events) = run_binary(&fx, None).await;
    assert_eq!(ended, Ended::Exited(0), "events: {events:?}");
    let last = events.last().unwrap();
    assert_eq!(last["event"], "run.finished");
    assert_eq!(last["outcome"], "complete");
    // Every phase after 4 was skipped on the last run except the always-run phase 5.
    let skipped: Vec<u64> = events
        .iter()
        .filter(|e| e["event"] == "phase.skipped")
        .filter_map(|e| e["phase"].as_u64())
        .collect();
    assert_eq!(skipped, vec![1, 2, 3, 4]);

    let root = fx.root().await;
    fx.assert_kv_written_once(&root).await;
    fx.assert_app_secret().await;
    fx.assert_no_plaintext().await;
    let state = fx.state().await;
    let seen = ferry_verify::init_material::lookup_accessor(&root, &state["rootTokenAccessor"])
        .await
        .unwrap();
    assert_eq!(seen, ferry_verify::RootToken::Revoked);
    assert!(!state.contains_key("bootstrapTokenAccessor"));
    root.revoke_self().await.unwrap();
    fx.stop().await;
}
