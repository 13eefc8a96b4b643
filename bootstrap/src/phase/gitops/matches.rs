//! The wait of phase 3 on the agent: a taken-over Secret matching Vault.
//!
//! "Matching" is decided on keyed hashes: the expected data (Vault's values plus the literal
//! keys) and the Secret's data are each reduced to an HMAC-SHA256 under a key drawn for this
//! run only, and the two tags are compared in constant time. No value is compared, kept
//! beyond the wait, logged or put into an error. The Secret must also be controlled by the
//! ExternalSecret and carry the labels its template sets (Argo CD finds its repository
//! Secrets by label).

use std::collections::BTreeMap;

use ferry_api::{ConditionStatus, ExternalSecret};
use ferry_secret::SecretData;
use ferry_secret::hmac::{constant_time_eq, data_hmac, generate_key};
use ferry_vault::KvVersion;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::core::ResourceExt;
use serde_json::Value;

use super::takeover::{Credentials, Takeover};
use crate::context::PhaseContext;
use crate::error::BootstrapError;
use crate::poll::{self, Check, Wait};

/// Waits until the ExternalSecret reports Ready for its current generation, and the Secret
/// holds exactly the expected keys' values, carries the expected labels and is controlled by
/// that ExternalSecret (`es_uid`). The first alone could be a status from before this run's
/// change; the second alone could be the plaintext Secret found, which usually holds the
/// same values.
pub(crate) async fn secret_matches_vault(
    ctx: &PhaseContext,
    target: &Takeover,
    es_uid: &str,
) -> Result<(), BootstrapError> {
    let (ns, name) = (&target.namespace, &target.name);
    let expected = expected_data(ctx, target).await?;
    let key = generate_key();
    let want = data_hmac(&key, &expected);
    let secrets = Api::<Secret>::namespaced(ctx.kube.clone(), ns);
    let externals = Api::<ExternalSecret>::namespaced(ctx.kube.clone(), ns);
    let wait = Wait {
        what: format!("Secret {ns}/{name} to match Vault"),
        timeout: ctx.timeouts.ready,
        interval: ctx.timeouts.poll,
    };
    poll::until(wait, async || {
        let read = |what: String| BootstrapError::kube(format!("reading {what}"));
        let es = externals
            .get_opt(name)
            .await
            .map_err(read(format!("ExternalSecret {ns}/{name}")))?;
        let secret = secrets
            .get_opt(name)
            .await
            .map_err(read(format!("Secret {ns}/{name}")))?;
        let problem = match (&es, &secret) {
            (None, _) => Some("the ExternalSecret does not exist".to_owned()),
            (_, None) => Some("the Secret does not exist".to_owned()),
            (Some(es), Some(secret)) => not_ready(es)
                .or_else(|| mismatch(secret, &expected, &key, &want, es_uid))
                .or_else(|| missing_label(secret, target)),
        };
        Ok(match problem {
            None => Check::Done(()),
            Some(problem) => Check::NotYet(Some(problem)),
        })
    })
    .await
}

/// The first label the Secret should carry and does not (labels are not secret).
pub(super) fn missing_label(secret: &Secret, target: &Takeover) -> Option<String> {
    let labels = secret.labels();
    target.labels()?.iter().find_map(|(k, v)| {
        (labels.get(k) != Some(v)).then(|| format!("the Secret lacks the label {k}={v}"))
    })
}

/// Why the ExternalSecret is not Ready for its current generation, if it is not (the agent's
/// reasons and messages never carry a value).
fn not_ready(es: &ExternalSecret) -> Option<String> {
    let status = es.status.as_ref();
    let observed = status.and_then(|s| s.observed_generation);
    if observed.is_some() && observed != es.metadata.generation {
        return Some("the agent has not seen this ExternalSecret's spec yet".to_owned());
    }
    match status.and_then(|s| s.ready_condition()) {
        Some(c) if c.status == ConditionStatus::True => None,
        Some(c) => Some(format!(
            "ExternalSecret not Ready: {} {}",
            c.reason.as_deref().unwrap_or_default(),
            c.message.as_deref().unwrap_or_default()
        )),
        None => Some("ExternalSecret has no Ready condition (is the agent running?)".to_owned()),
    }
}

/// What is wrong with the Secret, if anything (never a value).
fn mismatch(
    secret: &Secret,
    expected: &SecretData,
    key: &[u8],
    want: &str,
    es_uid: &str,
) -> Option<String> {
    let owned = secret
        .owner_references()
        .iter()
        .any(|o| o.uid == es_uid && o.controller == Some(true));
    if !owned {
        return Some("the Secret is not controlled by the ExternalSecret yet".to_owned());
    }
    let data = secret.data.as_ref();
    let relevant: BTreeMap<String, ByteString> = expected
        .keys()
        .filter_map(|k| Some((k.to_owned(), data?.get(k)?.clone())))
        .collect();
    let have = data_hmac(key, &SecretData::from_byte_strings(&relevant));
    if constant_time_eq(&have, want) {
        None
    } else {
        Some("the Secret's content differs from Vault".to_owned())
    }
}

