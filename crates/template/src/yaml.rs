//! ESO's `toYaml` / `fromYaml` (after `sigs.k8s.io/yaml`: values go through JSON, so numbers
//! read from YAML are floats and keys are strings).

use zeroize::Zeroizing;

use crate::decode;
use crate::error::{FuncError, FuncResult};
use crate::value::Value;
use crate::yaml_scan::checked_depth;

/// Encodes a value as YAML, without the trailing newline.
pub(crate) fn to_yaml(v: &Value) -> FuncResult {
    let json = v.to_json();
    let text = serde_norway::to_string(&json)
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
    checked_depth(text)?;
    match decode::yaml(text)? {
        v @ Value::Map(_) => Ok(v),
        Value::Null => Ok(Value::Map(Default::default())),
        _ => Err(FuncError::new("YAML input is not a mapping")),
    }
}
