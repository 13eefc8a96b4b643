//! Benchmark of `ferry agent`: the cold sync of N ExternalSecrets and the agent's memory.
//!
//! Against a real OpenBao dev server and the real kube-sandbox API server it creates, without
//! timing it, M KV v2 paths, a token SecretStore and N ExternalSecrets (each two keys of one of
//! the M paths, refreshInterval 1h) in one namespace, and N bare ExternalSecrets in a second.
//! Then it times, in the same run:
//!
//! - the floor: a plain client doing the minimum the agent must do, in the second namespace:
//!   read each of the M paths once, then per ExternalSecret server-side apply its Secret (same
//!   data, label, annotations and ownerReference) and patch its status to Ready, with the
//!   agent's concurrency;
//! - ours: the release `ferry agent` process, from its start until a watch has seen every
//!   ExternalSecret Ready=True with reason SecretSynced.
//!
//! Afterwards it samples the agent's VmRSS and VmHWM (peak) from `/proc` over 5 s of idle, and
//! prints its counters from `/metrics`. Run it with `scripts/bench-agent.sh [N]`.

#[path = "../tests/it/support/eso.rs"]
mod eso;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use clap::Parser;
use ferry_api::meta::reason;
use ferry_api::{ConditionStatus, ExternalSecret, FIELD_MANAGER, MANAGED_LABEL};
use ferry_testenv::TestEnv;
use ferry_vault::KvVersion;
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;
use serde_json::{Value, json};

/// Flags of the benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Number of ExternalSecrets.
    #[arg(default_value_t = 10_000)]
    n: usize,
    /// Number of distinct Vault KV paths the ExternalSecrets read.
    #[arg(long, default_value_t = 100)]
    paths: usize,
    /// The agent's `--concurrency`, also used by the floor.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Requests in flight while creating the objects (not timed).
    #[arg(long, default_value_t = 32)]
    setup_concurrency: usize,
    /// The `ferry` binary to run as the agent.
    #[arg(long, default_value = "target/release/ferry")]
    ferry: PathBuf,
    /// Give up on the agent after this many seconds.
    #[arg(long, default_value_t = 1200)]
    timeout: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let env = TestEnv::new("bench").await;
    let floor_env = TestEnv::new("bench-floor").await;
    eso::install_crds(&env.kube).await;
    setup(&env, &floor_env, &args).await?;
    println!(
        "set-up: {} paths, {} ExternalSecrets in each of 2 namespaces, in {:.1} s",
        args.paths,
        args.n,
        started.elapsed().as_secs_f64()
    );

    let floor = floor(&env, &floor_env, &args).await?;
    println!(
        "floor (plain client: {} Vault reads, {} Secret applies + {} status patches, concurrency {}): {:.2} s",
        args.paths,
        args.n,
        args.n,
        args.concurrency,
        floor.as_secs_f64()
    );

    let (ours, mut agent) = wait_all_ready(&env, &args).await?;
    println!(
        "ours (the ferry agent process, from its start until all {} are Ready/SecretSynced): {:.2} s",
        args.n,
        ours.as_secs_f64(),
    );
    let (rss, hwm) = sample_memory(agent.child.id()).await?;
    println!(
        "agent memory over 5 s of idle after the sync: VmRSS {rss:.1} MiB, VmHWM (peak) {hwm:.1} MiB"
    );
    print_metrics(&agent.metrics).await;
    agent.stop();
    println!(
        "RESULT n={} paths={} floor_s={:.2} ours_s={:.2} ratio={:.2} rss_mib={rss:.1} hwm_mib={hwm:.1}",
        args.n,
        args.paths,
        floor.as_secs_f64(),
        ours.as_secs_f64(),
        ours.as_secs_f64() / floor.as_secs_f64(),
    );
    Ok(())
}

/// The value of key `k` at path `p`: not secret, distinct per path.
fn value(p: usize, k: &str) -> String {
    format!("bench-value-{k}-{p:08}-{:x}", p * 7919)
}

/// Runs `f` over `0..n` with `limit` in flight.
async fn for_each<F, Fut>(n: usize, limit: usize, f: F) -> anyhow::Result<()>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    stream::iter((0..n).map(f))
        .buffer_unordered(limit)
        .try_collect::<()>()
        .await
}

