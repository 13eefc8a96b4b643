//! Small Kubernetes helpers shared by the phases.

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::Resource;
use kube::api::{Api, PostParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::BootstrapError;

/// The field manager of everything bootstrap applies.
pub const FIELD_MANAGER: &str = "ferry-bootstrap";

/// Creates the namespace `name` unless it exists.
pub async fn ensure_namespace(kube: &kube::Client, name: &str) -> Result<(), BootstrapError> {
    let api = Api::<Namespace>::all(kube.clone());
    create_unless_present(api, name, "namespace ").await
}

/// Creates the ServiceAccount `namespace/name` unless it exists.
pub async fn ensure_service_account(
    kube: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<(), BootstrapError> {
    let api = Api::<ServiceAccount>::namespaced(kube.clone(), namespace);
    create_unless_present(api, name, &format!("ServiceAccount {namespace}/")).await
}

/// Creates an empty object called `name` through `api` unless one exists; another writer
/// creating it first (409) is fine. `what` prefixes the name in errors.
async fn create_unless_present<K>(api: Api<K>, name: &str, what: &str) -> Result<(), BootstrapError>
where
    K: Resource + Default + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let op = || format!("creating {what}{name}");
    if api
        .get_opt(name)
        .await
        .map_err(BootstrapError::kube(op()))?
        .is_some()
    {
        return Ok(());
    }
    let mut object = K::default();
    object.meta_mut().name = Some(name.to_owned());
    match api.create(&PostParams::default(), &object).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(e) => Err(BootstrapError::kube(op())(e)),
    }
}

/// The current time, RFC 3339 in UTC.
pub fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}
