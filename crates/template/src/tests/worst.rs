//! Worst-case render times, for the "Limits" section of the crate docs. Not run by default;
//! measure an optimized build on an idle core:
//!
//! ```text
//! cargo test --release -p ferry-template worst_case -- --ignored --nocapture
//! ```
//!
//! Each template would run for minutes, hours or forever, or exhaust memory, without the
//! step budget; with it, each must stop with an error well under a second.

use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::{Template, Value};

/// Templates that try to burn CPU or memory, each with what it attacks.
pub(super) const ATTACKS: &[(&str, &str)] = &[
    (
        "nested empty ranges",
        "{{range 100000}}{{range 100000}}{{end}}{{end}}",
    ),
    (
        "ranges binding variables",
        "{{range $i, $v := 100000}}{{range $j := 100000}}{{$x := $v}}{{end}}{{end}}",
    ),
    (
        "range over a big list",
        "{{$l := splitList \",\" (repeat 100000 \"a,\")}}{{range $l}}{{range $l}}{{end}}{{end}}",
    ),
    (
        "range over a big map",
        "{{$m := split \",\" (repeat 100000 \"a,\")}}{{range $m}}{{range $m}}{{end}}{{end}}",
    ),
    (
        "copy a 4 MiB string",
        "{{$s := repeat 4000000 \"a\"}}{{range 100000}}{{$t := $s}}{{end}}",
    ),
    (
        "copy a big list",
        "{{$l := splitList \",\" (repeat 100000 \"a,\")}}{{range 100000}}{{$t := $l}}{{end}}",
    ),
    (
        "dot is a big list",
        "{{range 100000}}{{with splitList \",\" (repeat 50000 \"a,\")}}{{len .}}{{end}}{{end}}",
    ),
    (
        "upper of 4 MiB",
        "{{$s := repeat 2000000 \"é\"}}{{range 100000}}{{upper $s | len}}{{end}}",
    ),
    (
        "title of 4 MiB",
        "{{$s := repeat 1300000 \"é \"}}{{range 100000}}{{title $s | len}}{{end}}",
    ),
    (
        "nospace of 4 MiB",
        "{{$s := repeat 4000000 \" \"}}{{range 100000}}{{nospace $s | len}}{{end}}",
    ),
    (
        "trimAll of 4 MiB",
        "{{$s := repeat 4000000 \"a\"}}{{range 100000}}{{trimAll \"abcdefghij\" $s | len}}{{end}}",
    ),
    (
        "quote control bytes",
        "{{$s := repeat 1000000 \"\\x01\"}}{{range 100000}}{{quote $s | len}}{{end}}",
    ),
    (
        "js control bytes",
        "{{$s := repeat 600000 \"\\x01\"}}{{range 100000}}{{js $s | len}}{{end}}",
    ),
    (
        "html of 4 MiB",
        "{{$s := repeat 800000 \"&\"}}{{range 100000}}{{html $s | len}}{{end}}",
    ),
    (
        "urlquery of 4 MiB",
        "{{$s := repeat 1300000 \"é\"}}{{range 100000}}{{urlquery $s | len}}{{end}}",
    ),
    (
        "printf %q",
        "{{$s := repeat 1000000 \"\\x01\"}}{{range 100000}}{{printf \"%q\" $s | len}}{{end}}",
    ),
    (
        "printf %x",
        "{{$s := repeat 2000000 \"a\"}}{{range 100000}}{{printf \"%x\" $s | len}}{{end}}",
    ),
    (
        "printf widths",
        "{{range 100000}}{{printf \"%1000000d%1000000d%1000000d\" 1 2 3 | len}}{{end}}",
    ),
    (
        "sha256sum of 4 MiB",
        "{{$s := repeat 4000000 \"a\"}}{{range 100000}}{{sha256sum $s}}{{end}}",
    ),
    (
        "b64enc of 3 MiB",
        "{{$s := repeat 3000000 \"a\"}}{{range 100000}}{{b64enc $s | len}}{{end}}",
    ),
    (
        "b64dec of 4 MiB",
        "{{$s := repeat 1000000 \"YWJj\"}}{{range 100000}}{{b64dec $s | len}}{{end}}",
    ),
    (
        "replace in 4 MiB",
        "{{$s := repeat 4000000 \"a\"}}{{range 100000}}{{replace \"a\" \"b\" $s | len}}{{end}}",
    ),
    (
        "contains in 4 MiB",
        "{{$s := repeat 4000000 \"a\"}}{{range 100000}}{{contains \"ab\" $s}}{{end}}",
    ),
    (
        "eq of 4 MiB",
        "{{$s := repeat 4000000 \"a\"}}{{$t := repeat 4000000 \"a\"}}{{range 100000}}{{eq $s $t}}{{end}}",
    ),
    (
        "splitList per char",
        "{{$s := repeat 1000000 \"a\"}}{{range 100000}}{{splitList \"\" $s | len}}{{end}}",
    ),
    (
        "split into a map",
        "{{$s := repeat 500000 \"a,\"}}{{range 100000}}{{split \",\" $s | len}}{{end}}",
    ),
    (
        "toJson of a big list",
        "{{$l := splitList \",\" (repeat 100000 \"a,\")}}{{range 100000}}{{toJson $l | len}}{{end}}",
    ),
    (
        "toPrettyJson deep",
        "{{$x := list}}{{range 99}}{{$x = list $x $x}}{{end}}{{toPrettyJson $x | len}}",
    ),
    (
        "toYaml of a big list",
        "{{$l := splitList \",\" (repeat 100000 \"a,\")}}{{range 100000}}{{toYaml $l | len}}{{end}}",
    ),
    (
        "fromJson of 4 MiB",
        "{{$s := printf \"[%s1]\" (repeat 2000000 \"1,\")}}{{range 100000}}{{fromJson $s | len}}{{end}}",
    ),
    (
        "fromJson of strings",
        "{{$s := printf \"[%s1]\" (repeat 40 (printf \"%q,\" (repeat 100000 \"a\")))}}{{range 100000}}{{fromJson $s | len}}{{end}}",
    ),
    (
        "fromYaml flat",
        "{{$s := printf \"a: [%s1]\" (repeat 2000000 \"1,\")}}{{range 100000}}{{fromYaml $s | len}}{{end}}",
    ),
    (
        "fromYaml block",
        "{{$s := repeat 200000 \"- 1\\n\"}}{{$s = printf \"a:\\n%s\" $s}}{{range 100000}}{{fromYaml $s | len}}{{end}}",
    ),
    (
        "fromYaml depth 100",
        "{{$s := printf \"a: %s%s\" (repeat 99 \"[\") (repeat 500000 \"1,\")}}{{range 100000}}{{fromYaml $s | len}}{{end}}",
    ),
    (
        "largest fromYaml, flat",
        "{{fromYaml (printf \"a: [%s1]\" (repeat 300000 \"1,\")) | len}}",
    ),
    (
        "largest fromYaml, deep",
        "{{fromYaml (printf \"a: %s%s\" (repeat 100 \"[\") (repeat 135000 \"1,\")) | len}}",
    ),
    (
        "fromYaml deep flow",
        "{{fromYaml (printf \"a: %s\" (repeat 4000000 \"[\"))}}",
    ),
    (
        "fromYaml keys",
        "{{$s := printf \"a: {%s}\" (repeat 400000 \"a: 1, \")}}{{range 100000}}{{fromYaml $s | len}}{{end}}",
    ),
    (
        "fromYaml aliases",
        "{{$s := printf \"a: &a %s\\nb: [%s]\" (repeat 100000 \"x\") (repeat 1000 \"*a,\")}}{{fromYaml $s | len}}",
    ),
    (
        "keys of a big map",
        "{{$m := split \",\" (repeat 300000 \"a,\")}}{{range 100000}}{{keys $m | len}}{{end}}",
    ),
    (
        "join a big list",
        "{{$l := splitList \",\" (repeat 100000 \"abcdefgh,\")}}{{range 100000}}{{join \"-\" $l | len}}{{end}}",
    ),
    (
        "append in a loop",
        "{{$l := list}}{{range 1000000}}{{$l = append $l 1}}{{end}}",
    ),
    (
        "list of copies",
        "{{$s := repeat 4000000 \"a\"}}{{$l := list}}{{range 100000}}{{$l = append $l $s}}{{end}}",
    ),
    (
        "dict keys",
        "{{$s := repeat 4000000 \"a\"}}{{range 100000}}{{dict $s 1 | len}}{{end}}",
    ),
    (
        "indent",
        "{{$s := repeat 1000000 \"\\n\"}}{{range 100000}}{{indent 3 $s | len}}{{end}}",
    ),
    (
        "text output",
        "{{range 100000000}}some literal text in the template{{end}}",
    ),
    (
        "many args",
        "{{range 100000}}{{and 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1}}{{end}}",
    ),
    (
        "literal strings",
        "{{range 100000}}{{len \"a long literal string of about a hundred bytes, copied for every evaluation!!!!!!\"}}{{end}}",
    ),
    (
        "template fan-out",
        "{{define \"a\"}}{{template \"b\"}}{{template \"b\"}}{{template \"b\"}}{{end}}\
         {{define \"b\"}}{{template \"c\"}}{{template \"c\"}}{{template \"c\"}}{{end}}\
         {{define \"c\"}}{{range 1000}}{{range 1000}}{{end}}{{end}}{{end}}\
         {{range 1000}}{{template \"a\"}}{{end}}",
    ),
    (
        "index of a big list",
        "{{$l := splitList \",\" (repeat 100000 \"a,\")}}{{range 100000}}{{index $l 5}}{{end}}",
    ),
    (
        "slice of a big list",
        "{{$l := splitList \",\" (repeat 100000 \"a,\")}}{{range 100000}}{{slice $l 1 | len}}{{end}}",
    ),
    (
        "deep values",
        "{{$x := list}}{{range 99}}{{$x = list $x}}{{end}}{{range 1000000}}{{$y := $x}}{{end}}",
    ),
    (
        "print a big list",
        "{{$l := splitList \",\" (repeat 100000 \"1.2345e-300,\")}}{{range 100000}}{{print $l | len}}{{end}}",
    ),
];

