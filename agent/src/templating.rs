//! `spec.target.template` during a sync: reads the ConfigMaps and Secrets its `templateFrom`
//! entries name (in the ExternalSecret's namespace), then builds and renders the Secret with
//! the pure shaping functions, off the async workers. They are read again on every sync that
//! renders, rather than watched: a change to one shows up at the next refresh (or at once
//! with a force-sync). A missing one fails the sync naming the `templateFrom` field; the
//! Secret is left as it is.
//!
//! Shaping runs templates written by whoever may create an ExternalSecret, so it runs on the
//! blocking pool (a busy template never holds an async worker) under [`SHAPING_TIME_LIMIT`]
//! and the agent's shutdown flag, on top of the engine's own step and nesting bounds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use ferry_api::{ExternalSecret, ExternalSecretSpec};
use ferry_template::RenderLimits;
use ferry_vault::KvSecret;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::context::Ctx;
use crate::error::{AgentError, Result};
use crate::shape::{
    self, FindResults, RemoteKey, Rendered, SecretData, TemplateSources, template_sources,
};

/// Longest time the templates of one sync (rewrite transforms and the target template
/// together) may run.
pub const SHAPING_TIME_LIMIT: Duration = Duration::from_secs(2);

/// The ConfigMaps and Secrets the ExternalSecret's `templateFrom` reads.
pub async fn sources(ctx: &Ctx, es: &ExternalSecret) -> Result<TemplateSources> {
    let mut sources = TemplateSources::default();
    let Some(template) = &es.spec.target.template else {
        return Ok(sources);
    };
    let ns = es.namespace().unwrap_or_default();
    let (config_maps, secrets) = template_sources(template);
    for name in config_maps {
        if let Some(cm) = get::<ConfigMap>(ctx, &ns, &name, "ConfigMap").await? {
            sources
                .config_maps
                .insert(name, cm.data.unwrap_or_default());
        }
    }
    for name in secrets {
        if let Some(secret) = get::<Secret>(ctx, &ns, &name, "Secret").await? {
            let data = secret.data.unwrap_or_default();
            sources
                .secrets
                .insert(name, SecretData::from_byte_strings(&data));
        }
    }
    Ok(sources)
}

/// What shaping needs, moved onto the blocking pool.
pub struct Inputs {
    /// The ExternalSecret's spec.
    pub spec: ExternalSecretSpec,
    /// The KV secrets read for `data` and `dataFrom.extract`.
    pub fetched: BTreeMap<RemoteKey, KvSecret>,
    /// What each `dataFrom.find` selected.
    pub found: FindResults,
    /// The `templateFrom` sources.
    pub sources: TemplateSources,
}

/// Builds the Secret's data and renders the template on the blocking pool, stopping at
/// [`SHAPING_TIME_LIMIT`] or when `cancel` is set (shutdown).
pub async fn shape(inputs: Inputs, cancel: &Arc<AtomicBool>) -> Result<Rendered> {
    let limits = RenderLimits {
        deadline: Some(Instant::now() + SHAPING_TIME_LIMIT),
        cancel: Some(cancel.clone()),
    };
    let work = move || {
        let Inputs {
            spec,
            fetched,
            found,
            sources,
        } = inputs;
        let data = shape::build_all_with(&spec, &fetched, &found, &limits)?;
        match &spec.target.template {
            Some(template) => shape::render_template_with(template, data, &sources, &limits),
            None => Ok(Rendered {
                data,
                ..Rendered::default()
            }),
        }
    };
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| AgentError::BuildSecret {
            field: "spec".to_owned(),
            message: "shaping the data stopped unexpectedly".to_owned(),
        })?
}

/// Reads one object; `None` when it does not exist.
async fn get<K>(ctx: &Ctx, ns: &str, name: &str, kind: &'static str) -> Result<Option<K>>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    Api::<K>::namespaced(ctx.client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(|source| AgentError::GetObject {
            kind,
            namespace: ns.to_owned(),
            name: name.to_owned(),
            source: source.into(),
        })
}
