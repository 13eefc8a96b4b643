//! `--env-secret NAMESPACE/NAME`: the declared variables read from the keys of a Kubernetes
//! Secret instead of the process environment (the chart's bootstrap Job), and that Secret
//! deleted once phase 2 has stored the values in Vault and they were read back from KV.
//!
//! Only two calls touch the Secret, both by its exact name: one `get` at start and one
//! `delete` after phase 2, with the uid and resourceVersion read as preconditions, so a
//! Secret replaced or edited in between is never deleted. Both go through raw requests whose
//! bodies land in zeroizing buffers (kube's typed API would keep the body in ordinary
//! strings, and logs one it fails to parse); the values go from there straight into
//! [`SecretString`]s. Keys that `env` does not declare are dropped unread.
//!
//! A Secret that still exists means its values may not be in Vault yet, so it makes phase 2
//! run even when that is done (comparing, writing nothing that is already there, refusing a
//! different value without `--overwrite`); a Secret that is gone is fine unless phase 2 has
//! to run, which then stops with [`BootstrapError::EnvSecretGone`].

use std::collections::BTreeMap;

use base64::Engine as _;
use ferry_config::{BootstrapConfig, SecretRef};
use ferry_vault::{ExposeSecret, KvVersion};
use futures::{AsyncBufRead, AsyncBufReadExt};
use kube::api::{DeleteParams, GetParams, Preconditions};
use secrecy::SecretString;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::env::EnvValues;
use crate::error::BootstrapError;

/// Largest response body read (a Secret holds at most 1 MiB of data).
const MAX_BODY: usize = 4 << 20;

/// Parses `NAMESPACE/NAME` (a DNS label and a DNS subdomain name).
pub fn parse_ref(text: &str) -> Result<SecretRef, BootstrapError> {
    let bad = |message: &str| BootstrapError::InvalidArgument {
        field: "--env-secret".into(),
        message: message.into(),
    };
    let (namespace, name) = text
        .split_once('/')
        .ok_or_else(|| bad("expected NAMESPACE/NAME"))?;
    let dns = |s: &str, max: usize, dots: bool| {
        (1..=max).contains(&s.len())
            && s.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || (dots && b == b'.')
            })
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    if !dns(namespace, 63, false) {
        return Err(bad(
            "the namespace must be a DNS label (lower-case, digits, `-`)",
        ));
    }
    if !dns(name, 253, true) {
        return Err(bad(
            "the name must be a DNS subdomain (lower-case, digits, `-`, `.`)",
        ));
    }
    Ok(SecretRef {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    })
}

/// The Secret as read: which one, its identity for the delete, and the declared keys whose
/// values are not UTF-8 text (names only).
#[derive(Debug, Clone)]
pub struct EnvSecret {
    /// The Secret.
    pub target: SecretRef,
    uid: String,
    resource_version: String,
    not_text: Vec<String>,
}

impl EnvSecret {
    /// `namespace/name`, for messages.
    pub fn label(&self) -> String {
        label(&self.target)
    }

    /// [`EnvValues::check`] for values from this Secret: every declared key present, text,
    /// and passing its `check`, all problems reported at once (names only).
    pub fn check(
        &self,
        config: &BootstrapConfig,
        values: &EnvValues,
    ) -> Result<(), BootstrapError> {
        let (missing, mut failed) = match values.check(config) {
            Ok(()) => (Vec::new(), Vec::new()),
            Err(BootstrapError::CheckEnv { missing, failed }) => (missing, failed),
            Err(other) => return Err(other),
        };
        let missing: Vec<String> = missing
            .into_iter()
            .filter(|name| !self.not_text.contains(name))
            .collect();
        failed.extend(
            self.not_text
                .iter()
                .map(|n| format!("{n}: the value is not UTF-8 text")),
        );
        if missing.is_empty() && failed.is_empty() {
            Ok(())
        } else {
            Err(BootstrapError::CheckEnvSecret {
                secret: self.label(),
                missing,
                failed,
            })
        }
    }

    /// After phase 2: reads every declared value back from KV with the admin token, and
    /// only if each equals the Secret's deletes the Secret (uid and resourceVersion as read).
    pub async fn retire(
        &self,
        kube: &kube::Client,
        admin: &ferry_vault::Vault,
        config: &BootstrapConfig,
        values: &EnvValues,
    ) -> Result<(), BootstrapError> {
        let err = |reason: String| BootstrapError::DeleteEnvSecret {
            secret: self.label(),
            reason,
        };
        let mount = &config.kv.mount;
        let engine = match config.kv.version {
            ferry_config::KvVersion::V1 => KvVersion::V1,
            ferry_config::KvVersion::V2 => KvVersion::V2,
        };
        let mut read: BTreeMap<&str, Option<ferry_vault::KvSecret>> = BTreeMap::new();
        for entry in &config.env {
            if !read.contains_key(entry.path.as_str()) {
                let secret = admin
                    .kv_read(mount, &entry.path, engine, None)
                    .await
                    .map_err(BootstrapError::vault(format!(
                        "reading {mount}/{} back",
                        entry.path
                    )))?;
                read.insert(&entry.path, secret);
            }
            let stored = read
                .get(entry.path.as_str())
                .and_then(Option::as_ref)
                .and_then(|s| s.data.get(&entry.key))
                .and_then(|v| v.as_str());
            let same = match (stored, values.get(&entry.name)) {
                (Some(stored), Some(value)) => stored == value.expose_secret(),
                _ => false,
            };
            if !same {
                return Err(err(format!(
                    "{mount}/{} key {} (from {}) does not hold the Secret's value; the Secret is kept",
                    entry.path, entry.key, entry.name
                )));
            }
        }
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: Some(self.resource_version.clone()),
            }),
            ..DeleteParams::default()
        };
        let request = kube::core::Request::new(path(&self.target.namespace))
            .delete(&self.target.name, &params)
            .map_err(|e| err(e.to_string()))?;
        match kube.request_stream(request).await {
            // The answer is the deleted object, values included: read and zeroized.
            Ok(body) => read_body(body).await.map(drop).map_err(err),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => Err(err(
                "it changed or was replaced since bootstrap read it (uid or resourceVersion \
                 differs); the Secret is kept; run bootstrap again"
                    .into(),
            )),
            Err(e) => Err(BootstrapError::kube(format!(
                "deleting Secret {}",
                self.label()
            ))(e)),
        }
    }
}

