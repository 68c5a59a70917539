//! Evaluating intrinsic functions, with the results and failures the Step Functions guide gives for each
//! ("Intrinsic functions for JSONPath states"). A failure is `States.IntrinsicFailure`.

use base64::Engine;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Number, Value};

use super::error::StatesError;
use super::jsonpath::{Scope, eval_parsed};
use crate::asl::intrinsic::{Arg, Call, Function};

/// Parses and evaluates an intrinsic call.
pub fn eval_text(text: &str, scope: Scope<'_>, field: &str) -> Result<Value, StatesError> {
    let call = Call::parse(text).map_err(|e| StatesError::intrinsic(format!("{field}: {e}")))?;
    eval(&call, scope, field)
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

fn fail<T>(function: Function, message: impl std::fmt::Display) -> Result<T, StatesError> {
    Err(StatesError::intrinsic(format!("Invalid arguments in {}: {message}", function.name())))
}

/// Evaluates a parsed call.
pub fn eval(call: &Call, scope: Scope<'_>, field: &str) -> Result<Value, StatesError> {
    let args: Vec<Value> = call
        .args
        .iter()
        .map(|a| match a {
            Arg::Str(s) => Ok(Value::String(s.clone())),
            Arg::Num(n) => Ok(Value::Number(n.clone())),
            Arg::Bool(b) => Ok(Value::Bool(*b)),
            Arg::Null => Ok(Value::Null),
            Arg::Path(p) => eval_parsed(p, &p.to_string(), scope, field),
            Arg::Call(c) => eval(c, scope, field),
        })
        .collect::<Result<_, _>>()?;
    let f = call.function;
    let int = |v: &Value| -> Result<i64, StatesError> {
        v.as_i64()
            .or_else(|| v.as_f64().filter(|x| x.fract() == 0.0).map(|x| x as i64))
            .map_or_else(|| fail(f, format!("{v} is not an integer")), Ok)
    };
    let string = |v: &Value| -> Result<String, StatesError> {
        v.as_str().map(str::to_string).map_or_else(|| fail(f, format!("{v} is not a string")), Ok)
    };
    let array = |v: &Value| -> Result<Vec<Value>, StatesError> {
        v.as_array().cloned().map_or_else(|| fail(f, format!("{v} is not an array")), Ok)
    };
    Ok(match f {
        Function::Format => {
            let template = string(&args[0])?;
            let mut out = String::new();
            let mut values = args[1..].iter();
            let mut chars = template.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\\' if matches!(chars.peek(), Some('{' | '}')) => out.push(chars.next().unwrap_or_default()),
                    '{' if chars.peek() == Some(&'}') => {
                        chars.next();
                        match values.next() {
                            Some(Value::String(s)) => out.push_str(s),
                            Some(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => out.push_str(&v.to_string()),
                            Some(v) => return fail(f, format!("{v} is not a string, number, boolean or null")),
                            None => return fail(f, "more placeholders than values"),
                        }
                    }
                    c => out.push(c),
                }
            }
            if values.next().is_some() {
                return fail(f, "more values than placeholders");
            }
            Value::String(out)
        }
        Function::StringToJson => {
            let s = string(&args[0])?;
            serde_json::from_str(&s).or_else(|e| fail(f, format!("{s:?} is not JSON: {e}")))?
        }
        Function::JsonToString => Value::String(args[0].to_string()),
        Function::Array => Value::Array(args),
        Function::ArrayPartition => {
            let items = array(&args[0])?;
            let size = int(&args[1])?;
            if size <= 0 {
                return fail(f, "the chunk size must be positive");
            }
            Value::Array(items.chunks(size as usize).map(|c| Value::Array(c.to_vec())).collect())
        }
        Function::ArrayContains => Value::Bool(array(&args[0])?.contains(&args[1])),
        Function::ArrayRange => {
            let (start, end, step) = (int(&args[0])?, int(&args[1])?, int(&args[2])?);
            if step == 0 {
                return fail(f, "the step cannot be 0");
            }
            let mut out = Vec::new();
            let mut i = start;
            while (step > 0 && i <= end) || (step < 0 && i >= end) {
                out.push(Value::from(i));
                if out.len() > 1000 {
                    return fail(f, "the range has more than 1000 elements");
                }
                i += step;
            }
            Value::Array(out)
        }
        Function::ArrayGetItem => {
            let items = array(&args[0])?;
            let i = int(&args[1])?;
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i).cloned())
                .map_or_else(|| fail(f, format!("index {i} is out of bounds")), Ok)?
        }
        Function::ArrayLength => Value::from(array(&args[0])?.len()),
        Function::ArrayUnique => {
            let mut out: Vec<Value> = Vec::new();
            for v in array(&args[0])? {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
            Value::Array(out)
        }
        Function::Base64Encode => {
            let s = string(&args[0])?;
            if s.len() > 10_000 {
                return fail(f, "the input exceeds 10000 characters");
            }
            Value::String(base64::engine::general_purpose::STANDARD.encode(s))
        }
        Function::Base64Decode => {
            let s = string(&args[0])?;
            let bytes = base64::engine::general_purpose::STANDARD.decode(s.as_bytes()).or_else(|e| fail(f, e))?;
            Value::String(String::from_utf8(bytes).or_else(|e| fail(f, e))?)
        }
        Function::Hash => {
            let data = match &args[0] {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            let algorithm = string(&args[1])?;
            Value::String(
                hash(&algorithm, data.as_bytes())
                    .map_or_else(|| fail(f, format!("unknown algorithm {algorithm:?}")), Ok)?,
            )
        }
        Function::JsonMerge => {
            let (Value::Object(a), Value::Object(b)) = (&args[0], &args[1]) else {
                return fail(f, "both values must be objects");
            };
            if args[2] != Value::Bool(false) {
                return fail(f, "deep merge is not supported; the third argument must be false");
            }
            let mut merged: Map<String, Value> = a.clone();
            merged.extend(b.clone());
            Value::Object(merged)
        }
        Function::MathRandom => {
            let (start, end) = (int(&args[0])?, int(&args[1])?);
            if end <= start {
                return fail(f, "the end must be greater than the start");
            }
            let n = match args.get(2) {
                Some(seed) => rand::rngs::StdRng::seed_from_u64(int(seed)? as u64).gen_range(start..end),
                None => rand::thread_rng().gen_range(start..end),
            };
            Value::from(n)
        }
        Function::MathAdd => {
            let (a, b) = (args[0].as_f64(), args[1].as_f64());
            match (a, b) {
                (Some(a), Some(b)) => number(a + b),
                _ => return fail(f, "both values must be numbers"),
            }
        }
        Function::StringSplit => {
            let s = string(&args[0])?;
            let delimiters = string(&args[1])?;
            Value::Array(
                s.split(|c| delimiters.contains(c))
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            )
        }
        Function::Uuid => Value::String(uuid::Uuid::new_v4().to_string()),
    })
}

