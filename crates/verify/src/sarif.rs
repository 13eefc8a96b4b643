//! SARIF 2.1.0 output through the `serde-sarif` types. Git and working-tree findings become
//! physical locations (path and start line), with the commit and blob id as result properties;
//! unreachable blobs, cluster objects and environment variables become logical locations. Each
//! result has a partial fingerprint built from rule and location (the baseline key), so code
//! scanning UIs track it across runs without any value involved.

use std::collections::BTreeMap;

use serde_sarif::sarif::{
    ArtifactLocation, Location as SarifLocation, LogicalLocation, Message,
    MultiformatMessageString, PhysicalLocation, PropertyBag, Region, ReportingDescriptor,
    Result as SarifResult, ResultLevel, Run, Sarif, Tool, ToolComponent,
};

use crate::{Finding, Location, rules};

/// Builds the SARIF log for `findings`.
pub(crate) fn build(findings: &[Finding]) -> Sarif {
    let mut ids: Vec<&str> = rules::RULES.iter().map(|r| r.id).collect();
    for f in findings {
        if !ids.contains(&f.rule.as_str()) {
            ids.push(&f.rule);
        }
    }
    let descriptors: Vec<ReportingDescriptor> = ids
        .iter()
        .map(|id| {
            let text =
                rules::describe(id).unwrap_or("Zero-secrets check (cluster or environment).");
            ReportingDescriptor::builder()
                .id(*id)
                .short_description(MultiformatMessageString::builder().text(text).build())
                .build()
        })
        .collect();
    let results: Vec<SarifResult> = findings
        .iter()
        .map(|f| {
            let index = ids.iter().position(|id| *id == f.rule).unwrap_or(0);
            result(f, i64::try_from(index).unwrap_or(0))
        })
        .collect();
    let driver = ToolComponent::builder()
        .name(crate::TOOL_NAME)
        .version(env!("CARGO_PKG_VERSION"))
        .rules(descriptors)
        .build();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .build();
    Sarif::builder()
        .schema(serde_sarif::sarif::SCHEMA_URL)
        .version(serde_json::json!("2.1.0"))
        .runs(vec![run])
        .build()
}

fn result(f: &Finding, rule_index: i64) -> SarifResult {
    let mut props = BTreeMap::new();
    let location = match &f.location {
        Location::Git {
            commit,
            path,
            line,
            blob,
        } => {
            if let Some(c) = commit {
                props.insert("commit".to_string(), serde_json::json!(c));
            }
            props.insert("blob".to_string(), serde_json::json!(blob));
            if commit.is_none() && path.starts_with("unreachable blob ") {
                logical(path, "unreachableBlob")
            } else {
                physical(path, *line)
            }
        }
        Location::File { path, line } => {
            props.insert("workingTree".to_string(), serde_json::json!(true));
            physical(path, *line)
        }
        Location::Object { field, .. } => {
            let name = f.location.object_ref().unwrap_or_default();
            let name = match field {
                Some(field) => format!("{name}#{field}"),
                None => name,
            };
            logical(&name, "resource")
        }
        Location::Env { name } => logical(name, "variable"),
    };
    let fingerprint = fingerprint(f);
    let mut result = SarifResult::builder()
        .rule_id(f.rule.clone())
        .rule_index(rule_index)
        .level(ResultLevel::Error)
        .message(Message::builder().text(f.message.clone()).build())
        .locations(vec![location])
        .partial_fingerprints(BTreeMap::from([(
            "ferryLocation/v1".to_string(),
            fingerprint,
        )]))
        .build();
    if !props.is_empty() {
        result.properties = Some(PropertyBag::builder().additional_properties(props).build());
    }
    result
}

fn physical(path: &str, line: Option<u32>) -> SarifLocation {
    let mut physical = PhysicalLocation {
        artifact_location: Some(ArtifactLocation {
            uri: Some(uri_escape(path)),
            ..Default::default()
        }),
        ..Default::default()
    };
    if let Some(line) = line {
        physical.region = Some(Region {
            start_line: Some(i64::from(line)),
            ..Default::default()
        });
    }
    SarifLocation {
        physical_location: Some(physical),
        ..Default::default()
    }
}

fn logical(name: &str, kind: &str) -> SarifLocation {
    SarifLocation {
        logical_locations: Some(vec![LogicalLocation {
            fully_qualified_name: Some(name.to_string()),
            kind: Some(kind.to_string()),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

/// Rule and location, the same fields the baseline matches on.
fn fingerprint(f: &Finding) -> String {
    let line = f.location.line().map(|l| l.to_string()).unwrap_or_default();
    match &f.location {
        Location::Git { blob, .. } => format!("{}:git:{blob}:{line}", f.rule),
        Location::File { path, .. } => format!("{}:file:{path}:{line}", f.rule),
        Location::Object { field, .. } => format!(
            "{}:object:{}:{}",
            f.rule,
            f.location.object_ref().unwrap_or_default(),
            field.as_deref().unwrap_or_default()
        ),
        Location::Env { name } => format!("{}:env:{name}", f.rule),
    }
}

/// Percent-encodes a relative path for a SARIF `uri` (RFC 3986: unreserved and `/` kept).
fn uri_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sarif_shape() {
        let f = vec![
            Finding::new(
                rules::PRIVATE_KEY,
                Location::Git {
                    commit: Some("c0ffee".into()),
                    path: "deploy/my key.pem".into(),
                    line: Some(2),
                    blob: "b10b".into(),
                },
                "PEM private key block",
            ),
            Finding::new(
                "root-token",
                Location::Env {
                    name: "VAULT_TOKEN".into(),
                },
                "set",
            ),
        ];
        let v = serde_json::to_value(build(&f)).unwrap();
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "ferry-verify");
        let r0 = &run["results"][0];
        assert_eq!(r0["ruleId"], "private-key");
        assert_eq!(r0["level"], "error");
        let loc = &r0["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "deploy/my%20key.pem");
        assert_eq!(loc["region"]["startLine"], 2);
        assert_eq!(r0["properties"]["commit"], "c0ffee");
        let r1 = &run["results"][1];
        let idx = r1["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(run["tool"]["driver"]["rules"][idx]["id"], "root-token");
        assert_eq!(
            r1["locations"][0]["logicalLocations"][0]["kind"],
            "variable"
        );
    }
}
