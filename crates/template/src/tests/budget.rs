//! The step budget, the deadline and cancellation: templates that try to burn CPU or memory
//! end with an error. Assertions are on the error, never on time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::worst::ATTACKS;
use crate::{RenderLimits, Template, TemplateError, Value};

fn data() -> Value {
    Value::from_secret_map([("v".to_owned(), Zeroizing::new(b"s3cr3t".to_vec()))])
}

fn render_with(src: &str, limits: &RenderLimits) -> Result<usize, TemplateError> {
    let t = Template::parse("t", src)?;
    t.render_bytes_with(&data(), limits).map(|b| b.len())
}

/// Whether `err` is the error a limit gives (and shows no value).
fn is_limit_error(err: &TemplateError) -> bool {
    let text = err.to_string();
    assert!(!text.contains("s3cr3t"), "{text}");
    matches!(err, TemplateError::Execute { .. })
        && [
            "execution budget",
            "would exceed",
            "decodes to more than",
            "deeper than",
        ]
        .iter()
        .any(|m| text.contains(m))
}

/// One attack per mechanism, quick enough to run unoptimized (`every_attack_ends_with_an_error`
/// runs them all), and what each would do without its limit.
const FAST: &[(&str, &str)] = &[
    // Empty bodies were free: 10^10 iterations, hours of CPU.
    ("nested empty ranges", "execution budget"),
    ("ranges binding variables", "execution budget"),
    // Iterations over maps were free: 10^10 again.
    ("range over a big map", "execution budget"),
    // Copies were free: 100,000 copies of 4 MiB, 400 GB of memcpy.
    ("copy a 4 MiB string", "execution budget"),
    // A call on big input cost one step: 100,000 parses of 2.8 MB of YAML, over an hour.
    ("fromYaml keys", "execution budget"),
    // YAML aliases repeat a 100 kB string 1,000 times: 100 MB from 100 kB.
    ("fromYaml aliases", "decodes to more than"),
    // serde_norway's emitter on 100,000 values, 100,000 times.
    ("toYaml of a big list", "execution budget"),
    // Quadratic: each `append` copies the list; 10^12 copies.
    ("append in a loop", "execution budget"),
    // Exponential: 3^2 templates, each 10^6 iterations, 1,000 times.
    ("template fan-out", "execution budget"),
    // Operands were free: a template of 100,000 arguments in a long range evaluates 10^11.
    ("many args", "execution budget"),
    // 10^8 iterations of text, allocated up front.
    ("text output", "execution budget"),
];

#[test]
fn budget_bypasses_end_with_a_budget_error() {
    for (name, want) in FAST {
        let Some((_, src)) = ATTACKS.iter().find(|(n, _)| n == name) else {
            panic!("no attack named {name:?}");
        };
        match render_with(src, &RenderLimits::default()) {
            Err(e) if is_limit_error(&e) && e.to_string().contains(want) => {}
            other => panic!("{name}: want an error with {want:?}, got {other:?}"),
        }
    }
}

#[test]
fn range_over_a_huge_count_fails_before_iterating() {
    // `range` collected every index first: 10^18 of them would exhaust memory.
    let err = render_with(
        "{{ range 1000000000000000000 }}{{ end }}",
        &RenderLimits::default(),
    );
    assert!(err.is_err_and(|e| is_limit_error(&e)));
}

#[test]
fn many_variables_cost_their_search() {
    // `$first` under 20,000 later declarations: each look-up compared 20,000 names, 2 × 10^10
    // comparisons for a million iterations.
    let src = format!(
        "{{{{$first := 1}}}}{}{{{{range 1000000}}}}{{{{$first}}}}{{{{end}}}}",
        "{{$v := 1}}".repeat(20_000)
    );
    let err = render_with(&src, &RenderLimits::default());
    assert!(err.is_err_and(|e| is_limit_error(&e)));
}

