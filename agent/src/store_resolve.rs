//! Store resolution: from an ExternalSecret's `secretStoreRef` to a [`StoreContext`] that the
//! session cache can log in with, enforcing the controller class and a ClusterSecretStore's
//! namespace conditions (a tenant must never reach a store that does not admit it).

use std::collections::BTreeMap;

use ferry_api::store::ClusterSecretStoreCondition;
use ferry_api::{
    ClusterSecretStore, ExternalSecret, SecretStore, SecretStoreRef, SecretStoreSpec, StoreKind,
};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};

use crate::error::{AgentError, Result};
use crate::session::StoreContext;

/// The controller class a store without `spec.controller` belongs to every agent; ESO's default
/// class name is `default`.
pub const DEFAULT_CONTROLLER_CLASS: &str = "default";

/// Whether a store with this `spec.controller` is ours to reconcile.
pub fn is_our_class(store: &SecretStoreSpec, class: &str) -> bool {
    match store.controller.as_deref() {
        None | Some("") => true,
        Some(c) => c == class,
    }
}

/// What resolving a store gave: a usable context, or a store of another controller class
/// (which the agent leaves alone, without touching the ExternalSecret's status).
pub enum Resolved {
    /// The store is ours and admits the ExternalSecret.
    Ours(Box<StoreContext>),
    /// The store belongs to another controller class.
    OtherClass,
}

/// Caches of the two store kinds, fed by the controller's watches.
#[derive(Clone)]
pub struct StoreCaches {
    /// Namespaced SecretStores.
    pub namespaced: Store<SecretStore>,
    /// ClusterSecretStores.
    pub cluster: Store<ClusterSecretStore>,
}

/// Resolves the store an ExternalSecret references.
pub async fn resolve(
    es: &ExternalSecret,
    caches: &StoreCaches,
    client: &Client,
    class: &str,
) -> Result<Resolved> {
    let es_ns = es.metadata.namespace.clone().unwrap_or_default();
    resolve_ref(&es.spec.secret_store_ref, &es_ns, caches, client, class).await
}

/// Resolves `store_ref` (a `secretStoreRef` or an entry's `sourceRef.storeRef`) for an
/// ExternalSecret in namespace `es_ns`, with the same class and namespace checks.
pub async fn resolve_ref(
    store_ref: &SecretStoreRef,
    es_ns: &str,
    caches: &StoreCaches,
    client: &Client,
    class: &str,
) -> Result<Resolved> {
    let es_ns = es_ns.to_owned();
    let missing = |kind: StoreKind| AgentError::ResolveStore {
        kind: kind.as_str(),
        name: store_ref.name.clone(),
        reason: "not found".into(),
    };
    let (spec, ref_namespace) = match store_ref.kind {
        StoreKind::SecretStore => {
            let key = ObjectRef::new(&store_ref.name).within(&es_ns);
            let store = match caches.namespaced.get(&key) {
                Some(store) => store,
                None => live_get(
                    Api::<SecretStore>::namespaced(client.clone(), &es_ns),
                    store_ref.kind,
                    &store_ref.name,
                )
                .await?
                .ok_or_else(|| missing(store_ref.kind))?,
            };
            (store.spec.clone(), es_ns.clone())
        }
        StoreKind::ClusterSecretStore => {
            let store = match caches.cluster.get(&ObjectRef::new(&store_ref.name)) {
                Some(store) => store,
                None => live_get(
                    Api::<ClusterSecretStore>::all(client.clone()),
                    store_ref.kind,
                    &store_ref.name,
                )
                .await?
                .ok_or_else(|| missing(store_ref.kind))?,
            };
            if !is_our_class(&store.spec, class) {
                return Ok(Resolved::OtherClass);
            }
            if !admits(&store.spec.conditions, client, &es_ns).await? {
                return Err(AgentError::StoreNotAllowed {
                    store: store_ref.name.clone(),
                    namespace: es_ns,
                });
            }
            (store.spec.0.clone(), es_ns.clone())
        }
    };
    if !is_our_class(&spec, class) {
        return Ok(Resolved::OtherClass);
    }
    let provider = vault_provider(&spec, store_ref.kind, &store_ref.name)?;
    Ok(Resolved::Ours(Box::new(StoreContext {
        kind: store_ref.kind,
        name: store_ref.name.clone(),
        provider,
        ref_namespace,
    })))
}

/// A store the watch cache does not hold yet, read from the API server: an ExternalSecret
/// created right after its store can be reconciled before the store's watch event arrives,
/// and "not found" would then be a false status (or, for a store of another controller
/// class, a status the agent must never write).
async fn live_get<K>(api: Api<K>, kind: StoreKind, name: &str) -> Result<Option<std::sync::Arc<K>>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(name)
        .await
        .map(|store| store.map(std::sync::Arc::new))
        .map_err(|e| AgentError::ResolveStore {
            kind: kind.as_str(),
            name: name.to_string(),
            reason: crate::error::KubeCause::from(e).to_string(),
        })
}

