//! The Kubernetes client of the commands that talk to a cluster: a kubeconfig file when one is
//! given, else the command's own fallback.

use std::path::Path;

use anyhow::Context;

/// Where the configuration comes from when no kubeconfig file is given.
pub enum Fallback {
    /// The pod's service-account files (`ferry agent`).
    InCluster,
    /// The usual search: `KUBECONFIG`, `~/.kube/config`, then in-cluster; `hint` is added to
    /// the error when none is found.
    Infer { hint: &'static str },
}

/// Builds the client from `kubeconfig`, or from `fallback`.
pub async fn client(kubeconfig: Option<&Path>, fallback: Fallback) -> anyhow::Result<kube::Client> {
    let config = match (kubeconfig, fallback) {
        (Some(path), _) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .with_context(|| format!("loading kubeconfig {}", path.display()))?
        }
        (None, Fallback::InCluster) => {
            kube::Config::incluster().context("loading the in-cluster configuration")?
        }
        (None, Fallback::Infer { hint }) => kube::Config::infer()
            .await
            .with_context(|| format!("no Kubernetes configuration found ({hint})"))?,
    };
    kube::Client::try_from(config).context("building the Kubernetes client")
}
