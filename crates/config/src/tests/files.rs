//! The committed artefacts: `docs/bootstrap.schema.json` is up to date, every schema
//! property is described and documented in `docs/bootstrap-yaml.md`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::{JSON_SCHEMA_PATH, json_schema};

/// Set to `1` to rewrite the committed schema instead of comparing it.
const REGENERATE_VAR: &str = "FERRY_REGENERATE";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rendered_schema() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).expect("schema serialises");
    text.push('\n');
    text
}

#[test]
fn committed_json_schema_is_up_to_date() {
    let path = repo_root().join(JSON_SCHEMA_PATH);
    let fresh = rendered_schema();
    if std::env::var(REGENERATE_VAR).as_deref() == Ok("1") {
        std::fs::write(&path, &fresh).expect("write schema");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is missing or out of date; regenerate it from the repository root with:\n    \
         {REGENERATE_VAR}=1 cargo test -p ferry-config committed_json_schema_is_up_to_date",
        path.display()
    );
}

/// Every property in the schema: (name, has a description).
fn properties(node: &serde_json::Value, out: &mut Vec<(String, bool)>) {
    match node {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Object(props)) = map.get("properties") {
                for (name, prop) in props {
                    out.push((name.clone(), prop.get("description").is_some()));
                }
            }
            map.values().for_each(|child| properties(child, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|child| properties(child, out)),
        _ => {}
    }
}

#[test]
fn every_property_is_described_and_documented() {
    let mut all = Vec::new();
    properties(&json_schema(), &mut all);
    let undescribed: BTreeSet<_> = all.iter().filter(|p| !p.1).map(|p| p.0.as_str()).collect();
    assert!(
        undescribed.is_empty(),
        "properties without description: {undescribed:?}"
    );
    let doc =
        std::fs::read_to_string(repo_root().join("docs/bootstrap-yaml.md")).unwrap_or_default();
    let undocumented: BTreeSet<_> = all
        .iter()
        .map(|p| p.0.as_str())
        .filter(|name| !doc.contains(&format!("`{name}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "docs/bootstrap-yaml.md lacks: {undocumented:?}"
    );
}

#[test]
fn example_uses_every_section() {
    let example: serde_norway::Value = serde_norway::from_str(super::EXAMPLE).expect("yaml");
    for section in [
        "vault",
        "init",
        "kv",
        "kubernetesAuth",
        "env",
        "flux",
        "agent",
        "apps",
    ] {
        assert!(
            example.get(section).is_some(),
            "examples/bootstrap.yaml lacks {section}"
        );
    }
}
