//! The wait of phase 3 on Flux: a reconcile of the GitRepository requested with the new
//! credentials, and awaited until Ready.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

use crate::context::PhaseContext;
use crate::error::BootstrapError;
use crate::poll::{self, Check, Wait};

/// Flux's GitRepository CRD.
const GIT_REPOSITORY_CRD: &str = "gitrepositories.source.toolkit.fluxcd.io";
/// Flux's source API group.
const FLUX_SOURCE_GROUP: &str = "source.toolkit.fluxcd.io";
/// The annotation that asks a Flux controller to reconcile now (its value is a token that
/// the controller echoes in `status.lastHandledReconcileAt`).
pub const REQUESTED_AT_ANNOTATION: &str = "reconcile.fluxcd.io/requestedAt";

/// Requests a reconcile of Flux's GitRepository and waits for it to be Ready; skipped when
/// Flux's CRD is not installed.
pub(super) async fn reconcile_git_repository(ctx: &PhaseContext) -> Result<(), BootstrapError> {
    let guard = ctx
        .progress
        .step("request a Flux reconcile of the GitRepository");
    let (api, token) = match request_reconcile(ctx).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            guard.skipped("Flux not installed");
            return Ok(());
        }
        Err(e) => {
            guard.failed(&e);
            return Err(e);
        }
    };
    guard.done();
    let guard = ctx
        .progress
        .wait_step("wait for the GitRepository to be Ready");
    super::finish(guard, wait_ready(ctx, &api, &token).await)
}

/// Annotates the GitRepository with a fresh `requestedAt` token; `None` without Flux.
async fn request_reconcile(
    ctx: &PhaseContext,
) -> Result<Option<(Api<DynamicObject>, String)>, BootstrapError> {
    let flux = super::config(ctx)?;
    let crds = Api::<CustomResourceDefinition>::all(ctx.kube.clone());
    let Some(crd) = crds
        .get_opt(GIT_REPOSITORY_CRD)
        .await
        .map_err(BootstrapError::kube(format!(
            "reading CRD {GIT_REPOSITORY_CRD}"
        )))?
    else {
        return Ok(None);
    };
    let version = served_version(&crd).ok_or_else(|| BootstrapError::FluxObject {
        object: format!("CRD {GIT_REPOSITORY_CRD}"),
        reason: "serves no version".to_owned(),
    })?;
    let gvk = GroupVersionKind::gvk(FLUX_SOURCE_GROUP, &version, "GitRepository");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "gitrepositories");
    let api = Api::<DynamicObject>::namespaced_with(ctx.kube.clone(), &flux.namespace, &resource);
    let what = format!("GitRepository {}/{}", flux.namespace, flux.git_repository);
    if api
        .get_opt(&flux.git_repository)
        .await
        .map_err(BootstrapError::kube(format!("reading {what}")))?
        .is_none()
    {
        return Err(BootstrapError::FluxObject {
            object: what,
            reason: "does not exist (flux.gitRepository names it)".to_owned(),
        });
    }
    let token = crate::kubeutil::now();
    let patch = json!({ "metadata": { "annotations": { REQUESTED_AT_ANNOTATION: token } } });
    api.patch(
        &flux.git_repository,
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(BootstrapError::kube(format!("annotating {what}")))?;
    Ok(Some((api, token)))
}

/// The version to use: `v1` when served, else the storage version, else any served one.
fn served_version(crd: &CustomResourceDefinition) -> Option<String> {
    let served: Vec<_> = crd.spec.versions.iter().filter(|v| v.served).collect();
    served
        .iter()
        .find(|v| v.name == "v1")
        .or_else(|| served.iter().find(|v| v.storage))
        .or_else(|| served.first())
        .map(|v| v.name.clone())
}

/// Waits until the GitRepository has handled `token` and is Ready.
async fn wait_ready(
    ctx: &PhaseContext,
    api: &Api<DynamicObject>,
    token: &str,
) -> Result<(), BootstrapError> {
    let flux = super::config(ctx)?;
    let what = format!("GitRepository {}/{}", flux.namespace, flux.git_repository);
    let wait = Wait {
        what: format!("{what} to be Ready after the reconcile request"),
        timeout: ctx.timeouts.ready,
        interval: ctx.timeouts.poll,
    };
    poll::until(wait, async || {
        let repo = api
            .get_opt(&flux.git_repository)
            .await
            .map_err(BootstrapError::kube(format!("reading {what}")))?;
        Ok(match repo.as_ref().map(|r| ready_state(r, token)) {
            Some(Ok(())) => Check::Done(()),
            Some(Err(last)) => Check::NotYet(Some(last)),
            None => Check::NotYet(Some("it no longer exists".to_owned())),
        })
    })
    .await
}

/// `Ok` when the object handled the reconcile request `token` and its Ready condition is
/// True; otherwise what it shows.
pub(crate) fn ready_state(repo: &DynamicObject, token: &str) -> Result<(), String> {
    let status = repo.data.get("status");
    let handled = status
        .and_then(|s| s.get("lastHandledReconcileAt"))
        .and_then(Value::as_str);
    if handled != Some(token) {
        return Err("Flux has not handled the reconcile request yet".to_owned());
    }
    let ready = status
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"));
    let Some(ready) = ready else {
        return Err("no Ready condition".to_owned());
    };
    if ready["status"] == "True" {
        return Ok(());
    }
    Err(format!(
        "Ready={} {}: {}",
        ready["status"].as_str().unwrap_or("Unknown"),
        ready["reason"].as_str().unwrap_or_default(),
        ready["message"].as_str().unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(status: Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": { "name": "flux-system" }, "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn ready_needs_the_handled_token_and_a_true_condition() {
        let ok = repo(json!({ "lastHandledReconcileAt": "t1",
            "conditions": [{ "type": "Ready", "status": "True", "reason": "Succeeded" }] }));
        assert_eq!(ready_state(&ok, "t1"), Ok(()));
        assert!(ready_state(&ok, "t2").unwrap_err().contains("not handled"));
        let failing = repo(json!({ "lastHandledReconcileAt": "t1",
            "conditions": [{ "type": "Ready", "status": "False", "reason": "GitOperationFailed",
                "message": "authentication required" }] }));
        let err = ready_state(&failing, "t1").unwrap_err();
        assert!(err.contains("GitOperationFailed") && err.contains("authentication"));
        assert!(ready_state(&repo(json!({})), "t1").is_err());
    }
}
