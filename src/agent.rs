//! `ferry agent`: builds the Kubernetes client, runs the controller and the metrics endpoint,
//! and shuts down on SIGTERM or Ctrl-C.

use anyhow::Context;
use ferry_agent::{Agent, AgentConfig};

use clap::Args;

/// Flags of `ferry agent`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Kubeconfig file; in-cluster configuration is used when unset.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Watch only this namespace (ExternalSecrets, SecretStores, Secrets); all when unset.
    #[arg(long, env = "FERRY_WATCH_NAMESPACE")]
    pub namespace: Option<String>,
    /// Reconcile stores whose spec.controller is empty or equal to this class.
    #[arg(long, env = "FERRY_CONTROLLER_CLASS", default_value = "default")]
    pub controller_class: String,
    /// How many ExternalSecrets reconcile at once.
    #[arg(long, env = "FERRY_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Address for /metrics and /healthz.
    #[arg(long, env = "FERRY_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: std::net::SocketAddr,
    /// The agent's own namespace, where its HMAC key Secret lives.
    #[arg(long, env = "POD_NAMESPACE", default_value = "ferry-system")]
    pub own_namespace: String,
    /// Name of the Secret holding the key for the data HMACs (created when missing).
    #[arg(long, env = "FERRY_HMAC_KEY_SECRET", default_value = "ferry-hmac-key")]
    pub hmac_key_secret: String,
    /// Server-side apply the external-secrets.io CRDs at start-up (when the chart does not).
    #[arg(long, env = "FERRY_INSTALL_CRDS")]
    pub install_crds: bool,
}

/// Runs the agent until a termination signal.
pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?
        }
        None => kube::Config::incluster().context("loading the in-cluster configuration")?,
    };
    let client = kube::Client::try_from(config).context("building the Kubernetes client")?;
    if args.install_crds {
        ferry_agent::controller::install_crds(&client).await?;
    }
    let agent = Agent::new(
        client,
        AgentConfig {
            namespace: args.namespace,
            controller_class: args.controller_class,
            concurrency: args.concurrency,
            own_namespace: args.own_namespace,
            hmac_key_secret: args.hmac_key_secret,
            ..AgentConfig::default()
        },
    )
    .await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let metrics = ferry_agent::metrics::serve(args.metrics_addr, agent.stats(), stopped());
    let signals = async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    };
    tracing::info!(metrics = %args.metrics_addr, "ferry agent starting");
    let (agent, metrics, ()) = tokio::join!(agent.run(stopped()), metrics, signals);
    agent?;
    metrics?;
    Ok(())
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
