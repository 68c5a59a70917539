//! JSONata expressions (`"{% ... %}"`) through the `jsonata-rs` crate, with Step Functions' `$states` binding
//! (`input`, `context`, `result`, `errorOutput`) and workflow variables bound as `$name`.
//!
//! `jsonata-rs` implements most of JSONata 2.0 (see the README's conformance section for what its test suite run
//! shows as missing); an expression it cannot parse or evaluate fails the state with `States.QueryEvaluationError`
//! and the library's message, never a guessed value.

use std::collections::HashMap;

use bumpalo::Bump;
use jsonata_rs::{ArrayFlags, Error as JError, FunctionContext, Value as JValue};
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

/// The expression inside `{% %}`, if `value` is one: the delimiters must be the string's first and last
/// characters; `" {% $x %}"` is a literal string, as Step Functions reads it.
pub fn expression(value: &Value) -> Option<&str> {
    value.as_str()?.strip_prefix("{%")?.strip_suffix("%}").map(str::trim)
}

/// Evaluates one expression.
pub fn eval_expr(expr: &str, states: &States<'_>, vars: &Vars) -> Result<Value, StatesError> {
    Ok(eval_defined(expr, states, vars)?.unwrap_or(Value::Null))
}

/// Evaluates one expression; `None` when it returns nothing (JSONata's undefined: a missing field, an unbound
/// variable).
fn eval_defined(expr: &str, states: &States<'_>, vars: &Vars) -> Result<Option<Value>, StatesError> {
    let arena = Bump::new();
    let program = jsonata_rs::JsonAta::new(expr, &arena)
        .map_err(|e| StatesError::query(format!("cannot parse the JSONata expression {expr:?}: {e}")))?;
    // The functions Step Functions adds to JSONata ($uuid and $random are built into jsonata-rs).
    program.register_function("partition", 2, sfn_partition);
    program.register_function("range", 3, sfn_range);
    program.register_function("hash", 2, sfn_hash);
    program.register_function("parse", 1, sfn_parse);
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
        return Ok(None);
    }
    serde_json::from_str(&result.serialize(false))
        .map(Some)
        .map_err(|e| StatesError::query(format!("the JSONata expression {expr:?} gave a value that is not JSON: {e}")))
}

fn to_jsonata<'a>(arena: &'a Bump, value: &Value) -> &'a JValue<'a> {
    match value {
        Value::Null => JValue::null(arena),
        Value::Bool(b) => JValue::bool(*b),
        Value::Number(n) => JValue::number(arena, n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => JValue::string(arena, s),
        Value::Array(items) => {
            let out = JValue::array_with_capacity(arena, items.len(), ArrayFlags::empty());
            for v in items {
                out.push(to_jsonata(arena, v));
            }
            out
        }
        Value::Object(m) => {
            let out = JValue::object_with_capacity(arena, m.len());
            for (k, v) in m {
                out.insert(k, to_jsonata(arena, v));
            }
            out
        }
    }
}

fn from_jsonata<'a>(value: &'a JValue<'a>) -> Value {
    serde_json::from_str(&value.serialize(false)).unwrap_or(Value::Null)
}

fn bad(function: &str, message: &str) -> JError {
    JError::D3137Error(format!("${function}: {message}"))
}

/// `$partition(array, size)`: the array in chunks of `size`.
fn sfn_partition<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> jsonata_rs::Result<&'a JValue<'a>> {
    let (Some(array), Some(size)) = (args.first(), args.get(1)) else {
        return Err(bad("partition", "takes an array and a size"));
    };
    let size = size.as_f64();
    if !array.is_array() || size.is_nan() || size < 1.0 || size.fract() != 0.0 {
        return Err(bad("partition", "takes an array and a positive integer size"));
    }
    let items: Vec<&'a JValue<'a>> = array.members().collect();
    let out = JValue::array_with_capacity(ctx.arena, items.len().div_ceil(size as usize), ArrayFlags::empty());
    for chunk in items.chunks(size as usize) {
        let part = JValue::array_with_capacity(ctx.arena, chunk.len(), ArrayFlags::empty());
        for v in chunk {
            part.push(v);
        }
        out.push(part);
    }
    Ok(out)
}