/// Reads the Secret `target`: `None` if it does not exist; otherwise the Secret and the
/// values of the keys `config.env` declares.
pub async fn read(
    kube: &kube::Client,
    target: &SecretRef,
    config: &BootstrapConfig,
) -> Result<Option<(EnvSecret, EnvValues)>, BootstrapError> {
    let err = |reason: String| BootstrapError::ReadEnvSecret {
        secret: label(target),
        reason,
    };
    let request = kube::core::Request::new(path(&target.namespace))
        .get(&target.name, &GetParams::default())
        .map_err(|e| err(e.to_string()))?;
    let body = match kube.request_stream(request).await {
        Ok(body) => read_body(body).await.map_err(err)?,
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(None),
        Err(e) => {
            return Err(BootstrapError::kube(format!(
                "reading Secret {}",
                label(target)
            ))(e));
        }
    };
    let parsed: Body = serde_json::from_slice(&body).map_err(|e| {
        // serde's message could quote the body: only the position is kept.
        err(format!(
            "the answer is not a Secret (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let mut values = BTreeMap::new();
    let mut not_text = Vec::new();
    for entry in &config.env {
        let Some(encoded) = parsed.data.get(&entry.name) else {
            continue;
        };
        match decode(encoded) {
            Some(value) => {
                values.insert(entry.name.clone(), value);
            }
            None => not_text.push(entry.name.clone()),
        }
    }
    let secret = EnvSecret {
        target: target.clone(),
        uid: parsed.metadata.uid,
        resource_version: parsed.metadata.resource_version,
        not_text,
    };
    Ok(Some((secret, EnvValues::from_values(config, values))))
}

/// The part of a Secret read here; the data stay base64 in [`SecretString`]s until decoded.
#[derive(Deserialize)]
struct Body {
    metadata: Meta,
    #[serde(default)]
    data: BTreeMap<String, SecretString>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    uid: String,
    resource_version: String,
}

/// Base64 → UTF-8 text, through zeroizing buffers; `None` if it is not both.
fn decode(encoded: &SecretString) -> Option<SecretString> {
    let encoded = encoded.expose_secret().as_bytes();
    let engine = base64::engine::general_purpose::STANDARD;
    let mut bytes = Zeroizing::new(Vec::with_capacity(base64::decoded_len_estimate(
        encoded.len(),
    )));
    engine.decode_vec(encoded, &mut bytes).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    // Exactly `len` bytes, so turning it into the secret's box does not reallocate.
    let mut exact = String::with_capacity(text.len());
    exact.push_str(text);
    Some(SecretString::from(exact))
}

/// Reads a response body into a zeroizing buffer that is never reallocated in place (a
/// bigger one is filled and the old one zeroized).
async fn read_body(body: impl AsyncBufRead) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut body = Box::pin(body);
    let mut out = Zeroizing::new(Vec::with_capacity(16 << 10));
    loop {
        let chunk = body
            .fill_buf()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        let n = chunk.len();
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > MAX_BODY {
            return Err(format!("the answer is larger than {MAX_BODY} bytes"));
        }
        if out.len() + n > out.capacity() {
            let mut bigger =
                Zeroizing::new(Vec::with_capacity((out.len() + n).max(out.capacity() * 2)));
            bigger.extend_from_slice(&out);
            out = bigger;
        }
        out.extend_from_slice(chunk);
        body.as_mut().consume(n);
    }
}

fn path(namespace: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/secrets")
}

fn label(target: &SecretRef) -> String {
    format!("{}/{}", target.namespace, target.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespace_slash_name() {
        let r = parse_ref("ferry-system/bootstrap-values").unwrap();
        assert_eq!(
            (r.namespace.as_str(), r.name.as_str()),
            ("ferry-system", "bootstrap-values")
        );
        assert!(parse_ref("ns/name.with.dots").is_ok());
        for bad in [
            "", "name", "/name", "ns/", "Ns/name", "ns/na_me", "ns/-x", "a/b/c", "n.s/x",
        ] {
            let err = parse_ref(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
            assert!(err.to_string().starts_with("--env-secret: "), "{err}");
        }
    }

    #[test]
    fn decodes_base64_text_only() {
        let b64 =
            |s: &[u8]| SecretString::from(base64::engine::general_purpose::STANDARD.encode(s));
        assert_eq!(
            decode(&b64(b"v4lue-\xc3\xa9")).unwrap().expose_secret(),
            "v4lue-é"
        );
        assert!(decode(&b64(b"\xff\xfe")).is_none());
        assert!(decode(&SecretString::from("not base64!".to_owned())).is_none());
    }
}
