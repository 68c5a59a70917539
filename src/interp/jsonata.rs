//! JSONata expressions (`"{% ... %}"`) through the `jsonata-rs` crate, with Step Functions' `$states` binding
//! (`input`, `context`, `result`, `errorOutput`) and workflow variables bound as `$name`.
//!
//! `jsonata-rs` implements most of JSONata 2.0 (see the README's conformance section for what its test suite run
//! shows as missing); an expression it cannot parse or evaluate fails the state with `States.QueryEvaluationError`
//! and the library's message, never a guessed value.

use std::collections::HashMap;

use bumpalo::Bump;
use serde_json::{Map, Value};

use super::error::StatesError;
use super::jsonpath::Vars;

/// What `$states` holds for one evaluation.
#[derive(Debug, Clone, Default)]
pub struct States<'a> {
    /// `$states.input`.
    pub input: Option<&'a Value>,
    /// `$states.context`.
    pub context: Option<&'a Value>,
    /// `$states.result` (after a Task, Parallel or Map).
    pub result: Option<&'a Value>,
    /// `$states.errorOutput` (in a Catch).
    pub error_output: Option<&'a Value>,
}

/// The expression inside `{% %}`, if `value` is one.
pub fn expression(value: &Value) -> Option<&str> {
    let s = value.as_str()?.trim();
    s.strip_prefix("{%")?.strip_suffix("%}").map(str::trim)
}

/// Evaluates one expression.
pub fn eval_expr(expr: &str, states: &States<'_>, vars: &Vars) -> Result<Value, StatesError> {
    let arena = Bump::new();
    let program = jsonata_rs::JsonAta::new(expr, &arena)
        .map_err(|e| StatesError::query(format!("cannot parse the JSONata expression {expr:?}: {e}")))?;
    let mut st = Map::new();
    for (key, value) in [
        ("input", states.input),
        ("context", states.context),
        ("result", states.result),
        ("errorOutput", states.error_output),
    ] {
        if let Some(v) = value {
            st.insert(key.to_string(), v.clone());
        }
    }
    let states_value = Value::Object(st);
    let mut bindings: HashMap<&str, &Value> = vars.iter().map(|(k, v)| (k.as_str(), v)).collect();
    bindings.insert("states", &states_value);
    let result = program
        .evaluate(None, Some(&bindings))
        .map_err(|e| StatesError::query(format!("the JSONata expression {expr:?} failed: {e}")))?;
    if result.is_undefined() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&result.serialize(false))
        .map_err(|e| StatesError::query(format!("the JSONata expression {expr:?} gave a value that is not JSON: {e}")))
}

/// Evaluates a JSONata field: every `{% %}` string in it, recursively; other values are copied.
pub fn eval(value: &Value, states: &States<'_>, vars: &Vars) -> Result<Value, StatesError> {
    if let Some(expr) = expression(value) {
        return eval_expr(expr, states, vars);
    }
    match value {
        Value::Object(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, v) in m {
                out.insert(k.clone(), eval(v, states, vars)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            items.iter().map(|v| eval(v, states, vars)).collect::<Result<Vec<_>, _>>().map(Value::Array)
        }
        other => Ok(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evaluates_with_states_and_variables() {
        let input = json!({"items": [{"price": 2}, {"price": 3}], "name": "x"});
        let mut vars = Vars::new();
        vars.insert("factor".into(), json!(10));
        let states = States { input: Some(&input), ..Default::default() };
        assert_eq!(eval(&json!("{% $sum($states.input.items.price) * $factor %}"), &states, &vars).unwrap(), json!(50));
        assert_eq!(
            eval(&json!({"n": "{% $states.input.name %}", "k": 1}), &states, &vars).unwrap(),
            json!({"n": "x", "k": 1})
        );
        assert_eq!(eval(&json!("{% 1 + %}"), &states, &vars).unwrap_err().error, "States.QueryEvaluationError");
    }
}
