//! Unit tests of the template renderer.

use super::*;
use crate::params::AppParams;

fn params() -> PolicyParams {
    PolicyParams {
        agent_paths: vec!["a/*".into(), "b".into()],
        app: Some(AppParams {
            name: "shop".into(),
            paths: vec!["shop/db".into()],
        }),
        ..PolicyParams::default()
    }
}

fn render(source: &str) -> Result<String, PolicyError> {
    render_source("t.hcl", source, &params())
}

#[test]
fn substitutes_and_repeats() {
    let src = "# for [[ app ]]\n# [[ for p in agent_paths ]]\npath \"[[mount]]/data/[[ p ]]\" {}\n# [[ end ]]\n";
    assert_eq!(
        render(src).unwrap(),
        "# for shop\npath \"secret/data/a/*\" {}\npath \"secret/data/b\" {}\n"
    );
}

#[test]
fn conditionals_and_nesting() {
    let src = "# [[ if kv_v1 ]]\nv1\n# [[ end ]]\n# [[ if kv_v2 ]]\n# [[ for p in app_paths ]]\nv2 [[ p ]]\n# [[ end ]]\n# [[ end ]]\n";
    assert_eq!(render(src).unwrap(), "v2 shop/db\n");
}

#[test]
fn vault_templating_is_untouched() {
    let src = "path \"[[ mount ]]/{{identity.entity.aliases.x.metadata.ns}}/*\" {}\n";
    assert_eq!(
        render(src).unwrap(),
        "path \"secret/{{identity.entity.aliases.x.metadata.ns}}/*\" {}\n"
    );
}

#[test]
fn blank_line_runs_collapse() {
    let src = "\n\na\n\n# [[ if kv_v1 ]]\nb\n# [[ end ]]\n\nc\n\n";
    assert_eq!(render(src).unwrap(), "a\n\nc\n");
}

fn render_err(source: &str) -> (usize, String, String) {
    match render(source) {
        Err(PolicyError::Render {
            template,
            line,
            parameter,
            problem,
        }) => {
            assert_eq!(template, "t.hcl");
            (line, parameter, problem)
        }
        other => panic!("expected a Render error, got {other:?}"),
    }
}

#[test]
fn missing_parameter_names_template_line_and_parameter() {
    let (line, parameter, problem) = render_err("a\nb\npath \"[[ kubernetes_accessor ]]\"\n");
    assert_eq!(
        (line, parameter.as_str(), problem.as_str()),
        (3, "kubernetes_accessor", "is missing")
    );
    let err = render("x\n[[ nope ]]\n").unwrap_err().to_string();
    assert_eq!(err, "t.hcl:2: parameter `nope` is missing");
}

#[test]
fn missing_in_loop_or_condition() {
    assert_eq!(
        render_err("# [[ for p in nothing ]]\n# [[ end ]]\n").1,
        "nothing"
    );
    assert_eq!(render_err("# [[ if nothing ]]\n# [[ end ]]\n").1, "nothing");
    let (line, parameter, problem) =
        render_err("\n# [[ for p in policy_names ]]\n[[ p ]]\n# [[ end ]]\n");
    assert_eq!(
        (line, parameter.as_str(), problem.as_str()),
        (2, "policy_names", "is empty")
    );
}

#[test]
fn wrong_kinds() {
    assert!(render_err("[[ agent_paths ]]\n").2.contains("is a list"));
    assert!(render_err("[[ kv_v2 ]]\n").2.contains("is a flag"));
    assert!(
        render_err("# [[ for p in mount ]]\n# [[ end ]]\n")
            .2
            .contains("not a list")
    );
    assert!(
        render_err("# [[ if mount ]]\n# [[ end ]]\n")
            .2
            .contains("not a flag")
    );
}

#[test]
fn unsafe_values_are_rejected() {
    for bad in [
        "a\"b", "a b", "x\n}", "${x}", "{{x}}", "/abs", "a/../b", "a//b", "",
    ] {
        let p = PolicyParams {
            mount: bad.to_owned(),
            ..PolicyParams::default()
        };
        let err = render_source("t.hcl", "path \"[[ mount ]]/x\" {}\n", &p).unwrap_err();
        assert!(
            matches!(&err, PolicyError::Render { parameter, line: 1, .. } if parameter == "mount"),
            "{bad:?}: {err}"
        );
    }
}

fn parse_err(source: &str) -> (usize, String) {
    match render(source) {
        Err(PolicyError::ParseTemplate { line, message, .. }) => (line, message),
        other => panic!("expected a ParseTemplate error, got {other:?}"),
    }
}

#[test]
fn malformed_templates() {
    assert_eq!(parse_err("a\n[[ mount\n").0, 2);
    assert_eq!(parse_err("mount ]]\n").0, 1);
    assert!(
        parse_err("[[ Mount ]]\n")
            .1
            .contains("not a parameter name")
    );
    assert!(
        parse_err("x [[ end ]]\n")
            .1
            .contains("alone on a comment line")
    );
    assert_eq!(
        parse_err("a\n# [[ end ]]\n"),
        (2, "`end` without `for` or `if`".into())
    );
    assert_eq!(parse_err("# [[ if kv_v2 ]]\na\n").0, 1);
    assert!(
        parse_err("# [[ for p agent_paths ]]\n")
            .1
            .contains("malformed")
    );
    // Markers are checked even in blocks that are not rendered.
    assert_eq!(
        parse_err("# [[ if kv_v1 ]]\n[[ bad-name ]]\n# [[ end ]]\n").0,
        2
    );
}
