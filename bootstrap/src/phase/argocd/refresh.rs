//! After the switch, the Applications that use a switched repository are asked to refresh:
//! Argo CD's controller acts on the annotation `argocd.argoproj.io/refresh` (and removes it)
//! by comparing the Application with Git again, fetching with the credentials it has now.
//!
//! An Application uses a repository when `spec.source.repoURL` or one of
//! `spec.sources[].repoURL` is a repository's URL, or starts with a credential template's
//! URL. URLs are compared the way Git hosts treat them: case-insensitive, without a trailing
//! `/` or `.git`, and `user@host:path` read as `ssh://user@host/path`. Applications are
//! looked for in every namespace (Argo CD can serve Applications outside its own). Without
//! the `applications.argoproj.io` CRD the step is skipped.

use ferry_config::ArgoCdConfig;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use kube::core::ResourceExt;
use serde_json::{Value, json};

use crate::context::PhaseContext;
use crate::error::BootstrapError;

/// Argo CD's Application CRD.
const APPLICATION_CRD: &str = "applications.argoproj.io";
/// The annotation that asks Argo CD to refresh an Application now.
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";

/// The step: annotates every Application that uses a repository of `argocd`.
pub(super) async fn refresh_applications(
    ctx: &PhaseContext,
    argocd: &ArgoCdConfig,
) -> Result<(), BootstrapError> {
    let guard = ctx
        .progress
        .step("refresh the Argo CD Applications that use the repositories");
    match refresh(ctx, argocd).await {
        Ok(None) => {
            guard.skipped("Argo CD's Application CRD is not installed");
            Ok(())
        }
        Ok(Some(count)) => {
            ctx.progress
                .note(&format!("{count} Argo CD Application(s) asked to refresh"));
            guard.done();
            Ok(())
        }
        Err(e) => {
            guard.failed(&e);
            Err(e)
        }
    }
}

/// How many Applications were annotated; `None` without the CRD.
async fn refresh(
    ctx: &PhaseContext,
    argocd: &ArgoCdConfig,
) -> Result<Option<usize>, BootstrapError> {
    let crds = Api::<CustomResourceDefinition>::all(ctx.kube.clone());
    if crds
        .get_opt(APPLICATION_CRD)
        .await
        .map_err(BootstrapError::kube(format!(
            "reading CRD {APPLICATION_CRD}"
        )))?
        .is_none()
    {
        return Ok(None);
    }
    let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "applications");
    let all = Api::<DynamicObject>::all_with(ctx.kube.clone(), &resource);
    let apps = all
        .list(&ListParams::default())
        .await
        .map_err(BootstrapError::kube("listing Argo CD Applications"))?;
    let patch = json!({ "metadata": { "annotations": { REFRESH_ANNOTATION: "normal" } } });
    let mut count = 0;
    for app in apps.items.iter().filter(|a| uses_any(a, argocd)) {
        let ns = app.namespace().unwrap_or_default();
        let name = app.name_any();
        Api::<DynamicObject>::namespaced_with(ctx.kube.clone(), &ns, &resource)
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(BootstrapError::kube(format!(
                "annotating Argo CD Application {ns}/{name} to refresh"
            )))?;
        count += 1;
    }
    Ok(Some(count))
}

/// Whether the Application's sources use a repository or credential template of `argocd`.
pub(crate) fn uses_any(app: &DynamicObject, argocd: &ArgoCdConfig) -> bool {
    let spec = app.data.get("spec");
    let single = spec.and_then(|s| s.pointer("/source/repoURL"));
    let many = spec
        .and_then(|s| s.get("sources"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("repoURL"));
    single
        .into_iter()
        .chain(many)
        .filter_map(Value::as_str)
        .map(normalize)
        .any(|url| {
            argocd.repositories.iter().any(|r| normalize(&r.url) == url)
                || argocd
                    .repo_creds
                    .iter()
                    .any(|r| url.starts_with(&normalize(&r.url)))
        })
}

/// A Git URL in a comparable form (see the module documentation).
pub(crate) fn normalize(url: &str) -> String {
    let url = url.trim().to_ascii_lowercase();
    let url = match url.split_once("://") {
        Some(_) => url,
        None => match url.split_once(':') {
            Some((host, path)) => format!("ssh://{host}/{}", path.trim_start_matches('/')),
            None => url,
        },
    };
    let url = url.trim_end_matches('/');
    url.strip_suffix(".git").unwrap_or(url).to_owned()
}
