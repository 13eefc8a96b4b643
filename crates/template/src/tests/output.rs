//! Cases that render: syntax, control flow, builtins and Sprig functions.

use super::{Case, Want::Out, run_table};

const DOCKER: &str = r#"{"auths":{"{{ .registry }}":{"username":"{{ .user }}","password":"{{ .pass }}","auth":"{{ printf "%s:%s" .user .pass | b64enc }}"}}}"#;
const DOCKER_OUT: &str = r#"{"auths":{"registry.example.com":{"username":"alice","password":"s3cr3t-pw","auth":"YWxpY2U6czNjcjN0LXB3"}}}"#;

const SYNTAX: &[Case] = &[
    ("plain text", "", Out("plain text")),
    ("{{ .user }}", "", Out("alice")),
    (
        "{{.user}}@{{ .registry }}",
        "",
        Out("alice@registry.example.com"),
    ),
    ("{{ .a.b.c }}", r#"{"a":{"b":{"c":"x"}}}"#, Out("x")),
    ("{{ $.user }}", "", Out("alice")),
    ("{{ . }}", r#""dot""#, Out("dot")),
    (DOCKER, "", Out(DOCKER_OUT)),
    ("a  {{- .user -}}  b", "", Out("aaliceb")),
    ("a\n  {{- .user }}\n", "", Out("aalice\n")),
    ("{{ .user -}}\n\t x", "", Out("alicex")),
    ("a {{/* note */}} b", "", Out("a  b")),
    ("a {{- /* note */ -}} b", "", Out("ab")),
    ("{{-3}}", "", Out("-3")),
    (r#"{{ "a\tb\u00e9\x41\\" }}"#, "", Out("a\tbéA\\")),
    ("{{ `raw\\n{{x}}` }}", "", Out("raw\\n{{x}}")),
    (
        "{{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 1_000 }} {{ 0b101 }}",
        "",
        Out("31 15 15 1000 5"),
    ),
    (
        "{{ 1.5 }} {{ 1e3 }} {{ -2.25 }} {{ 'a' }}",
        "",
        Out("1.5 1000 -2.25 97"),
    ),
    ("{{ true }} {{ false }}", "", Out("true false")),
    ("{{ index . \"missing\" }}", "", Out("<no value>")),
    ("{{ $x := \"a\" }}{{ $x = \"b\" }}{{ $x }}", "", Out("b")),
    (
        "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
        "",
        Out("2"),
    ),
    ("{{ .user | upper | quote }}", "", Out("\"ALICE\"")),
    (
        "{{ (printf \"%s-%s\" .user .flag) | upper }}",
        "",
        Out("ALICE-YES"),
    ),
    ("{{ (fromJson .j).k }}", "", Out("val")),
    ("{{ (fromJson .j).inner.v }}", "", Out("deep")),
    ("{{ $j := fromJson .j }}{{ $j.inner.v }}", "", Out("deep")),
    (
        "{{ define \"t\" }}[{{ . }}]{{ end }}{{ template \"t\" .user }}",
        "",
        Out("[alice]"),
    ),
    (
        "{{ define \"t\" }}{{ $ }}{{ end }}{{ template \"t\" }}",
        "",
        Out("<no value>"),
    ),
    (
        "{{ block \"b\" .user }}<{{ . }}>{{ end }}",
        "",
        Out("<alice>"),
    ),
    (
        "{{ define \"b\" }}new{{ end }}{{ block \"b\" . }}old{{ end }}",
        "",
        Out("new"),
    ),
];

const CONTROL: &[Case] = &[
    ("{{ if .flag }}y{{ else }}n{{ end }}", "", Out("y")),
    ("{{ if .empty }}y{{ else }}n{{ end }}", "", Out("n")),
    (
        "{{ if .empty }}1{{ else if .flag }}2{{ else }}3{{ end }}",
        "",
        Out("2"),
    ),
    (
        "{{ if .empty }}1{{ else if .empty }}2{{ else }}3{{ end }}",
        "",
        Out("3"),
    ),
    ("{{ if $x := .flag }}{{ $x }}{{ end }}", "", Out("yes")),
    (
        "{{ range $i, $v := fromJson .list }}{{ $i }}={{ $v }};{{ end }}",
        "",
        Out("0=a;1=b;"),
    ),
    (
        "{{ range $k, $v := fromJson .map }}{{ $k }}:{{ $v }},{{ end }}",
        "",
        Out("a:1,b:2,"),
    ),
    ("{{ range fromJson .list }}{{ . }}{{ end }}", "", Out("ab")),
    (
        "{{ range $v := fromJson .list }}{{ $v }}{{ $.user }}{{ end }}",
        "",
        Out("aalicebalice"),
    ),
    (
        "{{ range fromJson .e }}x{{ else }}none{{ end }}",
        r#"{"e":"[]"}"#,
        Out("none"),
    ),
    ("{{ range 3 }}{{ . }}{{ end }}", "", Out("012")),
    (
        "{{ range list 1 2 3 4 }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}",
        "",
        Out("13"),
    ),
    (
        "{{ with .user }}{{ . }}{{ else }}none{{ end }}",
        "",
        Out("alice"),
    ),
    (
        "{{ with .empty }}{{ . }}{{ else }}none{{ end }}",
        "",
        Out("none"),
    ),
    (
        "{{ with fromJson .j }}{{ with .inner }}{{ .v }}{{ else }}no-inner{{ end }}{{ end }}",
        "",
        Out("deep"),
    ),
    (
        "{{ with fromJson .j2 }}{{ with .inner }}{{ .v }}{{ else }}no-inner{{ end }}{{ end }}",
        r#"{"j2":"{\"inner\":{}}"}"#,
        Out("no-inner"),
    ),
    (
        "{{ with index . \"none\" }}x{{ else with .user }}{{ . }}{{ end }}",
        "",
        Out("alice"),
    ),
    (
        "{{ range $k, $v := . }}{{ $k }} {{ end }}",
        r#"{"b":"1","a":"2"}"#,
        Out("a b "),
    ),
];

const BUILTINS: &[Case] = &[
    (
        "{{ and 1 0 2 }} {{ and 1 2 }} {{ or \"\" \"x\" }} {{ or 0 \"\" }}",
        "",
        Out("0 2 x "),
    ),
    ("{{ or .user (fail \"never\") }}", "", Out("alice")),
    ("{{ not .empty }} {{ not .user }}", "", Out("true false")),
    (
        "{{ len .user }} {{ len (list 1 2) }} {{ len (dict \"a\" 1) }}",
        "",
        Out("5 2 1"),
    ),
    (
        "{{ index (list \"a\" \"b\") 1 }} {{ index (fromJson .j) \"inner\" \"v\" }}",
        "",
        Out("b deep"),
    ),
    ("{{ index .user 0 }}", "", Out("97")),
    (
        "{{ slice .user 1 3 }} {{ slice (list 1 2 3) 1 }}",
        "",
        Out("li [2 3]"),
    ),
    (
        "{{ eq .user \"alice\" }} {{ eq \"b\" \"a\" \"b\" }} {{ ne 1 2 }}",
        "",
        Out("true true true"),
    ),
    (
        "{{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2 }}",
        "",
        Out("true true true false"),
    ),
    ("{{ eq (fromJson .j).port 8080 }}", "", Out("true")),
    (
        "{{ print 1 2 \"a\" 3 }}|{{ println \"x\" 1 }}",
        "",
        Out("1 2a3|x 1\n"),
    ),
    (
        r#"{{ printf "%d|%5s|%-4s|%q|%x|%X|%.2f|%v|%t|%%|%03d" 42 "ab" "c" "q" "hi" 255 3.14159 (list 1 "a") true 7 }}"#,
        "",
        Out("42|   ab|c   |\"q\"|6869|FF|3.14|[1 a]|true|%|007"),
    ),
    (r#"{{ printf "%s %s" "a" }}"#, "", Out("a %!s(MISSING)")),
    (r#"{{ printf "%d" "x" }}"#, "", Out("%!d(string=x)")),
    (
        r#"{{ printf "%e %g %v" 1234.5 0.00001 1000000.0 }}"#,
        "",
        Out("1.234500e+03 1e-05 1e+06"),
    ),
    (
        "{{ (fromJson .j).big }} {{ printf \"%d\" (fromJson .j).big }}",
        "",
        Out("1.234567e+06 1234567"),
    ),
    (
        "{{ html \"<a href='x'>&\" }}",
        "",
        Out("&lt;a href=&#39;x&#39;&gt;&amp;"),
    ),
    ("{{ urlquery \"a b&c/d\" }}", "", Out("a+b%26c%2Fd")),
    ("{{ js \"it's <b>\" }}", "", Out("it\\'s \\u003Cb\\u003E")),
];

const SPRIG: &[Case] = &[
    ("{{ title \"it's a_b c-d\" }}", "", Out("It'S A_b C-D")),
    (
        "{{ int \"1.5\" }} {{ int \"2.0\" }} {{ atoi \"x\" }} {{ float64 \"2.5\" }}",
        "",
        Out("0 2 0 2.5"),
    ),
    (
        "{{ \"hello\" | b64enc }} {{ \"aGVsbG8=\" | b64dec }}",
        "",
        Out("aGVsbG8= hello"),
    ),
    (
        "{{ upper .user }} {{ lower \"ABC\" }} {{ title \"hello big world\" }}",
        "",
        Out("ALICE abc Hello Big World"),
    ),
    (
        "[{{ trim \"  x \\n\" }}] {{ trimAll \"$\" \"$5.00$\" }}",
        "",
        Out("[x] 5.00"),
    ),
    (
        "{{ trimPrefix \"re\" \"redo\" }} {{ trimSuffix \".com\" .registry }}",
        "",
        Out("do registry.example"),
    ),
    (
        "{{ quote \"a\" 1 }} {{ squote \"b\" }} {{ cat \"a\" 1 }}",
        "",
        Out("\"a\" \"1\" 'b' a 1"),
    ),
    (
        "{{ \"\" | default \"d\" }} {{ \"v\" | default \"d\" }} {{ index . \"no\" | default \"d\" }}",
        "",
        Out("d v d"),
    ),
    (
        "{{ empty .empty }} {{ empty .user }} {{ coalesce \"\" 0 \"c\" }}",
        "",
        Out("true false c"),
    ),
    (
        "{{ ternary \"y\" \"n\" true }} {{ true | ternary \"y\" \"n\" }} {{ ternary 1 2 false }}",
        "",
        Out("y y 2"),
    ),
    (
        "{{ dict \"a\" \"<b>&\" \"n\" 1 \"l\" (list true nil) | toJson }}",
        "",
        Out(r#"{"a":"\u003cb\u003e\u0026","l":[true,null],"n":1}"#),
    ),
    (
        "{{ dict \"a\" \"<\" | toRawJson }}",
        "",
        Out(r#"{"a":"<"}"#),
    ),
    (
        "{{ list 1 \"x\" | toPrettyJson }}",
        "",
        Out("[\n  1,\n  \"x\"\n]"),
    ),
    (
        "{{ fromJson .j | toJson }}",
        "",
        Out(r#"{"big":1234567,"inner":{"v":"deep"},"k":"val","port":8080}"#),
    ),
    (
        "{{ fromJson .y | toYaml }}",
        r#"{"y":"{\"b\":[1,\"x\"],\"a\":\"s\"}"}"#,
        Out("a: s\nb:\n- 1\n- x"),
    ),
    (
        "{{ (fromYaml .y).key }} {{ (fromYaml .y).n }}",
        r#"{"y":"key: val\nn: 3\n"}"#,
        Out("val 3"),
    ),
    (
        "{{ replace \"-\" \"_\" \"a-b-c\" }} {{ \"a.b\" | replace \".\" \"\" }}",
        "",
        Out("a_b_c ab"),
    ),
    (
        "{{ indent 2 \"a\\nb\" }}|{{ \"x\" | nindent 4 }}",
        "",
        Out("  a\n  b|\n    x"),
    ),
    (
        "{{ get (fromJson .j) \"k\" }}[{{ get (fromJson .j) \"none\" }}]",
        "",
        Out("val[]"),
    ),
    (
        "{{ hasKey (fromJson .j) \"k\" }} {{ keys (dict \"b\" 1 \"a\" 2) | join \",\" }}",
        "",
        Out("true a,b"),
    ),
    (
        "{{ list \"a\" \"b\" nil 3 | join \"-\" }}",
        "",
        Out("a-b-3"),
    ),
    (
        "{{ (split \",\" \"a,b\")._1 }} {{ splitList \",\" \"a,b,c\" | len }}",
        "",
        Out("b 3"),
    ),
    (
        "{{ contains \"ice\" .user }} {{ hasPrefix \"al\" .user }} {{ hasSuffix \"x\" .user }}",
        "",
        Out("true true false"),
    ),
    (
        "{{ repeat 3 \"ab\" }} {{ nospace \" a b\\tc \" }}",
        "",
        Out("ababab abc"),
    ),
    (
        "{{ sha256sum \"abc\" }}",
        "",
        Out("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ),
    (
        "{{ toString 5 }} {{ atoi \"42\" | add 1 }} {{ int \"7\" }} {{ int 3.9 }}",
        "",
        Out("5 43 7 3"),
    ),
    (
        "{{ add 1 2 3 }} {{ sub 5 2 }} {{ mul 2 3 }} {{ div 7 2 }} {{ mod 7 2 }} {{ add1 1 }}",
        "",
        Out("6 3 6 3 1 2"),
    ),
    ("{{ required \"need user\" .user }}", "", Out("alice")),
    (
        "{{ list 1 2 | first }} {{ list 1 2 | last }} {{ append (list 1) 2 }}",
        "",
        Out("1 2 [1 2]"),
    ),
    (
        "{{ dict \"k\" (list 1 (dict \"x\" 1.5)) }}",
        "",
        Out("map[k:[1 map[x:1.5]]]"),
    ),
];

#[test]
fn syntax_cases() {
    run_table(SYNTAX);
}

#[test]
fn control_cases() {
    run_table(CONTROL);
}

#[test]
fn builtin_cases() {
    run_table(BUILTINS);
}

#[test]
fn sprig_cases() {
    run_table(SPRIG);
}
