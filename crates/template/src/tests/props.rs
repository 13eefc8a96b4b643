//! Property-style checks: for generated values, no error message and no `Debug` output ever
//! contains a data value; the API types are thread-safe; random and deeply nested templates
//! never panic or overflow the stack.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::{Template, Value};

/// A small deterministic generator (no extra dependency needed for a handful of values).
pub(super) struct Lcg(pub(super) u64);

impl Lcg {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// A value of 8–40 printable characters, with JSON, YAML and template punctuation mixed in.
    fn value(&mut self) -> String {
        const CHARS: &[u8] =
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789{}[]:\"'-_.,$%|/+= ";
        let len = 8 + (self.next() % 33) as usize;
        let mut s: String = (0..len)
            .map(|_| CHARS[(self.next() % CHARS.len() as u64) as usize] as char)
            .collect();
        s.insert_str(0, "v@l");
        s
    }
}

/// Templates that fail on most inputs, in every way a value could reach an error.
const FAILING: &[&str] = &[
    "{{ b64dec .v }}",
    "{{ fromJson .v }}",
    "{{ fromYaml .v }}",
    "{{ .v.field }}",
    "{{ index .v 1000 }}",
    "{{ index .v \"k\" }}",
    "{{ fail .v }}",
    "{{ required .v \"\" }}",
    "{{ printf \"%s!\" .v | fail }}",
    "{{ eq .v 1 }}",
    "{{ upper (list .v) }}",
    "{{ range .v }}{{ end }}",
    "{{ .v | .w }}",
    "{{ (fromJson .j).a.b }}",
    "{{ get .v \"x\" }}",
    "{{ lt .v 1 }}",
    "{{ slice .v 1000 }}",
    "{{ ternary 1 2 .v }}",
    "{{ template \"none\" .v }}",
    "{{ len (fromJson .v) }}",
];

#[test]
fn no_error_ever_contains_a_value() {
    let mut rng = Lcg(0x5eed);
    for round in 0..50 {
        let v = rng.value();
        let w = rng.value();
        let json = serde_json::json!({ "a": v.clone() }).to_string();
        let data = Value::from_secret_map([
            ("v".to_owned(), Zeroizing::new(v.clone().into_bytes())),
            ("w".to_owned(), Zeroizing::new(w.clone().into_bytes())),
            ("j".to_owned(), Zeroizing::new(json.into_bytes())),
        ]);
        for src in FAILING {
            let t = Template::parse("t", src).unwrap_or_else(|e| panic!("{src}: {e}"));
            if let Err(e) = t.render(&data) {
                let shown = format!("{e} {e:?}");
                for secret in [&v, &w] {
                    assert!(
                        !shown.contains(secret.as_str()),
                        "round {round}: {src} leaks: {shown}"
                    );
                }
            }
        }
        // A value used as template text: parse errors show positions, not the text.
        if let Err(e) = Template::parse("t", &format!("{{{{ {v} ")) {
            assert!(
                !e.to_string().contains(v.as_str()),
                "parse error leaks: {e}"
            );
        }
    }
}

#[test]
fn debug_never_shows_strings() {
    let mut m = BTreeMap::new();
    m.insert("k".to_owned(), Value::from("s3cr3t-value"));
    let v = Value::List(vec![
        Value::Map(m),
        Value::from("s3cr3t-two"),
        Value::Int(1),
    ]);
    let shown = format!("{v:?}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
}

#[test]
fn template_is_send_sync_and_reusable() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Template>();
    assert_send_sync::<Value>();
    let t = Template::parse("t", "{{ .v }}").unwrap();
    let copy = t.clone();
    let handle = std::thread::spawn(move || {
        let d = Value::from_secret_map([("v".to_owned(), Zeroizing::new(b"x".to_vec()))]);
        copy.render(&d).map(|s| s.to_string())
    });
    assert_eq!(handle.join().unwrap().unwrap(), "x");
    assert_eq!(t.name(), "t");
    assert!(!format!("{t:?}").is_empty());
}

