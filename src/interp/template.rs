//! Payload templates (`Parameters`, `ResultSelector`, `ItemSelector`, JSONPath `Assign`): keys ending in `.$` take
//! the value of their path or intrinsic call, under the key without `.$`; everything else is copied.

use serde_json::{Map, Value};

use super::error::StatesError;
use super::intrinsics;
use super::jsonpath::{self, Scope};
use crate::asl::intrinsic::looks_like_call;

/// Evaluates one `.$` value: a path (`$`, `$$`, `$name`) or an intrinsic call.
pub fn eval_expression(text: &str, scope: Scope<'_>, field: &str) -> Result<Value, StatesError> {
    if looks_like_call(text) { intrinsics::eval_text(text, scope, field) } else { jsonpath::eval(text, scope, field) }
}

/// Evaluates a payload template against `scope`.
pub fn eval(template: &Value, scope: Scope<'_>, field: &str) -> Result<Value, StatesError> {
    match template {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, value) in map {
                match key.strip_suffix(".$") {
                    Some(plain) => {
                        let Value::String(text) = value else {
                            return Err(StatesError::runtime(format!(
                                "{field}: the value of {key:?} must be a path string"
                            )));
                        };
                        out.insert(plain.to_string(), eval_expression(text, scope, field)?);
                    }
                    None => {
                        out.insert(key.clone(), eval(value, scope, field)?);
                    }
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            items.iter().map(|v| eval(v, scope, field)).collect::<Result<Vec<_>, _>>().map(Value::Array)
        }
        other => Ok(other.clone()),
    }
}
