//! Crate-level tests: ESO manifests deserialise and round-trip, defaults apply, and the CRDs
//! have the expected shape and match the copy committed to the Helm chart.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::crd::{CRDS_YAML_PATH, LEGACY_VERSION, REGENERATE_COMMAND, STORAGE_VERSION};
use crate::external_secret::{
    ConversionStrategy, DecodingStrategy, MetadataPolicy, RewriteMergeStrategy,
    TemplateEngineVersion, TemplateMergePolicy, TemplateScope, TemplateTarget,
};
use crate::meta::reason;
use crate::vault::CaProviderType;
use crate::*;

const SEED_CLUSTER_STORE: &str = r#"
apiVersion: external-secrets.io/v1beta1
kind: ClusterSecretStore
metadata: {name: vault-backend}
spec:
  provider:
    vault:
      server: "http://vault.vault-system.svc.cluster.local:8200"
      path: "secret"
      version: "v2"
      auth:
        kubernetes:
          mountPath: "kubernetes"
          role: "external-secrets"
          serviceAccountRef: {name: "external-secrets", namespace: "external-secrets-system"}
"#;

const SEED_EXTERNAL_SECRET: &str = r#"
apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata: {name: github-auth, namespace: flux-system}
spec:
  refreshInterval: 1h
  secretStoreRef: {name: vault-backend, kind: ClusterSecretStore}
  target: {name: flux-system, creationPolicy: Owner}
  data:
  - secretKey: username
    remoteRef: {key: github/auth, property: username}
  - secretKey: password
    remoteRef: {key: github/auth, property: token}
"#;

const APPROLE_STORE: &str = r#"
apiVersion: external-secrets.io/v1beta1
kind: SecretStore
metadata: {name: vault-approle, namespace: apps}
spec:
  controller: ferry
  refreshInterval: 300
  retrySettings: {maxRetries: 3, retryInterval: 10s}
  provider:
    vault:
      server: "https://vault.example.com:8200"
      path: kv
      version: v1
      namespace: team-a
      caBundle: "LS0tLS1CRUdJTi0tLS0t"
      readYourWrites: true
      headers: {X-Team: a}
      auth:
        appRole:
          roleId: "db02de05-fa39-4855-059b-67221c5c2f63"
          secretRef: {name: vault-approle, key: secret-id}
"#;

const JWT_STORE: &str = r#"
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: vault-jwt, namespace: apps}
spec:
  provider:
    vault:
      server: "https://vault.example.com:8200"
      path: secret
      caProvider: {type: ConfigMap, name: vault-ca, key: ca.crt}
      auth:
        jwt:
          role: apps
          kubernetesServiceAccountToken:
            serviceAccountRef: {name: apps-reader, audiences: [vault]}
            expirationSeconds: 900
"#;

fn from_yaml<T: DeserializeOwned>(yaml: &str) -> T {
    match serde_norway::from_str(yaml) {
        Ok(value) => value,
        Err(err) => panic!("manifest does not deserialise: {err}"),
    }
}

/// Serialises to JSON and back, asserting nothing is lost or changed.
fn assert_round_trip<T>(value: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_value(value).expect("serialise");
    let back: T = serde_json::from_value(json.clone()).expect("deserialise");
    assert_eq!(&back, value, "round trip changed the object: {json}");
    let yaml = serde_norway::to_string(value).expect("serialise yaml");
    let back: T = from_yaml(&yaml);
    assert_eq!(&back, value, "YAML round trip changed the object:\n{yaml}");
}

