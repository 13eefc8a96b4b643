//! ESO's `toYaml` / `fromYaml` (after `sigs.k8s.io/yaml`: values go through JSON, so numbers
//! read from YAML are floats and keys are strings).

use zeroize::Zeroizing;

use crate::error::{FuncError, FuncResult};
use crate::value::Value;

/// Encodes a value as YAML, without the trailing newline.
pub(crate) fn to_yaml(v: &Value) -> FuncResult {
    let json = v.to_json();
    let text = serde_yaml::to_string(&json)
        .map_err(|_| FuncError::new("value cannot be encoded as YAML"))?;
    let mut text = Zeroizing::new(text.into_bytes());
    if text.last() == Some(&b'\n') {
        text.pop();
    }
    Ok(Value::String(text))
}

/// Decodes a YAML mapping. Unlike ESO (which returns a map holding the error text), a
/// document that is not a mapping is an error, naming only where it failed.
pub(crate) fn from_yaml(text: &[u8]) -> FuncResult {
    let json: serde_json::Value = serde_yaml::from_slice(text).map_err(|e| match e.location() {
        Some(l) => FuncError::new(format!(
            "input is not valid YAML (line {}, column {})",
            l.line(),
            l.column()
        )),
        None => FuncError::new("input is not valid YAML"),
    })?;
    match json {
        serde_json::Value::Object(_) => Ok(Value::from_json(&json)),
        serde_json::Value::Null => Ok(Value::Map(Default::default())),
        _ => Err(FuncError::new("YAML input is not a mapping")),
    }
}
