//! Rollout restarts (Ferry's own; ESO has none): when a sync really changes a Secret's data,
//! the workloads that use it get a new pod-template annotation, which makes their
//! controllers roll the pods.
//!
//! The ExternalSecret opts in with the annotation [`RESTART_ANNOTATION`]: either a list of
//! `kind/name` (`deployment/api, statefulset/db, daemonset/agent`, same namespace), or
//! `auto`: every Deployment, StatefulSet and DaemonSet of the namespace whose pod template
//! mounts the target Secret (volume or projected volume) or references it (`envFrom`,
//! `env[].valueFrom.secretKeyRef`).
//!
//! The pod-template annotation ([`hash_annotation`]) holds the data's restart fingerprint (a
//! keyed HMAC of the data HMAC, under the ExternalSecret's own key; see
//! [`crate::hmac::restart_fingerprint`]), so patching is idempotent: a workload already carrying the current value is never
//! patched again, so one change restarts once, even across retries. A workload is patched:
//! - when this sync changed the data of an existing Secret, if its value differs; and
//! - on a later sync, if it carries an older value while the Secret's
//!   [`RESTART_FOR_ANNOTATION`] (written with the data change) holds the current one: a
//!   crash or failure between the Secret write and the patch is repaired on the next sync.
//!   A new HMAC key changes every fingerprint but not that annotation, so it restarts
//!   nothing.
//!
//! A sync that changed nothing, and the creation of a Secret (pods waiting for it start by
//! themselves), never stamp a workload that has no value yet.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;
use sha2::{Digest, Sha256};

use ferry_api::{ExternalSecret, FIELD_MANAGER};

use crate::context::Ctx;
use crate::error::{AgentError, Result};
use crate::secret::{RESTART_FOR_ANNOTATION, Written, target};

/// The ExternalSecret annotation that asks for rollout restarts.
pub const RESTART_ANNOTATION: &str = "ferry.dev/restart";
/// A workload kind that has a pod template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` StatefulSet.
    StatefulSet,
    /// `apps/v1` DaemonSet.
    DaemonSet,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Deployment, Kind::StatefulSet, Kind::DaemonSet];

    fn parse(word: &str) -> Option<Kind> {
        match word.to_ascii_lowercase().as_str() {
            "deployment" | "deployments" | "deploy" => Some(Kind::Deployment),
            "statefulset" | "statefulsets" | "sts" => Some(Kind::StatefulSet),
            "daemonset" | "daemonsets" | "ds" => Some(Kind::DaemonSet),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
        }
    }
}

/// Which workloads an ExternalSecret restarts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Targets {
    /// No restart annotation.
    #[default]
    None,
    /// The listed workloads.
    Listed(BTreeSet<(Kind, String)>),
    /// Every workload of the namespace that uses the target Secret.
    Auto,
}

/// Parses the ExternalSecret's restart annotation; a malformed one names the field.
pub fn targets(es: &ExternalSecret) -> Result<Targets> {
    let Some(value) = es.annotations().get(RESTART_ANNOTATION) else {
        return Ok(Targets::None);
    };
    let field = || format!("metadata.annotations[{RESTART_ANNOTATION:?}]");
    if value.trim() == "auto" {
        return Ok(Targets::Auto);
    }
    let mut listed = BTreeSet::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let parsed = item
            .split_once('/')
            .and_then(|(kind, name)| Some((Kind::parse(kind.trim())?, name.trim())))
            .filter(|(_, name)| !name.is_empty() && !name.contains('/'));
        let Some((kind, name)) = parsed else {
            return Err(AgentError::ValidateSpec {
                field: field(),
                message: format!(
                    "{item:?} is not deployment/<name>, statefulset/<name> or daemonset/<name>"
                ),
            });
        };
        listed.insert((kind, name.to_owned()));
    }
    if listed.is_empty() {
        return Err(AgentError::ValidateSpec {
            field: field(),
            message: "lists no workload; use kind/name entries or auto".into(),
        });
    }
    Ok(Targets::Listed(listed))
}

/// The pod-template annotation that records which data of this ExternalSecret's Secret the
/// pods were started with. Keyed by the ExternalSecret, so two ExternalSecrets merging into
/// one Secret do not overwrite each other's value.
pub fn hash_annotation(es_name: &str) -> String {
    // An annotation name is at most 63 characters after the prefix.
    if es_name.len() <= 58 {
        return format!("ferry.dev/hash-{es_name}");
    }
    let digest = hex::encode(Sha256::digest(es_name.as_bytes()));
    format!(
        "ferry.dev/hash-{}-{}",
        es_name.get(..40).unwrap_or(es_name),
        &digest[..12]
    )
}