#[test]
fn seed_cluster_secret_store_deserialises() {
    let store: ClusterSecretStore = from_yaml(SEED_CLUSTER_STORE);
    assert_eq!(store.metadata.name.as_deref(), Some("vault-backend"));
    assert_eq!(store.spec.provider.configured(), ["vault"]);
    let vault = store.spec.provider.vault.as_ref().expect("vault provider");
    assert_eq!(
        vault.server,
        "http://vault.vault-system.svc.cluster.local:8200"
    );
    assert_eq!(vault.path.as_deref(), Some("secret"));
    assert_eq!(vault.version, VaultKvVersion::V2);
    let auth = vault.auth.as_ref().expect("auth");
    assert_eq!(auth.configured_methods(), ["kubernetes"]);
    let k8s = auth.kubernetes.as_ref().expect("kubernetes auth");
    assert_eq!(k8s.mount_path, "kubernetes");
    assert_eq!(k8s.role, "external-secrets");
    let sa = k8s.service_account_ref.as_ref().expect("serviceAccountRef");
    assert_eq!(sa.name, "external-secrets");
    assert_eq!(sa.namespace.as_deref(), Some("external-secrets-system"));
    assert!(store.status.is_none());
    assert_round_trip(&store);

    // The spec of a ClusterSecretStore is usable wherever a SecretStoreSpec is expected.
    let spec: &SecretStoreSpec = &store.spec;
    assert!(spec.conditions.is_empty());
}

#[test]
fn seed_external_secret_deserialises_with_defaults() {
    let es: ExternalSecret = from_yaml(SEED_EXTERNAL_SECRET);
    assert_eq!(es.spec.secret_store_ref.name, "vault-backend");
    assert_eq!(es.spec.secret_store_ref.kind, StoreKind::ClusterSecretStore);
    assert_eq!(es.spec.refresh_interval(), Ok(Duration::from_secs(3600)));
    assert_eq!(es.spec.effective_refresh_policy(), RefreshPolicy::Periodic);
    assert_eq!(es.target_name(), "flux-system");
    assert_eq!(es.spec.target.creation_policy, CreationPolicy::Owner);
    assert_eq!(es.spec.target.deletion_policy, DeletionPolicy::Retain);
    assert!(!es.spec.target.immutable);
    assert!(es.spec.target.template.is_none());
    assert_eq!(es.spec.data.len(), 2);
    let password = &es.spec.data[1];
    assert_eq!(password.secret_key, "password");
    assert_eq!(password.remote_ref.key, "github/auth");
    assert_eq!(password.remote_ref.property.as_deref(), Some("token"));
    assert_eq!(password.remote_ref.version, None);
    assert_eq!(password.remote_ref.metadata_policy, MetadataPolicy::None);
    assert_eq!(
        password.remote_ref.conversion_strategy,
        ConversionStrategy::Default
    );
    assert_eq!(
        password.remote_ref.decoding_strategy,
        DecodingStrategy::None
    );
    assert!(es.spec.data_from.is_empty());
    assert_round_trip(&es);
}

#[test]
fn minimal_external_secret_gets_eso_defaults() {
    let es: ExternalSecret = from_yaml(
        r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: app, namespace: apps}
spec:
  secretStoreRef: {name: vault}
  dataFrom:
  - extract: {key: app/config}
"#,
    );
    assert_eq!(es.spec.secret_store_ref.kind, StoreKind::SecretStore);
    assert_eq!(es.spec.refresh_interval, "1h");
    assert_eq!(es.spec.target, ExternalSecretTarget::default());
    assert_eq!(es.target_name(), "app");
    assert_round_trip(&es);

    // An empty spec deserialises to the documented defaults.
    let spec: ExternalSecretSpec = serde_json::from_value(json!({})).expect("empty spec");
    assert_eq!(spec, ExternalSecretSpec::default());
    assert!(spec.secret_store_ref.is_unset());
    // ... and serialises back without inventing a store reference.
    let json = serde_json::to_value(&spec).expect("serialise");
    assert_eq!(
        json,
        json!({
            "target": {"creationPolicy": "Owner", "deletionPolicy": "Retain"},
            "refreshInterval": "1h",
        })
    );
}

#[test]
fn refresh_interval_zero_and_invalid() {
    let mut spec = ExternalSecretSpec {
        refresh_interval: "0".into(),
        ..ExternalSecretSpec::default()
    };
    assert_eq!(spec.refresh_interval(), Ok(Duration::ZERO));
    spec.refresh_interval = "soon".into();
    assert!(spec.refresh_interval().is_err());
}

