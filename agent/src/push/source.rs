//! The Secret a PushSecret pushes: read from the PushSecret's own namespace only, by name or
//! label selector, and never the agent's HMAC key Secret or a service-account token.

use std::collections::BTreeMap;

use ferry_api::PushSecret;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use crate::context::Ctx;
use crate::error::{AgentError, Result};
use crate::shape::{SERVICE_ACCOUNT_TOKEN_TYPE, SecretData};

const NAME: &str = "spec.selector.secret.name";
const SELECTOR: &str = "spec.selector.secret.selector";

/// The data to push: the named Secret's, or that of every Secret the selector matches,
/// merged in name order (a later Secret wins a key both have).
pub async fn read(ctx: &Ctx, ps: &PushSecret) -> Result<SecretData> {
    let ns = ps.namespace().unwrap_or_default();
    let api = Api::<Secret>::namespaced(ctx.client.clone(), &ns);
    let Some(spec) = &ps.spec.selector.secret else {
        return Err(invalid("spec.selector.secret", "is required"));
    };
    if let Some(name) = spec.name.as_deref().filter(|n| !n.is_empty()) {
        let secret = api
            .get_opt(name)
            .await
            .map_err(|e| get_failed(&ns, name, e))?;
        let secret = secret.ok_or_else(|| AgentError::SelectObjects {
            field: NAME.into(),
            reason: format!("Secret {ns}/{name} does not exist"),
        })?;
        check(ctx, &ns, &secret, NAME)?;
        return Ok(data_of(&secret));
    }
    let selector = spec.selector.as_ref().map(selector_string).transpose()?;
    let params = ListParams::default().labels(selector.as_deref().unwrap_or_default());
    let mut list = api
        .list(&params)
        .await
        .map_err(|e| get_failed(&ns, "(selector)", e))?;
    if list.items.is_empty() {
        return Err(AgentError::SelectObjects {
            field: SELECTOR.into(),
            reason: format!("no Secret in namespace {ns} matches the selector"),
        });
    }
    list.items.sort_by_key(ResourceExt::name_any);
    let mut merged = SecretData::new();
    for secret in &list.items {
        check(ctx, &ns, secret, SELECTOR)?;
        for (key, value) in data_of(secret).iter() {
            merged.insert(key.to_owned(), value.to_vec());
        }
    }
    Ok(merged)
}

/// Refuses the agent's own HMAC key Secret and service-account token Secrets.
fn check(ctx: &Ctx, ns: &str, secret: &Secret, field: &str) -> Result<()> {
    let name = secret.name_any();
    let config = &ctx.config;
    if ns == config.own_namespace && name == config.hmac_key_secret {
        return Err(invalid(
            field,
            "selects the agent's own HMAC key Secret, which is never pushed",
        ));
    }
    if secret.type_.as_deref() == Some(SERVICE_ACCOUNT_TOKEN_TYPE) {
        let reason =
            format!("selects Secret {name}, a service-account token, which is never pushed");
        return Err(invalid(field, &reason));
    }
    Ok(())
}

fn data_of(secret: &Secret) -> SecretData {
    let mut data = SecretData::from_byte_strings(secret.data.as_ref().unwrap_or(&BTreeMap::new()));
    // stringData is write-only on the API server; a Secret read back never has it.
    for (key, value) in secret.string_data.iter().flatten() {
        data.insert(key.clone(), value.as_bytes().to_vec());
    }
    data
}

/// A label selector in the API server's query syntax.
pub fn selector_string(selector: &LabelSelector) -> Result<String> {
    let mut parts: Vec<String> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for (i, expr) in selector.match_expressions.iter().flatten().enumerate() {
        let values = expr.values.clone().unwrap_or_default().join(",");
        let key = &expr.key;
        parts.push(match expr.operator.as_str() {
            "In" => format!("{key} in ({values})"),
            "NotIn" => format!("{key} notin ({values})"),
            "Exists" => key.clone(),
            "DoesNotExist" => format!("!{key}"),
            other => {
                let field = format!("{SELECTOR}.matchExpressions[{i}].operator");
                return Err(invalid(&field, &format!("unknown operator {other:?}")));
            }
        });
    }
    Ok(parts.join(","))
}

fn get_failed(ns: &str, name: &str, source: kube::Error) -> AgentError {
    AgentError::GetObject {
        kind: "Secret",
        namespace: ns.to_owned(),
        name: name.to_owned(),
        source: source.into(),
    }
}

fn invalid(field: &str, message: &str) -> AgentError {
    AgentError::ValidateSpec {
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    #[test]
    fn selectors_use_the_api_server_syntax() {
        let selector = LabelSelector {
            match_labels: Some(BTreeMap::from([("app".to_owned(), "web".to_owned())])),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "env".into(),
                    operator: "In".into(),
                    values: Some(vec!["a".into(), "b".into()]),
                },
                LabelSelectorRequirement {
                    key: "skip".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        };
        assert_eq!(
            selector_string(&selector).ok().as_deref(),
            Some("app=web,env in (a,b),!skip")
        );
        let bad = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "k".into(),
                operator: "Near".into(),
                values: None,
            }]),
            ..LabelSelector::default()
        };
        assert!(selector_string(&bad).is_err());
    }
}
