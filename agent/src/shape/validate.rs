//! Spec checks: [`validate`] applies the rules of ESO's admission webhook
//! (`apis/externalsecrets/v1/externalsecret_validator.go`) and CRD schema; [`unsupported`]
//! rejects valid ESO features Ferry does not implement, so the status says so.

use std::collections::BTreeMap;

use ferry_api::external_secret::StoreSourceRef;
use ferry_api::{
    CreationPolicy, DeletionPolicy, ExternalSecretDataFromRemoteRef, ExternalSecretDataRemoteRef,
    ExternalSecretSpec,
};

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
    check_store_refs(spec)?;
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

/// `secretStoreRef` may be left out only when every entry that reads from a store names its
/// own (`sourceRef.storeRef`), as in ESO; a named store reference needs a name.
fn check_store_refs(spec: &ExternalSecretSpec) -> Result<()> {
    let named = |source: Option<&StoreSourceRef>| super::store_ref(source).is_some();
    let main_needed = spec.data.iter().position(|d| !named(d.source_ref.as_ref()));
    let main_needed = main_needed.map(|i| format!("spec.data[{i}]")).or_else(|| {
        let reads = |d: &&ExternalSecretDataFromRemoteRef| d.extract.is_some() || d.find.is_some();
        let i = spec
            .data_from
            .iter()
            .position(|d| reads(&d) && !named(d.source_ref.as_ref()))?;
        Some(format!("spec.dataFrom[{i}]"))
    });
    if spec.secret_store_ref.name.is_empty()
        && let Some(entry) = main_needed
    {
        return invalid(
            "spec.secretStoreRef.name",
            format!("is required: {entry} has no sourceRef.storeRef"),
        );
    }
    for (field, r) in super::store_refs(spec) {
        if r.name.is_empty() {
            return invalid(&format!("{field}.name"), "is required");
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
        if let Some(source) = &entry.source_ref
            && source.generator_ref.is_some()
        {
            let field = format!("spec.data[{i}].sourceRef.generatorRef");
            return unsupported_at(&field, GENERATORS);
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
        if let Some(source) = &entry.source_ref
            && source.generator_ref.is_some()
        {
            return unsupported_at(&format!("{field}.sourceRef.generatorRef"), GENERATORS);
        }
    }
    Ok(())
}

/// The feature a `sourceRef.generatorRef` asks for.
const GENERATORS: &str = "generators (not yet)";

fn unsupported_at(field: &str, feature: &str) -> Result<()> {
    Err(AgentError::Unsupported {
        field: field.to_owned(),
        feature: feature.to_owned(),
    })
}
