//! The `fromYaml` pre-scan: its bound on flow nesting must never be below what libyaml
//! sees. Were it fooled, libyaml would scan 100,000 levels, quadratically (half a minute
//! optimized), and then fail with its own recursion error instead of the scan's error.

use zeroize::Zeroizing;

use super::props::Lcg;
use crate::yaml_scan::flow_depth_bound;
use crate::{Template, Value};

#[test]
fn bound_is_exact_on_plain_flow_yaml() {
    let cases: &[(&str, usize)] = &[
        ("a: b", 0),
        ("[]", 1),
        ("[[1], [2, [3]]]", 3),
        ("{a: [1, {b: 2}], c: d}", 3),
        ("a:\n  - [x, y]\n  - {k: v}\n", 1),
        (r#"{"a": "]]", "b": ["}}", 'it''s ]']}"#, 2),
        // An opener in a quoted scalar: from there on, every opener counts.
        (r#"{"a": "[", "b": [1], "c": [2]}"#, 4),
        ("[a # ]]]\n, b]", 1),
        ("[&x a, *x]", 1),
        // Brackets in block scalars and block strings: libyaml's depth is 0 there.
        ("a: \"{{ .x }}\"\nb: |\n  ]]] [[\n  ]]]\n", 2),
    ];
    for (text, want) in cases {
        assert_eq!(flow_depth_bound(text.as_bytes()), *want, "{text:?}");
    }
}

/// Inputs that nest `n` flow levels deep for libyaml while hiding closers from a naive count.
fn disguised(n: usize) -> Vec<Vec<u8>> {
    let texts = vec![
        // Closers inside quoted scalars.
        format!("a: {}", "[\"]]\", ".repeat(n)),
        format!("a: {}", "[']]', ".repeat(n)),
        format!("a: {}", "{k: \"}}\", x: ".repeat(n)),
        // Closers inside comments.
        format!("a: {}", "[ # ]]\n".repeat(n)),
        // Closers inside tags (libyaml lets `]` into a tag's URI).
        format!("a: {}", "[!t]] ".repeat(n)),
        // A quote in block context that a flow-minded scan might take for a string's end.
        format!("a: x[ \"z\nb: {}", "[ \"]\" ".repeat(n)),
        format!("a: x, \"y\nb: {}", "[\"]]\",".repeat(n)),
        // Quotes inside plain scalars, comments after a non-ASCII line break.
        format!("a: {}", "[x\"]]\",".repeat(n)),
        format!("a: {}", "[x\u{85}# ]]\n,".repeat(n)),
    ];
    let mut all: Vec<Vec<u8>> = texts.into_iter().map(String::into_bytes).collect();
    // UTF-16, which libyaml converts: the scan sees NUL bytes.
    let utf16 = format!("\u{feff}a: {}", "[\"]]\", ".repeat(n));
    all.push(utf16.encode_utf16().flat_map(u16::to_le_bytes).collect());
    all
}

#[test]
fn closers_libyaml_does_not_see_never_lower_the_bound() {
    for (i, text) in disguised(1_000).into_iter().enumerate() {
        let got = flow_depth_bound(&text);
        assert!(got >= 1_000, "case {i}: bound {got} < 1000");
    }
}

#[test]
fn disguised_deep_yaml_is_refused_by_the_scan() {
    for (i, text) in disguised(100_000).into_iter().enumerate() {
        let data = Value::from_secret_map([("y".to_owned(), Zeroizing::new(text))]);
        let t = Template::parse("t", "{{ fromYaml .y }}").expect("parse");
        let err = t.render(&data).expect_err("too deep");
        assert!(
            err.to_string()
                .contains("input may nest deeper than 100 levels"),
            "case {i}: {err}"
        );
    }
}

fn depth(v: &serde_norway::Value) -> usize {
    match v {
        serde_norway::Value::Sequence(s) => 1 + s.iter().map(depth).max().unwrap_or(0),
        serde_norway::Value::Mapping(m) => {
            1 + m
                .iter()
                .map(|(k, v)| depth(k).max(depth(v)))
                .max()
                .unwrap_or(0)
        }
        serde_norway::Value::Tagged(t) => depth(&t.value),
        _ => 0,
    }
}

/// Scalars that hide brackets from a naive count.
const SCALARS: &[&str] = &[
    "a",
    "a b",
    "-1",
    "\"]]\"",
    "\"[{\"",
    "'}]'",
    "'it''s ]'",
    "\"q\\\"]\"",
    "&x a",
    "*x",
    "!t a",
    "\"a\nb ]\"",
    "x#]",
];
/// Separators between items, some with comments holding closers.
const SEPS: &[&str] = &[",", ", ", " ,\n ", ", # ]]\n", "\n,", ",\t"];

fn pick<'a>(rng: &mut Lcg, from: &[&'a str]) -> &'a str {
    from[(rng.next() % from.len() as u64) as usize]
}

/// A random flow node, nested up to `depth` more levels.
fn node(rng: &mut Lcg, depth: usize, out: &mut String) {
    let kind = if depth == 0 { 0 } else { rng.next() % 3 };
    if kind == 0 {
        out.push_str(pick(rng, SCALARS));
        return;
    }
    out.push_str(if kind == 1 { "[" } else { "{" });
    for i in 0..rng.next() % 4 {
        if i > 0 {
            out.push_str(pick(rng, SEPS));
        }
        if kind == 2 {
            out.push('k');
            out.push_str(&i.to_string());
            out.push_str(": ");
        }
        node(rng, depth - 1, out);
    }
    out.push_str(if kind == 1 { "]" } else { "}" });
}

/// Odd pieces inserted into generated documents.
const PIECES: &[&str] = &[
    "[", "]", "{", "}", "\"", "'", ",", "#", "\n", " ", "a", "!t ", "&x ", "*x", "\\", "''",
    "\u{85}", "]\"", "[\"", "# ]\n", "'['", "\t",
];

#[test]
fn random_flow_yaml_never_nests_deeper_than_its_bound() {
    let mut rng = Lcg(7);
    let (mut exact, mut mutated) = (0, 0);
    for round in 0..20_000 {
        let mut text = String::new();
        let levels = 1 + (rng.next() % 8) as usize;
        node(&mut rng, levels, &mut text);
        // Every other document gets a few odd pieces inserted.
        let mutate = round % 2 == 1;
        if mutate {
            for _ in 0..1 + rng.next() % 3 {
                let at = (rng.next() as usize) % (text.len() + 1);
                if text.is_char_boundary(at) {
                    text.insert_str(at, pick(&mut rng, PIECES));
                }
            }
        }
        let Ok(v) = serde_norway::from_str::<serde_norway::Value>(&text) else {
            continue;
        };
        let (depth, bound) = (depth(&v), flow_depth_bound(text.as_bytes()));
        if mutate {
            // An inserted space can turn `-1` into a block sequence entry: one level more.
            mutated += 1;
            assert!(depth <= bound + 1, "{text:?}: depth {depth} > {bound} + 1");
        } else {
            // Generated flow YAML: every list and map is a flow level.
            exact += 1;
            assert!(depth <= bound, "{text:?}: depth {depth} > bound {bound}");
        }
    }
    assert!(
        exact > 5_000 && mutated > 1_000,
        "too few inputs parse ({exact}, {mutated})"
    );
}
