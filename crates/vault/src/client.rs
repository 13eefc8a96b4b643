//! Connection setup ([`VaultConfig`], [`Vault`]) and the request plumbing
//! shared by all operations.
//!
//! A [`Vault`] owns one reqwest client, built with the configured timeout and
//! CA bundle (kept in memory, never written to disk), used both by vaultrs
//! (through rustify) and by the few raw calls. The token is kept in a
//! [`SecretString`]; for each vaultrs call it is copied into a short-lived
//! `Call` whose copy is zeroized when the call ends. Raw calls live in the
//! `raw` module, shared helpers in `util`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use url::Url;
use vaultrs::api::EndpointMiddleware;
use vaultrs::client::{VaultClientSettings, VaultClientSettingsBuilder};
use zeroize::Zeroize;

use crate::error::{Cause, ErrorKind, VaultError};

/// Default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach a Vault / OpenBao server.
#[derive(Clone)]
pub struct VaultConfig {
    /// Base address, e.g. `https://vault.example:8200` (no path).
    pub address: String,
    /// PEM bundle of the CA certificates to trust for `https` addresses.
    /// When set, only these roots are trusted (like `VAULT_CACERT`).
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// Vault Enterprise / OpenBao namespace, sent as `X-Vault-Namespace`.
    pub namespace: Option<String>,
    /// Timeout of each request (default 10s).
    pub timeout: Duration,
    /// Client certificate and key presented to `https` servers (TLS certificate auth).
    pub client_identity: Option<ClientIdentity>,
}

impl VaultConfig {
    /// A configuration for `address` with no CA bundle, no namespace and the
    /// default timeout.
    pub fn new(address: impl Into<String>) -> Self {
        VaultConfig {
            address: address.into(),
            ca_bundle_pem: None,
            namespace: None,
            timeout: DEFAULT_TIMEOUT,
            client_identity: None,
        }
    }

    /// Sets the client certificate presented to the server.
    pub fn with_client_identity(mut self, identity: ClientIdentity) -> Self {
        self.client_identity = Some(identity);
        self
    }

    /// Sets the CA bundle (PEM).
    pub fn with_ca_bundle(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_bundle_pem = Some(pem.into());
        self
    }

    /// Sets the namespace.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Sets the request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl fmt::Debug for VaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultConfig")
            .field("address", &self.address)
            .field(
                "ca_bundle_pem",
                &self
                    .ca_bundle_pem
                    .as_ref()
                    .map(|p| format!("<{} bytes>", p.len())),
            )
            .field("namespace", &self.namespace)
            .field("timeout", &self.timeout)
            .field(
                "client_identity",
                &self.client_identity.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// A client certificate with its private key, for TLS certificate auth. Built from PEM that
/// the caller holds in zeroized memory; the parsed key lives inside the TLS library (which does
/// not wipe it) for as long as a connection configured with it. `Debug` shows nothing of it.
#[derive(Clone)]
pub struct ClientIdentity(reqwest::Identity);

impl ClientIdentity {
    /// Parses a PEM certificate chain (leaf first) and its PEM private key (PKCS#8, PKCS#1 or
    /// SEC1). The error names what is wrong, never the input.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<ClientIdentity, VaultError> {
        let err = |detail: &str| VaultError::LoadClientIdentity {
            cause: Cause::new(ErrorKind::Tls, None, detail),
        };
        let mut pem = zeroize::Zeroizing::new(Vec::with_capacity(cert_chain.len() + key.len() + 1));
        pem.extend_from_slice(key);
        pem.push(b'\n');
        pem.extend_from_slice(cert_chain);
        reqwest::Identity::from_pem(&pem)
            .map(ClientIdentity)
            .map_err(|_| err("the client certificate or its key is not valid PEM"))
    }
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientIdentity([REDACTED])")
    }
}

/// State shared by all clones of a [`Vault`].
pub(crate) struct Shared {
    /// The address as configured, without trailing slash.
    address: String,
    /// `scheme://host:port/`.
    pub(crate) base: Url,
    /// The HTTP client used for raw calls.
    pub(crate) http: reqwest::Client,
    /// The same HTTP client wrapped for rustify/vaultrs.
    rest: rustify::clients::reqwest::Client,
    /// Settings handed to vaultrs (token empty; unused by the endpoints).
    settings: VaultClientSettings,
    /// Validated namespace.
    pub(crate) namespace: Option<String>,
}