#[test]
fn string_builders_stop_at_their_limit() {
    // Each `quote` doubles the backslashes: 2^20 × 2 MB without a bound on every builder.
    let quotes = format!(
        "{{{{ {}(repeat 2100000 \"\\\\\"){} }}}}",
        "quote (".repeat(20),
        ")".repeat(20)
    );
    // `replace` of every byte by 100 kB: 10 GB.
    let replace = "{{ replace \"a\" (repeat 100000 \"b\") (repeat 100000 \"a\") }}";
    // Widths of 1,000,000 five times: past the 4 MiB a function may build.
    let widths = "{{ printf \"%1000000d%1000000d%1000000d%1000000d%1000000d\" 1 2 3 4 5 }}";
    // `print` of twenty copies of a 1 MB string.
    let print = format!(
        "{{{{ $s := repeat 1000000 \"x\" }}}}{{{{ print {} }}}}",
        "$s ".repeat(20)
    );
    for src in [quotes.as_str(), replace, widths, &print] {
        match render_with(src, &RenderLimits::default()) {
            Err(e) if is_limit_error(&e) && e.to_string().contains("would exceed") => {}
            other => panic!("{src}: {other:?}"),
        }
    }
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "about 45 s unoptimized; run with --release"
)]
fn every_attack_ends_with_an_error() {
    // Without the budget, any of these would run for minutes or forever, or exhaust memory.
    for (name, src) in ATTACKS {
        match render_with(src, &RenderLimits::default()) {
            Err(e) if is_limit_error(&e) => {}
            Ok(_) if *name == "literal strings" => {}
            other => panic!("{name}: want a limit error, got {other:?}"),
        }
    }
}

/// A render that runs until its budget runs out: 0.1 s optimized, seconds unoptimized.
const LONG: &str = "{{range 100000}}{{range 100000}}{{$x := 1}}{{end}}{{end}}";

#[test]
fn a_set_cancel_flag_stops_rendering_before_it_starts() {
    // Unchecked, the flag would be ignored and even a plain template would render.
    let limits = RenderLimits {
        deadline: None,
        cancel: Some(Arc::new(AtomicBool::new(true))),
    };
    let err = render_with("plain text", &limits).expect_err("cancelled");
    assert_eq!(err, TemplateError::Cancelled { name: "t".into() });
    assert_eq!(err.category(), "template_cancelled");
    assert_eq!(err.position(), ("t", 0, 0));
    assert_eq!(err.to_string(), "template t: rendering was cancelled");
}

#[test]
fn cancelling_stops_a_render_in_progress() {
    // Unchecked during the render, the flag would not stop it: it would run on to its budget
    // error. The flag is set a few milliseconds in; a starved setter thread could miss the
    // render, so a few attempts are allowed, and every outcome must be one of the two.
    let mut cancelled = false;
    for _ in 0..5 {
        let flag = Arc::new(AtomicBool::new(false));
        let limits = RenderLimits {
            deadline: None,
            cancel: Some(flag.clone()),
        };
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            flag.store(true, Ordering::Relaxed);
        });
        match render_with(LONG, &limits) {
            Err(TemplateError::Cancelled { name }) if name == "t" => cancelled = true,
            Err(e) if is_limit_error(&e) => {}
            other => panic!("want Cancelled, got {other:?}"),
        }
        setter.join().expect("setter");
        if cancelled {
            break;
        }
    }
    assert!(cancelled, "the render never saw the flag");
}

#[test]
fn a_past_deadline_times_out() {
    // Unchecked, the deadline would be ignored and the template rendered.
    let limits = RenderLimits {
        deadline: Some(Instant::now()),
        cancel: None,
    };
    let err = render_with("{{ .v }}", &limits).expect_err("timed out");
    assert_eq!(err, TemplateError::TimedOut { name: "t".into() });
    assert_eq!(err.category(), "template_timeout");
    assert_eq!(err.to_string(), "template t: rendering passed its deadline");
}

#[test]
fn a_deadline_stops_a_render_in_progress() {
    // Checked only at the start, a deadline 2 ms away would not stop a render that runs to
    // its budget error.
    let mut timed_out = false;
    for _ in 0..5 {
        let limits = RenderLimits {
            deadline: Some(Instant::now() + Duration::from_millis(2)),
            cancel: None,
        };
        match render_with(LONG, &limits) {
            Err(TemplateError::TimedOut { name }) if name == "t" => timed_out = true,
            Err(e) if is_limit_error(&e) => {}
            other => panic!("want TimedOut, got {other:?}"),
        }
        if timed_out {
            break;
        }
    }
    assert!(timed_out, "the render never saw the deadline");
}

#[test]
fn limits_do_not_change_a_normal_render() {
    let limits = RenderLimits {
        deadline: Some(Instant::now() + Duration::from_secs(60)),
        cancel: Some(Arc::new(AtomicBool::new(false))),
    };
    let t = Template::parse("t", "{{ range 3 }}{{ $.v }}{{ end }}").expect("parse");
    let plain = t.render(&data()).expect("render");
    let limited = t.render_with(&data(), &limits).expect("render_with");
    assert_eq!(plain.as_str(), limited.as_str());
    assert_eq!(plain.as_str(), "s3cr3ts3cr3ts3cr3t");
}
