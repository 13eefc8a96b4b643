//! `spec.target.template`: renders the Secret's data, labels and annotations from the fetched
//! values with [`ferry_template`] (Go `text/template` plus Sprig), as ESO's engine v2 does.
//!
//! ESO's order, followed here: with `mergePolicy: Merge` the fetched values come first; then
//! each `templateFrom` entry in order (ConfigMap, Secret or literal, to data, labels or
//! annotations); then `template.data`; then `template.metadata` labels and annotations, each
//! overriding what came before. With neither `data` nor `templateFrom`, the fetched values are
//! the Secret's data whatever the merge policy. The template data (`.`) is the fetched keys
//! as strings. Pure: the caller fetches the referenced ConfigMaps and Secrets.

use std::collections::BTreeMap;

use ferry_api::external_secret::{
    ExternalSecretTemplate, TemplateEngineVersion, TemplateMergePolicy, TemplateScope,
    TemplateTarget,
};
use ferry_secret::hmac::SecretMeta;
use ferry_template::{RenderLimits, Template, Value};
use zeroize::Zeroizing;

use super::SecretData;
use crate::error::AgentError;

const FIELD: &str = "spec.target.template";

/// ConfigMap and Secret contents referenced by templateFrom, pre-fetched by the caller (same
/// namespace as the ExternalSecret), by name.
#[derive(Debug, Default, Clone)]
pub struct TemplateSources {
    /// ConfigMaps' `data`, by ConfigMap name.
    pub config_maps: BTreeMap<String, BTreeMap<String, String>>,
    /// Secrets' `data`, by Secret name.
    pub secrets: BTreeMap<String, SecretData>,
}

/// What the template produced.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The Secret's data.
    pub data: SecretData,
    /// The Secret's `type` (`template.type`), if set.
    pub secret_type: Option<String>,
    /// Labels to set on the Secret.
    pub labels: BTreeMap<String, String>,
    /// Annotations to set on the Secret.
    pub annotations: BTreeMap<String, String>,
}

impl Rendered {
    /// What the template sets besides the data (type, labels, annotations), for the
    /// Secret's fingerprint.
    pub fn meta(&self) -> SecretMeta<'_> {
        SecretMeta {
            secret_type: self.secret_type.as_deref(),
            labels: &self.labels,
            annotations: &self.annotations,
        }
    }
}

/// The ConfigMap names and Secret names templateFrom reads (each sorted, without duplicates).
pub fn template_sources(template: &ExternalSecretTemplate) -> (Vec<String>, Vec<String>) {
    let mut config_maps: Vec<String> = template
        .template_from
        .iter()
        .filter_map(|t| t.config_map.as_ref().map(|r| r.name.clone()))
        .collect();
    let mut secrets: Vec<String> = template
        .template_from
        .iter()
        .filter_map(|t| t.secret.as_ref().map(|r| r.name.clone()))
        .collect();
    for names in [&mut config_maps, &mut secrets] {
        names.sort();
        names.dedup();
    }
    (config_maps, secrets)
}

/// Applies the template to the fetched `data`. Errors name the field (e.g.
/// `spec.target.template.data.auth`) and the template position, never a value.
pub fn render_template(
    template: &ExternalSecretTemplate,
    data: SecretData,
    sources: &TemplateSources,
) -> Result<Rendered, AgentError> {
    render_template_with(template, data, sources, &RenderLimits::default())
}

/// [`render_template`] stopping at `limits` (a deadline for the whole template, a
/// cancellation flag), on top of the engine's own step and nesting bounds.
pub fn render_template_with(
    template: &ExternalSecretTemplate,
    data: SecretData,
    sources: &TemplateSources,
    limits: &RenderLimits,
) -> Result<Rendered, AgentError> {
    if template.engine_version == TemplateEngineVersion::V1 {
        return Err(AgentError::Unsupported {
            field: format!("{FIELD}.engineVersion"),
            feature: "template engine v1".into(),
        });
    }
    let dot = Value::from_secret_map(
        data.iter()
            .map(|(k, v)| (k.to_owned(), Zeroizing::new(v.to_vec()))),
    );
    let mut out = Rendered {
        secret_type: template.type_.clone(),
        ..Rendered::default()
    };
    let templated = !template.data.is_empty() || !template.template_from.is_empty();
    if !templated || template.merge_policy == TemplateMergePolicy::Merge {
        out.data = data;
    }
    for (i, from) in template.template_from.iter().enumerate() {
        let field = format!("{FIELD}.templateFrom[{i}]");
        for entry in from_entries(from, sources, &field)? {
            apply(&mut out, from.target, &entry, &dot, limits)?;
        }
    }
    let maps = [
        (&template.data, TemplateTarget::Data, "data"),
        (
            &template.metadata.labels,
            TemplateTarget::Labels,
            "metadata.labels",
        ),
        (
            &template.metadata.annotations,
            TemplateTarget::Annotations,
            "metadata.annotations",
        ),
    ];
    for (map, target, path) in maps {
        for (key, text) in map {
            let field = format!("{FIELD}.{path}.{key}");
            let bytes = render(key, &field, text, &dot, limits)?;
            put(&mut out, target, key.clone(), bytes, &field)?;
        }
    }
    Ok(out)
}

