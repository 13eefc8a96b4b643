//! The agent's one error type. Variants are named after the operation that failed; none of them
//! carries a secret value (only names, paths, fields and the causes' own redacted messages).
//! [`AgentError::category`] is a bounded label for metrics and Event reasons.
//!
//! An API server's error message can quote what it rejected (a label value, a data key, a
//! whole object), so a Kubernetes error is kept only as a [`KubeCause`]: the HTTP status, the
//! reason word and the kind of failure, never the message.

use ferry_vault::VaultError;

/// Everything that can fail while reconciling.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The ExternalSecret or store spec is malformed; `field` is its JSON path.
    #[error("invalid spec at {field}: {message}")]
    ValidateSpec {
        /// JSON path of the offending field, e.g. `spec.data[1].secretKey`.
        field: String,
        /// What is wrong, without any value.
        message: String,
    },
    /// The spec asks for something Ferry does not implement (yet).
    #[error("{field}: {feature} is not supported by Ferry")]
    Unsupported {
        /// JSON path of the field that uses the feature.
        field: String,
        /// The feature, e.g. `dataFrom.find` or `provider aws`.
        feature: String,
    },
    /// The referenced store does not exist, is not Ready, or is of another controller class.
    #[error("resolving {kind} {name:?}: {reason}")]
    ResolveStore {
        /// `SecretStore` or `ClusterSecretStore`.
        kind: &'static str,
        /// The store's name.
        name: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A ClusterSecretStore's conditions do not admit the ExternalSecret's namespace.
    #[error("ClusterSecretStore {store:?} does not allow namespace {namespace:?}")]
    StoreNotAllowed {
        /// The store's name.
        store: String,
        /// The ExternalSecret's namespace.
        namespace: String,
    },
    /// The store of an entry's `sourceRef.storeRef` cannot be used (not found, not admitting
    /// the namespace, no usable credentials); `field` names the entry's reference.
    #[error("{field}: {source}")]
    ResolveSourceRef {
        /// JSON path of the reference, e.g. `spec.data[1].sourceRef.storeRef`.
        field: String,
        /// Why the store cannot be used.
        #[source]
        source: Box<AgentError>,
    },
    /// A credential (Secret key, ConfigMap key, service-account token file) could not be read.
    #[error("reading credential {what}: {reason}")]
    ReadCredential {
        /// Which credential, e.g. `Secret vault/approle key secret-id`.
        what: String,
        /// Why, without any value.
        reason: String,
    },
    /// A TokenRequest for a ServiceAccount failed.
    #[error("requesting a token for ServiceAccount {namespace}/{name}: {source}")]
    RequestToken {
        /// The ServiceAccount's namespace.
        namespace: String,
        /// The ServiceAccount's name.
        name: String,
        /// The API error.
        #[source]
        source: KubeCause,
    },
    /// Connecting to Vault (bad address or CA bundle).
    #[error("connecting to Vault: {0}")]
    ConnectVault(#[source] Box<VaultError>),
    /// Logging in to Vault failed. Shown as the failure's kind and HTTP status only: the
    /// server that answers a login is the store's `server`, and its text could quote what it
    /// was sent.
    #[error(
        "logging in to Vault with {method} at auth/{mount}: {}",
        login_cause(source)
    )]
    Login {
        /// The auth method, e.g. `kubernetes`.
        method: &'static str,
        /// The auth mount path.
        mount: String,
        /// Vault's error.
        #[source]
        source: Box<VaultError>,
    },
    /// Reading a KV path failed (not "not found": that is not an error).
    #[error("reading {path} from Vault: {source}")]
    ReadVault {
        /// `mount/path` that was read.
        path: String,
        /// Vault's error.
        #[source]
        source: Box<VaultError>,
    },
    /// A referenced KV path or property does not exist.
    #[error("{field}: {what} not found in Vault")]
    NotFound {
        /// JSON path of the field that references it.
        field: String,
        /// The key and, if any, property.
        what: String,
    },
    /// Building the Secret's data failed (property extraction, decoding).
    #[error("building the Secret at {field}: {message}")]
    BuildSecret {
        /// JSON path of the field.
        field: String,
        /// What is wrong, without any value.
        message: String,
    },
    /// Parsing or rendering a `spec.target.template` template failed.
    #[error("rendering {field}: {source}")]
    RenderTemplate {
        /// JSON path of the template, e.g. `spec.target.template.data.auth`.
        field: String,
        /// The template error: name, line:column and what went wrong, never a value.
        source: ferry_template::TemplateError,
    },
    /// Reading an object from the API server failed.
    #[error("reading {kind} {namespace}/{name}: {source}")]
    GetObject {
        /// Object kind.
        kind: &'static str,
        /// Namespace (empty for cluster-scoped objects).
        namespace: String,
        /// Name.
        name: String,
        /// The API error.
        #[source]
        source: KubeCause,
    },
    /// Writing the target Secret failed.
    #[error("writing Secret {namespace}/{name}: {source}")]
    ApplySecret {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The API error.
        #[source]
        source: KubeCause,
    },
    /// The target Secret exists and is not ours to take (creationPolicy Owner on a Secret owned
    /// by another ExternalSecret, or Merge on a Secret that does not exist).
    #[error("Secret {namespace}/{name}: {reason}")]
    SecretConflict {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Why.
        reason: String,
    },
    /// creationPolicy Merge, and the Secret to merge into does not exist (Merge never creates).
    #[error("Secret {namespace}/{name} does not exist, and creationPolicy Merge never creates it")]
    MergeTargetMissing {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// Deleting the target Secret (deletionPolicy Delete) failed.
    #[error("deleting Secret {namespace}/{name}: {source}")]
    DeleteSecret {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The API error.
        #[source]
        source: KubeCause,
    },
    /// Patching a workload's pod template for a rollout restart failed.
    #[error("restarting {kind} {namespace}/{name}: {source}")]
    RestartWorkload {
        /// `Deployment`, `StatefulSet` or `DaemonSet`.
        kind: &'static str,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The API error.
        #[source]
        source: KubeCause,
    },
    /// Patching an object's status failed.
    #[error("patching status of {kind} {name}: {source}")]
    PatchStatus {
        /// Object kind.
        kind: &'static str,
        /// `namespace/name` or name.
        name: String,
        /// The API error.
        #[source]
        source: KubeCause,
    },
    /// Loading or creating the HMAC key Secret failed.
    #[error("loading the HMAC key Secret {namespace}/{name}: {reason}")]
    LoadHmacKey {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Reading, writing or deleting a PushSecret's place in Vault failed. Shown as the
    /// failure's kind and HTTP status only: Vault's text is never copied (it could quote what
    /// was sent).
    #[error("{field}: {op} {path} in Vault: {}", push_cause(source))]
    PushVault {
        /// JSON path of the spec field that names the place.
        field: String,
        /// `writing` or `removing from`.
        op: &'static str,
        /// `mount/path` and the store.
        path: String,
        /// Vault's error.
        #[source]
        source: Box<VaultError>,
    },
    /// A PushSecret's place in Vault cannot be written as asked (a secret no push manages, a
    /// writer that keeps winning the check-and-set).
    #[error("{field}: {path}: {reason}")]
    PushConflict {
        /// JSON path of the spec field that names the place.
        field: String,
        /// `mount/path` and the store.
        path: String,
        /// Why, without any value.
        reason: String,
    },
    /// A selector or name picked no object: the Secret a PushSecret pushes, or its stores.
    #[error("{field}: {reason}")]
    SelectObjects {
        /// JSON path of the selector or name.
        field: String,
        /// What was looked for.
        reason: String,
    },
    /// Creating, patching or deleting an object other than a Secret (a finalizer, a
    /// PushSecret a ClusterPushSecret provisions) failed.
    #[error("writing {kind} {namespace}/{name}: {source}")]
    WriteObject {
        /// Object kind.
        kind: &'static str,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The API error.
        #[source]
        source: KubeCause,
    },
    /// Starting the controller (client, watches) failed.
    #[error("starting the agent: {0}")]
    Start(String),
    /// Reading or writing the leader-election Lease failed, or the lease was lost.
    #[error("leader election: {0}")]
    LeaderElection(String),
}

impl AgentError {
    /// A bounded label for metrics and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::ValidateSpec { .. } => "invalid_spec",
            Self::Unsupported { .. } => "unsupported",
            Self::ResolveStore { .. } | Self::StoreNotAllowed { .. } => "store",
            Self::ResolveSourceRef { source, .. } => source.category(),
            Self::ReadCredential { .. } | Self::RequestToken { .. } => "credentials",
            Self::ConnectVault(_) => "vault_config",
            Self::Login { source, .. } | Self::ReadVault { source, .. } => source.category(),
            Self::NotFound { .. } => "not_found",
            Self::BuildSecret { .. } => "build",
            Self::RenderTemplate { .. } => "template",
            Self::GetObject { .. } => "kube_read",
            Self::ApplySecret { .. } | Self::DeleteSecret { .. } => "kube_write",
            Self::SecretConflict { .. } => "secret_conflict",
            Self::MergeTargetMissing { .. } => "secret_missing",
            Self::PatchStatus { .. } => "kube_status",
            Self::RestartWorkload { .. } => "restart",
            Self::LoadHmacKey { .. } => "hmac_key",
            Self::PushVault { source, .. } => source.category(),
            Self::PushConflict { .. } => "push_conflict",
            Self::SelectObjects { .. } => "not_found",
            Self::WriteObject { .. } => "kube_write",
            Self::Start(_) => "start",
            Self::LeaderElection(_) => "leader_election",
        }
    }

    /// Whether retrying with the same inputs cannot help (only a spec change can).
    pub fn is_permanent(&self) -> bool {
        if let Self::ResolveSourceRef { source, .. } = self {
            return source.is_permanent();
        }
        matches!(
            self,
            Self::ValidateSpec { .. }
                | Self::Unsupported { .. }
                | Self::BuildSecret { .. }
                | Self::RenderTemplate { .. }
        )
    }
}

