//! `ferry agent`: builds the Kubernetes client, serves `/metrics`, `/healthz` and `/readyz`,
//! optionally waits for the leader Lease, runs the controllers, and shuts down gracefully on
//! SIGTERM or Ctrl-C (in-flight writes finish, the agent's Vault tokens are revoked, the Lease
//! is released).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{ArgAction, Args};
use ferry_agent::leader::{Elector, LeaseConfig};
use ferry_agent::probe::Probe;
use ferry_agent::{Agent, AgentConfig};
use tokio_util::sync::CancellationToken;

/// Flags of `ferry agent`. Every flag also reads the environment variable shown in `--help`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Kubeconfig file; in-cluster configuration (service-account token, CA and
    /// KUBERNETES_SERVICE_HOST/PORT) is used when unset.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Watch only this namespace (ExternalSecrets, SecretStores, Secrets); all when unset.
    #[arg(long, env = "FERRY_WATCH_NAMESPACE")]
    pub namespace: Option<String>,
    /// Reconcile stores whose spec.controller is empty or equal to this class.
    #[arg(long, env = "FERRY_CONTROLLER_CLASS", default_value = "default")]
    pub controller_class: String,
    /// How many ExternalSecrets reconcile at once.
    #[arg(long, env = "FERRY_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, env = "FERRY_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: std::net::SocketAddr,
    /// The agent's own namespace, where its HMAC key Secret and leader Lease live.
    #[arg(long, env = "POD_NAMESPACE", default_value = "ferry-system")]
    pub own_namespace: String,
    /// Name of the Secret holding the key for the data HMACs (created when missing).
    #[arg(long, env = "FERRY_HMAC_KEY_SECRET", default_value = "ferry-hmac-key")]
    pub hmac_key_secret: String,
    /// Server-side apply the external-secrets.io CRDs at start-up (when the chart does not).
    #[arg(long, env = "FERRY_INSTALL_CRDS")]
    pub install_crds: bool,
    /// The pod's service-account token file, for Vault Kubernetes auth without a
    /// serviceAccountRef.
    #[arg(
        long,
        env = "FERRY_POD_TOKEN_PATH",
        default_value = ferry_agent::session::DEFAULT_POD_TOKEN_PATH
    )]
    pub pod_token_path: PathBuf,
    /// Run the controllers only while holding the leader Lease, so that of several replicas
    /// only one writes (`--leader-elect` or `--leader-elect=true|false`).
    #[arg(long, env = "FERRY_LEADER_ELECT", action = ArgAction::Set, num_args = 0..=1,
        default_value_t = false, default_missing_value = "true")]
    pub leader_elect: bool,
    /// Name of the leader-election Lease, in the agent's own namespace.
    #[arg(long, env = "FERRY_LEASE_NAME", default_value = "ferry-agent")]
    pub lease_name: String,
    /// Seconds a leader's Lease lasts without renewal; a standby takes over within about
    /// this long after the leader dies. The leader renews every third of it.
    #[arg(long, env = "FERRY_LEASE_DURATION", default_value_t = 15, value_parser = clap::value_parser!(u64).range(2..=3600))]
    pub lease_duration: u64,
    /// This replica's identity in the Lease (the pod name); host name and process id when
    /// unset.
    #[arg(long, env = "POD_NAME")]
    pub pod_name: Option<String>,
    /// Honour the `ferry.dev/restart` annotation: patch the pod templates of workloads whose
    /// Secret changed (needs get/list/patch on Deployments, StatefulSets and DaemonSets).
    /// When false, the agent never reads or patches workloads and says so in the status.
    #[arg(long, env = "FERRY_ROLLOUT_RESTARTS", action = ArgAction::Set, num_args = 0..=1,
        default_value_t = true, default_missing_value = "true")]
    pub rollout_restarts: bool,
    /// Let templates write Secrets of type kubernetes.io/service-account-token (which make
    /// the token controller mint a long-lived token for a ServiceAccount). Refused when false.
    #[arg(long, env = "FERRY_ALLOW_SERVICE_ACCOUNT_TOKEN_SECRETS", action = ArgAction::Set,
        num_args = 0..=1, default_value_t = false, default_missing_value = "true")]
    pub allow_service_account_token_secrets: bool,
}

