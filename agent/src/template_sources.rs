//! The ConfigMaps and Secrets an ExternalSecret's `templateFrom` entries name (in its
//! namespace), read for [`crate::render`]. They are read again on every sync that renders,
//! rather than watched: a change to one shows up at the next refresh (or at once with a
//! force-sync). A missing one fails the sync naming the `templateFrom` field; the Secret is
//! left as it is.

use ferry_api::ExternalSecret;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::context::Ctx;
use crate::error::{AgentError, Result};
use crate::shape::{SecretData, TemplateSources, template_sources};

/// The ConfigMaps and Secrets the ExternalSecret's `templateFrom` reads.
pub async fn read(ctx: &Ctx, es: &ExternalSecret) -> Result<TemplateSources> {
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
