//! Classification of failures: [`ErrorKind`] and [`Cause`].
//!
//! Causes are built from HTTP status codes, the `errors` array of Vault's
//! error bodies and transport errors. Response bodies themselves are never
//! copied into a cause, and JSON decoding failures only report the position
//! of the problem, because serde's messages may quote (secret) input.

use std::error::Error as StdError;
use std::fmt;

use vaultrs::error::ClientError;

/// Longest server-provided detail kept in a [`Cause`], in bytes.
const MAX_DETAIL: usize = 300;

/// The text OpenBao and Vault answer (HTTP 400) when a KV v2 check-and-set
/// version does not match the current version.
pub(crate) const CAS_MISMATCH_TEXT: &str =
    "check-and-set parameter did not match the current version";

/// The bounded classification of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server could not be reached: connection refused, DNS, timeout,
    /// connection reset.
    Unreachable,
    /// TLS failed: unknown issuer, bad certificate, unusable CA bundle.
    Tls,
    /// The server is sealed (HTTP 503 "Vault is sealed").
    Sealed,
    /// The server is not initialized yet.
    Uninitialized,
    /// Permission denied (HTTP 403 or 401), including invalid tokens.
    Forbidden,
    /// The path, mount or object does not exist (HTTP 404).
    NotFound,
    /// A KV v2 check-and-set version did not match the current version.
    CasMismatch,
    /// The request was rejected as invalid (other HTTP 4xx), or could not be
    /// built from the arguments given.
    InvalidRequest,
    /// The server failed (HTTP 5xx other than sealed) or answered with an
    /// unexpected status.
    ServerError,
    /// The response could not be decoded into the expected shape.
    Decode,
}

impl ErrorKind {
    /// The stable label of this kind (used by [`VaultError::category`](crate::VaultError::category)).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::Tls => "tls",
            ErrorKind::Sealed => "sealed",
            ErrorKind::Uninitialized => "uninitialized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::CasMismatch => "cas_mismatch",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::ServerError => "server_error",
            ErrorKind::Decode => "decode",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The classified cause of a failed operation: a kind, the HTTP status if
/// the server answered, and a short detail (server error messages or a
/// transport description). Never contains secret values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    kind: ErrorKind,
    status: Option<u16>,
    detail: String,
}

impl Cause {
    /// Builds a cause from its parts; `detail` is normalized and truncated.
    pub fn new(kind: ErrorKind, status: Option<u16>, detail: impl AsRef<str>) -> Cause {
        Cause {
            kind,
            status,
            detail: clean_detail(detail.as_ref()),
        }
    }

    /// The classification of this cause.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The HTTP status the server answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// A short human-readable detail (may be empty).
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// An invalid-request cause for arguments rejected before sending.
    pub(crate) fn invalid(detail: impl AsRef<str>) -> Cause {
        Cause::new(ErrorKind::InvalidRequest, None, detail)
    }

    /// A decode cause that names what was expected, without quoting input.
    pub(crate) fn decode(detail: impl AsRef<str>) -> Cause {
        Cause::new(ErrorKind::Decode, None, detail)
    }

    /// Classifies an HTTP error answer from its status and `errors` array.
    pub(crate) fn from_status(status: u16, errors: &[String]) -> Cause {
        let detail = errors.join("; ");
        let lower = detail.to_ascii_lowercase();
        let kind = if lower.contains(CAS_MISMATCH_TEXT) {
            ErrorKind::CasMismatch
        } else if lower.contains("not initialized") {
            ErrorKind::Uninitialized
        } else if lower.contains("is sealed") || (status == 503 && lower.is_empty()) {
            ErrorKind::Sealed
        } else if status == 401 || status == 403 || lower.contains("permission denied") {
            ErrorKind::Forbidden
        } else if status == 404 {
            ErrorKind::NotFound
        } else if (400..500).contains(&status) {
            ErrorKind::InvalidRequest
        } else {
            ErrorKind::ServerError
        };
        Cause::new(kind, Some(status), detail)
    }