/// One templateFrom template: its field path, key (the output key for `Values`, and the
/// template's name in errors), text and scope.
struct Entry {
    field: String,
    key: String,
    text: Zeroizing<String>,
    scope: TemplateScope,
}

/// The templates a `templateFrom` entry holds, read from the pre-fetched sources.
fn from_entries(
    from: &ferry_api::external_secret::TemplateFrom,
    sources: &TemplateSources,
    field: &str,
) -> Result<Vec<Entry>, AgentError> {
    let mut entries = Vec::new();
    if let Some(cm) = &from.config_map {
        let Some(values) = sources.config_maps.get(&cm.name) else {
            return Err(build_error(
                format!("{field}.configMap"),
                format!("ConfigMap {:?} not found", cm.name),
            ));
        };
        for (j, item) in cm.items.iter().enumerate() {
            let Some(text) = values.get(&item.key) else {
                let msg = format!("ConfigMap {:?} has no key {:?}", cm.name, item.key);
                return Err(build_error(
                    format!("{field}.configMap.items[{j}].key"),
                    msg,
                ));
            };
            entries.push(Entry {
                field: format!("{field}.configMap.items[{j}]"),
                key: item.key.clone(),
                text: Zeroizing::new(text.clone()),
                scope: item.template_as,
            });
        }
    }
    if let Some(sec) = &from.secret {
        let Some(values) = sources.secrets.get(&sec.name) else {
            return Err(build_error(
                format!("{field}.secret"),
                format!("Secret {:?} not found", sec.name),
            ));
        };
        for (j, item) in sec.items.iter().enumerate() {
            let item_field = format!("{field}.secret.items[{j}].key");
            let Some(bytes) = values.get(&item.key) else {
                let msg = format!("Secret {:?} has no key {:?}", sec.name, item.key);
                return Err(build_error(item_field, msg));
            };
            let text = std::str::from_utf8(bytes)
                .map_err(|_| build_error(item_field, "the template is not valid UTF-8".into()))?;
            entries.push(Entry {
                field: format!("{field}.secret.items[{j}]"),
                key: item.key.clone(),
                text: Zeroizing::new(text.to_owned()),
                scope: item.template_as,
            });
        }
    }
    if let Some(literal) = &from.literal {
        entries.push(Entry {
            field: format!("{field}.literal"),
            key: "literal".to_owned(),
            text: Zeroizing::new(literal.clone()),
            scope: TemplateScope::KeysAndValues,
        });
    }
    Ok(entries)
}

/// Renders one templateFrom template: `Values` writes the output under the item's key,
/// `KeysAndValues` parses the output as a YAML map of keys to values.
fn apply(
    out: &mut Rendered,
    target: TemplateTarget,
    entry: &Entry,
    dot: &Value,
    limits: &RenderLimits,
) -> Result<(), AgentError> {
    let field = entry.field.as_str();
    let bytes = render(&entry.key, field, &entry.text, dot, limits)?;
    if entry.scope == TemplateScope::Values {
        return put(out, target, entry.key.clone(), bytes, field);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    if !ferry_template::yaml_input_is_bounded(&bytes) {
        let msg = "the rendered template may nest deeper than 100 levels; it is not parsed";
        return Err(build_error(field.to_owned(), msg.to_owned()));
    }
    let map: BTreeMap<String, serde_norway::Value> =
        serde_norway::from_slice(&bytes).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
                .unwrap_or_default();
            let msg = format!("the rendered template is not a YAML map of keys to strings{at}");
            build_error(field.to_owned(), msg)
        })?;
    for (key, value) in map {
        let text = match value {
            serde_norway::Value::String(s) => Zeroizing::new(s),
            serde_norway::Value::Number(n) => Zeroizing::new(n.to_string()),
            serde_norway::Value::Bool(b) => Zeroizing::new(b.to_string()),
            serde_norway::Value::Null => Zeroizing::new(String::new()),
            _ => {
                let msg = "a rendered value is a list or map, not a string".to_owned();
                return Err(build_error(field.to_owned(), msg));
            }
        };
        let bytes = Zeroizing::new(text.as_bytes().to_vec());
        put(out, target, key, bytes, field)?;
    }
    Ok(())
}

/// Parses and renders one template; `name` is how the template error names it.
fn render(
    name: &str,
    field: &str,
    text: &str,
    dot: &Value,
    limits: &RenderLimits,
) -> Result<Zeroizing<Vec<u8>>, AgentError> {
    let err = |source| AgentError::RenderTemplate {
        field: field.to_owned(),
        source,
    };
    let template = Template::parse(name, text).map_err(err)?;
    template.render_bytes_with(dot, limits).map_err(err)
}

/// Stores one rendered value in the data, labels or annotations.
fn put(
    out: &mut Rendered,
    target: TemplateTarget,
    key: String,
    bytes: Zeroizing<Vec<u8>>,
    field: &str,
) -> Result<(), AgentError> {
    let map = match target {
        TemplateTarget::Data => {
            out.data.insert_zeroizing(key, bytes);
            return Ok(());
        }
        TemplateTarget::Labels => &mut out.labels,
        TemplateTarget::Annotations => &mut out.annotations,
    };
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
        build_error(
            field.to_owned(),
            "the rendered metadata value is not valid UTF-8".into(),
        )
    })?;
    map.insert(key, text);
    Ok(())
}

fn build_error(field: String, message: String) -> AgentError {
    AgentError::BuildSecret { field, message }
}
