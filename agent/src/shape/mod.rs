//! The pure core of a sync: which Vault reads an ExternalSecret needs, whether its spec is
//! valid and supported, and how the fetched KV secrets become the Secret's data, following
//! the External Secrets Operator's Vault provider byte for byte where it matters
//! (`providers/v1/vault/client_get.go`, `runtime/esutils/utils.go` and the ExternalSecret
//! controller's `getProviderSecretData`).
//!
//! No I/O happens here; values never reach errors, logs or `Debug` output. Errors are
//! [`AgentError`](crate::AgentError)s naming the field at fault.

mod build;
mod find;
mod json;
mod object;
mod rewrite;
mod store_refs;
mod template;
mod validate;
mod value;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use ferry_api::external_secret::{MetadataPolicy, StoreSourceRef};
use ferry_api::{ExternalSecretDataRemoteRef, ExternalSecretSpec, SecretStoreRef};

pub use build::{FindResults, build, build_all, build_all_with};
pub use ferry_secret::SecretData;
pub use find::FindFilter;
pub use object::{SERVICE_ACCOUNT_TOKEN_TYPE, WritePolicy, check_rendered};
pub use store_refs::{reads_from, store_refs};
pub use template::{
    Rendered, TemplateSources, render_template, render_template_with, template_sources,
};
pub use validate::{unsupported, validate};

/// One Vault read the ExternalSecret needs: a key (path as written in `remoteRef.key`), an
/// optional version, whether its metadata rather than its data is read, and from which store.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RemoteKey {
    /// The secret's path, as written in the spec.
    pub key: String,
    /// The version to read (KV v2), as written; `None` for the latest.
    pub version: Option<String>,
    /// `metadataPolicy: Fetch`: read the KV v2 metadata (custom metadata plus
    /// `created_time`, `current_version`, `delete_version_after`) instead of the data.
    pub metadata: bool,
    /// The entry's `sourceRef.storeRef`; `None` for the main store (`spec.secretStoreRef`).
    pub store: Option<SecretStoreRef>,
}

impl RemoteKey {
    /// The read a `remoteRef` (or `extract`) asks for from the main store; an empty version
    /// means the latest.
    pub fn of(remote: &ExternalSecretDataRemoteRef) -> Self {
        RemoteKey {
            key: remote.key.clone(),
            version: remote.version.clone().filter(|v| !v.is_empty()),
            metadata: remote.metadata_policy == MetadataPolicy::Fetch,
            store: None,
        }
    }

    /// The read of an entry with this `sourceRef` (its store, or the main one).
    pub fn at(remote: &ExternalSecretDataRemoteRef, source: Option<&StoreSourceRef>) -> Self {
        RemoteKey {
            store: store_ref(source).cloned(),
            ..RemoteKey::of(remote)
        }
    }
}

/// The store an entry's `sourceRef` names, if any.
pub fn store_ref(source: Option<&StoreSourceRef>) -> Option<&SecretStoreRef> {
    source.and_then(|s| s.store_ref.as_ref())
}

/// The unique reads, sorted, for `data[]` and `dataFrom[].extract`.
pub fn remote_keys(spec: &ExternalSecretSpec) -> Vec<RemoteKey> {
    let data = spec
        .data
        .iter()
        .map(|d| RemoteKey::at(&d.remote_ref, d.source_ref.as_ref()));
    let extracts = spec.data_from.iter().filter_map(|d| {
        let extract = d.extract.as_ref()?;
        Some(RemoteKey::at(extract, d.source_ref.as_ref()))
    });
    data.chain(extracts)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// A KV v2 version number: a positive decimal integer.
pub fn parse_version(version: &str) -> Option<u64> {
    if !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    version.parse::<u64>().ok().filter(|v| *v > 0)
}