    /// Classifies an error answer whose body may or may not be Vault's JSON
    /// error format. The body is only searched for the `errors` array.
    pub(crate) fn from_body(status: u16, body: &[u8]) -> Cause {
        #[derive(serde::Deserialize)]
        struct Errors {
            #[serde(default)]
            errors: Vec<String>,
        }
        let errors = serde_json::from_slice::<Errors>(body)
            .map(|e| e.errors)
            .unwrap_or_default();
        Cause::from_status(status, &errors)
    }

    /// Classifies a transport-level error from reqwest.
    pub(crate) fn from_reqwest(e: &reqwest::Error) -> Cause {
        if let Some(status) = e.status() {
            return Cause::from_status(status.as_u16(), &[]);
        }
        let chain = chain_text(e);
        if e.is_decode() {
            return Cause::decode("response body could not be decoded");
        }
        if e.is_builder() {
            return Cause::invalid(chain);
        }
        if looks_like_tls(&chain) {
            return Cause::new(ErrorKind::Tls, None, chain);
        }
        if e.is_timeout() {
            return Cause::new(ErrorKind::Unreachable, None, format!("timed out: {chain}"));
        }
        Cause::new(ErrorKind::Unreachable, None, chain)
    }

    /// Classifies a JSON decoding failure by position only: serde's own
    /// message may quote parts of the (secret) document.
    pub(crate) fn from_json(e: &serde_json::Error) -> Cause {
        let what = match e.classify() {
            serde_json::error::Category::Io => "I/O error while reading",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "unexpected JSON shape",
            serde_json::error::Category::Eof => "truncated JSON",
        };
        Cause::decode(format!(
            "{what} at line {}, column {}",
            e.line(),
            e.column()
        ))
    }

    /// Classifies an error returned by vaultrs.
    pub(crate) fn from_client(e: &ClientError) -> Cause {
        match e {
            ClientError::APIError { code, errors } => Cause::from_status(*code, errors),
            ClientError::RestClientError { source } => Cause::from_rustify(source),
            ClientError::ResponseEmptyError | ClientError::ResponseDataEmptyError => {
                Cause::decode("the response carried no data")
            }
            ClientError::ResponseWrapError | ClientError::WrapInvalidError => {
                Cause::decode("unexpected response wrapping")
            }
            ClientError::JsonParseError { source } => Cause::from_json(source),
            ClientError::ParseCertificateError { .. } => {
                Cause::new(ErrorKind::Tls, None, "CA bundle could not be parsed")
            }
            ClientError::RestClientBuildError { source } => {
                Cause::new(ErrorKind::Tls, None, chain_text(source))
            }
            ClientError::InvalidLoginMethodError | ClientError::InvalidUpdateParameter => {
                Cause::invalid(e.to_string())
            }
            ClientError::FileNotFoundError { .. }
            | ClientError::FileReadError { .. }
            | ClientError::FileWriteError { .. } => Cause::invalid(e.to_string()),
        }
    }

    /// Classifies an error from rustify, the HTTP layer below vaultrs.
    fn from_rustify(e: &rustify::errors::ClientError) -> Cause {
        use rustify::errors::ClientError as R;
        match e {
            R::ServerResponseError { code, content } => Cause::from_body(
                *code,
                content.as_deref().map(str::as_bytes).unwrap_or_default(),
            ),
            R::RequestError { .. } | R::ResponseError { .. } => {
                match find_in_chain::<reqwest::Error>(e) {
                    Some(re) => Cause::from_reqwest(re),
                    None => Cause::new(ErrorKind::Unreachable, None, chain_text(e)),
                }
            }
            R::ResponseParseError { source, .. }
            | R::DataParseError { source }
            | R::ResponseConversionError { source, .. } => {
                match source.downcast_ref::<serde_json::Error>() {
                    Some(je) => Cause::from_json(je),
                    None => Cause::decode("response could not be parsed"),
                }
            }
            R::EndpointBuildError { .. }
            | R::RequestBuildError { .. }
            | R::ReqwestBuildError { .. }
            | R::UrlBuildError { .. }
            | R::UrlQueryParseError { .. }
            | R::UrlParseError { .. } => Cause::invalid(chain_text(e)),
            R::GenericError { .. } => Cause::new(ErrorKind::ServerError, None, chain_text(e)),
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.as_str())?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

impl StdError for Cause {}

/// Collapses whitespace (Vault's multi-error messages span lines) and
/// truncates to [`MAX_DETAIL`] bytes on a character boundary.
fn clean_detail(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_DETAIL + 3));
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() > MAX_DETAIL {
            break;
        }
    }
    if out.len() > MAX_DETAIL {
        let mut end = MAX_DETAIL;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push_str("...");
    }
    out
}