/// The untimed set-up: KV paths, the token store and N ExternalSecrets in each namespace.
async fn setup(env: &TestEnv, floor_env: &TestEnv, args: &Args) -> anyhow::Result<()> {
    for_each(args.paths, args.setup_concurrency, |p| async move {
        let data = json!({ "a": value(p, "a"), "b": value(p, "b") });
        eso::put(env, &format!("p{p}"), data).await;
        Ok(())
    })
    .await?;
    eso::token_store(env, "store").await;
    for e in [env, floor_env] {
        for_each(args.n, args.setup_concurrency, |i| async move {
            let path = env.path(&format!("p{}", i % args.paths));
            let data: Vec<Value> = ["a", "b"]
                .iter()
                .map(|k| json!({ "secretKey": k, "remoteRef": { "key": path, "property": k } }))
                .collect();
            let spec = json!({
                "secretStoreRef": { "name": "store", "kind": "SecretStore" },
                "refreshInterval": "1h",
                "data": data,
            });
            eso::external_secret(e, &format!("es{i}"), spec).await;
            Ok(())
        })
        .await?;
    }
    Ok(())
}

/// The floor, in `env`'s namespace: M Vault reads (of `data`'s paths), then per
/// ExternalSecret one Secret apply and one status patch.
async fn floor(data: &TestEnv, env: &TestEnv, args: &Args) -> anyhow::Result<Duration> {
    let es_api = Api::<ExternalSecret>::namespaced(env.kube.clone(), &env.namespace);
    let uids: std::collections::HashMap<String, String> = es_api
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .map(|es| {
            let meta = es.metadata;
            (meta.name.unwrap_or_default(), meta.uid.unwrap_or_default())
        })
        .collect();
    if uids.len() != args.n {
        bail!("the floor namespace has {} ExternalSecrets", uids.len());
    }
    let started = Instant::now();
    let b64 = &base64::engine::general_purpose::STANDARD;
    // Each path's data, base64-encoded as a Secret holds it.
    let reads: Vec<serde_json::Map<String, Value>> = stream::iter(0..args.paths)
        .map(|p| async move {
            let path = data.path(&format!("p{p}"));
            let secret = data
                .vault
                .kv_read(&data.kv_mount, &path, KvVersion::V2, None)
                .await?
                .context("a benchmark path is missing")?;
            let encode = |(k, v): (&String, &Value)| {
                (k.clone(), json!(b64.encode(v.as_str().unwrap_or_default())))
            };
            Ok::<_, anyhow::Error>(secret.data.expose().iter().map(encode).collect())
        })
        .buffered(args.concurrency)
        .try_collect()
        .await?;
    let secrets = Api::<Secret>::namespaced(env.kube.clone(), &env.namespace);
    let (reads, secrets, es_api, uids) = (&reads, &secrets, &es_api, &uids);
    for_each(args.n, args.concurrency, |i| async move {
        let name = format!("es{i}");
        let uid = uids.get(&name).context("an ExternalSecret is missing")?;
        let data = &reads[i % args.paths];
        let body = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {
                "name": name,
                "labels": { MANAGED_LABEL: "true" },
                "annotations": {
                    "ferry.dev/data-hmac": format!("{:064x}", i),
                    "ferry.dev/external-secret": name,
                },
                "ownerReferences": [{
                    "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                    "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true,
                }],
            },
            "data": data,
            "type": "Opaque",
        });
        let params = PatchParams::apply(FIELD_MANAGER).force();
        secrets.patch(&name, &params, &Patch::Apply(&body)).await?;
        let status = json!({ "status": {
            "refreshTime": now(),
            "syncedResourceVersion": "1-0000000000000000",
            "binding": { "name": name },
            "observedGeneration": 1,
            "conditions": [{
                "type": "Ready", "status": "True", "reason": "SecretSynced",
                "message": "secret synced", "lastTransitionTime": now(),
            }],
        } });
        es_api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await?;
        Ok(())
    })
    .await?;
    Ok(started.elapsed())
}

/// The current time in RFC 3339, as a status holds it.
fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// The running `ferry agent` process.
struct Agent {
    child: std::process::Child,
    metrics: String,
}