#[test]
fn random_templates_never_panic() {
    const PIECES: &[&str] = &[
        "{{", "}}", "{{-", " -}}", " ", ".", ".v", "$", "$x", ":=", "=", "|", "(", ")", "\"", "`",
        "'", "\\", "if", "else", "end", "range", "with", "define", "template", "block", "break",
        "continue", "nil", "true", "1", "-2.5", "0x", "e", "/*", "*/", "index", "printf", "\"%d\"",
        "slice", "len", "upper", "fromJson", "toYaml", "split", "\n", "é", "a",
    ];
    let mut rng = Lcg(42);
    let data = Value::from_secret_map([("v".to_owned(), Zeroizing::new(b"[1,2]".to_vec()))]);
    for _ in 0..3000 {
        let n = 1 + (rng.next() % 14) as usize;
        let src: String = (0..n)
            .map(|_| PIECES[(rng.next() % PIECES.len() as u64) as usize])
            .collect();
        if let Ok(t) = Template::parse("r", &src) {
            let _ = t.render_bytes(&data);
        }
    }
}

/// A template nested about 100 levels deep (just under, at or just over the limit) or 3,000,
/// mixing every construct that nests: `if`, `with`, `range` with and without variables,
/// `else if` chains, `block`, calls into a self-recursive `define`, and parenthesized
/// pipelines, sometimes with closers missing.
fn deep_template(rng: &mut Lcg) -> String {
    // Each level: its opening, its closing and how many nesting levels it takes.
    const LEVELS: &[(&str, &str, usize)] = &[
        ("{{if $.v}}", "{{end}}", 1),
        ("{{with $.v}}", "{{end}}", 1),
        ("{{range $.v}}", "{{end}}", 1),
        ("{{range $i, $e := $.v}}", "{{else}}x{{end}}", 1),
        ("{{if not $.v}}{{else if $.v}}", "{{end}}", 2),
        ("{{block \"b\" .}}", "{{end}}", 1),
        ("{{with $x := list . $.v}}", "{{end}}", 1),
        ("{{template \"r\" .}}{{if $.v}}", "{{end}}", 1),
    ];
    let target = match rng.next() % 8 {
        0 => 3_000,
        1 | 2 => 90 + (rng.next() % 20) as usize,
        _ => 40 + (rng.next() % 60) as usize,
    };
    // The `define` is one level; parentheses come in threes.
    let mut used = 1;
    let parens = 3 * (rng.next() % 10) as usize;
    let mut src = String::from("{{define \"r\"}}{{if .}}{{template \"r\" .}}{{end}}{{end}}");
    let mut closers = Vec::new();
    while used + parens < target {
        let (open, close, levels) = LEVELS[(rng.next() % LEVELS.len() as u64) as usize];
        src.push_str(open);
        closers.push(close);
        used += levels;
    }
    src.push_str(&format!(
        "{{{{ print {}$.v{} }}}}",
        "(toJson (fromJson (toJson ".repeat(parens / 3),
        ")))".repeat(parens / 3)
    ));
    // Sometimes a few closers are missing.
    let missing = if rng.next().is_multiple_of(4) {
        (rng.next() % 3) as usize
    } else {
        0
    };
    for close in closers
        .iter()
        .rev()
        .take(closers.len().saturating_sub(missing))
    {
        src.push_str(close);
    }
    src
}

#[test]
fn deep_random_templates_never_panic_or_overflow() {
    // On a tokio worker's 2 MiB stack: a missing bound would abort the test binary with a
    // stack overflow rather than fail an assertion.
    super::nesting::on_worker_stack(|| {
        let mut rng = Lcg(99);
        // Lists of one element keep ranges cheap; some rounds use two (2^100 iterations, so
        // the budget ends them).
        let one = Value::Map(BTreeMap::from([(
            "v".to_owned(),
            Value::List(vec![Value::Int(1)]),
        )]));
        let two = Value::Map(BTreeMap::from([(
            "v".to_owned(),
            Value::List(vec![Value::Int(1), Value::Int(2)]),
        )]));
        for round in 0..200 {
            let src = deep_template(&mut rng);
            let data = if round % 10 == 0 { &two } else { &one };
            if let Ok(t) = Template::parse("r", &src) {
                let _ = t.render_bytes(data);
            }
        }
    });
}