/// `$range(start, end, step)`: the numbers from `start` to `end` inclusive, at most 1000.
fn sfn_range<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> jsonata_rs::Result<&'a JValue<'a>> {
    let [start, end, step] = [0, 1, 2].map(|i| args.get(i).filter(|v| v.is_number()).map(|v| v.as_f64()));
    let (Some(start), Some(end), Some(step)) = (start, end, step) else {
        return Err(bad("range", "takes three numbers"));
    };
    if step == 0.0 {
        return Err(bad("range", "the step cannot be 0"));
    }
    let out = JValue::array(ctx.arena, ArrayFlags::empty());
    let mut x = start;
    let mut n = 0;
    while (step > 0.0 && x <= end) || (step < 0.0 && x >= end) {
        n += 1;
        if n > 1000 {
            return Err(bad("range", "the range has more than 1000 elements"));
        }
        out.push(JValue::number(ctx.arena, x));
        x += step;
    }
    Ok(out)
}

/// `$hash(value, algorithm)`: the hex digest (MD5, SHA-1, SHA-256, SHA-384, SHA-512).
fn sfn_hash<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> jsonata_rs::Result<&'a JValue<'a>> {
    let (Some(value), Some(algorithm)) = (args.first(), args.get(1)) else {
        return Err(bad("hash", "takes a value and an algorithm"));
    };
    let data = if value.is_string() { value.as_str().to_string() } else { from_jsonata(value).to_string() };
    let algorithm = algorithm.as_str().to_string();
    let call = crate::asl::intrinsic::Call {
        function: crate::asl::intrinsic::Function::Hash,
        args: vec![crate::asl::intrinsic::Arg::Str(data), crate::asl::intrinsic::Arg::Str(algorithm)],
    };
    let vars = Vars::new();
    let scope = super::jsonpath::Scope { input: &Value::Null, context: &Value::Null, vars: &vars };
    match super::intrinsics::eval(&call, scope, "$hash") {
        Ok(Value::String(h)) => Ok(JValue::string(ctx.arena, &h)),
        _ => Err(bad("hash", "the algorithm must be MD5, SHA-1, SHA-256, SHA-384 or SHA-512")),
    }
}

/// `$parse(text)`: the JSON value `text` holds.
fn sfn_parse<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> jsonata_rs::Result<&'a JValue<'a>> {
    let Some(text) = args.first().filter(|v| v.is_string()) else { return Err(bad("parse", "takes a string")) };
    let value: Value = serde_json::from_str(&text.as_str()).map_err(|e| bad("parse", &format!("not JSON: {e}")))?;
    Ok(to_jsonata(ctx.arena, &value))
}

/// Evaluates a JSONata field (`Output`, `Arguments`, `Assign`): every `{% %}` string in it, recursively; other
/// values are copied. An expression that returns nothing (a missing field, an unbound variable) is
/// `States.QueryEvaluationError`, never a silent null (issue 23, from executions recorded on AWS).
pub fn eval(value: &Value, states: &States<'_>, vars: &Vars) -> Result<Value, StatesError> {
    if let Some(expr) = expression(value) {
        return eval_defined(expr, states, vars)?.ok_or_else(|| {
            StatesError::query(format!("the JSONata expression '{expr}' returned nothing (an undefined value)"))
        });
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
        assert_eq!(eval(&json!("{% $partition([1,2,3], 2) %}"), &states, &vars).unwrap(), json!([[1, 2], [3]]));
        assert_eq!(eval(&json!("{% $range(0, 10, 5) %}"), &states, &vars).unwrap(), json!([0, 5, 10]));
        assert_eq!(
            eval(&json!("{% $hash('input data', 'SHA-1') %}"), &states, &vars).unwrap(),
            json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
        );
        assert_eq!(eval(&json!("{% $parse('{\"a\": [1]}').a %}"), &states, &vars).unwrap(), json!([1]));
        assert_eq!(eval(&json!("{% $count($uuid()) %}"), &states, &vars).unwrap(), json!(1));
    }
}
