//! ClusterPushSecret: the same PushSecret in every namespace whose labels match one of
//! `namespaceSelectors`, created, updated and deleted as namespaces come, change labels and
//! go. Each PushSecret carries a controller reference to its ClusterPushSecret (so it goes
//! with it); one of that name that it does not own is never touched, and the conflict is
//! reported in `failedNamespaces`. Nothing is written while everything is as it should be.

use std::sync::Arc;
use std::time::Duration;

use ferry_api::cluster_push_secret::ClusterPushSecretNamespaceFailure;
use ferry_api::push_secret::push_reason;
use ferry_api::{ClusterPushSecret, ClusterPushSecretStatus, PushSecret, parse_duration};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{
    Api, DeleteParams, PartialObjectMeta, Patch, PatchParams, PostParams, Preconditions,
};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};

use crate::context::Ctx;
use crate::error::{AgentError, KubeCause, Result};
use crate::status::{self, Ready};
use crate::store_resolve::selector_matches;

/// `refreshTime` when a ClusterPushSecret sets none (ESO's default).
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(60);

/// What the ClusterPushSecret controller reads.
pub struct ClusterCtx {
    /// The agent's context.
    pub agent: Arc<Ctx>,
    /// Namespaces (metadata only), from their watch.
    pub namespaces: Store<PartialObjectMeta<Namespace>>,
    /// PushSecrets, from the PushSecret watch.
    pub pushes: Store<PushSecret>,
}

/// The controller's reconcile function for ClusterPushSecrets.
#[tracing::instrument(name = "reconcile_cluster_push", skip_all, fields(name = %cps.name_any()))]
pub async fn reconcile(cps: Arc<ClusterPushSecret>, cctx: Arc<ClusterCtx>) -> Result<Action> {
    if cps.meta().deletion_timestamp.is_some() {
        // The garbage collector removes the PushSecrets (controller references).
        return Ok(Action::await_change());
    }
    let name = cps.push_secret_name().to_owned();
    let targets = targets(&cctx, &cps)?;
    let mut provisioned = Vec::new();
    let mut failed = Vec::new();
    for ns in &targets {
        match ensure(&cctx, &cps, ns, &name).await {
            Ok(()) => provisioned.push(ns.clone()),
            Err(err) => failed.push(ClusterPushSecretNamespaceFailure {
                namespace: ns.clone(),
                reason: Some(err.to_string()),
            }),
        }
    }
    for child in owned(&cctx, &cps) {
        let wanted =
            child.name_any() == name && child.namespace().is_some_and(|n| targets.contains(&n));
        if !wanted && let Err(err) = delete(&cctx, &child).await {
            tracing::warn!(error = %err, "removing a PushSecret of a namespace no longer selected failed");
        }
    }
    let ready = match failed.len() {
        0 => Ready {
            ready: true,
            reason: push_reason::SYNCED,
            message: format!("{} namespaces provisioned", provisioned.len()),
        },
        n => Ready::failed(
            push_reason::ERRORED,
            format!("{n} namespaces failed; see status.failedNamespaces"),
        ),
    };
    let old = cps.status.clone().unwrap_or_default();
    let next = ClusterPushSecretStatus {
        failed_namespaces: failed,
        provisioned_namespaces: provisioned,
        push_secret_name: Some(name),
        conditions: vec![status::condition(old.ready_condition(), &ready)],
    };
    let api = Api::<ClusterPushSecret>::all(cctx.agent.client.clone());
    super::status::patch(&api, &cps.name_any(), cps.status.as_ref(), &next).await?;
    let refresh = cps
        .spec
        .refresh_time
        .as_deref()
        .and_then(|t| parse_duration(t).ok());
    Ok(Action::requeue(
        refresh.filter(|d| !d.is_zero()).unwrap_or(DEFAULT_REFRESH),
    ))
}

/// Requeue after a reconcile that errored.
pub fn error_policy(
    cps: Arc<ClusterPushSecret>,
    err: &AgentError,
    cctx: Arc<ClusterCtx>,
) -> Action {
    tracing::warn!(name = %cps.name_any(), category = err.category(), error = %err, "ClusterPushSecret reconcile failed");
    Action::requeue(cctx.agent.backoff.failed(cps.as_ref()))
}