/// Templates that declare many variables, then look the first one up in a loop.
fn many_vars() -> String {
    let decls = "{{$v := 1}}".repeat(50_000);
    format!("{{{{$first := 1}}}}{decls}{{{{range 1000000}}}}{{{{$first}}}}{{{{end}}}}")
}

/// This thread's time on a CPU so far (Linux), so that other load on the machine does not
/// count; `None` elsewhere.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Renders `src`, prints the CPU time (or wall time) and the outcome, returns the time.
fn time(name: &str, src: &str, data: &Value) -> Duration {
    let (wall, cpu) = (Instant::now(), cpu_time());
    let result = Template::parse("t", src).and_then(|t| t.render_bytes(data).map(|b| b.len()));
    let took = match (cpu, cpu_time()) {
        (Some(before), Some(after)) => after.saturating_sub(before),
        _ => wall.elapsed(),
    };
    let outcome = match result {
        Ok(n) => format!("ok, {n} bytes"),
        Err(e) => e.to_string(),
    };
    eprintln!("{:>8.1} ms  {name:28} {outcome}", took.as_secs_f64() * 1e3);
    took
}

#[test]
#[ignore = "a measurement, not a check; run in release"]
fn worst_case_render_times() {
    let data = Value::from_secret_map([("v".to_owned(), Zeroizing::new(b"x".to_vec()))]);
    let mut worst = Duration::ZERO;
    for (name, src) in ATTACKS {
        worst = worst.max(time(name, src, &data));
    }
    worst = worst.max(time("many variables", &many_vars(), &data));
    eprintln!("worst: {:.1} ms", worst.as_secs_f64() * 1e3);
}
