//! `ferry agent`: builds the Kubernetes client, runs the controller and the metrics endpoint,
//! and shuts down on SIGTERM or Ctrl-C.

use anyhow::Context;
use ferry_agent::{Agent, AgentConfig};

use crate::cli::AgentArgs;

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
