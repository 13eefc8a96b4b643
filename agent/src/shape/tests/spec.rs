//! Validation and unsupported-feature checks, each naming the offending field.

use super::{field_of, spec};
use crate::shape::{unsupported, validate};

#[test]
fn validation_names_the_field() {
    let data = "data:\n- secretKey: a\n  remoteRef: {key: k}\n";
    let cases: &[(&str, String, Option<&str>)] = &[
        ("valid", data.to_owned(), None),
        ("neither data nor dataFrom", "refreshInterval: 1h\n".to_owned(), Some("spec.data")),
        ("bad refreshInterval", format!("refreshInterval: 1x\n{data}"), Some("spec.refreshInterval")),
        ("Delete with Merge", format!("target: {{creationPolicy: Merge, deletionPolicy: Delete}}\n{data}"), Some("spec.target.deletionPolicy")),
        ("Delete with None", format!("target: {{creationPolicy: None, deletionPolicy: Delete}}\n{data}"), Some("spec.target.deletionPolicy")),
        ("Merge with None", format!("target: {{creationPolicy: None, deletionPolicy: Merge}}\n{data}"), Some("spec.target.deletionPolicy")),
        ("Delete with Orphan is fine", format!("target: {{creationPolicy: Orphan, deletionPolicy: Delete}}\n{data}"), None),
        ("Merge with Merge is fine", format!("target: {{creationPolicy: Merge, deletionPolicy: Merge}}\n{data}"), None),
        ("duplicate secretKey", format!("{data}- secretKey: b\n  remoteRef: {{key: k}}\n- secretKey: a\n  remoteRef: {{key: j}}\n"), Some("spec.data[2].secretKey")),
        ("duplicates allowed unless Retain", format!("target: {{deletionPolicy: Delete}}\n{data}- secretKey: a\n  remoteRef: {{key: j}}\n"), None),
        ("empty secretKey", "data:\n- secretKey: ''\n  remoteRef: {key: k}\n".to_owned(), Some("spec.data[0].secretKey")),
        ("invalid secretKey", "data:\n- secretKey: a/b\n  remoteRef: {key: k}\n".to_owned(), Some("spec.data[0].secretKey")),
        ("secretKey '..'", "data:\n- secretKey: '..'\n  remoteRef: {key: k}\n".to_owned(), Some("spec.data[0].secretKey")),
        ("empty remoteRef.key", format!("{data}- secretKey: b\n  remoteRef: {{key: ''}}\n"), Some("spec.data[1].remoteRef.key")),
        ("empty dataFrom entry", "dataFrom:\n- {}\n".to_owned(), Some("spec.dataFrom[0]")),
        ("extract and find", "dataFrom:\n- extract: {key: k}\n  find: {path: p}\n".to_owned(), Some("spec.dataFrom[0]")),
        ("extract and generator", "dataFrom:\n- extract: {key: k}\n  sourceRef: {generatorRef: {kind: Password, name: p}}\n".to_owned(), Some("spec.dataFrom[0]")),
        ("empty sourceRef", "dataFrom:\n- extract: {key: k}\n- sourceRef: {}\n".to_owned(), Some("spec.dataFrom[1].sourceRef")),
        ("empty extract key", "dataFrom:\n- extract: {key: ''}\n".to_owned(), Some("spec.dataFrom[0].extract.key")),
    ];
    for (name, yaml, want) in cases {
        let yaml = format!("secretStoreRef: {{name: main}}\n{yaml}");
        match (validate(&spec(&yaml)), want) {
            (Ok(()), None) => {}
            (Err(e), Some(field)) => {
                assert_eq!(
                    field_of(&e),
                    ((*field).to_owned(), "invalid_spec"),
                    "{name}"
                )
            }
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn unsupported_features_name_the_field() {
    let data = "data:\n- secretKey: a\n  remoteRef: {key: k}\n";
    let cases: &[(&str, String, Option<&str>)] = &[
        ("plain", data.to_owned(), None),
        ("template", format!("target: {{template: {{type: Opaque}}}}\n{data}"), None),
        ("find", "dataFrom:\n- find: {path: p}\n".to_owned(), None),
        ("rewrite regexp", "dataFrom:\n- extract: {key: k}\n  rewrite: [{regexp: {source: a, target: b}}]\n".to_owned(), None),
        ("rewrite merge", "dataFrom:\n- extract: {key: k}\n  rewrite: [{merge: {}}]\n".to_owned(), Some("spec.dataFrom[0].rewrite[0].merge")),
        ("Unicode extract", "dataFrom:\n- extract: {key: k, conversionStrategy: Unicode}\n".to_owned(), None),
        ("metadataPolicy Fetch", format!("{data}- secretKey: b\n  remoteRef: {{key: k, metadataPolicy: Fetch}}\n"), None),
        ("generator", "dataFrom:\n- sourceRef: {generatorRef: {kind: Password, name: p}}\n".to_owned(), Some("spec.dataFrom[0].sourceRef.generatorRef")),
        ("data generator", "data:\n- secretKey: a\n  remoteRef: {key: k}\n  sourceRef: {generatorRef: {kind: Password, name: p}}\n".to_owned(), Some("spec.data[0].sourceRef.generatorRef")),
        ("dataFrom storeRef", "dataFrom:\n- extract: {key: k}\n  sourceRef: {storeRef: {name: other}}\n".to_owned(), None),
        ("data storeRef", "data:\n- secretKey: a\n  remoteRef: {key: k}\n  sourceRef: {storeRef: {name: other}}\n".to_owned(), None),
        ("Unicode on data[] has no effect in ESO", "data:\n- secretKey: a\n  remoteRef: {key: k, conversionStrategy: Unicode}\n".to_owned(), None),
    ];
    for (name, yaml, want) in cases {
        match (unsupported(&spec(yaml)), want) {
            (Ok(()), None) => {}
            (Err(e), Some(field)) => {
                assert_eq!(field_of(&e), ((*field).to_owned(), "unsupported"), "{name}")
            }
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn a_store_is_needed_for_every_entry() {
    let own = "  sourceRef: {storeRef: {name: other, kind: ClusterSecretStore}}\n";
    let data = format!("data:\n- secretKey: a\n  remoteRef: {{key: k}}\n{own}");
    let cases: &[(&str, String, Option<&str>)] = &[
        ("every entry names its store", data.clone(), None),
        ("an entry without one", format!("{data}- secretKey: b\n  remoteRef: {{key: k}}\n"), Some("spec.secretStoreRef.name")),
        ("an extract without one", format!("{data}dataFrom:\n- extract: {{key: k}}\n"), Some("spec.secretStoreRef.name")),
        ("a find with its own", format!("{data}dataFrom:\n- find: {{path: p}}\n{own}"), None),
        ("the main store covers the rest", format!("secretStoreRef: {{name: main}}\n{data}- secretKey: b\n  remoteRef: {{key: k}}\n"), None),
        ("a storeRef without a name", "secretStoreRef: {name: main}\ndata:\n- secretKey: a\n  remoteRef: {key: k}\n  sourceRef: {storeRef: {kind: SecretStore}}\n".to_owned(), Some("spec.data[0].sourceRef.storeRef.name")),
    ];
    for (name, yaml, want) in cases {
        match (validate(&spec(yaml)), want) {
            (Ok(()), None) => {}
            (Err(e), Some(field)) => {
                assert_eq!(
                    field_of(&e),
                    ((*field).to_owned(), "invalid_spec"),
                    "{name}"
                )
            }
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
}
