//! Raw HTTP calls for endpoints vaultrs lacks or handles lossily, and the
//! public [`Vault::raw`] escape hatch.

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use url::Url;
use zeroize::Zeroizing;

use crate::client::{Vault, checked_token};
use crate::error::{Cause, VaultError};
use crate::util::clean_path;

impl Vault {
    /// Sends a raw request to `/v1/<path>` (an optional `?query` is kept)
    /// with this handle's token. Succeeds only on 2xx; the body is returned
    /// in a buffer zeroized on drop.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Zeroizing<Vec<u8>>, Cause> {
        let url = self.api_url(path)?;
        let mut headers = HeaderMap::new();
        headers.insert("X-Vault-Request", HeaderValue::from_static("true"));
        if let Some(token) = &self.token {
            let mut value = HeaderValue::from_str(checked_token(token)?)
                .map_err(|_| Cause::invalid("token is not a valid header value"))?;
            value.set_sensitive(true);
            headers.insert("X-Vault-Token", value);
        }
        if let Some(ns) = &self.shared.namespace {
            let value = HeaderValue::from_str(ns)
                .map_err(|_| Cause::invalid("namespace is not a valid header value"))?;
            headers.insert("X-Vault-Namespace", value);
        }
        let mut req = self.shared.http.request(method, url).headers(headers);
        if let Some(body) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let resp = req.send().await.map_err(|e| Cause::from_reqwest(&e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| Cause::from_reqwest(&e))?;
        let body = Zeroizing::new(Vec::<u8>::from(bytes));
        if status.is_success() {
            Ok(body)
        } else {
            Err(Cause::from_body(status.as_u16(), &body))
        }
    }

    /// Like [`Vault::send`], decoding a JSON answer (`None` when empty).
    pub(crate) async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Option<T>, Cause> {
        let bytes = self.send(method, path, body).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Cause::from_json(&e))
    }

    /// Generic escape hatch: a request to `/v1/<path>` (an optional `?query`
    /// is kept) with this handle's token and namespace, JSON in and out.
    ///
    /// Returns `Ok(None)` for empty answers (e.g. 204). Any non-2xx answer is
    /// an error (`404` gives [`VaultError::is_not_found`]). The JSON returned
    /// is not redacted: do not log it.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Option<serde_json::Value>, VaultError> {
        let err = |cause| VaultError::Raw {
            method: method.to_string(),
            path: path.split('?').next().unwrap_or_default().to_owned(),
            cause,
        };
        let body = match body {
            Some(v) => Some(serde_json::to_vec(v).map_err(|e| err(Cause::from_json(&e)))?),
            None => None,
        };
        self.send_json(method.clone(), path, body)
            .await
            .map_err(err)
    }

    /// The absolute URL of `/v1/<path>`, with dot segments rejected.
    fn api_url(&self, path: &str) -> Result<Url, Cause> {
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        let clean = clean_path(path)?;
        let mut url = self.shared.base.clone();
        url.path_segments_mut()
            .map_err(|()| Cause::invalid("address cannot be a base URL"))?
            .clear()
            .push("v1")
            .extend(clean.split('/'));
        url.set_query(query.filter(|q| !q.is_empty()));
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::VaultConfig;

    #[test]
    fn api_urls() -> Result<(), VaultError> {
        let v = Vault::connect(&VaultConfig::new("http://127.0.0.1:8200"))?;
        let u = v
            .api_url("/secret/data/a b?version=2")
            .map_err(|cause| VaultError::Raw {
                method: "GET".into(),
                path: String::new(),
                cause,
            })?;
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:8200/v1/secret/data/a%20b?version=2"
        );
        Ok(())
    }
}