fn hash(algorithm: &str, data: &[u8]) -> Option<String> {
    use sha2::Digest;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    Some(match algorithm {
        "MD5" => hex(&md5::Md5::digest(data)),
        "SHA-1" => hex(&sha1::Sha1::digest(data)),
        "SHA-256" => hex(&sha2::Sha256::digest(data)),
        "SHA-384" => hex(&sha2::Sha384::digest(data)),
        "SHA-512" => hex(&sha2::Sha512::digest(data)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp::jsonpath::Vars;
    use serde_json::json;

    fn run(text: &str) -> Result<Value, StatesError> {
        let input = json!({"name": "World", "list": [1, 2, 2, 3], "csv": "a,b,,c", "n": 111});
        let vars = Vars::new();
        eval_text(text, Scope { input: &input, context: &json!({}), vars: &vars }, "Parameters")
    }

    #[test]
    fn documented_examples() {
        assert_eq!(run("States.Format('Hello, {}!', $.name)").unwrap(), json!("Hello, World!"));
        assert_eq!(run("States.Format('\\{literal\\} {}', 5)").unwrap(), json!("{literal} 5"));
        assert_eq!(run("States.StringToJson('{\"a\": 1}')").unwrap(), json!({"a": 1}));
        assert_eq!(run("States.JsonToString($.list)").unwrap(), json!("[1,2,2,3]"));
        assert_eq!(run("States.ArrayPartition($.list, 3)").unwrap(), json!([[1, 2, 2], [3]]));
        assert_eq!(run("States.ArrayContains($.list, 3)").unwrap(), json!(true));
        assert_eq!(run("States.ArrayRange(1, 9, 2)").unwrap(), json!([1, 3, 5, 7, 9]));
        assert_eq!(run("States.ArrayGetItem($.list, 3)").unwrap(), json!(3));
        assert_eq!(run("States.ArrayLength($.list)").unwrap(), json!(4));
        assert_eq!(run("States.ArrayUnique($.list)").unwrap(), json!([1, 2, 3]));
        assert_eq!(run("States.Base64Encode('Data to encode')").unwrap(), json!("RGF0YSB0byBlbmNvZGU="));
        assert_eq!(run("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')").unwrap(), json!("Data to encode"));
        assert_eq!(
            run("States.Hash('input data', 'SHA-1')").unwrap(),
            json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
        );
        assert_eq!(
            run("States.JsonMerge(States.StringToJson('{\"a\":1,\"b\":1}'), States.StringToJson('{\"b\":2}'), false)")
                .unwrap(),
            json!({"a": 1, "b": 2})
        );
        assert_eq!(run("States.MathAdd($.n, -1)").unwrap(), json!(110));
        assert_eq!(run("States.StringSplit($.csv, ',')").unwrap(), json!(["a", "b", "c"]));
        assert_eq!(run("States.MathRandom(1, 999, 42)").unwrap(), run("States.MathRandom(1, 999, 42)").unwrap());
        assert_eq!(run("States.UUID()").unwrap().as_str().unwrap().len(), 36);
        assert_eq!(run("States.ArrayGetItem($.list, 9)").unwrap_err().error, "States.IntrinsicFailure");
        assert_eq!(run("States.StringToJson('nope')").unwrap_err().error, "States.IntrinsicFailure");
    }
}
