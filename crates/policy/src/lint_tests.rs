//! Unit tests of the lint rules' details.

use super::*;

fn lint_as(source: &str, file: &str) -> Vec<(usize, Rule)> {
    let params = PolicyParams::default();
    lint(source, file, &LintConfig::for_params(&params))
        .into_iter()
        .map(|f| (f.line, f.rule))
        .collect()
}

#[test]
fn root_globs() {
    for glob in [
        "*",
        "+/*",
        "+",
        "sec*/x",
        "sys/*",
        "sys/+/x",
        "auth/*",
        "identity/+",
    ] {
        assert!(root_glob(glob).is_some(), "{glob}");
    }
    for fine in [
        "secret/*",
        "secret/+/x",
        "sys/mounts",
        "auth/kubernetes/role/*",
        "a+b/x",
    ] {
        assert!(root_glob(fine).is_none(), "{fine}");
    }
}

#[test]
fn bootstrap_prefixes_and_sudo_are_per_file() {
    let src = "path \"sys/auth/kubernetes\" {\n  capabilities = [\"create\", \"sudo\"]\n}\npath \"auth/token/create\" {\n  capabilities = [\"update\"]\n}\n";
    assert_eq!(lint_as(src, "policies/bootstrap.hcl"), []);
    assert_eq!(
        lint_as(src, "other.hcl"),
        [
            (1, Rule::OutsideMount),
            (2, Rule::Sudo),
            (4, Rule::OutsideMount)
        ]
    );
    let src = "path \"sys/auth/other\" {\n  capabilities = [\"sudo\"]\n}\n";
    assert_eq!(lint_as(src, "bootstrap.hcl"), [(2, Rule::Sudo)]);
}

#[test]
fn read_only_files_are_named_in_the_config() {
    let src = "path \"secret/data/a\" {\n  capabilities = [\"read\", \"patch\", \"delete\"]\n}\n";
    assert_eq!(
        lint_as(src, "agent.hcl"),
        [(2, Rule::WriteInReadOnly), (2, Rule::WriteInReadOnly)]
    );
    assert_eq!(lint_as(src, "bootstrap.hcl"), []);
}

#[test]
fn mount_prefix_must_be_a_whole_segment() {
    let config = LintConfig {
        mounts: vec!["secret/".into()],
        ..LintConfig::default()
    };
    let rules = |path: &str| {
        let src = format!("path \"{path}\" {{\n  capabilities = [\"read\"]\n}}\n");
        lint(&src, "x.hcl", &config)
            .into_iter()
            .map(|f| f.rule)
            .collect::<Vec<_>>()
    };
    assert_eq!(rules("secret/data/a"), []);
    assert_eq!(rules("secretx/data/a"), [Rule::OutsideMount]);
    assert_eq!(rules("secret"), [Rule::OutsideMount]);
    // No mounts declared: the rule is off.
    let off = lint("path \"x\" {}\n", "x.hcl", &LintConfig::default());
    assert_eq!(off, []);
}

#[test]
fn parse_errors_are_one_finding_with_the_column() {
    let findings = lint(
        "path \"a\" {\n  capabilities = [\"read\",,]\n}\n",
        "bad.hcl",
        &LintConfig::default(),
    );
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!((f.line, f.rule), (2, Rule::Parse));
    assert!(
        f.message.starts_with("invalid HCL at column "),
        "{}",
        f.message
    );
}

#[test]
fn finding_display() {
    let f = Finding {
        file: "p.hcl".into(),
        line: 3,
        rule: Rule::RootGlob,
        message: "`*` is bad".into(),
    };
    assert_eq!(f.to_string(), "p.hcl:3: root-glob: `*` is bad");
}
