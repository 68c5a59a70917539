//! Choice rules: the comparison operators, the boolean combinators and JSONata conditions.
//!
//! A rule's operator is a key whose name *is* the operator (`"StringEquals": "x"`), so rules are (de)serialised by
//! hand: known keys become fields, the one comparison key becomes [`Comparison`], and everything else is kept in
//! `extra`. A malformed rule (two operators, an operator without `Variable`) still round-trips; the validator says
//! what is wrong with it.

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::model::Extra;

macro_rules! comparison_ops {
    ($( $variant:ident => $name:literal, $kind:ident, $path:literal; )*) => {
        /// Every comparison operator of the language, including the `*Path` forms and the `Is*` tests.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ComparisonOp { $( #[doc = concat!("`", $name, "`")] $variant, )* }

        impl ComparisonOp {
            /// Every operator, in the order the specification lists them.
            pub const ALL: &'static [ComparisonOp] = &[$(ComparisonOp::$variant,)*];

            /// The operator's name as written in ASL.
            pub fn as_str(self) -> &'static str {
                match self { $(ComparisonOp::$variant => $name,)* }
            }

            /// The operator named `name`, if it is one.
            pub fn from_name(name: &str) -> Option<ComparisonOp> {
                match name { $($name => Some(ComparisonOp::$variant),)* _ => None }
            }

            /// What the operator compares, which fixes the type of its operand.
            pub fn kind(self) -> OperandKind {
                match self { $(ComparisonOp::$variant => OperandKind::$kind,)* }
            }

            /// True for the `*Path` forms, whose operand is a path into the input rather than a literal.
            pub fn is_path(self) -> bool {
                match self { $(ComparisonOp::$variant => $path,)* }
            }
        }
    };
}

comparison_ops! {
    StringEquals => "StringEquals", String, false;
    StringEqualsPath => "StringEqualsPath", String, true;
    StringLessThan => "StringLessThan", String, false;
    StringLessThanPath => "StringLessThanPath", String, true;
    StringGreaterThan => "StringGreaterThan", String, false;
    StringGreaterThanPath => "StringGreaterThanPath", String, true;
    StringLessThanEquals => "StringLessThanEquals", String, false;
    StringLessThanEqualsPath => "StringLessThanEqualsPath", String, true;
    StringGreaterThanEquals => "StringGreaterThanEquals", String, false;
    StringGreaterThanEqualsPath => "StringGreaterThanEqualsPath", String, true;
    StringMatches => "StringMatches", Pattern, false;
    NumericEquals => "NumericEquals", Numeric, false;
    NumericEqualsPath => "NumericEqualsPath", Numeric, true;
    NumericLessThan => "NumericLessThan", Numeric, false;
    NumericLessThanPath => "NumericLessThanPath", Numeric, true;
    NumericGreaterThan => "NumericGreaterThan", Numeric, false;
    NumericGreaterThanPath => "NumericGreaterThanPath", Numeric, true;
    NumericLessThanEquals => "NumericLessThanEquals", Numeric, false;
    NumericLessThanEqualsPath => "NumericLessThanEqualsPath", Numeric, true;
    NumericGreaterThanEquals => "NumericGreaterThanEquals", Numeric, false;
    NumericGreaterThanEqualsPath => "NumericGreaterThanEqualsPath", Numeric, true;
    BooleanEquals => "BooleanEquals", Boolean, false;
    BooleanEqualsPath => "BooleanEqualsPath", Boolean, true;
    TimestampEquals => "TimestampEquals", Timestamp, false;
    TimestampEqualsPath => "TimestampEqualsPath", Timestamp, true;
    TimestampLessThan => "TimestampLessThan", Timestamp, false;
    TimestampLessThanPath => "TimestampLessThanPath", Timestamp, true;
    TimestampGreaterThan => "TimestampGreaterThan", Timestamp, false;
    TimestampGreaterThanPath => "TimestampGreaterThanPath", Timestamp, true;
    TimestampLessThanEquals => "TimestampLessThanEquals", Timestamp, false;
    TimestampLessThanEqualsPath => "TimestampLessThanEqualsPath", Timestamp, true;
    TimestampGreaterThanEquals => "TimestampGreaterThanEquals", Timestamp, false;
    TimestampGreaterThanEqualsPath => "TimestampGreaterThanEqualsPath", Timestamp, true;
    IsNull => "IsNull", TypeTest, false;
    IsPresent => "IsPresent", TypeTest, false;
    IsNumeric => "IsNumeric", TypeTest, false;
    IsString => "IsString", TypeTest, false;
    IsBoolean => "IsBoolean", TypeTest, false;
    IsTimestamp => "IsTimestamp", TypeTest, false;
}

/// The family of a comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperandKind {
    /// Lexical string comparison.
    String,
    /// `StringMatches`: a pattern with `*` wildcards.
    Pattern,
    /// Numeric comparison.
    Numeric,
    /// Boolean equality.
    Boolean,
    /// RFC 3339 timestamp comparison.
    Timestamp,
    /// `Is*`: a type or presence test whose operand is `true` or `false`.
    TypeTest,
}

