//! Deep nesting from a hostile template or input: every case runs on a thread with a 2 MiB
//! stack, as a tokio worker has, and must end in an ordinary error. Were a limit missing, the
//! thread would overflow its stack and the whole test binary (like the agent) would abort
//! with SIGSEGV / "has overflowed its stack" instead of reporting a failed assertion.

use zeroize::Zeroizing;

use crate::{Template, TemplateError, Value};

/// A tokio worker thread's default stack.
const WORKER_STACK: usize = 2 << 20;

/// Runs `f` on a thread with [`WORKER_STACK`] bytes of stack.
pub(super) fn on_worker_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(WORKER_STACK)
        .spawn(f)
        .expect("spawn a test thread")
        .join()
        .expect("the test thread panicked")
}

fn parse_err(src: String) -> TemplateError {
    on_worker_stack(move || Template::parse("t", &src).expect_err("should not parse"))
}

fn render(src: String, data: Value) -> Result<String, TemplateError> {
    on_worker_stack(move || {
        let t = Template::parse("t", &src)?;
        t.render(&data).map(|s| s.to_string())
    })
}

fn data(key: &str, value: String) -> Value {
    Value::from_secret_map([(key.to_owned(), Zeroizing::new(value.into_bytes()))])
}

/// `open` repeated `n` times around `inner`, closed by `close` repeated `n` times.
fn nest(open: &str, inner: &str, close: &str, n: usize) -> String {
    format!("{}{inner}{}", open.repeat(n), close.repeat(n))
}

#[test]
fn deep_controls_and_parens_are_parse_errors() {
    // Without the parser's nesting limit each of these recursed once per level and blew the
    // stack at about 3,000 levels, aborting the process.
    for n in [101, 3_000, 100_000] {
        let cases = [
            (nest("{{if 1}}", "x", "{{end}}", n), 1 + 8 * 100),
            (nest("{{with 1}}", "x", "{{end}}", n), 1 + 10 * 100),
            (nest("{{range 1}}", "x", "{{end}}", n), 1 + 11 * 100),
            (nest("{{block \"b\" .}}", "x", "{{end}}", n), 1 + 15 * 100),
            (
                format!("{{{{if 0}}}}{}", "{{else if 0}}".repeat(n)),
                9 + 13 * 99,
            ),
            (format!("{{{{ {} }}}}", nest("(", "1", ")", n)), 4 + 100),
            (
                format!("{{{{ {} }}}}", nest("(print ", "1", ")", n)),
                4 + 7 * 100,
            ),
            (
                format!("{{{{ print {} }}}}", nest("(len ", ".", ")", n)),
                10 + 5 * 100,
            ),
        ];
        for (src, col) in cases {
            let start: String = src.chars().take(30).collect();
            match parse_err(src) {
                TemplateError::Parse {
                    line: 1,
                    col: c,
                    message,
                    ..
                } if c == col && message == "nesting exceeds 100 levels" => {}
                other => panic!("{n} levels of {start}…: {other:?}"),
            }
        }
    }
}

#[test]
fn nesting_limit_counts_controls_and_parens_together() {
    // 60 ifs around 40 parens is 100 levels: allowed. One more paren is refused.
    let ok = nest(
        "{{if 1}}",
        &format!("{{{{ {} }}}}", nest("(", "7", ")", 40)),
        "{{end}}",
        60,
    );
    assert_eq!(render(ok, Value::Null).as_deref(), Ok("7"));
    let deep = nest(
        "{{if 1}}",
        &format!("{{{{ {} }}}}", nest("(", "7", ")", 41)),
        "{{end}}",
        60,
    );
    let err = parse_err(deep);
    assert!(
        err.to_string().contains("nesting exceeds 100 levels"),
        "{err}"
    );
}

#[test]
fn deepest_allowed_templates_render_on_a_worker_stack() {
    // 100 levels of each construct, the most the parser allows: had any level cost too much
    // stack, rendering (not parsing) would overflow here.
    let cases = [
        nest("{{if 1}}", "x", "{{end}}", 100),
        nest("{{with $v := 1}}", "x", "{{end}}", 100),
        nest("{{range $i, $v := 1}}", "x", "{{end}}", 100),
        format!("{{{{ {} }}}}", nest("(print ", "\"x\"", ")", 100)),
        nest(
            "{{if 1}}",
            &format!("{{{{ {} }}}}", nest("(print ", "\"x\"", ")", 50)),
            "{{end}}",
            50,
        ),
    ];
    for src in cases {
        assert_eq!(render(src, Value::Null).as_deref(), Ok("x"));
    }
}

