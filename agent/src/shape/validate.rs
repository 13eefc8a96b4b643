//! Spec checks: [`validate`] applies the rules of ESO's admission webhook
//! (`apis/externalsecrets/v1/externalsecret_validator.go`) and CRD schema; [`unsupported`]
//! rejects valid ESO features Ferry does not implement, so the status says so.

use std::collections::BTreeMap;

use ferry_api::{CreationPolicy, DeletionPolicy, ExternalSecretDataRemoteRef, ExternalSecretSpec};

use super::find::FindFilter;
use super::rewrite::compile;
use super::value::secret_key_problem;
use crate::error::{AgentError, Result};

/// Validates an ExternalSecret spec with ESO's rules. Returns the first problem, in document
/// order, as [`AgentError::ValidateSpec`] naming the field.
pub fn validate(spec: &ExternalSecretSpec) -> Result<()> {
    if let Err(e) = spec.refresh_interval() {
        // The interval is configuration, not a secret: its parse error may quote it.
        return invalid("spec.refreshInterval", format!("{e}"));
    }
    check_policies(spec.target.creation_policy, spec.target.deletion_policy)?;
    if spec.data.is_empty() && spec.data_from.is_empty() {
        return invalid("spec.data", "neither data nor dataFrom is set");
    }
    // ESO only rejects duplicate secretKeys when deletionPolicy is Retain; otherwise the
    // last entry wins.
    let check_duplicates = spec.target.deletion_policy == DeletionPolicy::Retain;
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, entry) in spec.data.iter().enumerate() {
        let key = &entry.secret_key;
        if let Some(problem) = secret_key_problem(key) {
            return invalid(&format!("spec.data[{i}].secretKey"), problem);
        }
        if let Some(first) = seen.insert(key, i).filter(|_| check_duplicates) {
            return invalid(
                &format!("spec.data[{i}].secretKey"),
                format!("duplicates spec.data[{first}].secretKey"),
            );
        }
        check_remote_ref(&entry.remote_ref, &format!("spec.data[{i}].remoteRef"))?;
    }
    for (i, entry) in spec.data_from.iter().enumerate() {
        let field = format!("spec.dataFrom[{i}]");
        let generator = entry
            .source_ref
            .as_ref()
            .is_some_and(|s| s.generator_ref.is_some());
        let sources = [entry.extract.is_some(), entry.find.is_some(), generator];
        if sources.iter().filter(|set| **set).count() > 1 {
            return invalid(
                &field,
                "only one of extract, find and sourceRef.generatorRef may be set",
            );
        }
        if entry.extract.is_none() && entry.find.is_none() && entry.source_ref.is_none() {
            return invalid(&field, "one of extract, find or sourceRef must be set");
        }
        if let Some(source) = &entry.source_ref
            && source.store_ref.is_none()
            && source.generator_ref.is_none()
        {
            return invalid(
                &format!("{field}.sourceRef"),
                "one of storeRef or generatorRef must be set",
            );
        }
        if let Some(extract) = &entry.extract {
            check_remote_ref(extract, &format!("{field}.extract"))?;
        }
        if let Some(find) = &entry.find {
            FindFilter::new(find, &format!("{field}.find"))?;
        }
        for (j, rule) in entry.rewrite.iter().enumerate() {
            if let Some(regexp) = &rule.regexp {
                compile(
                    &regexp.source,
                    &format!("{field}.rewrite[{j}].regexp.source"),
                )?;
            }
        }
    }
    Ok(())
}

/// Rejects the creation/deletion policy pairs ESO's webhook rejects.
fn check_policies(creation: CreationPolicy, deletion: DeletionPolicy) -> Result<()> {
    match (deletion, creation) {
        (DeletionPolicy::Delete, CreationPolicy::Merge | CreationPolicy::None) => invalid(
            "spec.target.deletionPolicy",
            "Delete needs a Secret the ExternalSecret owns: use creationPolicy Owner or Orphan",
        ),
        (DeletionPolicy::Merge, CreationPolicy::None) => invalid(
            "spec.target.deletionPolicy",
            "Merge cannot be used with creationPolicy None, which writes no Secret",
        ),
        _ => Ok(()),
    }
}

fn check_remote_ref(remote: &ExternalSecretDataRemoteRef, field: &str) -> Result<()> {
    if remote.key.is_empty() {
        return invalid(&format!("{field}.key"), "must not be empty");
    }
    Ok(())
}

fn invalid(field: &str, message: impl Into<String>) -> Result<()> {
    Err(AgentError::ValidateSpec {
        field: field.to_owned(),
        message: message.into(),
    })
}

/// Rejects features that are valid ESO but not implemented by Ferry, as
/// [`AgentError::Unsupported`] naming the first field (in document order) that uses one.
pub fn unsupported(spec: &ExternalSecretSpec) -> Result<()> {
    for (i, entry) in spec.data.iter().enumerate() {
        if let Some(source) = &entry.source_ref {
            if source.store_ref.is_some() {
                return unsupported_at(&format!("spec.data[{i}].sourceRef.storeRef"), "sourceRef");
            }
            if source.generator_ref.is_some() {
                let field = format!("spec.data[{i}].sourceRef.generatorRef");
                return unsupported_at(&field, "generators");
            }
        }
    }
    for (i, entry) in spec.data_from.iter().enumerate() {
        let field = format!("spec.dataFrom[{i}]");
        for (j, rule) in entry.rewrite.iter().enumerate() {
            if rule.merge.is_some() {
                let at = format!("{field}.rewrite[{j}].merge");
                return unsupported_at(&at, "dataFrom.rewrite.merge");
            }
        }
        if let Some(source) = &entry.source_ref {
            if source.store_ref.is_some() {
                return unsupported_at(&format!("{field}.sourceRef.storeRef"), "sourceRef");
            }
            if source.generator_ref.is_some() {
                return unsupported_at(&format!("{field}.sourceRef.generatorRef"), "generators");
            }
        }
    }
    Ok(())
}

fn unsupported_at(field: &str, feature: &str) -> Result<()> {
    Err(AgentError::Unsupported {
        field: field.to_owned(),
        feature: feature.to_owned(),
    })
}
