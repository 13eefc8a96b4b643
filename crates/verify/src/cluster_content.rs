//! Known values and token formats in what the cluster stores outside Secrets: ConfigMap
//! `data`/`binaryData`, literal `env[].value`s of workloads, the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation, and Helm release payloads.
//!
//! A Helm release (a Secret of type [`HELM_RELEASE_TYPE`], or a ConfigMap labelled
//! `owner: helm` with the ConfigMap storage driver) keeps the release under `release` as base64
//! of gzip of JSON; it is decoded (at most [`MAX_HELM_RELEASE`] bytes) into a wiped buffer and
//! scanned. The Secret-manifest rules are applied to ConfigMap data only: elsewhere a Secret's
//! shape is expected (a chart's rendered manifest, a Secret's own last-applied copy), and what
//! matters is whether a known value or a token is in it.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, DynamicObject};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::{Finding, Location, Scanner, rules};

/// The Secret type Helm stores releases in.
pub const HELM_RELEASE_TYPE: &str = "helm.sh/release.v1";

/// The annotation `kubectl apply` keeps a full copy of the applied object in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The largest decompressed Helm release scanned, in bytes.
pub const MAX_HELM_RELEASE: u64 = 64 * 1024 * 1024;

/// Kinds whose controllers own Pods with the same template; such Pods are not scanned twice.
const POD_CONTROLLERS: [&str; 4] = ["ReplicaSet", "StatefulSet", "DaemonSet", "Job"];

/// Kind, namespace and name of an object, for locations.
pub(crate) struct ObjRef {
    kind: &'static str,
    namespace: Option<String>,
    name: String,
}

impl ObjRef {
    /// The reference of an object of `kind` with `meta`.
    pub(crate) fn of(kind: &'static str, meta: &ObjectMeta) -> Self {
        Self {
            kind,
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
        }
    }

    /// Its location, at `field` if given.
    pub(crate) fn location(&self, field: Option<String>) -> Location {
        Location::Object {
            kind: self.kind.to_owned(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            field,
        }
    }
}

/// Scans `bytes` and adds a finding at `field` of `r` per hit (Secret-manifest rules only when
/// `manifests`). `what` says where the bytes came from, for the message.
pub(crate) fn scan_field(
    scanner: &Scanner,
    r: &ObjRef,
    field: String,
    bytes: &[u8],
    manifests: bool,
    out: &mut Vec<Finding>,
) {
    for hit in scanner.scan(bytes) {
        let manifest_rule =
            hit.rule == rules::K8S_SECRET_MANIFEST || hit.rule == rules::SOPS_PLAINTEXT_LEAF;
        if manifest_rule && !manifests {
            continue;
        }
        let message = if hit.line > 1 {
            format!("{} (line {} of the field)", hit.message, hit.line)
        } else {
            hit.message
        };
        out.push(Finding::new(
            hit.rule,
            r.location(Some(field.clone())),
            message,
        ));
    }
}

/// The last-applied annotation of any object.
pub(crate) fn scan_last_applied(
    scanner: &Scanner,
    r: &ObjRef,
    meta: &ObjectMeta,
    out: &mut Vec<Finding>,
) {
    if let Some(text) = meta.annotations.as_ref().and_then(|a| a.get(LAST_APPLIED)) {
        let field = format!("metadata.annotations[{LAST_APPLIED}]");
        scan_field(scanner, r, field, text.as_bytes(), false, out);
    }
}

/// A ConfigMap: every `data` and `binaryData` value, its last-applied annotation, and a Helm
/// release stored by the ConfigMap driver.
pub(crate) fn scan_config_map(scanner: &Scanner, cm: &ConfigMap, out: &mut Vec<Finding>) {
    let r = ObjRef::of("ConfigMap", &cm.metadata);
    scan_last_applied(scanner, &r, &cm.metadata, out);
    let helm = cm
        .metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.get("owner").map(String::as_str) == Some("helm"));
    for (key, value) in cm.data.iter().flatten() {
        let field = format!("data.{key}");
        if helm && key == "release" {
            scan_helm_payload(scanner, &r, field, value.as_bytes(), out);
        } else {
            scan_field(scanner, &r, field, value.as_bytes(), true, out);
        }
    }
    for (key, value) in cm.binary_data.iter().flatten() {
        scan_field(
            scanner,
            &r,
            format!("binaryData.{key}"),
            &value.0,
            true,
            out,
        );
    }
}

/// A Helm release Secret: its `release` key decoded and scanned.
pub(crate) fn scan_helm_secret(
    scanner: &Scanner,
    r: &ObjRef,
    secret: &Secret,
    out: &mut Vec<Finding>,
) {
    for (key, value) in secret.data.iter().flatten() {
        scan_helm_payload(scanner, r, format!("data.{key}"), &value.0, out);
    }
}