#[test]
fn full_external_secret_round_trips() {
    let es: ExternalSecret = from_yaml(
        r#"
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: registry, namespace: apps, generation: 4}
spec:
  refreshInterval: 15m
  refreshPolicy: OnChange
  secretStoreRef: {name: vault, kind: SecretStore}
  target:
    name: registry-creds
    creationPolicy: Merge
    deletionPolicy: Delete
    immutable: true
    template:
      type: kubernetes.io/dockerconfigjson
      engineVersion: v2
      mergePolicy: Merge
      metadata:
        labels: {app: registry}
        annotations: {team: platform}
      data:
        .dockerconfigjson: '{"auths":{"r.example.com":{"auth":"{{ .auth }}"}}}'
      templateFrom:
      - configMap:
          name: templates
          items:
          - {key: config.yaml, templateAs: KeysAndValues}
        target: Annotations
      - secret:
          name: secret-templates
          items: [{key: extra}]
      - literal: "extra: {{ .user }}"
        target: Labels
  data:
  - secretKey: auth
    remoteRef:
      key: registry
      property: auth
      version: "3"
      metadataPolicy: Fetch
      decodingStrategy: Base64URL
      conversionStrategy: Unicode
    sourceRef:
      storeRef: {name: other, kind: ClusterSecretStore}
  dataFrom:
  - find:
      path: apps/
      name: {regexp: "^db-.*"}
      tags: {env: prod}
      conversionStrategy: Default
      decodingStrategy: Auto
    rewrite:
    - regexp: {source: "db-(.*)", target: "DB_$1"}
    - transform: {template: "{{ .value | upper }}"}
    - merge: {into: all, strategy: JSON, priority: [a, b]}
  - sourceRef:
      generatorRef: {kind: Password, name: pw}
status:
  refreshTime: "2024-05-01T10:00:00Z"
  syncedResourceVersion: "1-abc"
  observedGeneration: 4
  binding: {name: registry-creds}
  conditions:
  - type: Ready
    status: "True"
    reason: SecretSynced
    message: Secret was synced
    lastTransitionTime: "2024-05-01T10:00:00Z"
"#,
    );
    assert_eq!(es.spec.effective_refresh_policy(), RefreshPolicy::OnChange);
    assert_eq!(es.spec.refresh_interval(), Ok(Duration::from_secs(900)));
    assert_eq!(es.target_name(), "registry-creds");
    let target = &es.spec.target;
    assert_eq!(target.creation_policy, CreationPolicy::Merge);
    assert_eq!(target.deletion_policy, DeletionPolicy::Delete);
    assert!(target.immutable);
    let template = target.template.as_ref().expect("template");
    assert_eq!(
        template.type_.as_deref(),
        Some("kubernetes.io/dockerconfigjson")
    );
    assert_eq!(template.engine_version, TemplateEngineVersion::V2);
    assert_eq!(template.merge_policy, TemplateMergePolicy::Merge);
    assert_eq!(template.metadata.labels["app"], "registry");
    assert_eq!(template.template_from.len(), 3);
    let from_cm = &template.template_from[0];
    assert_eq!(from_cm.target, TemplateTarget::Annotations);
    let items = &from_cm.config_map.as_ref().expect("configMap").items;
    assert_eq!(items[0].template_as, TemplateScope::KeysAndValues);
    let from_secret = &template.template_from[1];
    assert_eq!(from_secret.target, TemplateTarget::Data);
    let items = &from_secret.secret.as_ref().expect("secret").items;
    assert_eq!(items[0].template_as, TemplateScope::Values);
    assert_eq!(template.template_from[2].target, TemplateTarget::Labels);

    let auth = &es.spec.data[0];
    assert_eq!(
        auth.remote_ref.decoding_strategy,
        DecodingStrategy::Base64Url
    );
    assert_eq!(auth.remote_ref.metadata_policy, MetadataPolicy::Fetch);
    let store_ref = auth.source_ref.as_ref().and_then(|s| s.store_ref.as_ref());
    assert_eq!(
        store_ref.map(|r| r.kind),
        Some(StoreKind::ClusterSecretStore)
    );

    let find = es.spec.data_from[0].find.as_ref().expect("find");
    assert_eq!(find.decoding_strategy, DecodingStrategy::Auto);
    assert_eq!(
        find.name.as_ref().and_then(|n| n.regexp.as_deref()),
        Some("^db-.*")
    );
    let rewrite = &es.spec.data_from[0].rewrite;
    assert_eq!(rewrite.len(), 3);
    assert_eq!(
        rewrite[0].regexp.as_ref().map(|r| r.target.as_str()),
        Some("DB_$1")
    );
    let merge = rewrite[2].merge.as_ref().expect("merge");
    assert_eq!(merge.strategy, RewriteMergeStrategy::Json);
    let generator = es.spec.data_from[1]
        .source_ref
        .as_ref()
        .and_then(|s| s.generator_ref.as_ref())
        .expect("generatorRef");
    assert_eq!(
        generator.api_version,
        "generators.external-secrets.io/v1alpha1"
    );

    let status = es.status.as_ref().expect("status");
    assert_eq!(status.observed_generation, Some(4));
    let ready = status.ready_condition().expect("Ready condition");
    assert_eq!(ready.status, ConditionStatus::True);
    assert_eq!(ready.reason.as_deref(), Some(reason::SECRET_SYNCED));
    assert_round_trip(&es);
}