/// A connection to a Vault / OpenBao server, optionally with a token.
///
/// Cheap to clone: the HTTP client is shared. Use [`Vault::with_token`] to
/// get a handle that authenticates with a given token.
#[derive(Clone)]
pub struct Vault {
    pub(crate) shared: Arc<Shared>,
    pub(crate) token: Option<Arc<SecretString>>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("address", &self.shared.address)
            .field("namespace", &self.shared.namespace)
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl Vault {
    /// Builds a client for `cfg`. No request is sent.
    ///
    /// The address must be `http` or `https` without path, query or
    /// credentials. For `https`, a configured CA bundle replaces the system
    /// roots.
    pub fn connect(cfg: &VaultConfig) -> Result<Vault, VaultError> {
        let err = |cause| VaultError::Connect {
            address: cfg.address.clone(),
            cause,
        };
        let address = cfg.address.trim().trim_end_matches('/').to_owned();
        let base = parse_address(&address).map_err(err)?;
        let namespace = match cfg.namespace.as_deref().map(|n| n.trim().trim_matches('/')) {
            None | Some("") => None,
            Some(ns) => {
                HeaderValue::from_str(ns)
                    .map_err(|_| err(Cause::invalid("namespace is not a valid header value")))?;
                Some(ns.to_owned())
            }
        };

        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout);
        if base.scheme() == "https" {
            if let Some(pem) = &cfg.ca_bundle_pem {
                let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|_| {
                    err(Cause::new(
                        ErrorKind::Tls,
                        None,
                        "CA bundle is not valid PEM",
                    ))
                })?;
                if certs.is_empty() {
                    return Err(err(Cause::new(
                        ErrorKind::Tls,
                        None,
                        "CA bundle contains no certificate",
                    )));
                }
                builder = builder.tls_certs_only(certs);
            }
            if let Some(identity) = &cfg.client_identity {
                builder = builder.identity(identity.0.clone());
            }
        } else {
            // Plain HTTP: no verifier is needed (same workaround as vaultrs
            // for https://github.com/seanmonstar/reqwest/issues/2988).
            builder = builder.tls_certs_only(Vec::new());
        }
        let http = builder.build().map_err(|e| err(Cause::from_reqwest(&e)))?;
        let rest = rustify::clients::reqwest::Client::new(base.as_str(), http.clone());

        let mut settings = VaultClientSettingsBuilder::default();
        settings
            .address(base.as_str())
            .token("")
            .ca_certs(Vec::new())
            .identity(None)
            .verify(true)
            .timeout(Some(cfg.timeout))
            .namespace(namespace.clone());
        let settings = settings
            .build()
            .map_err(|e| err(Cause::invalid(e.to_string())))?;

        tracing::debug!(address = %address, "vault client configured");
        Ok(Vault {
            shared: Arc::new(Shared {
                address,
                base,
                http,
                rest,
                settings,
                namespace,
            }),
            token: None,
        })
    }

    /// The same connection authenticating with `token` (surrounding
    /// whitespace, e.g. a trailing newline from a file, is removed).
    pub fn with_token(&self, token: SecretString) -> Vault {
        let raw = token.expose_secret();
        let token = if raw.trim() == raw {
            token
        } else {
            SecretString::from(raw.trim().to_owned())
        };
        Vault {
            shared: Arc::clone(&self.shared),
            token: Some(Arc::new(token)),
        }
    }

    /// The same connection without a token.
    pub fn without_token(&self) -> Vault {
        Vault {
            shared: Arc::clone(&self.shared),
            token: None,
        }
    }

    /// Whether this handle carries a token.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The token of this handle, if any.
    pub(crate) fn token_secret(&self) -> Option<&SecretString> {
        self.token.as_deref()
    }

    /// The configured address (without trailing slash).
    pub fn address(&self) -> &str {
        &self.shared.address
    }

    /// The configured namespace, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.shared.namespace.as_deref()
    }

    /// A vaultrs client for one call, carrying this handle's token.
    pub(crate) fn call(&self) -> Result<Call<'_>, Cause> {
        let token = match &self.token {
            Some(t) => checked_token(t)?.to_owned(),
            None => String::new(),
        };
        Ok(self.call_with(token))
    }

    /// A vaultrs client for one call, without token (logins).
    pub(crate) fn anonymous_call(&self) -> Call<'_> {
        self.call_with(String::new())
    }

    fn call_with(&self, token: String) -> Call<'_> {
        Call {
            shared: &self.shared,
            middle: EndpointMiddleware {
                token,
                version: "v1".to_owned(),
                wrap: None,
                namespace: self.shared.namespace.clone(),
            },
        }
    }
}

