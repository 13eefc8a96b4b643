//! `spec.target.template`: data, templateFrom (ConfigMap, Secret, literal; Values and
//! KeysAndValues; data, labels and annotations), merge policies, precedence and errors.
//! Fetched values contain `s3cr3t` so error texts are checked for leaks.

use std::collections::BTreeMap;

use ferry_api::external_secret::ExternalSecretTemplate;

use crate::error::AgentError;
use crate::shape::{Rendered, SecretData, TemplateSources, render_template, template_sources};

fn template(yaml: &str) -> ExternalSecretTemplate {
    serde_norway::from_str(yaml).unwrap_or_else(|e| panic!("bad test template: {e}\n{yaml}"))
}

fn fetched() -> SecretData {
    let mut d = SecretData::new();
    for (k, v) in [
        ("registry", "registry.example.com"),
        ("user", "alice"),
        ("pass", "s3cr3t-pw"),
        ("env", "prod"),
    ] {
        d.insert(k.to_owned(), v.as_bytes().to_vec());
    }
    d
}

fn sources() -> TemplateSources {
    let mut cm = BTreeMap::new();
    cm.insert(
        "config.yaml".to_owned(),
        "db_user: \"{{ .user }}\"\ndb_url: 'postgres://{{ .user }}@db'\n".to_owned(),
    );
    cm.insert("app.conf".to_owned(), "password={{ .pass }}".to_owned());
    cm.insert("bad.yaml".to_owned(), "{{ .pass }}: [".to_owned());
    let mut secret = SecretData::new();
    secret.insert("owner".to_owned(), b"{{ .user | upper }}".to_vec());
    TemplateSources {
        config_maps: BTreeMap::from([("tpl".to_owned(), cm)]),
        secrets: BTreeMap::from([("tpl-secret".to_owned(), secret)]),
    }
}

fn render(yaml: &str) -> Result<Rendered, AgentError> {
    render_template(&template(yaml), fetched(), &sources())
}

fn text(r: &Rendered, key: &str) -> String {
    String::from_utf8(
        r.data
            .get(key)
            .unwrap_or_else(|| panic!("no key {key}"))
            .to_vec(),
    )
    .unwrap()
}

/// The field and category of an error, after checking it shows no value.
fn failure(yaml: &str) -> (String, String, &'static str) {
    let err = render(yaml).expect_err("the template should fail");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("s3cr3t"), "error leaks a value: {shown}");
    let field = match &err {
        AgentError::RenderTemplate { field, .. }
        | AgentError::BuildSecret { field, .. }
        | AgentError::Unsupported { field, .. } => field.clone(),
        other => panic!("unexpected error {other:?}"),
    };
    (field, err.to_string(), err.category())
}

#[test]
fn dockerconfigjson_replaces_the_data() {
    let r = render(
        r#"
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: '{"auths":{"{{ .registry }}":{"username":"{{ .user }}","password":"{{ .pass }}","auth":"{{ printf "%s:%s" .user .pass | b64enc }}"}}}'
"#,
    )
    .unwrap();
    assert_eq!(
        r.secret_type.as_deref(),
        Some("kubernetes.io/dockerconfigjson")
    );
    assert_eq!(r.data.keys().collect::<Vec<_>>(), [".dockerconfigjson"]);
    assert_eq!(
        text(&r, ".dockerconfigjson"),
        r#"{"auths":{"registry.example.com":{"username":"alice","password":"s3cr3t-pw","auth":"YWxpY2U6czNjcjN0LXB3"}}}"#
    );
}

#[test]
fn merge_keeps_fetched_values_and_replace_drops_them() {
    let replace = render(
        "data:\n  url: 'https://{{ .user }}@{{ .registry }}'\n  user: '{{ .user | upper }}'\n",
    )
    .unwrap();
    assert_eq!(replace.data.keys().collect::<Vec<_>>(), ["url", "user"]);
    assert_eq!(text(&replace, "user"), "ALICE");
    let merge = render("mergePolicy: Merge\ndata:\n  url: 'https://{{ .user }}@{{ .registry }}'\n  user: '{{ .user | upper }}'\n").unwrap();
    assert_eq!(
        merge.data.keys().collect::<Vec<_>>(),
        ["env", "pass", "registry", "url", "user"]
    );
    assert_eq!(
        text(&merge, "user"),
        "ALICE",
        "the template overrides a fetched key"
    );
    assert_eq!(text(&merge, "pass"), "s3cr3t-pw");
    assert_eq!(text(&merge, "url"), "https://alice@registry.example.com");
}

