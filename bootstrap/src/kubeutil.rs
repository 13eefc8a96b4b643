//! Small Kubernetes helpers shared by the phases.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};

use crate::error::BootstrapError;

/// The field manager of everything bootstrap applies.
pub const FIELD_MANAGER: &str = "ferry-bootstrap";

/// Creates the namespace `name` unless it exists.
pub async fn ensure_namespace(kube: &kube::Client, name: &str) -> Result<(), BootstrapError> {
    let api = Api::<Namespace>::all(kube.clone());
    let op = || format!("creating namespace {name}");
    if api
        .get_opt(name)
        .await
        .map_err(BootstrapError::kube(op()))?
        .is_some()
    {
        return Ok(());
    }
    let mut ns = Namespace::default();
    ns.metadata.name = Some(name.to_owned());
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(e) => Err(BootstrapError::kube(op())(e)),
    }
}

/// The current time, RFC 3339 in UTC.
pub fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}
