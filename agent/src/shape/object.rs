//! Kubernetes' rules for what a Secret may hold, checked on the rendered result before any
//! write: the target name, data keys and total size, label and annotation keys and values,
//! and the Secret type.
//!
//! The API server enforces the same rules, but its rejection quotes the offending value
//! (`Invalid value: "…"`), and a rendered label or annotation can be a secret value. Checking
//! first lets the status name the field and the rule, never the value. A key is named only
//! when it is written literally in the spec; a key produced by a template is described, not
//! quoted, since a template can make a key out of a value.

use ferry_api::{ExternalSecret, ExternalSecretTemplate};

use super::template::Rendered;
use super::value::secret_key_problem;
use crate::error::{AgentError, Result};

/// The Secret type a template may only set when the agent is told it may
/// (`--allow-service-account-token-secrets`): such a Secret makes the token controller mint a
/// long-lived token for any ServiceAccount of the namespace.
pub const SERVICE_ACCOUNT_TOKEN_TYPE: &str = "kubernetes.io/service-account-token";

/// Largest Secret the API server stores (data and metadata together are bounded by etcd; the
/// API server refuses more than 1 MiB of data).
const MAX_DATA_BYTES: usize = 1 << 20;
/// Largest total size of a Secret's annotations (the API server's limit).
const MAX_ANNOTATION_BYTES: usize = 256 * 1024;
/// Longest label value.
const MAX_LABEL_VALUE: usize = 63;

/// What the agent allows beyond Kubernetes' own rules.
#[derive(Clone, Copy, Debug, Default)]
pub struct WritePolicy {
    /// Whether a template may set the type `kubernetes.io/service-account-token`.
    pub allow_service_account_tokens: bool,
}

/// Checks the target name and the rendered Secret against Kubernetes' rules and the agent's
/// policy. The first problem is returned as [`AgentError::ValidateSpec`] naming the field.
pub fn check_rendered(es: &ExternalSecret, rendered: &Rendered, policy: WritePolicy) -> Result<()> {
    let name = es.target_name();
    if let Some(problem) = dns_subdomain_problem(name) {
        let field = if es
            .spec
            .target
            .name
            .as_deref()
            .is_some_and(|n| !n.is_empty())
        {
            "spec.target.name"
        } else {
            "metadata.name"
        };
        return invalid(field.to_owned(), problem);
    }
    let template = es.spec.target.template.as_ref();
    check_type(rendered, policy)?;
    check_data(es, template, rendered)?;
    check_labels(template, rendered)?;
    check_annotations(template, rendered)
}

fn check_type(rendered: &Rendered, policy: WritePolicy) -> Result<()> {
    let Some(kind) = rendered.secret_type.as_deref() else {
        return Ok(());
    };
    let field = || "spec.target.template.type".to_owned();
    if kind.is_empty() || kind.len() > 253 || kind.chars().any(char::is_control) {
        return invalid(field(), "must be 1 to 253 printable characters");
    }
    if kind == SERVICE_ACCOUNT_TOKEN_TYPE && !policy.allow_service_account_tokens {
        return invalid(
            field(),
            "Secrets of type kubernetes.io/service-account-token are refused: they mint a \
             long-lived token for a ServiceAccount (the agent flag \
             --allow-service-account-token-secrets allows them)",
        );
    }
    Ok(())
}

fn check_data(
    es: &ExternalSecret,
    template: Option<&ExternalSecretTemplate>,
    rendered: &Rendered,
) -> Result<()> {
    let mut total = 0usize;
    for (key, value) in rendered.data.iter() {
        total = total.saturating_add(key.len()).saturating_add(value.len());
        let Some(problem) = secret_key_problem(key) else {
            continue;
        };
        let literal_data = es.spec.data.iter().position(|d| d.secret_key == *key);
        let field = match (literal_data, template) {
            (Some(i), _) => format!("spec.data[{i}].secretKey"),
            (None, Some(t)) if t.data.contains_key(key) => {
                format!("spec.target.template.data[{key:?}]")
            }
            (None, Some(_)) => "spec.target.template (a rendered data key)".to_owned(),
            (None, None) => "spec.dataFrom (a data key read from Vault)".to_owned(),
        };
        return invalid(field, format!("not a valid Secret key: {problem}"));
    }
    if total > MAX_DATA_BYTES {
        return invalid(
            "spec.target".to_owned(),
            format!("the Secret's data would exceed {MAX_DATA_BYTES} bytes"),
        );
    }
    Ok(())
}

