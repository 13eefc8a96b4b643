//! The waits of phase 3: the Flux Secret matching Vault, and Flux reconciling its
//! GitRepository with the new credentials.
//!
//! "Matching" is decided on keyed hashes: the expected data (Vault's values plus the literal
//! keys) and the Secret's data are each reduced to an HMAC-SHA256 under a key drawn for this
//! run only, and the two tags are compared in constant time. No value is compared, kept
//! beyond the wait, logged or put into an error.

use std::collections::BTreeMap;

use ferry_api::{ConditionStatus, ExternalSecret};
use ferry_secret::SecretData;
use ferry_secret::hmac::{constant_time_eq, data_hmac, generate_key};
use ferry_vault::KvVersion;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::core::ResourceExt;
use serde_json::{Value, json};

use super::manifests::{self, Credentials};
use crate::context::PhaseContext;
use crate::error::BootstrapError;
use crate::poll::{self, Check, Wait};

/// Flux's GitRepository CRD.
const GIT_REPOSITORY_CRD: &str = "gitrepositories.source.toolkit.fluxcd.io";
/// Flux's source API group.
const FLUX_SOURCE_GROUP: &str = "source.toolkit.fluxcd.io";
/// The annotation that asks a Flux controller to reconcile now (its value is a token that
/// the controller echoes in `status.lastHandledReconcileAt`).
pub const REQUESTED_AT_ANNOTATION: &str = "reconcile.fluxcd.io/requestedAt";

/// Waits until the ExternalSecret reports Ready for its current generation, and the Flux
/// Secret holds exactly the expected keys' values and is controlled by that ExternalSecret
/// (`es_uid`). The first alone could be a status from before this run's change; the second
/// alone could be the plaintext `flux bootstrap` left, which usually holds the same values.
pub(super) async fn secret_matches_vault(
    ctx: &PhaseContext,
    creds: &Credentials,
    es_uid: &str,
) -> Result<(), BootstrapError> {
    let flux = &ctx.config.flux;
    let expected = expected_data(ctx, creds).await?;
    let key = generate_key();
    let want = data_hmac(&key, &expected);
    let secrets = Api::<Secret>::namespaced(ctx.kube.clone(), &flux.namespace);
    let es_name = manifests::external_secret_name(&ctx.config);
    let externals = Api::<ExternalSecret>::namespaced(ctx.kube.clone(), &flux.namespace);
    let wait = Wait {
        what: format!(
            "Secret {}/{} to match Vault",
            flux.namespace, flux.secret_name
        ),
        timeout: ctx.timeouts.ready,
        interval: ctx.timeouts.poll,
    };
    poll::until(wait, async || {
        let read = |what: String| BootstrapError::kube(format!("reading {what}"));
        let es = externals
            .get_opt(es_name)
            .await
            .map_err(read(format!("ExternalSecret {}/{es_name}", flux.namespace)))?;
        let secret = secrets
            .get_opt(&flux.secret_name)
            .await
            .map_err(read(format!(
                "Secret {}/{}",
                flux.namespace, flux.secret_name
            )))?;
        let problem = match (&es, &secret) {
            (None, _) => Some("the ExternalSecret does not exist".to_owned()),
            (_, None) => Some("the Secret does not exist".to_owned()),
            (Some(es), Some(secret)) => {
                not_ready(es).or_else(|| mismatch(secret, &expected, &key, &want, es_uid))
            }
        };
        Ok(match problem {
            None => Check::Done(()),
            Some(problem) => Check::NotYet(Some(problem)),
        })
    })
    .await
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

/// The data the Flux Secret must hold: each Vault-backed key read from KV with the admin
/// token (one read per KV path), and each literal key.
async fn expected_data(
    ctx: &PhaseContext,
    creds: &Credentials,
) -> Result<SecretData, BootstrapError> {
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
                    "reading {}/{path} to compare it with the Flux Secret",
                    kv.mount
                )))?;
            read.insert(path, secret);
        }
        let value = read
            .get(path)
            .and_then(|s| s.as_ref())
            .and_then(|s| s.data.get(key))
            .ok_or_else(|| BootstrapError::FluxValueMissing {
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

/// Requests a reconcile of Flux's GitRepository and waits for it to be Ready; skipped when
/// Flux's CRD is not installed.
pub(super) async fn reconcile_git_repository(ctx: &PhaseContext) -> Result<(), BootstrapError> {
    let guard = ctx
        .progress
        .step("request a Flux reconcile of the GitRepository");
    let (api, token) = match request_reconcile(ctx).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            guard.skipped("Flux not installed");
            return Ok(());
        }
        Err(e) => {
            guard.failed(&e);
            return Err(e);
        }
    };
    guard.done();
    let guard = ctx
        .progress
        .wait_step("wait for the GitRepository to be Ready");
    super::finish(guard, wait_ready(ctx, &api, &token).await)
}