/// Runs the agent until a termination signal (exit 0) or the loss of the leader Lease
/// (an error, so that Kubernetes restarts the pod as a fresh standby).
pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let client = crate::kube_client::client(
        args.kubeconfig.as_deref(),
        crate::kube_client::Fallback::InCluster,
    )
    .await?;
    if args.install_crds {
        ferry_api::install_crds(&client).await?;
    }
    let shutdown = CancellationToken::new();
    let probe = Probe::new();
    let metrics = ferry_agent::http::serve(
        args.metrics_addr,
        probe.clone(),
        shutdown.clone().cancelled_owned(),
    );
    let metrics = tokio::spawn(metrics);
    let signals = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown_signal().await;
            shutdown.cancel();
        }
    });
    tracing::info!(metrics = %args.metrics_addr, leader_elect = args.leader_elect, "ferry agent starting");
    let result = lead_and_run(client, args, &shutdown, &probe).await;
    shutdown.cancel();
    signals.abort();
    metrics.await.context("the metrics server task")??;
    result
}

/// Takes the Lease (when leader election is on), runs the agent while holding it, and gives
/// it back after a graceful stop.
async fn lead_and_run(
    client: kube::Client,
    args: AgentArgs,
    shutdown: &CancellationToken,
    probe: &Probe,
) -> anyhow::Result<()> {
    let mut elector = args.leader_elect.then(|| {
        let identity = args.pod_name.clone().unwrap_or_else(default_identity);
        Elector::new(
            client.clone(),
            LeaseConfig {
                namespace: args.own_namespace.clone(),
                name: args.lease_name.clone(),
                identity,
                duration: Duration::from_secs(args.lease_duration),
            },
        )
    });
    if let Some(elector) = elector.as_mut() {
        probe.standby();
        if !elector.acquire(shutdown).await? {
            return Ok(());
        }
    }
    let agent = Agent::new(client, config(args)).await?;
    probe.running(agent.stats());
    let Some(mut elector) = elector else {
        agent.run_until(shutdown).await?;
        return Ok(());
    };
    let holding = async {
        let held = elector.hold(shutdown).await;
        // Lost: stop writing at once (in-flight reconciles finish, nothing new starts).
        shutdown.cancel();
        held
    };
    let (ran, held) = tokio::join!(agent.run_until(shutdown), holding);
    ran?;
    held?;
    elector.release().await;
    Ok(())
}

fn config(args: AgentArgs) -> AgentConfig {
    AgentConfig {
        namespace: args.namespace,
        controller_class: args.controller_class,
        concurrency: args.concurrency,
        own_namespace: args.own_namespace,
        hmac_key_secret: args.hmac_key_secret,
        pod_token_path: Some(args.pod_token_path),
        rollout_restarts: args.rollout_restarts,
        allow_service_account_token_secrets: args.allow_service_account_token_secrets,
        ..AgentConfig::default()
    }
}

/// `HOSTNAME` (the pod name in a pod) and the process id.
fn default_identity() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "ferry-agent".into());
    format!("{host}-{}", std::process::id())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use crate::cli::Cli;

    /// `ferry agent --help` documents every flag, and every flag has an environment variable,
    /// so a Deployment can set any of them.
    #[test]
    fn every_agent_flag_has_help_and_an_env_var() {
        let cli = Cli::command();
        let agent = cli
            .find_subcommand("agent")
            .expect("the agent subcommand exists");
        let mut checked = 0;
        for arg in agent.get_arguments() {
            let id = arg.get_id().as_str();
            if arg.is_global_set() || id == "help" || id == "version" {
                continue;
            }
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(!help.trim().is_empty(), "--{id} has no help text");
            assert!(
                arg.get_env().is_some(),
                "--{id} has no environment variable"
            );
            checked += 1;
        }
        assert!(checked >= 13, "only {checked} flags checked");
    }

    #[test]
    fn leader_election_flag_takes_an_optional_value() {
        use clap::Parser;
        for (argv, want) in [
            (vec!["ferry", "agent"], false),
            (vec!["ferry", "agent", "--leader-elect"], true),
            (vec!["ferry", "agent", "--leader-elect=false"], false),
        ] {
            let cli = Cli::try_parse_from(argv).expect("parses");
            let crate::cli::Command::Agent(args) = cli.command else {
                panic!("not the agent command");
            };
            assert_eq!(args.leader_elect, want);
        }
    }
}