impl Agent {
    fn start(env: &TestEnv, args: &Args) -> anyhow::Result<Agent> {
        let metrics = format!("127.0.0.1:{}", ferry_testenv::process::free_port());
        let log = std::env::temp_dir().join(format!("ferry-bench-agent-{}.log", env.prefix));
        let stderr = std::fs::File::create(&log)?;
        println!("agent log: {}", log.display());
        let child = Command::new(&args.ferry)
            .arg("agent")
            .arg(format!("--kubeconfig={}", env.kubeconfig.display()))
            .arg(format!("--namespace={}", env.namespace))
            .arg(format!("--controller-class={}", env.prefix))
            .arg(format!("--own-namespace={}", env.namespace))
            .arg(format!("--concurrency={}", args.concurrency))
            .arg(format!("--metrics-addr={metrics}"))
            .env("FERRY_LOG", "warn,rustify=off,vaultrs=off")
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {}", args.ferry.display()))?;
        Ok(Agent { child, metrics })
    }

    /// SIGTERM (a graceful stop), then SIGKILL after 10 s.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// Starts a watch on the agent's namespace, then the agent, and returns the time from the
/// agent's start until every ExternalSecret is Ready=True with reason SecretSynced.
async fn wait_all_ready(env: &TestEnv, args: &Args) -> anyhow::Result<(Duration, Agent)> {
    let ready = Arc::new(AtomicUsize::new(0));
    let listed = Arc::new(AtomicBool::new(false));
    let api = Api::<ExternalSecret>::namespaced(env.kube.clone(), &env.namespace);
    let watch = tokio::spawn({
        let (ready, listed) = (ready.clone(), listed.clone());
        async move {
            let mut names = HashSet::new();
            let mut events = std::pin::pin!(watcher(api, watcher::Config::default()));
            while let Some(event) = events.next().await {
                match event {
                    Ok(watcher::Event::Apply(es) | watcher::Event::InitApply(es)) => {
                        let name = es.metadata.name.clone().unwrap_or_default();
                        if synced(&es) {
                            names.insert(name);
                        } else {
                            names.remove(&name);
                        }
                    }
                    Ok(watcher::Event::InitDone) => listed.store(true, Ordering::SeqCst),
                    _ => {}
                }
                ready.store(names.len(), Ordering::SeqCst);
            }
        }
    });
    while !listed.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut agent = Agent::start(env, args)?;
    let started = Instant::now();
    let mut last_report = Instant::now();
    let result = loop {
        let n = ready.load(Ordering::SeqCst);
        if n >= args.n {
            break Ok(started.elapsed());
        }
        if let Ok(Some(status)) = agent.child.try_wait() {
            break Err(anyhow::anyhow!("the agent exited early: {status}"));
        }
        if started.elapsed() > Duration::from_secs(args.timeout) {
            break Err(anyhow::anyhow!(
                "only {n} of {} Ready after {}s",
                args.n,
                args.timeout
            ));
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "  ... {n} of {} Ready after {:.0} s",
                args.n,
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    watch.abort();
    result.map(|elapsed| (elapsed, agent))
}

/// Ready=True with reason SecretSynced.
fn synced(es: &ExternalSecret) -> bool {
    es.status
        .as_ref()
        .and_then(|s| s.ready_condition())
        .is_some_and(|c| {
            c.status == ConditionStatus::True && c.reason.as_deref() == Some(reason::SECRET_SYNCED)
        })
}

/// (the largest VmRSS, VmHWM) in MiB over six samples one second apart.
async fn sample_memory(pid: u32) -> anyhow::Result<(f64, f64)> {
    let (mut rss, mut hwm) = (0, 0);
    for i in 0..6 {
        if i > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kib = |name: &str| {
            let line = status.lines().find_map(|l| l.strip_prefix(name));
            line.and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        rss = rss.max(kib("VmRSS:"));
        hwm = hwm.max(kib("VmHWM:"));
    }
    Ok((rss as f64 / 1024.0, hwm as f64 / 1024.0))
}

/// Prints the agent's write, read and login counters.
async fn print_metrics(addr: &str) {
    let Ok(resp) = reqwest::get(format!("http://{addr}/metrics")).await else {
        println!("metrics: not reachable");
        return;
    };
    let body = resp.text().await.unwrap_or_default();
    let wanted = ["secret_writes", "vault_reads", "vault_logins", "sync_total"];
    for line in body.lines() {
        if wanted
            .iter()
            .any(|w| line.starts_with(&format!("ferry_{w}")))
        {
            println!("  metric {line}");
        }
    }
}
