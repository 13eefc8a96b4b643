//! [`BootstrapError`]: the crate's one error type, a variant per operation that failed.
//!
//! Messages name the phase, field, path, object or variable involved and never a value:
//! no unseal key, token or environment value reaches an error.

use ferry_vault::VaultError;

/// Errors of `ferry bootstrap` and `ferry unseal`, one variant per failed operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// `bootstrap.yaml` could not be read, parsed or validated.
    #[error("{0}")]
    LoadConfig(#[from] ferry_config::ConfigError),
    /// Declared environment variables are missing or fail their check (names only).
    #[error("environment variables: {}", env_problems(.missing, .failed))]
    CheckEnv {
        /// Names of the declared variables that are not set.
        missing: Vec<String>,
        /// `NAME: reason` for each variable whose value fails its check.
        failed: Vec<String>,
    },
    /// `--env-secret`: declared keys of the Secret are missing or fail their check (names
    /// only).
    #[error("Secret {secret} (--env-secret): {}", env_problems(.missing, .failed))]
    CheckEnvSecret {
        /// The Secret, `namespace/name`.
        secret: String,
        /// Declared variables the Secret has no key for.
        missing: Vec<String>,
        /// `NAME: reason` for each value that fails its check.
        failed: Vec<String>,
    },
    /// `--env-secret`: the Secret does not exist, and phase 2 has to run with its values.
    #[error(
        "Secret {secret} (--env-secret) does not exist, and phase 2 has to run ({reason}). \
         Bootstrap deletes that Secret once phase 2 has stored its values in Vault, so it is \
         only needed again when phase 2 runs again (--from-phase 1 or 2, or changed env \
         entries): recreate it with the values, or run without --env-secret with them in the \
         environment"
    )]
    EnvSecretGone {
        /// The Secret, `namespace/name`.
        secret: String,
        /// Why phase 2 runs.
        reason: String,
    },
    /// `--env-secret`: reading the Secret failed.
    #[error("reading Secret {secret} (--env-secret): {reason}")]
    ReadEnvSecret {
        /// The Secret, `namespace/name`.
        secret: String,
        /// What went wrong (never a value).
        reason: String,
    },
    /// `--env-secret`: deleting the Secret after phase 2 failed or was refused.
    #[error("deleting Secret {secret} (--env-secret) after phase 2: {reason}")]
    DeleteEnvSecret {
        /// The Secret, `namespace/name`.
        secret: String,
        /// What went wrong (never a value).
        reason: String,
    },
    /// A command-line argument or a combination of them is invalid.
    #[error("{field}: {message}")]
    InvalidArgument {
        /// The flag or field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Connecting to the Kubernetes API server failed.
    #[error("connecting to the Kubernetes API server: {0}")]
    ConnectKube(String),
    /// Building the Vault client failed.
    #[error("connecting to Vault: {0}")]
    ConnectVault(String),
    /// Vault is sealed and there is no identity to open the init bundle with.
    #[error(
        "Vault is sealed; pass --identity FILE (an age identity of an init.recipients entry) \
         so the unseal keys can be read from the init bundle"
    )]
    Sealed,
    /// No token is available for the operations that need an administrator.
    #[error(
        "no Vault admin token: pass --identity FILE (to use the init bundle) or set VAULT_TOKEN"
    )]
    NoAdminToken,
    /// A Vault operation failed.
    #[error("{operation}: {source}")]
    Vault {
        /// What was being done, e.g. `mounting KV at secret/`.
        operation: String,
        /// The classified Vault error (never carries a value or token).
        #[source]
        source: VaultError,
    },
    /// A Kubernetes API call failed.
    #[error("{operation}: {source}")]
    Kube {
        /// What was being done, e.g. `creating namespace ferry-system`.
        operation: String,
        /// The API server's error.
        #[source]
        source: kube::Error,
    },
    /// Installing the external-secrets.io CRDs failed.
    #[error("installing the CRDs: {0}")]
    InstallCrds(String),
    /// Sealing the init bundle to the age recipients failed.
    #[error("sealing the init bundle to init.recipients: {0}")]
    SealBundle(String),
    /// Writing the sealed init bundle failed.
    #[error("writing the init bundle to {target}: {reason}")]
    WriteBundle {
        /// The file or `namespace/name` of the Secret.
        target: String,
        /// What went wrong.
        reason: String,
    },
    /// Reading or decrypting the sealed init bundle failed.
    #[error("opening the init bundle from {source_name}: {reason}")]
    OpenBundle {
        /// The file or `namespace/name` of the Secret.
        source_name: String,
        /// What went wrong.
        reason: String,
    },
    /// The unseal keys did not unseal Vault.
    #[error("unsealing Vault: {0}")]
    Unseal(String),
    /// Minting a fresh root token with the unseal keys (`sys/generate-root`) failed.
    #[error("generating a root token with the unseal keys: {0}")]
    GenerateRoot(String),
    /// KV already holds a different value and `--overwrite` was not given.
    #[error(
        "{mount}/{path} key {key} (from {name}) already holds a different value; \
         re-run with --overwrite to replace it"
    )]
    KvConflict {
        /// The KV mount.
        mount: String,
        /// The secret path.
        path: String,
        /// The key inside the secret.
        key: String,
        /// The environment variable that supplies the value.
        name: String,
    },
    /// Every check-and-set write of a KV path lost against a concurrent writer.
    #[error("writing {path}: check-and-set failed {attempts} times (another writer?)")]
    CasContention {
        /// `mount/path`.
        path: String,
        /// How many writes were tried.
        attempts: usize,
    },
    /// Rendering a policy template failed.
    #[error("rendering the {policy} policy: {source}")]
    RenderPolicy {
        /// The policy's name.
        policy: String,
        /// The renderer's error.
        #[source]
        source: ferry_policy::PolicyError,
    },
    /// Reading or writing the bootstrap state ConfigMap failed.
    #[error("bootstrap state {namespace}/{name}: {reason}")]
    State {
        /// The ConfigMap's namespace.
        namespace: String,
        /// The ConfigMap's name.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// Something did not become ready in time.
    #[error("timed out after {seconds} s waiting for {what}{}", last_seen(.last))]
    Timeout {
        /// What was awaited, e.g. `ExternalSecret myapp/myapp-secrets to be Ready`.
        what: String,
        /// The timeout.
        seconds: u64,
        /// The last state observed (a condition reason/message), if any.
        last: Option<String>,
    },
    /// The final zero-secrets verification found problems or could not run.
    #[error("verify: {0}")]
    Verify(String),
    /// Phase 3: a value a Git credentials Secret (Flux's or Argo CD's) takes from Vault is
    /// not there.
    #[error("{mount}/{path} has no key `{key}` for Secret {secret} (phase 2 writes it)")]
    GitSecretValueMissing {
        /// The Secret, `namespace/name`.
        secret: String,
        /// The KV mount.
        mount: String,
        /// The secret path.
        path: String,
        /// The key inside that secret.
        key: String,
    },
    /// Phase 3: an object of a Git credentials switch (an ExternalSecret, an Argo CD
    /// Application) is not as expected.
    #[error("{object}: {reason}")]
    GitOpsObject {
        /// The object, e.g. `ExternalSecret argocd/deployments`.
        object: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Phase 3: an object Flux's switch needs is missing or not as expected.
    #[error("{object}: {reason}")]
    FluxObject {
        /// The object, e.g. `GitRepository flux-system/flux-system`.
        object: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl BootstrapError {
    /// Shorthand for [`BootstrapError::Vault`].
    pub fn vault(operation: impl Into<String>) -> impl FnOnce(VaultError) -> BootstrapError {
        let operation = operation.into();
        move |source| BootstrapError::Vault { operation, source }
    }

    /// Shorthand for [`BootstrapError::Kube`].
    pub fn kube(operation: impl Into<String>) -> impl FnOnce(kube::Error) -> BootstrapError {
        let operation = operation.into();
        move |source| BootstrapError::Kube { operation, source }
    }

    /// The process exit code documented in docs/bootstrap.md: 2 for bad input (config,
    /// arguments, environment variables or the `--env-secret` Secret, a KV conflict), 3 when Vault is sealed and no
    /// identity was given, 1 for any other failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::LoadConfig(_)
            | Self::CheckEnv { .. }
            | Self::CheckEnvSecret { .. }
            | Self::EnvSecretGone { .. }
            | Self::InvalidArgument { .. }
            | Self::KvConflict { .. } => 2,
            Self::Sealed | Self::NoAdminToken => 3,
            _ => 1,
        }
    }
}

fn env_problems(missing: &[String], failed: &[String]) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("not set: {}", missing.join(", ")));
    }
    if !failed.is_empty() {
        parts.push(format!("failed their check: {}", failed.join("; ")));
    }
    parts.join("; ")
}

fn last_seen(last: &Option<String>) -> String {
    match last {
        Some(text) => format!(" (last seen: {text})"),
        None => String::new(),
    }
}