/// The store's Vault provider, or an error naming the provider Ferry does not implement.
pub fn vault_provider(
    spec: &SecretStoreSpec,
    kind: StoreKind,
    name: &str,
) -> Result<ferry_api::VaultProvider> {
    if let Some(vault) = &spec.provider.vault {
        return Ok(vault.clone());
    }
    match spec.provider.other.keys().next() {
        Some(other) => Err(AgentError::Unsupported {
            field: format!("spec.provider.{other}"),
            feature: format!("the {other} provider (only vault is implemented)"),
        }),
        None => Err(AgentError::ResolveStore {
            kind: kind.as_str(),
            name: name.to_string(),
            reason: "spec.provider has no provider configured".into(),
        }),
    }
}

/// Whether a ClusterSecretStore's conditions admit `namespace`. No conditions admit every
/// namespace; otherwise any one matching condition does (a namespace list, a regular
/// expression, or a label selector on the Namespace object).
pub async fn admits(
    conditions: &[ClusterSecretStoreCondition],
    client: &Client,
    namespace: &str,
) -> Result<bool> {
    if conditions.is_empty() {
        return Ok(true);
    }
    let mut labels: Option<BTreeMap<String, String>> = None;
    for (i, condition) in conditions.iter().enumerate() {
        if condition.namespaces.iter().any(|n| n == namespace) {
            return Ok(true);
        }
        for (j, pattern) in condition.namespace_regexes.iter().enumerate() {
            let re = regex::Regex::new(pattern).map_err(|e| AgentError::ValidateSpec {
                field: format!("spec.conditions[{i}].namespaceRegexes[{j}]"),
                message: format!("not a valid regular expression: {e}"),
            })?;
            if re.is_match(namespace) {
                return Ok(true);
            }
        }
        if let Some(selector) = &condition.namespace_selector {
            if labels.is_none() {
                labels = Some(namespace_labels(client, namespace).await?);
            }
            let field = format!("spec.conditions[{i}].namespaceSelector");
            if selector_matches(
                selector,
                labels.as_ref().unwrap_or(&BTreeMap::new()),
                &field,
            )? {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

async fn namespace_labels(client: &Client, namespace: &str) -> Result<BTreeMap<String, String>> {
    let ns = Api::<Namespace>::all(client.clone())
        .get(namespace)
        .await
        .map_err(|source| AgentError::GetObject {
            kind: "Namespace",
            namespace: String::new(),
            name: namespace.to_string(),
            source: source.into(),
        })?;
    Ok(ns.metadata.labels.unwrap_or_default())
}

/// Evaluates a Kubernetes label selector (matchLabels and matchExpressions) against labels.
pub fn selector_matches(
    selector: &LabelSelector,
    labels: &BTreeMap<String, String>,
    field: &str,
) -> Result<bool> {
    let match_labels = selector.match_labels.iter().flatten();
    if !match_labels
        .into_iter()
        .all(|(k, v)| labels.get(k) == Some(v))
    {
        return Ok(false);
    }
    for (i, expr) in selector.match_expressions.iter().flatten().enumerate() {
        let values = expr.values.as_deref().unwrap_or_default();
        let value = labels.get(&expr.key);
        let ok = match expr.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            other => {
                return Err(AgentError::ValidateSpec {
                    field: format!("{field}.matchExpressions[{i}].operator"),
                    message: format!("unknown operator {other:?}"),
                });
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selectors_follow_kubernetes_semantics() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("team", "a")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "env".into(),
                operator: "In".into(),
                values: Some(vec!["prod".into(), "stage".into()]),
            }]),
        };
        let f = "spec.conditions[0].namespaceSelector";
        assert!(selector_matches(&sel, &labels(&[("team", "a"), ("env", "prod")]), f).unwrap());
        assert!(!selector_matches(&sel, &labels(&[("team", "a"), ("env", "dev")]), f).unwrap());
        assert!(!selector_matches(&sel, &labels(&[("team", "b"), ("env", "prod")]), f).unwrap());
        assert!(!selector_matches(&sel, &labels(&[("env", "prod")]), f).unwrap());
        let bad = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "env".into(),
                operator: "Near".into(),
                values: None,
            }]),
            ..Default::default()
        };
        let err = selector_matches(&bad, &labels(&[]), f)
            .unwrap_err()
            .to_string();
        assert!(err.contains("matchExpressions[0].operator"), "{err}");
    }

    #[test]
    fn controller_class_defaults_to_everyone() {
        let mut spec = SecretStoreSpec::default();
        assert!(is_our_class(&spec, "default"));
        spec.controller = Some("blue".into());
        assert!(is_our_class(&spec, "blue"));
        assert!(!is_our_class(&spec, "default"));
    }
}
