//! Choice rules: which rule, if any, matches the input.
//!
//! A comparison whose `Variable` matches nothing is a `States.Runtime` error (only `IsPresent` may test absence);
//! a value of the wrong type simply does not match (`StringEquals` on a number is false).

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use super::error::StatesError;
use super::jsonpath::{self, Scope};
use crate::asl::choice::{ChoiceRule, ComparisonOp, OperandKind};

/// Parses an RFC 3339 timestamp as Step Functions accepts it.
pub fn timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    if !crate::asl::validate::is_timestamp(s) {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok()
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are a literal star and backslash.
pub fn string_matches(text: &str, pattern: &str) -> bool {
    enum Tok {
        Char(char),
        Star,
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => toks.push(Tok::Char(chars.next().unwrap_or('\\'))),
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Char(c)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // Classic wildcard matching with backtracking over the last star.
    let (mut t, mut p) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        match toks.get(p) {
            Some(Tok::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(Tok::Star) => {
                star = Some(p);
                mark = t;
                p += 1;
            }
            _ => match star {
                Some(s) => {
                    p = s + 1;
                    mark += 1;
                    t = mark;
                }
                None => return false,
            },
        }
    }
    toks[p..].iter().all(|t| matches!(t, Tok::Star))
}

fn compare(op: ComparisonOp, left: &Value, right: &Value) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let name = op.as_str().trim_end_matches("Path");
    let ordering_ok = |o: std::cmp::Ordering| match name
        .trim_start_matches("String")
        .trim_start_matches("Numeric")
        .trim_start_matches("Timestamp")
    {
        "Equals" => o == Equal,
        "LessThan" => o == Less,
        "GreaterThan" => o == Greater,
        "LessThanEquals" => o != Greater,
        "GreaterThanEquals" => o != Less,
        _ => false,
    };
    match op.kind() {
        OperandKind::String => match (left.as_str(), right.as_str()) {
            (Some(a), Some(b)) => ordering_ok(a.cmp(b)),
            _ => false,
        },
        OperandKind::Pattern => matches!((left.as_str(), right.as_str()), (Some(a), Some(b)) if string_matches(a, b)),
        OperandKind::Numeric => match (left, right) {
            (Value::Number(a), Value::Number(b)) => {
                a.as_f64().zip(b.as_f64()).and_then(|(a, b)| a.partial_cmp(&b)).is_some_and(ordering_ok)
            }
            _ => false,
        },
        OperandKind::Boolean => matches!((left, right), (Value::Bool(a), Value::Bool(b)) if a == b),
        OperandKind::Timestamp => match (left.as_str().and_then(timestamp), right.as_str().and_then(timestamp)) {
            (Some(a), Some(b)) => ordering_ok(a.cmp(&b)),
            _ => false,
        },
        OperandKind::TypeTest => unreachable!("type tests are handled before comparisons"),
    }
}

/// Whether `rule` holds for the input.
pub fn holds(rule: &ChoiceRule, scope: Scope<'_>) -> Result<bool, StatesError> {
    if let Some(and) = &rule.and {
        for r in and {
            if !holds(r, scope)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    if let Some(or) = &rule.or {
        for r in or {
            if holds(r, scope)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if let Some(not) = &rule.not {
        return Ok(!holds(not, scope)?);
    }
    let (Some(variable), Some(comparison)) = (&rule.variable, &rule.comparison) else {
        return Err(StatesError::runtime("a Choice rule has neither a comparison nor And, Or or Not"));
    };
    let op = comparison.op;
    if op.kind() == OperandKind::TypeTest {
        let expected = comparison.value.as_bool().unwrap_or(true);
        let value = jsonpath::eval(variable, scope, "Variable");
        let actual = match op {
            ComparisonOp::IsPresent => value.is_ok(),
            _ => {
                let Ok(v) = value else { return Ok(false) };
                match op {
                    ComparisonOp::IsNull => v.is_null(),
                    ComparisonOp::IsNumeric => v.is_number(),
                    ComparisonOp::IsString => v.is_string(),
                    ComparisonOp::IsBoolean => v.is_boolean(),
                    ComparisonOp::IsTimestamp => v.as_str().and_then(timestamp).is_some(),
                    _ => unreachable!("the type tests"),
                }
            }
        };
        return Ok(actual == expected);
    }
    let left = jsonpath::eval(variable, scope, "Variable").map_err(|_| {
        StatesError::runtime(format!(
            "Invalid path '{variable}': The choice state's condition path references an invalid value."
        ))
    })?;
    let right = if op.is_path() {
        let path = comparison.value.as_str().unwrap_or_default();
        jsonpath::eval(path, scope, op.as_str()).map_err(|_| {
            StatesError::runtime(format!(
                "Invalid path '{path}': The choice state's condition path references an invalid value."
            ))
        })?
    } else {
        comparison.value.clone()
    };
    Ok(compare(op, &left, &right))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(string_matches("log-2024.txt", "log-*.txt"));
        assert!(string_matches("abc", "*"));
        assert!(!string_matches("abc", "a*d"));
        assert!(string_matches("a*c", "a\\*c"));
        assert!(!string_matches("abc", "a\\*c"));
        assert!(string_matches("", "*"));
    }
}