#[test]
fn deep_evaluation_across_templates_stops_with_an_error() {
    // Each template is within the parser's limit, but a template calling itself from inside
    // 99 ranges (the deepest frames) would nest without end; before the executor's bound,
    // 1,000 `template` calls of such bodies needed far more than 2 MiB of stack.
    let body = nest(
        "{{range $i, $v := 1}}",
        "{{template \"r\" .}}",
        "{{end}}",
        98,
    );
    let src = format!("{{{{define \"r\"}}}}{body}{{{{end}}}}{{{{template \"r\" .}}}}");
    let err = render(src, Value::Null).expect_err("nests too deep");
    assert!(
        err.to_string()
            .contains("evaluation nests deeper than 200 levels"),
        "{err}"
    );
    // The same with 98 parentheses at the bottom, the costliest frames.
    let parens = format!("{{{{ {} }}}}", nest("(print ", "1", ")", 98));
    let body = format!("{{{{if eq . 1}}}}{parens}{{{{else}}}}{{{{template \"r\" 1}}}}{{{{end}}}}");
    let calls = nest("{{if 1}}", "{{template \"r\" 0}}", "{{end}}", 99);
    let src = format!("{{{{define \"r\"}}}}{body}{{{{end}}}}{calls}");
    let err = render(src, Value::Null).expect_err("nests too deep");
    assert!(
        err.to_string()
            .contains("evaluation nests deeper than 200 levels"),
        "{err}"
    );
    // Plain self-recursion stops at the template depth.
    let src = "{{define \"r\"}}{{template \"r\" .}}{{end}}{{template \"r\" .}}".to_owned();
    let err = render(src, Value::Null).expect_err("recursion");
    assert!(err.to_string().contains("maximum template depth"), "{err}");
}

#[test]
fn deep_values_are_refused() {
    // `list`/`dict`/`append` in a loop nest a value without end; printing, encoding, cloning
    // or dropping a value 100,000 levels deep recursed past the end of the stack.
    for build in ["list $x", "dict \"k\" $x", "append (list) $x"] {
        let src =
            format!("{{{{$x := 1}}}}{{{{range 100000}}}}{{{{$x = {build}}}}}{{{{end}}}}{{{{$x}}}}");
        let err = render(src, Value::Null).expect_err("too deep");
        assert!(
            err.to_string()
                .contains("value nests deeper than 100 levels"),
            "{err}"
        );
    }
    // Up to the limit, every recursive operation works, at the bottom of 100 ifs.
    let ops = "{{ $x | toJson | fromJson | toYaml | len }}{{ $x | toPrettyJson | len }}\
               {{ printf \"%v\" $x | len }}{{ $x | toString | len }}";
    let src = format!(
        "{{{{$x := list}}}}{{{{range 99}}}}{{{{$x = list $x}}}}{{{{end}}}}{}",
        nest("{{if 1}}", ops, "{{end}}", 99)
    );
    assert_eq!(render(src, Value::Null).as_deref(), Ok("20020000200200"));
}

#[test]
fn deep_json_and_yaml_input_is_refused() {
    // A secret holding 100,000 nested brackets: decoding recursed once per level.
    let cases = [
        ("{{ fromJson .d }}", "[".repeat(100_000)),
        (
            "{{ fromJson .d }}",
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        ),
        ("{{ fromJson .d }}", "{\"a\":".repeat(100_000)),
        ("{{ fromYaml .d }}", format!("a: {}", "[".repeat(100_000))),
        (
            "{{ fromYaml .d }}",
            format!("a: {}{}", "[".repeat(100_000), "]".repeat(100_000)),
        ),
        (
            "{{ fromYaml .d }}",
            format!("a: {}", "{a: ".repeat(100_000)),
        ),
        (
            "{{ fromYaml .d }}",
            format!("a:\n{}x", "- ".repeat(100_000)),
        ),
        (
            "{{ fromYaml .d }}",
            (0..1_000)
                .map(|i| format!("{}k:\n", " ".repeat(i)))
                .collect(),
        ),
    ];
    for (src, input) in cases {
        let err = render(src.to_owned(), data("d", input)).expect_err("too deep");
        let text = err.to_string();
        let deep = ["input nests deeper", "input may nest deeper"];
        assert!(deep.iter().any(|d| text.contains(d)), "{src}: {text}");
    }
    // 100 levels decode.
    let json = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let src = "{{ fromJson .d | toJson | len }}".to_owned();
    assert_eq!(render(src, data("d", json)).as_deref(), Ok("201"));
    let json = format!("{}1{}", "[".repeat(101), "]".repeat(101));
    let err = render("{{ fromJson .d }}".to_owned(), data("d", json)).expect_err("101");
    assert!(
        err.to_string()
            .contains("input nests deeper than 100 levels"),
        "{err}"
    );
}

#[test]
fn deep_data_is_refused() {
    // Data built by the caller 150 levels deep (printing it would recurse 150 times; far
    // deeper data would overflow): refused before rendering starts.
    let mut v = Value::Int(1);
    for _ in 0..150 {
        v = Value::List(vec![v]);
    }
    let err = render("{{ . }}".to_owned(), v).expect_err("too deep");
    assert!(
        err.to_string()
            .contains("data nests deeper than 100 levels"),
        "{err}"
    );
}
