//! The crate's error type, [`VaultError`].
//!
//! Every variant is named after the operation that failed and carries the
//! path, mount or name involved (never a secret value) together with a
//! classified [`Cause`]. [`VaultError::category`] maps the cause onto a small,
//! bounded set of strings suitable as a metric label or a Kubernetes Event
//! reason.

pub use crate::cause::{Cause, ErrorKind};

/// Errors of the Vault client layer, one variant per failed operation.
///
/// The `Display` form names the operation, the path involved and the cause;
/// it never includes secret values or tokens.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// Building the client (address, CA bundle, namespace) failed.
    #[error("connecting to Vault at {address}: {cause}")]
    Connect {
        /// The configured address.
        address: String,
        /// What went wrong.
        cause: Cause,
    },
    /// Parsing a client certificate and key (TLS certificate auth) failed.
    #[error("loading the client certificate: {cause}")]
    LoadClientIdentity {
        /// What went wrong (never the certificate or key).
        cause: Cause,
    },
    /// Logging in through an auth method failed.
    #[error("logging in via auth/{mount}: {cause}")]
    Login {
        /// The auth mount used (`token` for token logins).
        mount: String,
        /// What went wrong.
        cause: Cause,
    },
    /// Looking up the current token failed.
    #[error("looking up the current token: {cause}")]
    TokenLookup {
        /// What went wrong.
        cause: Cause,
    },
    /// Renewing the current token failed.
    #[error("renewing the current token: {cause}")]
    TokenRenew {
        /// What went wrong.
        cause: Cause,
    },
    /// Revoking a token failed.
    #[error("revoking a token ({target}): {cause}")]
    TokenRevoke {
        /// `self` or `other`; never the token itself.
        target: &'static str,
        /// What went wrong.
        cause: Cause,
    },
    /// Creating a token failed.
    #[error("creating a token with policies [{policies}]: {cause}")]
    TokenCreate {
        /// The requested policies, comma-separated.
        policies: String,
        /// What went wrong.
        cause: Cause,
    },
    /// Reading a KV secret failed.
    #[error("reading KV secret {mount}/{path}: {cause}")]
    KvRead {
        /// The KV mount.
        mount: String,
        /// The secret path inside the mount.
        path: String,
        /// What went wrong.
        cause: Cause,
    },
    /// Writing a KV secret failed.
    #[error("writing KV secret {mount}/{path}: {cause}")]
    KvWrite {
        /// The KV mount.
        mount: String,
        /// The secret path inside the mount.
        path: String,
        /// What went wrong.
        cause: Cause,
    },
    /// Deleting a KV secret failed.
    #[error("deleting KV secret {mount}/{path}: {cause}")]
    KvDelete {
        /// The KV mount.
        mount: String,
        /// The secret path inside the mount.
        path: String,
        /// What went wrong.
        cause: Cause,
    },
    /// Listing KV keys failed.
    #[error("listing KV keys under {mount}/{path}: {cause}")]
    KvList {
        /// The KV mount.
        mount: String,
        /// The folder path inside the mount.
        path: String,
        /// What went wrong.
        cause: Cause,
    },
    /// Reading KV v2 metadata failed.
    #[error("reading KV metadata of {mount}/{path}: {cause}")]
    KvMetadata {
        /// The KV mount.
        mount: String,
        /// The secret path inside the mount.
        path: String,
        /// What went wrong.
        cause: Cause,
    },
    /// Initializing the server failed.
    #[error("initializing Vault: {cause}")]
    Init {
        /// What went wrong.
        cause: Cause,
    },
    /// Submitting an unseal key failed.
    #[error("unsealing Vault: {cause}")]
    Unseal {
        /// What went wrong.
        cause: Cause,
    },
    /// Sealing the server failed.
    #[error("sealing Vault: {cause}")]
    Seal {
        /// What went wrong.
        cause: Cause,
    },
    /// Reading the seal status failed.
    #[error("reading the seal status: {cause}")]
    SealStatus {
        /// What went wrong.
        cause: Cause,
    },
    /// Listing or enabling a secrets engine mount failed.
    #[error("secrets engine mount {path}: {cause}")]
    Mount {
        /// The mount path (`*` when listing).
        path: String,
        /// What went wrong.
        cause: Cause,
    },
    /// Listing or enabling an auth method failed.
    #[error("auth method {path}: {cause}")]
    AuthMethod {
        /// The auth mount path (`*` when listing).
        path: String,
        /// What went wrong.
        cause: Cause,
    },
    /// Configuring an auth method or one of its roles failed.
    #[error("configuring auth/{mount} ({item}): {cause}")]
    AuthConfig {
        /// The auth mount.
        mount: String,
        /// What was configured: `config`, `role/<name>`, ...
        item: String,
        /// What went wrong.
        cause: Cause,
    },
    /// Reading, writing, listing or deleting a policy failed.
    #[error("policy {name}: {cause}")]
    Policy {
        /// The policy name (`*` when listing).
        name: String,
        /// What went wrong.
        cause: Cause,
    },
    /// A raw request through [`crate::Vault::raw`] failed.
    #[error("{method} /v1/{path}: {cause}")]
    Raw {
        /// The HTTP method.
        method: String,
        /// The path relative to `/v1/`.
        path: String,
        /// What went wrong.
        cause: Cause,
    },
}

