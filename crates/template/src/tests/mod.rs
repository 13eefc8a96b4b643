//! Table-driven tests: each case is a template, its data (JSON; string values become
//! template strings) and the expected output or error (kind, line:col, message part).
//! Data values in error cases contain `s3cr3t` so leaks are caught.

use crate::{Template, TemplateError, Value};

mod budget;
mod errors;
mod nesting;
mod output;
mod props;
mod worst;
mod yaml_scan;

/// Default data when a case gives none.
const DATA: &str = r#"{"user":"alice","pass":"s3cr3t-pw","registry":"registry.example.com",
  "list":"[\"a\",\"b\"]","map":"{\"b\":\"2\",\"a\":\"1\"}","empty":"","flag":"yes",
  "j":"{\"port\":8080,\"big\":1234567,\"inner\":{\"v\":\"deep\"},\"k\":\"val\"}"}"#;

/// The expected result of a case.
#[derive(Debug)]
enum Want {
    Out(&'static str),
    Parse(usize, usize, &'static str),
    Exec(usize, usize, &'static str),
}

/// One case: template, data JSON ("" for [`DATA`]), expected result.
type Case = (&'static str, &'static str, Want);

fn data(json: &str) -> (Value, Vec<String>) {
    let json = if json.is_empty() { DATA } else { json };
    let j: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("bad data {json}: {e}"));
    let mut strings = Vec::new();
    collect(&j, &mut strings);
    (Value::from_json(&j), strings)
}

fn collect(j: &serde_json::Value, out: &mut Vec<String>) {
    match j {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect(v, out)),
        serde_json::Value::Object(o) => o.values().for_each(|v| collect(v, out)),
        _ => {}
    }
}

/// Renders `template` with `data` as the agent would (parse then render).
fn run(template: &str, data: &Value) -> Result<String, TemplateError> {
    let t = Template::parse("t", template)?;
    t.render(data).map(|s| s.to_string())
}

/// Checks that an error never shows a data value (values of 4+ characters).
fn assert_no_leak(err: &TemplateError, values: &[String]) -> Result<(), String> {
    let shown = format!("{err} | {err:?}");
    match values
        .iter()
        .find(|v| v.len() >= 4 && shown.contains(v.as_str()))
    {
        Some(v) => Err(format!("error leaks value {v:?}: {shown}")),
        None => Ok(()),
    }
}

fn check(case: &Case) -> Result<(), String> {
    let (template, json, want) = case;
    let (value, strings) = data(json);
    let got = run(template, &value);
    match (want, &got) {
        (Want::Out(expected), Ok(out)) if out == expected => Ok(()),
        (Want::Parse(line, col, msg), Err(e @ TemplateError::Parse { .. }))
        | (Want::Exec(line, col, msg), Err(e @ TemplateError::Execute { .. })) => {
            assert_no_leak(e, &strings)?;
            let text = e.to_string();
            let pos = format!("template t:{line}:{col}: ");
            if text.starts_with(&pos) && text.contains(msg) {
                Ok(())
            } else {
                Err(format!("want {pos}…{msg}…, got {text}"))
            }
        }
        _ => Err(format!("want {want:?}, got {got:?}")),
    }
}

fn run_table(cases: &[Case]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| check(c).err().map(|e| format!("{:?}: {e}", c.0)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