/// A vaultrs client for a single call: shares the HTTP client and owns a
/// copy of the token that is zeroized on drop.
pub(crate) struct Call<'a> {
    shared: &'a Shared,
    middle: EndpointMiddleware,
}

impl Drop for Call<'_> {
    fn drop(&mut self) {
        self.middle.token.zeroize();
    }
}

impl vaultrs::client::Client for Call<'_> {
    fn http(&self) -> &rustify::clients::reqwest::Client {
        &self.shared.rest
    }

    fn middle(&self) -> &EndpointMiddleware {
        &self.middle
    }

    fn settings(&self) -> &VaultClientSettings {
        &self.shared.settings
    }

    fn set_token(&mut self, token: &str) {
        self.middle.token.zeroize();
        self.middle.token = token.to_owned();
    }
}

/// Returns the token if it can be sent as a header (vaultrs would panic
/// otherwise).
pub(crate) fn checked_token(token: &SecretString) -> Result<&str, Cause> {
    let t = token.expose_secret();
    if t.is_empty() {
        return Err(Cause::invalid("token is empty"));
    }
    if !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Cause::invalid(
            "token contains characters that are not allowed in an HTTP header",
        ));
    }
    Ok(t)
}

/// Validates a server address and returns its `scheme://host:port/` form.
fn parse_address(address: &str) -> Result<Url, Cause> {
    let url = Url::parse(address).map_err(|e| Cause::invalid(format!("invalid address: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Cause::invalid("address scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Cause::invalid("address has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Cause::invalid("address must not contain credentials"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(Cause::invalid(
            "address must not contain a path, query or fragment",
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_validated() {
        assert!(parse_address("http://127.0.0.1:8200").is_ok());
        assert!(parse_address("https://vault.example").is_ok());
        assert!(parse_address("ftp://x").is_err());
        assert!(parse_address("http://u:p@x").is_err());
        assert!(parse_address("http://x/v1").is_err());
        assert!(parse_address("not a url").is_err());
    }

    #[test]
    fn connect_rejects_bad_config() {
        let bad_pem = VaultConfig::new("https://vault.example:8200").with_ca_bundle("nope");
        match Vault::connect(&bad_pem) {
            Err(e) => assert_eq!(e.category(), "tls"),
            Ok(_) => panic!("expected an error"),
        }
        match Vault::connect(&VaultConfig::new("vault:8200")) {
            Err(e) => assert_eq!(e.category(), "invalid_request"),
            Ok(_) => panic!("expected an error"),
        }
    }

    #[test]
    fn client_identities_refuse_bad_pem_without_quoting_it() {
        let key = b"-----BEGIN PRIVATE KEY-----\nbm90LWEta2V5LTQ0MTk=\n-----END PRIVATE KEY-----\n";
        match ClientIdentity::from_pem(b"garbage-cert-7731", key) {
            Err(e) => {
                assert_eq!(e.category(), "tls");
                let text = e.to_string();
                assert!(!text.contains("garbage-cert-7731") && !text.contains("bm90LWEta2V5"));
            }
            Ok(id) => panic!("expected an error, got {id:?}"),
        }
    }

    #[test]
    fn tokens_are_trimmed_checked_and_redacted() -> Result<(), VaultError> {
        let v = Vault::connect(&VaultConfig::new("http://127.0.0.1:1/"))?;
        assert_eq!(v.address(), "http://127.0.0.1:1");
        let t = v.with_token(SecretString::from("s.abc\n"));
        assert!(t.call().is_ok());
        let dbg = format!("{t:?}");
        assert!(dbg.contains("[REDACTED]") && !dbg.contains("s.abc"));
        let bad = v.with_token(SecretString::from("a b"));
        assert!(bad.call().is_err());
        assert!(v.call().is_ok());
        Ok(())
    }
}
