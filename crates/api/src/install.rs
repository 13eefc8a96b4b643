//! Installing the CRDs on a cluster: server-side apply of [`crds`], then a wait until the API
//! server serves them. The agent does it at start-up with `--install-crds` (clusters without
//! the Helm chart's CRDs), bootstrap in phase 1.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, ResourceExt};

use crate::FIELD_MANAGER;
use crate::crd::crds;
use crate::error::ApiError;

/// How long each CRD may take to become Established.
pub const ESTABLISHED_WITHIN: Duration = Duration::from_secs(30);

/// Server-side applies the external-secrets.io CRDs generated from Ferry's types (field
/// manager [`FIELD_MANAGER`], forced) and waits until the API server serves each one.
pub async fn install_crds(client: &Client) -> Result<(), ApiError> {
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for crd in crds() {
        let name = crd.name_any();
        api.patch(&name, &params, &Patch::Apply(&crd))
            .await
            .map_err(|e| ApiError::ApplyCrd {
                name: name.clone(),
                reason: e.to_string(),
            })?;
        let established = await_condition(api.clone(), &name, conditions::is_crd_established());
        tokio::time::timeout(ESTABLISHED_WITHIN, established)
            .await
            .map_err(|_| ApiError::CrdNotEstablished {
                name: name.clone(),
                seconds: ESTABLISHED_WITHIN.as_secs(),
            })?
            .map_err(|e| ApiError::WaitCrd {
                name: name.clone(),
                reason: e.to_string(),
            })?;
    }
    Ok(())
}