/// An operator and its operand: `"NumericGreaterThan": 10`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The operator.
    pub op: ComparisonOp,
    /// The operand: a literal, or a path for the `*Path` forms.
    pub value: Value,
}

/// One Choice rule. Top-level rules carry `Next`; rules nested in `And`/`Or`/`Not` do not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChoiceRule {
    /// Free text for readers of the definition.
    pub comment: Option<String>,
    /// JSONPath: the value the comparison tests.
    pub variable: Option<String>,
    /// The comparison, if this is a comparison rule.
    pub comparison: Option<Comparison>,
    /// All of these rules must match.
    pub and: Option<Vec<ChoiceRule>>,
    /// Any of these rules must match.
    pub or: Option<Vec<ChoiceRule>>,
    /// This rule must not match.
    pub not: Option<Box<ChoiceRule>>,
    /// JSONata: a `{% %}` expression (or literal boolean) that decides the rule.
    pub condition: Option<Value>,
    /// Variables to assign when the rule matches.
    pub assign: Option<Value>,
    /// JSONata: the state's output when the rule matches.
    pub output: Option<Value>,
    /// The state to go to when the rule matches.
    pub next: Option<String>,
    /// Further operator keys (a malformed rule) and unknown fields, kept as written.
    pub extra: Extra,
}

impl ChoiceRule {
    /// A comparison rule on `variable`.
    pub fn compare(variable: impl Into<String>, op: ComparisonOp, value: impl Into<Value>) -> Self {
        ChoiceRule {
            variable: Some(variable.into()),
            comparison: Some(Comparison { op, value: value.into() }),
            ..Default::default()
        }
    }

    /// The rules nested directly in this one.
    pub fn children(&self) -> Vec<&ChoiceRule> {
        let mut out: Vec<&ChoiceRule> = Vec::new();
        out.extend(self.and.iter().flatten());
        out.extend(self.or.iter().flatten());
        out.extend(self.not.as_deref());
        out
    }
}

impl Serialize for ChoiceRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(c) = &self.comment {
            map.serialize_entry("Comment", c)?;
        }
        if let Some(v) = &self.variable {
            map.serialize_entry("Variable", v)?;
        }
        if let Some(c) = &self.comparison {
            map.serialize_entry(c.op.as_str(), &c.value)?;
        }
        if let Some(a) = &self.and {
            map.serialize_entry("And", a)?;
        }
        if let Some(o) = &self.or {
            map.serialize_entry("Or", o)?;
        }
        if let Some(n) = &self.not {
            map.serialize_entry("Not", n)?;
        }
        if let Some(c) = &self.condition {
            map.serialize_entry("Condition", c)?;
        }
        if let Some(a) = &self.assign {
            map.serialize_entry("Assign", a)?;
        }
        if let Some(o) = &self.output {
            map.serialize_entry("Output", o)?;
        }
        if let Some(n) = &self.next {
            map.serialize_entry("Next", n)?;
        }
        for (k, v) in &self.extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ChoiceRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = Map::<String, Value>::deserialize(deserializer)?;
        ChoiceRule::from_map(map).map_err(D::Error::custom)
    }
}

impl ChoiceRule {
    fn from_map(map: Map<String, Value>) -> Result<Self, String> {
        fn string(key: &str, v: Value) -> Result<String, String> {
            match v {
                Value::String(s) => Ok(s),
                other => Err(format!("Choice rule field {key} must be a string, found {other}")),
            }
        }
        fn rules(key: &str, v: Value) -> Result<Vec<ChoiceRule>, String> {
            match v {
                Value::Array(items) => items
                    .into_iter()
                    .map(|item| match item {
                        Value::Object(m) => ChoiceRule::from_map(m),
                        other => Err(format!("Choice rule field {key} must hold objects, found {other}")),
                    })
                    .collect(),
                other => Err(format!("Choice rule field {key} must be an array, found {other}")),
            }
        }
        let mut rule = ChoiceRule::default();
        for (key, value) in map {
            match key.as_str() {
                "Comment" => rule.comment = Some(string(&key, value)?),
                "Variable" => rule.variable = Some(string(&key, value)?),
                "And" => rule.and = Some(rules(&key, value)?),
                "Or" => rule.or = Some(rules(&key, value)?),
                "Not" => match value {
                    Value::Object(m) => rule.not = Some(Box::new(ChoiceRule::from_map(m)?)),
                    other => return Err(format!("Choice rule field Not must be an object, found {other}")),
                },
                "Condition" => rule.condition = Some(value),
                "Assign" => rule.assign = Some(value),
                "Output" => rule.output = Some(value),
                "Next" => rule.next = Some(string(&key, value)?),
                name => match ComparisonOp::from_name(name) {
                    Some(op) if rule.comparison.is_none() => rule.comparison = Some(Comparison { op, value }),
                    _ => {
                        rule.extra.insert(key, value);
                    }
                },
            }
        }
        Ok(rule)
    }
}