/// The data the Secret must hold: each Vault-backed key read from KV with the admin token
/// (one read per KV path), and each literal key.
async fn expected_data(
    ctx: &PhaseContext,
    target: &Takeover,
) -> Result<SecretData, BootstrapError> {
    let creds: &Credentials = &target.creds;
    let kv = &ctx.config.kv;
    let engine = match kv.version {
        ferry_config::KvVersion::V1 => KvVersion::V1,
        ferry_config::KvVersion::V2 => KvVersion::V2,
    };
    let mut expected = SecretData::new();
    for (name, value) in creds.literals() {
        expected.insert(name.to_owned(), value.as_bytes().to_vec());
    }
    let mut read: BTreeMap<&str, Option<ferry_vault::KvSecret>> = BTreeMap::new();
    for (name, path, key) in creds.vault_keys() {
        if !read.contains_key(path) {
            let secret = ctx
                .admin
                .kv_read(&kv.mount, path, engine, None)
                .await
                .map_err(BootstrapError::vault(format!(
                    "reading {}/{path} to compare it with Secret {}",
                    kv.mount,
                    target.secret()
                )))?;
            read.insert(path, secret);
        }
        let value = read
            .get(path)
            .and_then(|s| s.as_ref())
            .and_then(|s| s.data.get(key))
            .ok_or_else(|| BootstrapError::GitSecretValueMissing {
                secret: target.secret(),
                mount: kv.mount.clone(),
                path: path.to_owned(),
                key: key.to_owned(),
            })?;
        expected.insert(name.to_owned(), value_bytes(value));
    }
    Ok(expected)
}

/// A KV value as the agent writes it into a Secret: a string as is, anything else as JSON.
fn value_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(s) => s.as_bytes().to_vec(),
        other => other.to_string().into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret(data: &[(&str, &str)], owner: Option<&str>) -> Secret {
        let data: BTreeMap<String, ByteString> = data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
            .collect();
        let mut s = Secret {
            data: Some(data),
            ..Secret::default()
        };
        if let Some(uid) = owner {
            s.metadata.owner_references = Some(vec![
                k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                    api_version: "external-secrets.io/v1".into(),
                    kind: "ExternalSecret".into(),
                    name: "flux-system".into(),
                    uid: uid.into(),
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                },
            ]);
        }
        s
    }

    #[test]
    fn mismatch_compares_keyed_hashes_of_the_expected_keys_only() {
        let mut expected = SecretData::new();
        expected.insert("username".into(), b"git".to_vec());
        expected.insert("password".into(), b"token".to_vec());
        let key = generate_key();
        let want = data_hmac(&key, &expected);
        let good = secret(
            &[("username", "git"), ("password", "token"), ("extra", "x")],
            Some("u1"),
        );
        assert_eq!(mismatch(&good, &expected, &key, &want, "u1"), None);
        let unowned = secret(&[("username", "git"), ("password", "token")], None);
        assert!(mismatch(&unowned, &expected, &key, &want, "u1").is_some());
        let other_owner = secret(&[("username", "git"), ("password", "token")], Some("u2"));
        assert!(mismatch(&other_owner, &expected, &key, &want, "u1").is_some());
        let stale = secret(&[("username", "git"), ("password", "old")], Some("u1"));
        let problem = mismatch(&stale, &expected, &key, &want, "u1").unwrap();
        assert!(!problem.contains("old") && !problem.contains("token"));
        let missing = secret(&[("password", "token")], Some("u1"));
        assert!(mismatch(&missing, &expected, &key, &want, "u1").is_some());
    }

    fn external_secret(generation: i64, status: Value) -> ExternalSecret {
        serde_json::from_value(json!({
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": { "name": "flux-system", "generation": generation },
            "spec": { "secretStoreRef": { "name": "vault-backend" } },
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn the_external_secret_must_be_ready_for_its_current_generation() {
        let ready = json!({ "observedGeneration": 2,
            "conditions": [{ "type": "Ready", "status": "True", "reason": "SecretSynced" }] });
        assert_eq!(not_ready(&external_secret(2, ready.clone())), None);
        assert!(
            not_ready(&external_secret(3, ready))
                .unwrap()
                .contains("not seen")
        );
        let failing = json!({ "observedGeneration": 1, "conditions": [{ "type": "Ready",
            "status": "False", "reason": "SecretSyncedError", "message": "permission denied" }] });
        let why = not_ready(&external_secret(1, failing)).unwrap();
        assert!(why.contains("SecretSyncedError") && why.contains("permission denied"));
        assert!(
            not_ready(&external_secret(1, json!({})))
                .unwrap()
                .contains("agent")
        );
    }

    #[test]
    fn non_string_values_are_json() {
        assert_eq!(value_bytes(&json!("a")), b"a");
        assert_eq!(value_bytes(&json!(42)), b"42");
        assert_eq!(value_bytes(&json!({"a": 1})), br#"{"a":1}"#);
    }
}