/// Patches the workloads that need it after a sync; returns how many were patched.
/// `changed` is whether the sync changed the data of the Secret.
pub async fn after_sync(
    ctx: &Ctx,
    es: &ExternalSecret,
    targets: &Targets,
    fingerprint: &str,
    written: Written,
    changed: bool,
) -> Result<usize> {
    if *targets == Targets::None || written == Written::NotManaged {
        return Ok(0);
    }
    let (ns, secret) = target(es);
    let key = hash_annotation(&es.name_any());
    let value = fingerprint;
    let real_change = changed && written == Written::Updated;
    let pending = ctx
        .secrets
        .cached_annotation(&ns, &secret, RESTART_FOR_ANNOTATION)
        .is_some_and(|v| v == value);
    let mut patched = 0;
    for (kind, name, template) in workloads(ctx, &ns, targets, &secret).await? {
        let current = template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(&key));
        let due = match current {
            Some(v) => v != value && (real_change || pending),
            None => real_change,
        };
        if due {
            patch(ctx, &ns, kind, &name, &key, value).await?;
            tracing::info!(kind = kind.name(), workload = name, "restarted a workload");
            patched += 1;
        }
    }
    Ok(patched)
}

/// The targeted workloads that exist, with their pod templates.
async fn workloads(
    ctx: &Ctx,
    ns: &str,
    targets: &Targets,
    secret: &str,
) -> Result<Vec<(Kind, String, PodTemplateSpec)>> {
    let mut out = Vec::new();
    match targets {
        Targets::None => {}
        Targets::Listed(listed) => {
            for (kind, name) in listed {
                match get(ctx, ns, *kind, name).await? {
                    Some(template) => out.push((*kind, name.clone(), template)),
                    None => tracing::warn!(
                        kind = kind.name(),
                        workload = name,
                        "a workload named in {RESTART_ANNOTATION} does not exist"
                    ),
                }
            }
        }
        Targets::Auto => {
            for kind in Kind::ALL {
                for (name, template) in list(ctx, ns, kind).await? {
                    if template
                        .spec
                        .as_ref()
                        .is_some_and(|s| uses_secret(s, secret))
                    {
                        out.push((kind, name, template));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The pod template of a workload (the three kinds keep it at the same place).
fn template_of<K: serde::Serialize>(obj: &K) -> Option<PodTemplateSpec> {
    let value = serde_json::to_value(obj).ok()?;
    serde_json::from_value(value.get("spec")?.get("template")?.clone()).ok()
}

async fn get(ctx: &Ctx, ns: &str, kind: Kind, name: &str) -> Result<Option<PodTemplateSpec>> {
    async fn one<K>(ctx: &Ctx, ns: &str, kind: Kind, name: &str) -> Result<Option<PodTemplateSpec>>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let api = Api::<K>::namespaced(ctx.client.clone(), ns);
        let obj = api
            .get_opt(name)
            .await
            .map_err(|source| AgentError::GetObject {
                kind: kind.name(),
                namespace: ns.to_owned(),
                name: name.to_owned(),
                source: source.into(),
            })?;
        Ok(obj.as_ref().and_then(template_of))
    }
    match kind {
        Kind::Deployment => one::<Deployment>(ctx, ns, kind, name).await,
        Kind::StatefulSet => one::<StatefulSet>(ctx, ns, kind, name).await,
        Kind::DaemonSet => one::<DaemonSet>(ctx, ns, kind, name).await,
    }
}

async fn list(ctx: &Ctx, ns: &str, kind: Kind) -> Result<Vec<(String, PodTemplateSpec)>> {
    async fn all<K>(ctx: &Ctx, ns: &str, kind: Kind) -> Result<Vec<(String, PodTemplateSpec)>>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let api = Api::<K>::namespaced(ctx.client.clone(), ns);
        let items =
            api.list(&ListParams::default())
                .await
                .map_err(|source| AgentError::GetObject {
                    kind: kind.name(),
                    namespace: ns.to_owned(),
                    name: String::new(),
                    source: source.into(),
                })?;
        Ok(items
            .items
            .iter()
            .filter_map(|obj| Some((obj.name_any(), template_of(obj)?)))
            .collect())
    }
    match kind {
        Kind::Deployment => all::<Deployment>(ctx, ns, kind).await,
        Kind::StatefulSet => all::<StatefulSet>(ctx, ns, kind).await,
        Kind::DaemonSet => all::<DaemonSet>(ctx, ns, kind).await,
    }
}

/// Sets the hash annotation on the workload's pod template (a merge patch, field manager
/// `ferry`), which makes its controller roll the pods.
async fn patch(ctx: &Ctx, ns: &str, kind: Kind, name: &str, key: &str, value: &str) -> Result<()> {
    let body = json!({ "spec": { "template": { "metadata": { "annotations": { key: value } } } } });
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    let patch = Patch::Merge(&body);
    let result = match kind {
        Kind::Deployment => Api::<Deployment>::namespaced(ctx.client.clone(), ns)
            .patch(name, &params, &patch)
            .await
            .map(|_| ()),
        Kind::StatefulSet => Api::<StatefulSet>::namespaced(ctx.client.clone(), ns)
            .patch(name, &params, &patch)
            .await
            .map(|_| ()),
        Kind::DaemonSet => Api::<DaemonSet>::namespaced(ctx.client.clone(), ns)
            .patch(name, &params, &patch)
            .await
            .map(|_| ()),
    };
    result.map_err(|source| AgentError::RestartWorkload {
        kind: kind.name(),
        namespace: ns.to_owned(),
        name: name.to_owned(),
        source: source.into(),
    })
}

/// Whether a pod spec mounts the Secret or reads it into the environment.
pub fn uses_secret(spec: &PodSpec, secret: &str) -> bool {
    let is = |name: Option<&str>| name == Some(secret);
    let volumes = spec.volumes.iter().flatten().any(|v| {
        is(v.secret.as_ref().and_then(|s| s.secret_name.as_deref()))
            || v.projected.iter().any(|p| {
                p.sources
                    .iter()
                    .flatten()
                    .any(|s| is(s.secret.as_ref().map(|s| s.name.as_str())))
            })
    });
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    let env = containers.into_iter().any(|c| {
        c.env_from
            .iter()
            .flatten()
            .any(|e| is(e.secret_ref.as_ref().map(|r| r.name.as_str())))
            || c.env.iter().flatten().any(|e| {
                let key_ref = e
                    .value_from
                    .as_ref()
                    .and_then(|v| v.secret_key_ref.as_ref());
                is(key_ref.map(|r| r.name.as_str()))
            })
    });
    volumes || env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn es(annotation: Option<&str>) -> ExternalSecret {
        let mut es = ExternalSecret::new("app", Default::default());
        if let Some(a) = annotation {
            es.annotations_mut()
                .insert(RESTART_ANNOTATION.to_owned(), a.to_owned());
        }
        es
    }

    #[test]
    fn parses_the_annotation() {
        assert_eq!(targets(&es(None)).ok(), Some(Targets::None));
        assert_eq!(targets(&es(Some(" auto "))).ok(), Some(Targets::Auto));
        let listed = targets(&es(Some("deployment/api, StatefulSet/db,ds/agent,")));
        let want: BTreeSet<_> = [
            (Kind::Deployment, "api".to_owned()),
            (Kind::StatefulSet, "db".to_owned()),
            (Kind::DaemonSet, "agent".to_owned()),
        ]
        .into();
        assert_eq!(listed.ok(), Some(Targets::Listed(want)));
        for bad in ["pod/x", "deployment/", "api", "", "deployment/a/b"] {
            let e = targets(&es(Some(bad))).err();
            assert!(
                matches!(e, Some(AgentError::ValidateSpec { ref field, .. }) if field.contains(RESTART_ANNOTATION)),
                "{bad:?}: {e:?}"
            );
        }
    }

    #[test]
    fn hash_annotation_names_are_valid() {
        assert_eq!(hash_annotation("db"), "ferry.dev/hash-db");
        let long = "a".repeat(200);
        let name = hash_annotation(&long);
        let (_, part) = name.split_once('/').unwrap_or_default();
        assert!(part.len() <= 63, "{part}");
        assert_ne!(hash_annotation(&long), hash_annotation(&"a".repeat(199)));
    }

    #[test]
    fn finds_secret_references() {
        let spec = |v: serde_json::Value| -> PodSpec {
            serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
        };
        let c = |extra: serde_json::Value| {
            let mut c = json!({"name": "c"});
            if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
                c.extend(extra.clone());
            }
            c
        };
        let cases = [
            (
                json!({"containers": [c(json!({}))], "volumes": [{"name": "v", "secret": {"secretName": "db"}}]}),
                true,
            ),
            (
                json!({"containers": [c(json!({}))], "volumes": [{"name": "v", "projected": {"sources": [{"secret": {"name": "db"}}]}}]}),
                true,
            ),
            (
                json!({"containers": [c(json!({"envFrom": [{"secretRef": {"name": "db"}}]}))]}),
                true,
            ),
            (
                json!({"containers": [c(json!({}))], "initContainers": [c(json!({"env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "p"}}}]}))]}),
                true,
            ),
            (
                json!({"containers": [c(json!({"envFrom": [{"configMapRef": {"name": "db"}}]}))], "volumes": [{"name": "v", "secret": {"secretName": "other"}}]}),
                false,
            ),
        ];
        for (i, (v, want)) in cases.into_iter().enumerate() {
            assert_eq!(uses_secret(&spec(v), "db"), want, "case {i}");
        }
    }
}