#[test]
fn eso_written_status_deserialises() {
    // ESO writes `refreshTime: null` and an empty binding before the first sync.
    let status: ExternalSecretStatus = serde_json::from_value(json!({
        "refreshTime": null,
        "binding": {},
        "conditions": [{"type": "Ready", "status": "False", "reason": "SecretSyncedError"}],
    }))
    .expect("status");
    assert_eq!(status.refresh_time, None);
    assert_eq!(status.binding.map(|b| b.name), Some(String::new()));
    assert_eq!(
        status.conditions[0].status,
        ConditionStatus::False,
        "condition status"
    );
}

#[test]
fn approle_store_deserialises_with_defaults() {
    let store: SecretStore = from_yaml(APPROLE_STORE);
    assert_eq!(store.spec.controller.as_deref(), Some("ferry"));
    assert_eq!(store.spec.refresh_interval, Some(300));
    let retry = store.spec.retry_settings.as_ref().expect("retrySettings");
    assert_eq!(retry.max_retries, Some(3));
    assert_eq!(
        retry.retry_interval.as_deref().map(parse_duration),
        Some(Ok(Duration::from_secs(10)))
    );
    let vault = store.spec.provider.vault.as_ref().expect("vault");
    assert_eq!(vault.version, VaultKvVersion::V1);
    assert_eq!(vault.namespace.as_deref(), Some("team-a"));
    assert_eq!(
        vault.ca_bundle.as_ref().map(|b| b.0.as_slice()),
        Some(b"-----BEGIN-----".as_slice())
    );
    assert!(vault.read_your_writes);
    assert!(!vault.forward_inconsistent);
    assert_eq!(vault.headers["X-Team"], "a");
    let auth = vault.auth.as_ref().expect("auth");
    assert_eq!(auth.configured_methods(), ["appRole"]);
    let approle = auth.app_role.as_ref().expect("appRole");
    assert_eq!(approle.path, "approle", "default mount path");
    assert_eq!(
        approle.role_id.as_deref(),
        Some("db02de05-fa39-4855-059b-67221c5c2f63")
    );
    assert_eq!(approle.role_ref, None);
    assert_eq!(approle.secret_ref.name, "vault-approle");
    assert_eq!(approle.secret_ref.key_or("unused"), "secret-id");
    assert_round_trip(&store);
}