fn login_cause(err: &VaultError) -> String {
    match err.status() {
        Some(status) => format!("{} (HTTP {status})", err.kind()),
        None => err.kind().to_string(),
    }
}

/// A push failure's Vault answer as kind and status, with what a refusal means for a push.
fn push_cause(err: &VaultError) -> String {
    let cause = login_cause(err);
    if err.is_forbidden() {
        return format!(
            "{cause}: the store's Vault token may not write there (a read-only store, or a \
             path outside what its policy grants)"
        );
    }
    cause
}

/// A Kubernetes client error reduced to what is safe to show: the HTTP status and reason word
/// the API server answered with, or the kind of transport failure. The API server's message
/// and serde's (both can quote the object sent) are dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeCause {
    /// The HTTP status, when the API server answered.
    pub code: Option<u16>,
    /// The API server's reason word (`Invalid`, `Forbidden`, `Conflict`, …) or the kind of
    /// transport failure.
    pub reason: String,
}

impl From<kube::Error> for KubeCause {
    fn from(err: kube::Error) -> Self {
        let reason = |r: &str| r.to_owned();
        match err {
            kube::Error::Api(status) => {
                // Only a reason made of letters is kept (the API server's StatusReason words).
                let word = status.reason.chars().all(|c| c.is_ascii_alphabetic());
                KubeCause {
                    code: Some(status.code),
                    reason: if word && !status.reason.is_empty() {
                        status.reason
                    } else {
                        "Unknown".to_owned()
                    },
                }
            }
            kube::Error::HyperError(_) | kube::Error::Service(_) => KubeCause {
                code: None,
                reason: reason("the API server could not be reached"),
            },
            kube::Error::SerdeError(_) => KubeCause {
                code: None,
                reason: reason("the API server's answer could not be decoded"),
            },
            kube::Error::Auth(_) => KubeCause {
                code: None,
                reason: reason("authenticating to the API server failed"),
            },
            _ => KubeCause {
                code: None,
                reason: reason("the request to the API server failed"),
            },
        }
    }
}

impl std::fmt::Display for KubeCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "the API server answered {code} {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for KubeCause {}

/// Shorthand for results in this crate.
pub type Result<T, E = AgentError> = std::result::Result<T, E>;
