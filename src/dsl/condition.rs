//! Conditions for [`Choice`](super::Choice) rules.

use serde_json::Value;

use crate::asl::{ChoiceRule, ComparisonOp};

/// A Choice rule without its `Next`: `Condition::string_equals("$.status", "FAILED")`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition(pub(crate) ChoiceRule);

impl Condition {
    /// Any operator of the language on `variable` (a JSONPath); the operand must suit the operator.
    pub fn compare(variable: impl Into<String>, op: ComparisonOp, operand: impl Into<Value>) -> Self {
        Condition(ChoiceRule::compare(variable, op, operand))
    }

    /// The value at `variable` equals `value`.
    pub fn string_equals(variable: impl Into<String>, value: impl Into<String>) -> Self {
        Self::compare(variable, ComparisonOp::StringEquals, value.into())
    }

    /// The value at `variable` matches `pattern` (`*` is a wildcard, `\*` a literal star).
    pub fn string_matches(variable: impl Into<String>, pattern: impl Into<String>) -> Self {
        Self::compare(variable, ComparisonOp::StringMatches, pattern.into())
    }

    /// The number at `variable` equals `value`.
    pub fn number_equals(variable: impl Into<String>, value: impl Into<serde_json::Number>) -> Self {
        Self::compare(variable, ComparisonOp::NumericEquals, Value::Number(value.into()))
    }

    /// The number at `variable` is greater than `value`.
    pub fn number_greater_than(variable: impl Into<String>, value: impl Into<serde_json::Number>) -> Self {
        Self::compare(variable, ComparisonOp::NumericGreaterThan, Value::Number(value.into()))
    }

    /// The boolean at `variable` equals `value`.
    pub fn boolean_equals(variable: impl Into<String>, value: bool) -> Self {
        Self::compare(variable, ComparisonOp::BooleanEquals, value)
    }

    /// The timestamp at `variable` is before `timestamp` (RFC 3339).
    pub fn timestamp_less_than(variable: impl Into<String>, timestamp: impl Into<String>) -> Self {
        Self::compare(variable, ComparisonOp::TimestampLessThan, timestamp.into())
    }

    /// `variable` exists in the input.
    pub fn is_present(variable: impl Into<String>) -> Self {
        Self::compare(variable, ComparisonOp::IsPresent, true)
    }

    /// `variable` is `null`.
    pub fn is_null(variable: impl Into<String>) -> Self {
        Self::compare(variable, ComparisonOp::IsNull, true)
    }

    /// Every condition holds.
    pub fn and(conditions: impl IntoIterator<Item = Condition>) -> Self {
        Condition(ChoiceRule { and: Some(conditions.into_iter().map(|c| c.0).collect()), ..Default::default() })
    }

    /// At least one condition holds.
    pub fn or(conditions: impl IntoIterator<Item = Condition>) -> Self {
        Condition(ChoiceRule { or: Some(conditions.into_iter().map(|c| c.0).collect()), ..Default::default() })
    }

    /// The condition does not hold.
    #[allow(clippy::should_implement_trait)]
    pub fn not(condition: Condition) -> Self {
        Condition(ChoiceRule { not: Some(Box::new(condition.0)), ..Default::default() })
    }

    /// A JSONata condition, `"{% $states.input.count > 10 %}"`, for states in the JSONata query language.
    pub fn jsonata(expression: impl Into<String>) -> Self {
        Condition(ChoiceRule { condition: Some(Value::String(expression.into())), ..Default::default() })
    }
}