#[test]
fn jwt_store_deserialises_with_defaults() {
    let store: SecretStore = from_yaml(JWT_STORE);
    let vault = store.spec.provider.vault.as_ref().expect("vault");
    assert_eq!(vault.version, VaultKvVersion::V2, "default KV version");
    let ca = vault.ca_provider.as_ref().expect("caProvider");
    assert_eq!(ca.type_, CaProviderType::ConfigMap);
    assert_eq!(ca.key.as_deref(), Some("ca.crt"));
    let auth = vault.auth.as_ref().expect("auth");
    assert_eq!(auth.configured_methods(), ["jwt"]);
    let jwt = auth.jwt.as_ref().expect("jwt");
    assert_eq!(jwt.path, "jwt", "default mount path");
    assert_eq!(jwt.role.as_deref(), Some("apps"));
    let token = jwt
        .kubernetes_service_account_token
        .as_ref()
        .expect("kubernetesServiceAccountToken");
    assert_eq!(token.service_account_ref.name, "apps-reader");
    assert_eq!(token.service_account_ref.audiences, ["vault"]);
    assert_eq!(token.expiration_seconds, Some(900));
    assert_round_trip(&store);
}

#[test]
fn unknown_providers_and_auth_methods_are_preserved() {
    let store: ClusterSecretStore = from_yaml(
        r#"
apiVersion: external-secrets.io/v1beta1
kind: ClusterSecretStore
metadata: {name: aws}
spec:
  conditions:
  - namespaces: [apps]
    namespaceRegexes: ["^team-"]
    namespaceSelector: {matchLabels: {tier: prod}}
  provider:
    aws:
      service: SecretsManager
      region: eu-west-1
      auth: {jwt: {serviceAccountRef: {name: eso}}}
"#,
    );
    assert!(store.spec.provider.vault.is_none());
    assert_eq!(store.spec.provider.configured(), ["aws"]);
    assert_eq!(
        store.spec.provider.other["aws"]["region"],
        json!("eu-west-1")
    );
    let condition = &store.spec.conditions[0];
    assert_eq!(condition.namespaces, ["apps"]);
    assert_eq!(condition.namespace_regexes, ["^team-"]);
    assert!(condition.namespace_selector.is_some());
    assert_round_trip(&store);
    let json = serde_json::to_value(&store).expect("serialise");
    assert_eq!(json["spec"]["provider"]["aws"]["service"], "SecretsManager");

    // Two providers at once, one of them unsupported: both are visible.
    let provider: SecretStoreProvider = serde_json::from_value(json!({
        "vault": {"server": "https://vault:8200"},
        "gcpsm": {"projectID": "p"},
    }))
    .expect("provider");
    assert_eq!(provider.configured(), ["vault", "gcpsm"]);

    // LDAP, userpass and cert are typed with ESO's defaults; untyped and unknown methods are
    // kept.
    let auth: VaultAuth = serde_json::from_value(json!({
        "ldap": {"path": "corp-ldap", "username": "u", "secretRef": {"name": "s"}},
        "userPass": {"username": "u"},
        "cert": {"clientCert": {"name": "c", "key": "tls.crt"}, "secretRef": {"name": "c", "key": "tls.key"}},
        "iam": {"vaultRole": "r"},
        "futureMethod": {"x": 1},
    }))
    .expect("auth");
    assert_eq!(
        auth.configured_methods(),
        ["ldap", "userPass", "cert", "iam", "futureMethod"]
    );
    assert_eq!(auth.ldap.as_ref().map(|l| l.username.as_str()), Some("u"));
    assert_eq!(
        auth.ldap.as_ref().map(|l| l.path.as_str()),
        Some("corp-ldap")
    );
    let user_pass = auth.user_pass.as_ref().expect("userPass");
    assert_eq!(
        (user_pass.path.as_str(), user_pass.secret_ref.name.as_str()),
        ("userpass", "")
    );
    let cert = auth.cert.as_ref().expect("cert");
    assert_eq!(
        (cert.path.as_str(), cert.vault_role.as_deref()),
        ("cert", None)
    );
    assert_eq!(cert.secret_ref.key.as_deref(), Some("tls.key"));
    assert_round_trip(&auth);
}