/// Annotates the GitRepository with a fresh `requestedAt` token; `None` without Flux.
async fn request_reconcile(
    ctx: &PhaseContext,
) -> Result<Option<(Api<DynamicObject>, String)>, BootstrapError> {
    let flux = &ctx.config.flux;
    let crds = Api::<CustomResourceDefinition>::all(ctx.kube.clone());
    let Some(crd) = crds
        .get_opt(GIT_REPOSITORY_CRD)
        .await
        .map_err(BootstrapError::kube(format!(
            "reading CRD {GIT_REPOSITORY_CRD}"
        )))?
    else {
        return Ok(None);
    };
    let version = served_version(&crd).ok_or_else(|| BootstrapError::FluxObject {
        object: format!("CRD {GIT_REPOSITORY_CRD}"),
        reason: "serves no version".to_owned(),
    })?;
    let gvk = GroupVersionKind::gvk(FLUX_SOURCE_GROUP, &version, "GitRepository");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "gitrepositories");
    let api = Api::<DynamicObject>::namespaced_with(ctx.kube.clone(), &flux.namespace, &resource);
    let what = format!("GitRepository {}/{}", flux.namespace, flux.git_repository);
    if api
        .get_opt(&flux.git_repository)
        .await
        .map_err(BootstrapError::kube(format!("reading {what}")))?
        .is_none()
    {
        return Err(BootstrapError::FluxObject {
            object: what,
            reason: "does not exist (flux.gitRepository names it)".to_owned(),
        });
    }
    let token = crate::kubeutil::now();
    let patch = json!({ "metadata": { "annotations": { REQUESTED_AT_ANNOTATION: token } } });
    api.patch(
        &flux.git_repository,
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(BootstrapError::kube(format!("annotating {what}")))?;
    Ok(Some((api, token)))
}

/// The version to use: `v1` when served, else the storage version, else any served one.
fn served_version(crd: &CustomResourceDefinition) -> Option<String> {
    let served: Vec<_> = crd.spec.versions.iter().filter(|v| v.served).collect();
    served
        .iter()
        .find(|v| v.name == "v1")
        .or_else(|| served.iter().find(|v| v.storage))
        .or_else(|| served.first())
        .map(|v| v.name.clone())
}

/// Waits until the GitRepository has handled `token` and is Ready.
async fn wait_ready(
    ctx: &PhaseContext,
    api: &Api<DynamicObject>,
    token: &str,
) -> Result<(), BootstrapError> {
    let flux = &ctx.config.flux;
    let what = format!("GitRepository {}/{}", flux.namespace, flux.git_repository);
    let wait = Wait {
        what: format!("{what} to be Ready after the reconcile request"),
        timeout: ctx.timeouts.ready,
        interval: ctx.timeouts.poll,
    };
    poll::until(wait, async || {
        let repo = api
            .get_opt(&flux.git_repository)
            .await
            .map_err(BootstrapError::kube(format!("reading {what}")))?;
        Ok(match repo.as_ref().map(|r| ready_state(r, token)) {
            Some(Ok(())) => Check::Done(()),
            Some(Err(last)) => Check::NotYet(Some(last)),
            None => Check::NotYet(Some("it no longer exists".to_owned())),
        })
    })
    .await
}

/// `Ok` when the object handled the reconcile request `token` and its Ready condition is
/// True; otherwise what it shows.
pub(crate) fn ready_state(repo: &DynamicObject, token: &str) -> Result<(), String> {
    let status = repo.data.get("status");
    let handled = status
        .and_then(|s| s.get("lastHandledReconcileAt"))
        .and_then(Value::as_str);
    if handled != Some(token) {
        return Err("Flux has not handled the reconcile request yet".to_owned());
    }
    let ready = status
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"));
    let Some(ready) = ready else {
        return Err("no Ready condition".to_owned());
    };
    if ready["status"] == "True" {
        return Ok(());
    }
    Err(format!(
        "Ready={} {}: {}",
        ready["status"].as_str().unwrap_or("Unknown"),
        ready["reason"].as_str().unwrap_or_default(),
        ready["message"].as_str().unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(status: Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": { "name": "flux-system" }, "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn ready_needs_the_handled_token_and_a_true_condition() {
        let ok = repo(json!({ "lastHandledReconcileAt": "t1",
            "conditions": [{ "type": "Ready", "status": "True", "reason": "Succeeded" }] }));
        assert_eq!(ready_state(&ok, "t1"), Ok(()));
        assert!(ready_state(&ok, "t2").unwrap_err().contains("not handled"));
        let failing = repo(json!({ "lastHandledReconcileAt": "t1",
            "conditions": [{ "type": "Ready", "status": "False", "reason": "GitOperationFailed",
                "message": "authentication required" }] }));
        let err = ready_state(&failing, "t1").unwrap_err();
        assert!(err.contains("GitOperationFailed") && err.contains("authentication"));
        assert!(ready_state(&repo(json!({})), "t1").is_err());
    }

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