impl VaultError {
    /// The classified cause of this error.
    pub fn cause(&self) -> &Cause {
        match self {
            VaultError::Connect { cause, .. }
            | VaultError::LoadClientIdentity { cause }
            | VaultError::Login { cause, .. }
            | VaultError::TokenLookup { cause }
            | VaultError::TokenRenew { cause }
            | VaultError::TokenRevoke { cause, .. }
            | VaultError::TokenCreate { cause, .. }
            | VaultError::KvRead { cause, .. }
            | VaultError::KvWrite { cause, .. }
            | VaultError::KvDelete { cause, .. }
            | VaultError::KvList { cause, .. }
            | VaultError::KvMetadata { cause, .. }
            | VaultError::Init { cause }
            | VaultError::Unseal { cause }
            | VaultError::Seal { cause }
            | VaultError::SealStatus { cause }
            | VaultError::Mount { cause, .. }
            | VaultError::AuthMethod { cause, .. }
            | VaultError::AuthConfig { cause, .. }
            | VaultError::Policy { cause, .. }
            | VaultError::Raw { cause, .. } => cause,
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.cause().kind()
    }

    /// A bounded label for metrics and Kubernetes Event reasons: one of
    /// `unreachable`, `tls`, `sealed`, `uninitialized`, `forbidden`,
    /// `not_found`, `cas_mismatch`, `invalid_request`, `server_error`,
    /// `decode`.
    pub fn category(&self) -> &'static str {
        self.kind().as_str()
    }

    /// The HTTP status the server answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        self.cause().status()
    }

    /// Permission denied (HTTP 403/401), including expired or revoked tokens.
    pub fn is_forbidden(&self) -> bool {
        self.kind() == ErrorKind::Forbidden
    }

    /// The server is sealed.
    pub fn is_sealed(&self) -> bool {
        self.kind() == ErrorKind::Sealed
    }

    /// The server could not be reached (network error or timeout).
    pub fn is_unreachable(&self) -> bool {
        self.kind() == ErrorKind::Unreachable
    }

    /// A KV v2 check-and-set version did not match.
    pub fn is_cas_mismatch(&self) -> bool {
        self.kind() == ErrorKind::CasMismatch
    }

    /// The path or object does not exist (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::CAS_MISMATCH_TEXT;

    #[test]
    fn categories_and_helpers() {
        let e = VaultError::KvWrite {
            mount: "secret".into(),
            path: "app/db".into(),
            cause: Cause::from_status(400, &[CAS_MISMATCH_TEXT.to_owned()]),
        };
        assert!(e.is_cas_mismatch());
        assert_eq!(e.category(), "cas_mismatch");
        assert_eq!(e.status(), Some(400));
        assert_eq!(
            e.to_string(),
            format!(
                "writing KV secret secret/app/db: cas_mismatch (HTTP 400): {CAS_MISMATCH_TEXT}"
            )
        );
        let e = VaultError::SealStatus {
            cause: Cause::new(ErrorKind::Unreachable, None, "connection refused"),
        };
        assert!(e.is_unreachable());
        assert!(!e.is_sealed());
        assert_eq!(e.category(), "unreachable");
    }
}
