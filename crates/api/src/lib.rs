//! API types shared by every Ferry crate.
//!
//! Ferry reconciles the External Secrets Operator's own API group, so manifests written for
//! ESO work unchanged. This crate holds the Rust types of the resources involved
//! ([`ExternalSecret`], [`SecretStore`], [`ClusterSecretStore`]), the CRDs derived from them
//! ([`crds`], [`crds_yaml`]), their installation ([`install_crds`]) and shared constants. It
//! sits at the bottom of the dependency graph (API types → pure logic → I/O) and depends on no
//! other Ferry crate.
//!
//! Layout:
//! - [`external_secret`]: `ExternalSecret` and everything under its spec and status.
//! - [`store`]: `SecretStore`, `ClusterSecretStore`, the provider block and store status.
//! - [`vault`]: the Vault provider and its auth methods.
//! - [`push_secret`] and [`cluster_push_secret`]: `PushSecret` and `ClusterPushSecret`
//!   (`v1alpha1`), which push a Secret's values to stores.
//! - [`meta`]: references, status conditions and condition reasons shared by all kinds.
//! - [`duration`]: Go duration parsing for `refreshInterval`.
//! - [`crd`]: the multi-version CRDs and their YAML.
//! - [`install`]: server-side applying the CRDs and waiting until they are served.
//! - [`error`]: the crate's one error type.

pub mod cluster_push_secret;
pub mod crd;
pub mod duration;
pub mod error;
pub mod external_secret;
pub mod install;
pub mod meta;
pub mod push_secret;
pub mod store;
pub mod vault;

#[cfg(test)]
mod push_tests;
#[cfg(test)]
mod tests;

pub use cluster_push_secret::{ClusterPushSecret, ClusterPushSecretSpec, ClusterPushSecretStatus};
pub use crd::{crds, crds_yaml};
pub use duration::parse_duration;
pub use error::ApiError;
pub use external_secret::{
    CreationPolicy, DeletionPolicy, ExternalSecret, ExternalSecretData,
    ExternalSecretDataFromRemoteRef, ExternalSecretDataRemoteRef, ExternalSecretSpec,
    ExternalSecretStatus, ExternalSecretTarget, ExternalSecretTemplate, RefreshPolicy,
    SecretStoreRef, StoreKind,
};
pub use install::install_crds;
pub use meta::{
    CONDITION_READY, ConditionStatus, SecretKeySelector, ServiceAccountSelector, StatusCondition,
};
pub use push_secret::{
    PushSecret, PushSecretData, PushSecretDeletionPolicy, PushSecretSpec, PushSecretStatus,
    PushSecretStoreRef, PushSecretUpdatePolicy,
};
pub use store::{
    ClusterSecretStore, ClusterSecretStoreSpec, SecretStore, SecretStoreProvider, SecretStoreSpec,
    SecretStoreStatus,
};
pub use vault::{VaultAuth, VaultKvVersion, VaultProvider};

/// The API group of the resources Ferry reconciles (the External Secrets Operator's group).
pub const GROUP: &str = "external-secrets.io";

/// Label that marks a Secret as managed; ESO uses the same label, so existing tooling keeps
/// recognising the Secrets Ferry writes.
pub const MANAGED_LABEL: &str = "reconcile.external-secrets.io/managed";

/// Field manager used for every server-side apply Ferry makes.
pub const FIELD_MANAGER: &str = "ferry";

/// Annotation by which whoever may write a Secret lets an ExternalSecret with creationPolicy
/// Owner or Orphan take it over (value `"true"`). Without it, only a Secret already managed
/// by Ferry or ESO is taken over.
pub const ADOPT_ANNOTATION: &str = "ferry.dev/adopt";
