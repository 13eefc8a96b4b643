//! Tests of the PushSecret and ClusterPushSecret types: ESO's manifests deserialise with ESO's
//! defaults, statuses ESO wrote read back, and the CRDs are served at `v1alpha1` only.

#![allow(clippy::unwrap_used)]

use serde_json::json;

use crate::push_secret::{PUSH_SECRET_VERSION, PushSecretConversionStrategy};
use crate::*;

fn from_yaml<T: serde::de::DeserializeOwned>(yaml: &str) -> T {
    match serde_norway::from_str(yaml) {
        Ok(value) => value,
        Err(err) => panic!("manifest does not deserialise: {err}"),
    }
}

/// ESO's documented example, trimmed to the fields of the Vault provider.
const ESO_PUSH_SECRET: &str = r#"
apiVersion: external-secrets.io/v1alpha1
kind: PushSecret
metadata:
  name: pushsecret-example
  namespace: default
spec:
  updatePolicy: Replace
  deletionPolicy: Delete
  refreshInterval: 1h0m0s
  secretStoreRefs:
    - name: vault
      kind: SecretStore
    - labelSelector:
        matchLabels:
          push: "true"
      kind: ClusterSecretStore
  selector:
    secret:
      name: pokedex-credentials
  template:
    metadata:
      annotations: {}
      labels: {}
    data:
      best-pokemon: "{{ .best-pokemon | toString | upper }} is the really best!"
  data:
    - conversionStrategy: None
      match:
        secretKey: best-pokemon
        remoteRef:
          remoteKey: my-first-parameter
          property: pokemon
      metadata:
        apiVersion: kubernetes.external-secrets.io/v1alpha1
        kind: PushSecretMetadata
        spec:
          customMetadata:
            team: kanto
"#;

#[test]
fn eso_push_secret_deserialises_and_round_trips() {
    let ps: PushSecret = from_yaml(ESO_PUSH_SECRET);
    let spec = &ps.spec;
    assert_eq!(spec.update_policy, PushSecretUpdatePolicy::Replace);
    assert_eq!(spec.deletion_policy, PushSecretDeletionPolicy::Delete);
    assert_eq!(
        spec.refresh_interval().unwrap(),
        std::time::Duration::from_secs(3600)
    );
    assert_eq!(spec.secret_store_refs[0].name.as_deref(), Some("vault"));
    assert_eq!(
        spec.secret_store_refs[1].kind,
        StoreKind::ClusterSecretStore
    );
    assert!(spec.secret_store_refs[1].label_selector.is_some());
    let entry = &spec.data[0];
    assert_eq!(entry.match_.secret_key(), Some("best-pokemon"));
    assert_eq!(
        entry.match_.remote_ref.status_key(),
        "my-first-parameter/pokemon"
    );
    assert_eq!(
        entry.conversion_strategy,
        PushSecretConversionStrategy::None
    );
    assert_eq!(
        entry.metadata.as_ref().unwrap()["spec"]["customMetadata"]["team"],
        "kanto"
    );
    assert!(
        spec.template
            .as_ref()
            .unwrap()
            .data
            .contains_key("best-pokemon")
    );
    let json = serde_json::to_value(&ps).unwrap();
    assert_eq!(serde_json::from_value::<PushSecret>(json).unwrap(), ps);
}

#[test]
fn a_minimal_push_secret_gets_eso_defaults() {
    let ps: PushSecret = serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1alpha1", "kind": "PushSecret",
        "metadata": { "name": "p" },
        "spec": { "secretStoreRefs": [{ "name": "v" }], "selector": { "secret": { "name": "s" } },
            "data": [{ "match": { "remoteRef": { "remoteKey": "k" } } }] }
    }))
    .unwrap();
    assert_eq!(ps.spec.update_policy, PushSecretUpdatePolicy::Replace);
    assert_eq!(ps.spec.deletion_policy, PushSecretDeletionPolicy::None);
    assert_eq!(ps.spec.refresh_interval, "1h");
    assert_eq!(ps.spec.secret_store_refs[0].kind, StoreKind::SecretStore);
    let m = &ps.spec.data[0].match_;
    assert_eq!((m.secret_key(), m.remote_ref.property()), (None, None));
    assert_eq!(m.remote_ref.status_key(), "k");
}

#[test]
fn eso_written_push_status_deserialises() {
    let status: PushSecretStatus = serde_json::from_value(json!({
        "refreshTime": "2025-01-01T00:00:00Z",
        "syncedResourceVersion": "1-abc",
        "syncedPushSecrets": { "SecretStore/vault": { "app/pw": {
            "match": { "secretKey": "pw", "remoteRef": { "remoteKey": "app", "property": "pw" } } } } },
        "conditions": [{ "type": "Ready", "status": "True", "reason": "Synced",
            "message": "PushSecret synced successfully", "lastTransitionTime": "2025-01-01T00:00:00Z" }]
    }))
    .unwrap();
    assert_eq!(
        status.ready_condition().unwrap().status,
        ConditionStatus::True
    );
    let entry = &status.synced_push_secrets["SecretStore/vault"]["app/pw"];
    assert_eq!(entry.match_.remote_ref.remote_key, "app");
}

#[test]
fn cluster_push_secret_deserialises() {
    let cps: ClusterPushSecret = serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1alpha1", "kind": "ClusterPushSecret",
        "metadata": { "name": "hello-world" },
        "spec": {
            "refreshTime": "1m",
            "namespaceSelectors": [{ "matchLabels": { "push": "yes" } }],
            "pushSecretMetadata": { "labels": { "team": "a" } },
            "pushSecretSpec": { "secretStoreRefs": [{ "name": "v", "kind": "ClusterSecretStore" }],
                "selector": { "secret": { "name": "s" } },
                "data": [{ "match": { "remoteRef": { "remoteKey": "k" } } }] }
        }
    }))
    .unwrap();
    assert_eq!(cps.push_secret_name(), "hello-world");
    assert_eq!(cps.spec.refresh_time.as_deref(), Some("1m"));
    assert_eq!(cps.spec.namespace_selectors.len(), 1);
    assert_eq!(cps.spec.push_secret_metadata.labels["team"], "a");
    let json = serde_json::to_value(&cps).unwrap();
    assert_eq!(
        serde_json::from_value::<ClusterPushSecret>(json).unwrap(),
        cps
    );
}

#[test]
fn push_crds_are_served_at_v1alpha1_only() {
    let crds = crds();
    for (kind, plural, scope, short) in [
        ("PushSecret", "pushsecrets", "Namespaced", Some("ps")),
        ("ClusterPushSecret", "clusterpushsecrets", "Cluster", None),
    ] {
        let crd = crds
            .iter()
            .find(|c| c.spec.names.kind == kind)
            .unwrap_or_else(|| panic!("no CRD for {kind}"));
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some(&*format!("{plural}.{GROUP}"))
        );
        assert_eq!(crd.spec.scope, scope);
        let versions: Vec<_> = crd
            .spec
            .versions
            .iter()
            .map(|v| (v.name.as_str(), v.storage))
            .collect();
        assert_eq!(versions, [(PUSH_SECRET_VERSION, true)]);
        assert_eq!(
            crd.spec.names.short_names.as_deref(),
            short.map(|s| vec![s.to_owned()]).as_deref()
        );
        let status = &crd.spec.versions[0].subresources.as_ref().unwrap().status;
        assert!(status.is_some(), "{kind} has a status subresource");
    }
}
