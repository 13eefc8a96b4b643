//! Cases that fail: each names the template and line:col and never shows a value.

use super::Want::{Exec, Parse};
use super::{Case, data, run, run_table};
use crate::{Template, TemplateError};

const PARSE: &[Case] = &[
    (
        "{{ if .user }}{{ else with .user }}{{ end }}",
        "",
        Parse(1, 23, "unexpected token in else"),
    ),
    ("ab {{ .user", "", Parse(1, 4, "unclosed action")),
    (
        "{{ .user | nosuch }}",
        "",
        Parse(1, 12, "function \"nosuch\" not defined"),
    ),
    ("{{ \"abc }}", "", Parse(1, 4, "unterminated quoted string")),
    (
        "{{ `abc }}",
        "",
        Parse(1, 4, "unterminated raw quoted string"),
    ),
    ("x\n{{ if .user }}y", "", Parse(2, 16, "if has no {{end}}")),
    ("x{{ end }}", "", Parse(1, 2, "unexpected {{end}}")),
    ("{{ else }}", "", Parse(1, 1, "unexpected {{else}}")),
    ("{{ break }}", "", Parse(1, 1, "break outside range")),
    ("{{ 1x2 }}", "", Parse(1, 4, "bad number syntax")),
    ("a {{/* open", "", Parse(1, 3, "unclosed comment")),
    ("{{ | upper }}", "", Parse(1, 4, "missing command before |")),
    ("{{ }}", "", Parse(1, 4, "missing value for command")),
    ("{{ .a # }}", "", Parse(1, 7, "unexpected character")),
    (
        "{{ define \"x\" }}",
        "",
        Parse(1, 17, "define has no {{end}}"),
    ),
    ("{{ template x }}", "", Parse(1, 13, "quoted template name")),
    ("{{ \"\\q\" }}", "", Parse(1, 5, "unknown escape sequence")),
    (
        "{{ if .a }}{{ define \"x\" }}{{ end }}{{ end }}",
        "",
        Parse(1, 12, "only allowed at top level"),
    ),
];

const EXEC: &[Case] = &[
    (
        "{{ upper .user .user }}",
        "",
        Exec(
            1,
            4,
            "error calling upper: wrong number of args: want 1 got 2",
        ),
    ),
    (
        "{{ .user | replace \"a\" }}",
        "",
        Exec(1, 12, "wrong number of args: want 3 got 2"),
    ),
    (
        "{{ index (list 1) 5 }}",
        "",
        Exec(1, 4, "index out of range"),
    ),
    (
        "{{ b64dec .pass }}",
        "",
        Exec(1, 4, "error calling b64dec: input is not valid base64"),
    ),
    (
        "line1\n  {{ .nokey }}",
        "",
        Exec(2, 6, "map has no entry for key \"nokey\""),
    ),
    (
        "{{ fromJson .pass }}",
        "",
        Exec(1, 4, "input is not valid JSON"),
    ),
    (
        "{{ fromYaml .y }}",
        r#"{"y":"s3cr3t: [unclosed"}"#,
        Exec(1, 4, "input is not valid YAML"),
    ),
    (
        "{{ .user.name }}",
        "",
        Exec(1, 4, "can't evaluate field name in type string"),
    ),
    (
        "{{ (fromJson .j).k.deeper }}",
        "",
        Exec(1, 4, "can't evaluate field deeper in type string"),
    ),
    (
        "{{ fail \"boom\" }}",
        "",
        Exec(1, 4, "error calling fail: boom"),
    ),
    ("{{ fail .pass }}", "", Exec(1, 4, "not shown")),
    (
        "{{ printf \"bad %s\" .pass | fail }}",
        "",
        Exec(1, 28, "not shown"),
    ),
    (
        "{{ required \"need x\" (index . \"none\") }}",
        "",
        Exec(1, 4, "need x"),
    ),
    ("{{ required .pass .empty }}", "", Exec(1, 4, "not shown")),
    (
        "{{ upper 5 }}",
        "",
        Exec(1, 4, "wrong type for value; expected string; got int"),
    ),
    ("{{ $nope }}", "", Exec(1, 4, "undefined variable: $nope")),
    (
        "{{ range .user }}{{ end }}",
        "",
        Exec(1, 10, "range can't iterate over type string"),
    ),
    (
        "{{ template \"x\" }}",
        "",
        Exec(1, 1, "no such template \"x\""),
    ),
    (
        "{{ eq .pass 1 }}",
        "",
        Exec(1, 4, "incompatible types for comparison"),
    ),
    ("{{ eq (list 1) 1 }}", "", Exec(1, 4, "non-comparable type")),
    (
        "{{ lt true false }}",
        "",
        Exec(1, 4, "invalid type for comparison"),
    ),
    (
        "{{ .user 1 }}",
        "",
        Exec(1, 4, "user is not a method but has arguments"),
    ),
    (
        "{{ .pass | .user }}",
        "",
        Exec(1, 12, "user is not a method but has arguments"),
    ),
    ("{{ div 1 0 }}", "", Exec(1, 4, "integer divide by zero")),
    ("{{ len 3 }}", "", Exec(1, 4, "len of type int")),
    (
        "{{ index .pass \"k\" }}",
        "",
        Exec(1, 4, "wrong type for value; expected int; got string"),
    ),
    (
        "{{ get .pass \"k\" }}",
        "",
        Exec(1, 4, "expected map; got string"),
    ),
    (
        "{{ ternary 1 2 .pass }}",
        "",
        Exec(1, 4, "expected bool; got string"),
    ),
    ("{{ slice .pass 3 1 }}", "", Exec(1, 4, "low above high")),
    ("{{ and }}", "", Exec(1, 4, "wrong number of args for and")),
    ("{{ nil }}", "", Exec(1, 4, "nil is not a command")),
    (
        "{{ repeat 100000000 .pass }}",
        "",
        Exec(1, 4, "result would exceed"),
    ),
    (
        "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}",
        "",
        Exec(1, 17, "maximum template depth"),
    ),
];

#[test]
fn parse_error_cases() {
    run_table(PARSE);
}

#[test]
fn exec_error_cases() {
    run_table(EXEC);
}

#[test]
fn binary_output_needs_render_bytes() {
    let (value, _) = data("");
    let t = Template::parse("bin", "{{ b64dec \"/w==\" }}").unwrap();
    assert!(matches!(t.render(&value), Err(TemplateError::NotUtf8 { ref name }) if name == "bin"));
    assert_eq!(t.render_bytes(&value).unwrap().as_slice(), &[0xff]);
}

#[test]
fn error_names_the_template_and_category() {
    let err = Template::parse("spec.target.template.data.auth", "{{ .x").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("template spec.target.template.data.auth:1:1: "),
        "{err}"
    );
    assert_eq!(err.category(), "template_parse");
    assert_eq!(err.position(), ("spec.target.template.data.auth", 1, 1));
    let (value, _) = data("");
    let err = run("{{ .missing }}", &value).unwrap_err();
    assert_eq!(err.category(), "template_execute");
}
