//! Each lint rule has a failing fixture in `tests/fixtures/`. A fixture
//! states what it must produce in `# expect: <rule> <line>` comments; the
//! findings must be exactly those.

use std::collections::BTreeSet;
use std::path::Path;

use ferry_policy::{LintConfig, Rule, lint};

fn config() -> LintConfig {
    LintConfig {
        mounts: vec!["secret".into()],
        ..LintConfig::default()
    }
    .with_read_only("write-in-read-only.hcl")
    .with_push("push-missing-capability.hcl")
}

fn expectations(source: &str) -> Vec<(String, usize)> {
    let mut expected: Vec<(String, usize)> = source
        .lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|e| {
            let (rule, line) = e.split_once(' ').expect("`# expect: <rule> <line>`");
            (rule.to_owned(), line.parse().expect("a line number"))
        })
        .collect();
    expected.sort();
    expected
}

#[test]
fn every_fixture_reports_exactly_its_expectations() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut covered = BTreeSet::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("hcl") {
            continue;
        }
        files += 1;
        let source = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_str().unwrap();
        let findings = lint(&source, file, &config());
        let mut got: Vec<(String, usize)> = findings
            .iter()
            .map(|f| (f.rule.name().to_owned(), f.line))
            .collect();
        got.sort();
        assert_eq!(got, expectations(&source), "{file}: {findings:#?}");
        for f in &findings {
            assert_eq!(f.file, file);
            let printed = f.to_string();
            assert!(
                printed.starts_with(&format!("{file}:{}: {}: ", f.line, f.rule)),
                "{printed}"
            );
            covered.insert(f.rule);
        }
        // The fixture is named after the rule it demonstrates.
        let stem = file.trim_end_matches(".hcl");
        if stem != "clean" {
            assert!(findings.iter().any(|f| f.rule.name() == stem), "{file}");
        }
    }
    assert!(files >= Rule::ALL.len());
    assert_eq!(covered, Rule::ALL.into_iter().collect::<BTreeSet<_>>());
}