#[test]
fn store_status_round_trips() {
    let status: SecretStoreStatus = serde_json::from_value(json!({
        "capabilities": "ReadOnly",
        "conditions": [{"type": "Ready", "status": "True", "reason": "Valid"}],
    }))
    .expect("status");
    assert_eq!(
        status.capabilities,
        Some(store::SecretStoreCapabilities::ReadOnly)
    );
    assert_eq!(
        status.ready_condition().and_then(|c| c.reason.as_deref()),
        Some(reason::STORE_VALID)
    );
    assert_round_trip(&status);
}

fn crd_named<'a>(crds: &'a [CustomResourceDefinition], kind: &str) -> &'a CustomResourceDefinition {
    crds.iter()
        .find(|c| c.spec.names.kind == kind)
        .unwrap_or_else(|| panic!("no CRD for {kind}"))
}

#[test]
fn crds_serve_both_versions_with_v1_storage() {
    let crds = crds();
    let multi_version = crds.iter().filter(|c| c.spec.versions.len() == 2);
    assert_eq!(multi_version.count(), 3);
    for (kind, plural, short, scope) in [
        ("ExternalSecret", "externalsecrets", "es", "Namespaced"),
        ("SecretStore", "secretstores", "ss", "Namespaced"),
        (
            "ClusterSecretStore",
            "clustersecretstores",
            "css",
            "Cluster",
        ),
    ] {
        let crd = crd_named(&crds, kind);
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some(&*format!("{plural}.{GROUP}"))
        );
        assert_eq!(crd.spec.group, GROUP);
        assert_eq!(crd.spec.scope, scope, "{kind} scope");
        assert_eq!(crd.spec.names.plural, plural);
        assert_eq!(
            crd.spec.names.short_names.as_deref(),
            Some(&[short.to_owned()][..])
        );
        assert_eq!(
            crd.spec.names.categories.as_deref(),
            Some(&["external-secrets".to_owned()][..])
        );

        let names: Vec<_> = crd.spec.versions.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, [STORAGE_VERSION, LEGACY_VERSION], "{kind} versions");
        let v1 = &crd.spec.versions[0];
        let beta = &crd.spec.versions[1];
        assert!(v1.served && v1.storage, "{kind} v1 served and stored");
        assert!(beta.served && !beta.storage, "{kind} v1beta1 served only");
        assert_eq!(v1.schema, beta.schema, "{kind} versions share one schema");
        assert_eq!(
            v1.additional_printer_columns, beta.additional_printer_columns,
            "{kind} printer columns"
        );
        for version in [v1, beta] {
            let status = version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref());
            assert!(
                status.is_some(),
                "{kind} {} status subresource",
                version.name
            );
        }
        assert!(
            crd.spec.conversion.is_none(),
            "no conversion webhook needed"
        );
    }
}

#[test]
fn crds_have_printer_columns() {
    let crds = crds();
    let columns = |kind: &str| -> Vec<(String, String)> {
        crd_named(&crds, kind).spec.versions[0]
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| (c.name.clone(), c.json_path.clone()))
            .collect()
    };
    let ready_reason = r#".status.conditions[?(@.type=="Ready")].reason"#;
    let ready_status = r#".status.conditions[?(@.type=="Ready")].status"#;
    let owned = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    assert_eq!(
        columns("ExternalSecret"),
        owned(&[
            ("Store", ".spec.secretStoreRef.name"),
            ("Refresh Interval", ".spec.refreshInterval"),
            ("Status", ready_reason),
            ("Ready", ready_status),
        ])
    );
    for kind in ["SecretStore", "ClusterSecretStore"] {
        assert_eq!(
            columns(kind),
            owned(&[
                ("Age", ".metadata.creationTimestamp"),
                ("Status", ready_reason),
                ("Ready", ready_status),
            ]),
            "{kind}"
        );
    }
}