/// The namespaces any selector matches (none without selectors), sorted; namespaces being
/// deleted are left out.
fn targets(cctx: &ClusterCtx, cps: &ClusterPushSecret) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for ns in cctx.namespaces.state() {
        if ns.meta().deletion_timestamp.is_some() {
            continue;
        }
        for (i, selector) in cps.spec.namespace_selectors.iter().enumerate() {
            let field = format!("spec.namespaceSelectors[{i}]");
            if selector_matches(selector, ns.labels(), &field)? {
                out.push(ns.name_any());
                break;
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The PushSecrets this ClusterPushSecret controls (by UID).
fn owned(cctx: &ClusterCtx, cps: &ClusterPushSecret) -> Vec<Arc<PushSecret>> {
    let uid = cps.uid();
    cctx.pushes
        .state()
        .into_iter()
        .filter(|ps| {
            ps.owner_references()
                .iter()
                .any(|o| o.controller == Some(true) && Some(&o.uid) == uid.as_ref())
        })
        .collect()
}

/// Makes `ns` hold the PushSecret as the ClusterPushSecret describes it: created when
/// missing, updated when it differs, left alone when it is not ours.
async fn ensure(cctx: &ClusterCtx, cps: &ClusterPushSecret, ns: &str, name: &str) -> Result<()> {
    let api = Api::<PushSecret>::namespaced(cctx.agent.client.clone(), ns);
    let cached = cctx.pushes.get(&ObjectRef::new(name).within(ns));
    let current = match cached {
        Some(ps) => Some(ps),
        // Not in the cache (yet): the API server decides, so a foreign one is never missed.
        None => api
            .get_opt(name)
            .await
            .map_err(|e| write_failed(ns, name, e))?
            .map(Arc::new),
    };
    let desired = desired(cps, ns, name)?;
    let Some(current) = current else {
        let params = PostParams {
            field_manager: Some(ferry_api::FIELD_MANAGER.to_owned()),
            ..PostParams::default()
        };
        api.create(&params, &desired)
            .await
            .map_err(|e| write_failed(ns, name, e))?;
        return Ok(());
    };
    let uid = cps.uid();
    let ours = current
        .owner_references()
        .iter()
        .any(|o| o.controller == Some(true) && Some(&o.uid) == uid.as_ref());
    if !ours {
        return Err(AgentError::SelectObjects {
            field: "spec.pushSecretName".into(),
            reason: format!(
                "PushSecret {ns}/{name} exists and is not owned by this ClusterPushSecret; it is left alone"
            ),
        });
    }
    if up_to_date(&current, &desired) {
        return Ok(());
    }
    let params = PatchParams::apply(ferry_api::FIELD_MANAGER).force();
    api.patch(name, &params, &Patch::Apply(&desired))
        .await
        .map_err(|e| write_failed(ns, name, e))?;
    Ok(())
}

/// The PushSecret a ClusterPushSecret wants in `ns`.
fn desired(cps: &ClusterPushSecret, ns: &str, name: &str) -> Result<PushSecret> {
    let mut ps = PushSecret::new(name, cps.spec.push_secret_spec.clone());
    ps.metadata.namespace = Some(ns.to_owned());
    let meta = &cps.spec.push_secret_metadata;
    ps.metadata.labels = Some(meta.labels.clone()).filter(|l| !l.is_empty());
    ps.metadata.annotations = Some(meta.annotations.clone()).filter(|a| !a.is_empty());
    let owner = cps
        .controller_owner_ref(&())
        .ok_or_else(|| AgentError::ValidateSpec {
            field: "metadata.uid".into(),
            message: "the ClusterPushSecret has no UID yet".into(),
        })?;
    ps.metadata.owner_references = Some(vec![owner]);
    Ok(ps)
}

/// Whether the PushSecret already has the spec, labels, annotations and owner it should.
fn up_to_date(current: &PushSecret, desired: &PushSecret) -> bool {
    let contains = |have: &std::collections::BTreeMap<String, String>,
                    want: Option<&std::collections::BTreeMap<String, String>>| {
        want.into_iter()
            .flatten()
            .all(|(k, v)| have.get(k) == Some(v))
    };
    current.spec == desired.spec
        && contains(current.labels(), desired.metadata.labels.as_ref())
        && contains(current.annotations(), desired.metadata.annotations.as_ref())
}

/// Deletes a PushSecret of this ClusterPushSecret (only that very object: UID precondition).
async fn delete(cctx: &ClusterCtx, ps: &PushSecret) -> Result<()> {
    let ns = ps.namespace().unwrap_or_default();
    let api = Api::<PushSecret>::namespaced(cctx.agent.client.clone(), &ns);
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: ps.uid(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&ps.name_any(), &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(write_failed(&ns, &ps.name_any(), e)),
    }
}

fn write_failed(ns: &str, name: &str, source: kube::Error) -> AgentError {
    AgentError::WriteObject {
        kind: "PushSecret",
        namespace: ns.to_owned(),
        name: name.to_owned(),
        source: KubeCause::from(source),
    }
}
