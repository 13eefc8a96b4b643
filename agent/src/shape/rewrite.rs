//! `dataFrom[].rewrite`: the rules that rename the keys of an `extract` or a `find`, applied
//! in order, each to every key, as ESO's `RewriteMap` does. A `regexp` rule replaces every
//! match of `source` in the key by `target` (`$1`, `${name}` expand capture groups, as Go's
//! `Regexp.ReplaceAllString` does); a `transform` rule renders its Go template with the key
//! name as `.value`. Only key names are rewritten; values pass through. `merge` is not
//! supported.

use std::collections::BTreeMap;

use ferry_api::external_secret::ExternalSecretRewrite;
use ferry_template::{RenderLimits, Template, Value};
use regex::Regex;
use zeroize::Zeroizing;

use super::value::Bytes;
use crate::error::{AgentError, Result};

/// Applies `rules` in order to the keys of `map`; `field` is the entry's JSON path
/// (`spec.dataFrom[i]`). Two keys that end up equal are an error rather than a silent
/// overwrite (ESO keeps whichever its map iteration sees last).
pub(crate) fn rewrite(
    rules: &[ExternalSecretRewrite],
    mut map: BTreeMap<String, Bytes>,
    field: &str,
    limits: &RenderLimits,
) -> Result<BTreeMap<String, Bytes>> {
    for (i, rule) in rules.iter().enumerate() {
        let at = format!("{field}.rewrite[{i}]");
        map = match (&rule.regexp, &rule.transform, &rule.merge) {
            (Some(regexp), None, None) => {
                let re = compile(&regexp.source, &format!("{at}.regexp.source"))?;
                rename(map, &at, |key| {
                    re.replace_all(key, regexp.target.as_str()).into_owned()
                })?
            }
            (None, Some(transform), None) => {
                let field = format!("{at}.transform.template");
                let template = Template::parse("transform", &transform.template)
                    .map_err(|source| template_error(&field, source))?;
                let mut renamed = BTreeMap::new();
                for (key, value) in map {
                    // ESO gives the template the key name as `.value`.
                    let dot = Value::from_secret_map([(
                        "value".to_owned(),
                        Zeroizing::new(key.as_bytes().to_vec()),
                    )]);
                    let new_key = template
                        .render_with(&dot, limits)
                        .map_err(|source| template_error(&field, source))?;
                    renamed.insert(key, (new_key.as_str().to_owned(), value));
                }
                rename_to(renamed, &at)?
            }
            (None, None, Some(_)) => {
                return Err(AgentError::Unsupported {
                    field: format!("{at}.merge"),
                    feature: "dataFrom.rewrite.merge".to_owned(),
                });
            }
            _ => {
                return Err(AgentError::ValidateSpec {
                    field: at,
                    message: "exactly one of regexp, transform and merge must be set".to_owned(),
                });
            }
        };
    }
    Ok(map)
}

/// Compiles a regular expression of the spec, naming `field` when it is not valid.
pub(crate) fn compile(pattern: &str, field: &str) -> Result<Regex> {
    // The pattern is configuration, not a secret: the parser's message may quote it.
    Regex::new(pattern).map_err(|e| AgentError::ValidateSpec {
        field: field.to_owned(),
        message: format!("not a valid regular expression: {e}"),
    })
}

fn template_error(field: &str, source: ferry_template::TemplateError) -> AgentError {
    AgentError::RenderTemplate {
        field: field.to_owned(),
        source,
    }
}

/// Renames every key with `f`, refusing collisions.
fn rename(
    map: BTreeMap<String, Bytes>,
    field: &str,
    f: impl Fn(&str) -> String,
) -> Result<BTreeMap<String, Bytes>> {
    let renamed = map
        .into_iter()
        .map(|(key, value)| {
            let new_key = f(&key);
            (key, (new_key, value))
        })
        .collect();
    rename_to(renamed, field)
}

/// Applies renames (old key → (new key, value)), refusing collisions.
fn rename_to(
    renamed: BTreeMap<String, (String, Bytes)>,
    field: &str,
) -> Result<BTreeMap<String, Bytes>> {
    let mut out: BTreeMap<String, Bytes> = BTreeMap::new();
    let mut from: BTreeMap<String, String> = BTreeMap::new();
    for (key, (renamed, value)) in renamed {
        if let Some(first) = from.get(&renamed) {
            return Err(AgentError::BuildSecret {
                field: field.to_owned(),
                message: format!("keys {first:?} and {key:?} are both rewritten to {renamed:?}"),
            });
        }
        from.insert(renamed.clone(), key);
        out.insert(renamed, value);
    }
    Ok(out)
}