#[test]
fn metadata_only_keeps_the_fetched_data() {
    let r = render("metadata:\n  labels:\n    env: '{{ .env }}'\n  annotations:\n    owner: team-{{ .user }}\n").unwrap();
    assert_eq!(r.data, fetched());
    assert_eq!(
        r.labels,
        BTreeMap::from([("env".to_owned(), "prod".to_owned())])
    );
    assert_eq!(
        r.annotations,
        BTreeMap::from([("owner".to_owned(), "team-alice".to_owned())])
    );
    assert_eq!(r.secret_type, None);
}

#[test]
fn template_from_config_map_keys_and_values_and_values() {
    let r = render(
        r#"
templateFrom:
- configMap:
    name: tpl
    items:
    - key: config.yaml
      templateAs: KeysAndValues
    - key: app.conf
"#,
    )
    .unwrap();
    assert_eq!(
        r.data.keys().collect::<Vec<_>>(),
        ["app.conf", "db_url", "db_user"]
    );
    assert_eq!(text(&r, "db_user"), "alice");
    assert_eq!(text(&r, "db_url"), "postgres://alice@db");
    assert_eq!(text(&r, "app.conf"), "password=s3cr3t-pw");
}

#[test]
fn template_from_targets_labels_and_annotations() {
    let r = render(
        r#"
templateFrom:
- literal: "env: '{{ .env }}'\ntier: backend"
  target: Labels
- secret:
    name: tpl-secret
    items:
    - key: owner
  target: Annotations
- literal: "from-literal: '{{ .user }}'"
metadata:
  labels:
    tier: '{{ "front" }}end'
"#,
    )
    .unwrap();
    let labels: Vec<_> = r
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        labels,
        [("env", "prod"), ("tier", "frontend")],
        "metadata overrides templateFrom"
    );
    assert_eq!(
        r.annotations.get("owner").map(String::as_str),
        Some("ALICE")
    );
    assert_eq!(r.data.keys().collect::<Vec<_>>(), ["from-literal"]);
    assert_eq!(text(&r, "from-literal"), "alice");
}

#[test]
fn template_data_overrides_template_from() {
    let r = render("templateFrom:\n- literal: 'k: from-literal'\ndata:\n  k: from-data\n").unwrap();
    assert_eq!(text(&r, "k"), "from-data");
}

#[test]
fn errors_name_the_field_and_position_never_a_value() {
    let (field, msg, category) = failure("data:\n  auth: '{{ .pass }}{{ .missing }}'\n");
    assert_eq!(field, "spec.target.template.data.auth");
    assert!(
        msg.contains("template auth:1:15") && msg.contains("\"missing\""),
        "{msg}"
    );
    assert_eq!(category, "template");
    let (field, msg, _) = failure("data:\n  auth: '{{ .pass | b64dec }}'\n");
    assert_eq!(field, "spec.target.template.data.auth");
    assert!(msg.contains("base64"), "{msg}");
    let (field, _, _) = failure("metadata:\n  labels:\n    l: '{{ .pass | nosuch }}'\n");
    assert_eq!(field, "spec.target.template.metadata.labels.l");
    let (field, _, category) =
        failure("templateFrom:\n- configMap: {name: other, items: [{key: a}]}\n");
    assert_eq!(
        (field.as_str(), category),
        ("spec.target.template.templateFrom[0].configMap", "build")
    );
    let (field, _, _) =
        failure("templateFrom:\n- configMap: {name: tpl, items: [{key: app.conf}, {key: nope}]}\n");
    assert_eq!(
        field,
        "spec.target.template.templateFrom[0].configMap.items[1].key"
    );
    let (field, msg, _) = failure(
        "templateFrom:\n- configMap: {name: tpl, items: [{key: bad.yaml, templateAs: KeysAndValues}]}\n",
    );
    assert_eq!(
        field,
        "spec.target.template.templateFrom[0].configMap.items[0]"
    );
    assert!(msg.contains("YAML map"), "{msg}");
    let (field, _, _) = failure("templateFrom:\n- {}\n- literal: '{{ fail .pass }}'\n");
    assert_eq!(field, "spec.target.template.templateFrom[1].literal");
    let (field, _, category) = failure("engineVersion: v1\ndata: {a: b}\n");
    assert_eq!(
        (field.as_str(), category),
        ("spec.target.template.engineVersion", "unsupported")
    );
}

#[test]
fn sources_are_listed_once_each() {
    let t = template(
        "templateFrom:\n- configMap: {name: b, items: []}\n- configMap: {name: a, items: []}\n- configMap: {name: b, items: []}\n- secret: {name: s, items: []}\n- literal: 'x: y'\n",
    );
    assert_eq!(
        template_sources(&t),
        (vec!["a".to_owned(), "b".to_owned()], vec!["s".to_owned()])
    );
}