fn check_labels(template: Option<&ExternalSecretTemplate>, rendered: &Rendered) -> Result<()> {
    for (key, value) in &rendered.labels {
        let field = || meta_field(template, "labels", key);
        if let Some(problem) = qualified_name_problem(key) {
            return invalid(field(), format!("not a valid label key: {problem}"));
        }
        if let Some(problem) = label_value_problem(value) {
            return invalid(field(), format!("not a valid label value: {problem}"));
        }
    }
    Ok(())
}

fn check_annotations(template: Option<&ExternalSecretTemplate>, rendered: &Rendered) -> Result<()> {
    let mut total = 0usize;
    for (key, value) in &rendered.annotations {
        total = total.saturating_add(key.len()).saturating_add(value.len());
        if let Some(problem) = qualified_name_problem(key) {
            let field = meta_field(template, "annotations", key);
            return invalid(field, format!("not a valid annotation key: {problem}"));
        }
    }
    if total > MAX_ANNOTATION_BYTES {
        return invalid(
            "spec.target.template.metadata.annotations".to_owned(),
            format!("the annotations would exceed {MAX_ANNOTATION_BYTES} bytes"),
        );
    }
    Ok(())
}

/// The field a label or annotation came from: named with its key when the spec writes the
/// key literally, otherwise described.
fn meta_field(template: Option<&ExternalSecretTemplate>, what: &str, key: &str) -> String {
    let literal = template.is_some_and(|t| match what {
        "labels" => t.metadata.labels.contains_key(key),
        _ => t.metadata.annotations.contains_key(key),
    });
    if literal {
        format!("spec.target.template.metadata.{what}[{key:?}]")
    } else {
        format!("spec.target.template.templateFrom (a rendered {what} entry)")
    }
}

/// Kubernetes' qualified name (label and annotation keys): an optional DNS-subdomain prefix
/// and `/`, then a name of at most 63 characters.
fn qualified_name_problem(key: &str) -> Option<&'static str> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && (p.is_empty() || dns_subdomain_problem(p).is_some())
    {
        return Some("the prefix before '/' must be a DNS subdomain");
    }
    if name.is_empty() || name.len() > 63 {
        return Some("the name must be 1 to 63 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Some("the name may only contain letters, digits, '-', '_' and '.'");
    }
    if !alnum_ends(name) {
        return Some("the name must begin and end with a letter or digit");
    }
    None
}

fn label_value_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        return None;
    }
    if value.len() > MAX_LABEL_VALUE {
        return Some("must be at most 63 characters");
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Some("may only contain letters, digits, '-', '_' and '.'");
    }
    if !alnum_ends(value) {
        return Some("must begin and end with a letter or digit");
    }
    None
}

/// A DNS subdomain (RFC 1123): lower-case labels of letters, digits and '-', joined by dots,
/// at most 253 characters.
fn dns_subdomain_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 253 {
        return Some("must be 1 to 253 characters");
    }
    let ok = name.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && alnum_ends(label)
    });
    (!ok).then_some(
        "must be lower-case letters, digits, '-' and '.', each part beginning and ending \
         with a letter or digit",
    )
}

fn alnum_ends(s: &str) -> bool {
    let b = s.as_bytes();
    matches!((b.first(), b.last()), (Some(f), Some(l)) if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric())
}

fn invalid(field: String, message: impl Into<String>) -> Result<()> {
    Err(AgentError::ValidateSpec {
        field,
        message: message.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names() {
        for ok in ["a", "app.kubernetes.io/name", "x_y.z-1", "example.com/A1"] {
            assert_eq!(qualified_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a/b/c",
            "/a",
            "Example.com/a",
            &"a".repeat(64),
            "a b",
        ] {
            assert!(qualified_name_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn label_values() {
        for ok in ["", "a", "v1.2-3_x", &"a".repeat(63)] {
            assert_eq!(label_value_problem(ok), None, "{ok}");
        }
        for bad in [&"a".repeat(64), "-a", "a b", "a/b", "ä"] {
            assert!(label_value_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn subdomains() {
        for ok in ["a", "sh.helm.release.v1.web.v1", "a-b.c"] {
            assert_eq!(dns_subdomain_problem(ok), None, "{ok}");
        }
        for bad in ["", "A", "a..b", "-a", "a_b", &"a".repeat(254)] {
            assert!(dns_subdomain_problem(bad).is_some(), "{bad}");
        }
    }
}