#[test]
fn crd_schemas_carry_defaults_and_preserve_unknown_providers() {
    let crds = serde_json::to_value(crds()).expect("serialise");
    let schema_of = |index: usize| &crds[index]["spec"]["versions"][0]["schema"]["openAPIV3Schema"];

    let es = &schema_of(0)["properties"]["spec"]["properties"];
    assert_eq!(es["refreshInterval"]["default"], "1h");
    assert_eq!(
        es["target"]["default"],
        json!({"creationPolicy": "Owner", "deletionPolicy": "Retain"})
    );
    assert_eq!(
        es["target"]["properties"]["creationPolicy"]["enum"],
        json!(["Owner", "Orphan", "Merge", "None"])
    );
    assert!(es["secretStoreRef"].get("default").is_none());

    for index in [1, 2] {
        let provider = &schema_of(index)["properties"]["spec"]["properties"]["provider"];
        assert_eq!(provider["x-kubernetes-preserve-unknown-fields"], true);
        assert_eq!(provider["minProperties"], 1);
        let vault = &provider["properties"]["vault"]["properties"];
        assert_eq!(vault["version"]["default"], "v2");
        assert_eq!(vault["version"]["enum"], json!(["v1", "v2"]));
        assert_eq!(vault["caBundle"]["format"], "byte");
        let auth = &vault["auth"]["properties"];
        assert_eq!(auth["appRole"]["properties"]["path"]["default"], "approle");
        assert_eq!(
            auth["kubernetes"]["properties"]["mountPath"]["default"],
            "kubernetes"
        );
        assert_eq!(auth["jwt"]["properties"]["path"]["default"], "jwt");
        assert_eq!(auth["ldap"]["properties"]["path"]["default"], "ldap");
        assert_eq!(
            auth["userPass"]["properties"]["path"]["default"],
            "userpass"
        );
        assert_eq!(auth["cert"]["properties"]["path"]["default"], "cert");
        for untyped in ["iam", "gcp"] {
            assert_eq!(
                auth[untyped]["x-kubernetes-preserve-unknown-fields"], true,
                "{untyped}"
            );
        }
    }
}

#[test]
fn every_schema_property_is_described() {
    fn walk(path: &str, schema: &serde_json::Value, missing: &mut Vec<String>) {
        if !schema.is_object() {
            return;
        }
        if let Some(props) = schema["properties"].as_object() {
            for (name, prop) in props {
                let here = format!("{path}.{name}");
                // apiVersion/kind/metadata come from kube's generated root.
                let generated = matches!(name.as_str(), "apiVersion" | "kind" | "metadata");
                if !generated && prop.get("description").is_none() {
                    missing.push(here.clone());
                }
                walk(&here, prop, missing);
            }
        }
        walk(&format!("{path}[]"), &schema["items"], missing);
    }
    let mut missing = Vec::new();
    for crd in crds() {
        let schema = serde_json::to_value(&crd.spec.versions[0].schema).expect("serialise");
        walk(
            &crd.spec.names.kind,
            &schema["openAPIV3Schema"],
            &mut missing,
        );
    }
    assert!(
        missing.is_empty(),
        "properties without description: {missing:?}"
    );
}

#[test]
fn committed_crd_manifest_is_up_to_date() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(CRDS_YAML_PATH);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == crds_yaml(),
        "{} is missing or out of date; regenerate it from the repository root with:\n    {REGENERATE_COMMAND}",
        path.display()
    );
}

#[test]
fn crd_yaml_is_deterministic_and_parses_back() {
    let yaml = crds_yaml();
    assert_eq!(yaml, crds_yaml());
    let docs: Vec<CustomResourceDefinition> =
        yaml.split("\n---\n").skip(1).map(from_yaml).collect();
    assert_eq!(docs, crds());
}
