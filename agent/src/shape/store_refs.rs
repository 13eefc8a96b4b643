//! The store references of an ExternalSecret: `spec.secretStoreRef` and each entry's
//! `sourceRef.storeRef`, with the JSON path of the field that makes each one.

use ferry_api::{ExternalSecretSpec, SecretStoreRef, StoreKind};

/// Every store reference of the spec, with the JSON path of the field that makes it: the
/// main one first, then each entry's `sourceRef.storeRef` in document order.
pub fn store_refs(spec: &ExternalSecretSpec) -> Vec<(String, &SecretStoreRef)> {
    let mut out = Vec::new();
    if !spec.secret_store_ref.name.is_empty() {
        out.push(("spec.secretStoreRef".to_owned(), &spec.secret_store_ref));
    }
    let data = spec.data.iter().map(|d| d.source_ref.as_ref());
    for (i, source) in data.enumerate() {
        if let Some(r) = source.and_then(|s| s.store_ref.as_ref()) {
            out.push((format!("spec.data[{i}].sourceRef.storeRef"), r));
        }
    }
    let data_from = spec.data_from.iter().map(|d| d.source_ref.as_ref());
    for (i, source) in data_from.enumerate() {
        if let Some(r) = source.and_then(|s| s.store_ref.as_ref()) {
            out.push((format!("spec.dataFrom[{i}].sourceRef.storeRef"), r));
        }
    }
    out
}

/// Whether the spec reads from the store `kind`/`name` anywhere (for the store watches).
pub fn reads_from(spec: &ExternalSecretSpec, kind: StoreKind, name: &str) -> bool {
    store_refs(spec)
        .iter()
        .any(|(_, r)| r.kind == kind && r.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_follow_document_order() {
        let spec: ExternalSecretSpec = serde_json::from_value(serde_json::json!({
            "secretStoreRef": { "name": "main" },
            "data": [
                { "secretKey": "a", "remoteRef": { "key": "k" } },
                { "secretKey": "b", "remoteRef": { "key": "k" },
                  "sourceRef": { "storeRef": { "name": "shared", "kind": "ClusterSecretStore" } } }
            ],
            "dataFrom": [ { "extract": { "key": "k" },
                "sourceRef": { "storeRef": { "name": "team" } } } ]
        }))
        .expect("a spec");
        let fields: Vec<String> = store_refs(&spec).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "spec.secretStoreRef",
                "spec.data[1].sourceRef.storeRef",
                "spec.dataFrom[0].sourceRef.storeRef"
            ]
        );
        assert!(reads_from(&spec, StoreKind::ClusterSecretStore, "shared"));
        assert!(reads_from(&spec, StoreKind::SecretStore, "team"));
        assert!(!reads_from(&spec, StoreKind::SecretStore, "shared"));
    }
}