/// Decodes base64 → gzip → JSON text (each step only if it applies) and scans the result.
fn scan_helm_payload(
    scanner: &Scanner,
    r: &ObjRef,
    field: String,
    payload: &[u8],
    out: &mut Vec<Finding>,
) {
    let trimmed = payload.trim_ascii();
    let mut decoded = Zeroizing::new(vec![0u8; trimmed.len() / 4 * 3 + 3]);
    let bytes: &[u8] = match STANDARD.decode_slice(trimmed, &mut decoded[..]) {
        Ok(n) => &decoded[..n],
        Err(_) => trimmed,
    };
    let mut inflated = Zeroizing::new(Vec::new());
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut gz = flate2::read::GzDecoder::new(bytes).take(MAX_HELM_RELEASE);
        // Reserve up front so growth never leaves an unwiped copy behind.
        inflated.reserve(bytes.len().saturating_mul(8).min(MAX_HELM_RELEASE as usize));
        match gz.read_to_end(&mut inflated) {
            Ok(_) => &inflated[..],
            Err(_) => bytes,
        }
    } else {
        bytes
    };
    scan_field(scanner, r, field, bytes, false, out);
}

/// The workload kinds whose env literals are scanned, as dynamic resources.
pub(crate) fn workload_resources() -> Vec<(&'static str, ApiResource)> {
    vec![
        ("Pod", ApiResource::erase::<Pod>(&())),
        ("Deployment", ApiResource::erase::<Deployment>(&())),
        ("StatefulSet", ApiResource::erase::<StatefulSet>(&())),
        ("DaemonSet", ApiResource::erase::<DaemonSet>(&())),
        ("Job", ApiResource::erase::<Job>(&())),
        ("CronJob", ApiResource::erase::<CronJob>(&())),
    ]
}

/// A workload: every literal `env[].value` under `spec`, and its last-applied annotation. Pods
/// controlled by a ReplicaSet, StatefulSet, DaemonSet or Job are covered by their controller's
/// template (or the Deployment's) and skipped.
pub(crate) fn scan_workload(
    scanner: &Scanner,
    kind: &'static str,
    obj: &DynamicObject,
    out: &mut Vec<Finding>,
) {
    let r = ObjRef::of(kind, &obj.metadata);
    scan_last_applied(scanner, &r, &obj.metadata, out);
    let controlled = obj
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && POD_CONTROLLERS.contains(&o.kind.as_str()));
    if kind == "Pod" && controlled {
        return;
    }
    walk_env(scanner, &r, &obj.data["spec"], "spec".to_owned(), out);
}

/// Finds every `env` list under `value` and scans each entry's literal `value`.
fn walk_env(scanner: &Scanner, r: &ObjRef, value: &Value, path: String, out: &mut Vec<Finding>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_path = format!("{path}.{key}");
                if key == "env"
                    && let Value::Array(items) = child
                {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(text) = item["value"].as_str() {
                            let name = item["name"].as_str().unwrap_or_default();
                            let field = format!("{child_path}[{i}] ({name})");
                            scan_field(scanner, r, field, text.as_bytes(), false, out);
                        }
                    }
                } else {
                    walk_env(scanner, r, child, child_path, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_env(scanner, r, item, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use secrecy::SecretString;

    use super::*;

    const VALUE: &str = "helm-known-value-9f3k";

    #[test]
    fn helm_payload_is_decoded_and_scanned() {
        let scanner = Scanner::new(vec![SecretString::from(VALUE.to_owned())]).unwrap();
        let json = format!("{{\"name\":\"web\",\"config\":{{\"password\":\"{VALUE}\"}}}}");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(json.as_bytes()).unwrap();
        let payload = STANDARD.encode(gz.finish().unwrap());
        let r = ObjRef {
            kind: "Secret",
            namespace: Some("apps".into()),
            name: "sh.helm.release.v1.web.v1".into(),
        };
        let mut out = Vec::new();
        scan_helm_payload(
            &scanner,
            &r,
            "data.release".into(),
            payload.as_bytes(),
            &mut out,
        );
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].rule, rules::KNOWN_VALUE);
        assert!(!out[0].to_string().contains(VALUE));
    }

    #[test]
    fn env_literals_are_found_with_their_field() {
        let scanner = Scanner::new(vec![SecretString::from(VALUE.to_owned())]).unwrap();
        let spec = serde_json::json!({ "template": { "spec": { "containers": [
            { "name": "a", "env": [ { "name": "X", "value": "plain" },
                                    { "name": "DB", "value": VALUE } ] } ] } } });
        let r = ObjRef {
            kind: "Deployment",
            namespace: Some("apps".into()),
            name: "web".into(),
        };
        let mut out = Vec::new();
        walk_env(&scanner, &r, &spec, "spec".into(), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].location.to_string(),
            "Deployment/apps/web spec.template.spec.containers[0].env[1] (DB)"
        );
    }
}