/// Joins the messages of an error and its sources, skipping repeats.
fn chain_text(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        let msg = err.to_string();
        if !parts.iter().any(|p| p.contains(&msg)) {
            parts.push(msg);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// Finds the first error of type `T` in the source chain of `e`.
fn find_in_chain<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur: Option<&'a (dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        cur = err.source();
    }
    None
}

/// Whether a transport error message describes a TLS failure.
fn looks_like_tls(chain: &str) -> bool {
    let lower = chain.to_ascii_lowercase();
    ["certificate", "tls", "handshake", "unknownissuer", "ssl"]
        .iter()
        .any(|needle| lower.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(msgs: &[&str]) -> Vec<String> {
        msgs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn classifies_statuses() {
        assert_eq!(
            Cause::from_status(503, &errs(&["Vault is sealed"])).kind(),
            ErrorKind::Sealed
        );
        assert_eq!(Cause::from_status(503, &[]).kind(), ErrorKind::Sealed);
        assert_eq!(
            Cause::from_status(
                403,
                &errs(&["1 error occurred:\n\t* permission denied\n\n"])
            )
            .kind(),
            ErrorKind::Forbidden
        );
        assert_eq!(Cause::from_status(404, &[]).kind(), ErrorKind::NotFound);
        assert_eq!(
            Cause::from_status(400, &errs(&["missing client token"])).kind(),
            ErrorKind::InvalidRequest
        );
        assert_eq!(Cause::from_status(500, &[]).kind(), ErrorKind::ServerError);
        assert_eq!(
            Cause::from_status(503, &errs(&["rate limited"])).kind(),
            ErrorKind::ServerError
        );
        assert_eq!(
            Cause::from_status(400, &errs(&["Vault is not initialized"])).kind(),
            ErrorKind::Uninitialized
        );
    }

    #[test]
    fn classifies_cas_mismatch() {
        let c = Cause::from_status(
            400,
            &errs(&["check-and-set parameter did not match the current version"]),
        );
        assert_eq!(c.kind(), ErrorKind::CasMismatch);
        let body = br#"{"errors":["check-and-set parameter did not match the current version"]}"#;
        assert_eq!(Cause::from_body(400, body).kind(), ErrorKind::CasMismatch);
    }

    #[test]
    fn body_that_is_not_json_keeps_status_only() {
        let c = Cause::from_body(502, b"<html>bad gateway</html>");
        assert_eq!(c.kind(), ErrorKind::ServerError);
        assert_eq!(c.status(), Some(502));
        assert_eq!(c.detail(), "");
    }

    #[test]
    fn json_errors_report_position_not_content() {
        let e = match serde_json::from_str::<u64>("\"hunter2\"") {
            Err(e) => e,
            Ok(_) => panic!("expected a decode error"),
        };
        let c = Cause::from_json(&e);
        assert_eq!(c.kind(), ErrorKind::Decode);
        assert!(!c.to_string().contains("hunter2"));
    }

    #[test]
    fn detail_is_normalized_and_truncated() {
        let c = Cause::new(ErrorKind::ServerError, Some(500), "a\n\tb   c");
        assert_eq!(c.detail(), "a b c");
        let long = "x".repeat(1000);
        let c = Cause::new(ErrorKind::ServerError, None, long);
        assert!(c.detail().len() <= MAX_DETAIL + 3);
        assert!(c.detail().ends_with("..."));
    }

    #[test]
    fn tls_detection() {
        assert!(looks_like_tls("invalid peer certificate: UnknownIssuer"));
        assert!(!looks_like_tls("tcp connect error: Connection refused"));
    }
}
