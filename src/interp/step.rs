//! The synchronous part of each state: input and output processing, Choice rules, Wait times, Fail errors,
//! variables. Nothing here waits or calls out, so each function is testable on its own.
//!
//! JSONPath processing follows the Step Functions guide ("Input and output processing"): `InputPath` selects the
//! effective input; `Parameters` builds the task's input from it; the result goes through `ResultSelector`, then
//! `ResultPath` places it into the *raw* input, then `OutputPath` selects the output. `InputPath: null` and
//! `OutputPath: null` give `{}`; `ResultPath: null` discards the result. JSONata states have `Arguments` and `Output`
//! instead, with `$states.input`, `$states.result`, `$states.errorOutput` and `$states.context`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::choice;
use super::error::{StatesError, names};
use super::jsonata::{self, States};
use super::jsonpath::{self, Scope, Vars};
use super::template;
use crate::asl::{self, Catcher, NumOrExpr, QueryLanguage, State, Transition};

/// The query language a state runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Paths and payload templates.
    JsonPath,
    /// `{% %}` expressions.
    Jsonata,
}

/// Where a state leads.
#[derive(Debug, Clone, PartialEq)]
pub enum Flow<'m> {
    /// To the named state, with this input.
    Next(&'m str, Value),
    /// Its graph ends, with this output.
    End(Value),
}

/// The language of `state`, given the one it inherits.
pub fn lang_of(state: &State, inherited: Lang) -> Lang {
    match state.query_language() {
        Some(QueryLanguage::Jsonata) => Lang::Jsonata,
        Some(QueryLanguage::JsonPath) => Lang::JsonPath,
        None => inherited,
    }
}

fn scope<'a>(input: &'a Value, ctx: &'a Value, vars: &'a Vars) -> Scope<'a> {
    Scope { input, context: ctx, vars }
}

fn flow<'m>(transition: &'m Transition, output: Value) -> Flow<'m> {
    match transition.next.as_deref() {
        Some(next) => Flow::Next(next, output),
        None => Flow::End(output),
    }
}

/// `InputPath`: the effective input.
pub fn input_path(raw: &Value, path: &Option<Option<String>>, ctx: &Value, vars: &Vars) -> Result<Value, StatesError> {
    match path {
        None => Ok(raw.clone()),
        Some(None) => Ok(Value::Object(Map::new())),
        Some(Some(p)) => jsonpath::eval(p, scope(raw, ctx, vars), "InputPath"),
    }
}

/// `ResultPath`: the result placed into the raw input.
pub fn result_path(raw: &Value, result: Value, path: &Option<Option<String>>) -> Result<Value, StatesError> {
    match path {
        None => Ok(result),
        Some(None) => Ok(raw.clone()),
        Some(Some(p)) if p == "$" => Ok(result),
        Some(Some(p)) => {
            if !raw.is_object() && !raw.is_null() {
                return Err(StatesError::runtime(format!(
                    "Unable to apply ResultPath '{p}': the state's input is not a JSON object"
                )));
            }
            let mut out = raw.clone();
            jsonpath::set(&mut out, p, result)?;
            Ok(out)
        }
    }
}

/// `OutputPath`: what is passed on.
pub fn output_path(
    value: Value,
    path: &Option<Option<String>>,
    ctx: &Value,
    vars: &Vars,
) -> Result<Value, StatesError> {
    match path {
        None => Ok(value),
        Some(None) => Ok(Value::Object(Map::new())),
        Some(Some(p)) => jsonpath::eval(p, scope(&value, ctx, vars), "OutputPath"),
    }
}

/// Evaluates `Assign` and returns the new variables (applied after the state, so the state itself sees the old ones).
fn assign(
    assign: &Option<Value>,
    jsonpath_input: &Value,
    states: &States<'_>,
    ctx: &Value,
    vars: &Vars,
    lang: Lang,
) -> Result<Vars, StatesError> {
    let Some(template) = assign else { return Ok(Vars::new()) };
    let value = match lang {
        Lang::JsonPath => template::eval(template, scope(jsonpath_input, ctx, vars), "Assign")?,
        Lang::Jsonata => jsonata::eval(template, states, vars)?,
    };
    match value {
        Value::Object(m) => Ok(m.into_iter().map(|(k, v)| (k.trim_end_matches(".$").to_string(), v)).collect()),
        other => Err(StatesError::runtime(format!("Assign must give an object of variables, not {other}"))),
    }
}

fn jsonata_value(v: &Value, states: &States<'_>, vars: &Vars) -> Result<Value, StatesError> {
    jsonata::eval(v, states, vars)
}

/// A Pass state.
pub fn pass<'m>(
    p: &'m asl::Pass,
    raw: &Value,
    ctx: &Value,
    vars: &mut Vars,
    lang: Lang,
) -> Result<Flow<'m>, StatesError> {
    let (output, new_vars) = match lang {
        Lang::JsonPath => {
            let effective = input_path(raw, &p.input_path, ctx, vars)?;
            let result = match (&p.parameters, &p.result) {
                (Some(params), _) => template::eval(params, scope(&effective, ctx, vars), "Parameters")?,
                (None, Some(result)) => result.clone(),
                (None, None) => effective.clone(),
            };
            let new_vars = assign(&p.assign, &result, &States::default(), ctx, vars, lang)?;
            let placed = result_path(raw, result, &p.result_path)?;
            (output_path(placed, &p.output_path, ctx, vars)?, new_vars)
        }
        Lang::Jsonata => {
            let states = States { input: Some(raw), context: Some(ctx), ..Default::default() };
            let output = match &p.output {
                Some(o) => jsonata_value(o, &states, vars)?,
                None => raw.clone(),
            };
            (output, assign(&p.assign, raw, &states, ctx, vars, lang)?)
        }
    };
    vars.extend(new_vars);
    Ok(flow(&p.transition, output))
}

/// A Choice state: the first matching rule's `Next`, else `Default`, else `States.NoChoiceMatched`.
pub fn choice<'m>(
    c: &'m asl::Choice,
    raw: &Value,
    ctx: &Value,
    vars: &mut Vars,
    lang: Lang,
) -> Result<Flow<'m>, StatesError> {
    match lang {
        Lang::JsonPath => {
            let effective = input_path(raw, &c.input_path, ctx, vars)?;
            let mut matched = None;
            for rule in &c.choices {
                if choice::holds(rule, scope(&effective, ctx, vars))? {
                    matched = Some(rule);
                    break;
                }
            }
            let (next, rule_assign) = match matched {
                Some(rule) => (rule.next.as_deref(), rule.assign.as_ref()),
                None => (c.default.as_deref(), None),
            };
            let Some(next) = next else {
                return Err(StatesError::new(names::NO_CHOICE_MATCHED, "No Matches!"));
            };
            let mut new_vars = assign(&c.assign, &effective, &States::default(), ctx, vars, lang)?;
            new_vars.extend(assign(&rule_assign.cloned(), &effective, &States::default(), ctx, vars, lang)?);
            let output = output_path(effective, &c.output_path, ctx, vars)?;
            vars.extend(new_vars);
            Ok(Flow::Next(next, output))
        }
        Lang::Jsonata => {
            let states = States { input: Some(raw), context: Some(ctx), ..Default::default() };
            let mut matched = None;
            for rule in &c.choices {
                let condition = rule
                    .condition
                    .as_ref()
                    .ok_or_else(|| StatesError::runtime("a JSONata Choice rule has no Condition"))?;
                match jsonata_value(condition, &states, vars)? {
                    Value::Bool(true) => {
                        matched = Some(rule);
                        break;
                    }
                    Value::Bool(false) => {}
                    other => {
                        return Err(StatesError::query(format!(
                            "a Choice Condition must give true or false, not {other}"
                        )));
                    }
                }
            }
            let (next, output_t, assign_t) = match matched {
                Some(rule) => (
                    rule.next.as_deref(),
                    rule.output.as_ref().or(c.output.as_ref()),
                    rule.assign.as_ref().or(c.assign.as_ref()),
                ),
                None => (c.default.as_deref(), c.output.as_ref(), c.assign.as_ref()),
            };
            let Some(next) = next else {
                return Err(StatesError::new(names::NO_CHOICE_MATCHED, "No Matches!"));
            };
            let output = match output_t {
                Some(o) => jsonata_value(o, &states, vars)?,
                None => raw.clone(),
            };
            let new_vars = assign(&assign_t.cloned(), raw, &states, ctx, vars, lang)?;
            vars.extend(new_vars);
            Ok(Flow::Next(next, output))
        }
    }
}

/// A Succeed state.
pub fn succeed<'m>(
    s: &'m asl::Succeed,
    raw: &Value,
    ctx: &Value,
    vars: &Vars,
    lang: Lang,
) -> Result<Flow<'m>, StatesError> {
    let output = match lang {
        Lang::JsonPath => output_path(input_path(raw, &s.input_path, ctx, vars)?, &s.output_path, ctx, vars)?,
        Lang::Jsonata => match &s.output {
            Some(o) => jsonata_value(o, &States { input: Some(raw), context: Some(ctx), ..Default::default() }, vars)?,
            None => raw.clone(),
        },
    };
    Ok(Flow::End(output))
}

/// A Fail state: the error it raises.
pub fn fail(f: &asl::Fail, raw: &Value, ctx: &Value, vars: &Vars, lang: Lang) -> Result<StatesError, StatesError> {
    let text = |literal: &Option<String>, path: &Option<String>, field: &str| -> Result<Option<String>, StatesError> {
        if let Some(l) = literal {
            return Ok(Some(match lang {
                Lang::Jsonata if jsonata::expression(&Value::String(l.clone())).is_some() => {
                    match jsonata_value(
                        &Value::String(l.clone()),
                        &States { input: Some(raw), context: Some(ctx), ..Default::default() },
                        vars,
                    )? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    }
                }
                _ => l.clone(),
            }));
        }
        match path {
            Some(p) => match template::eval_expression(p, scope(raw, ctx, vars), field)? {
                Value::String(s) => Ok(Some(s)),
                other => Err(StatesError::runtime(format!("{field} must give a string, not {other}"))),
            },
            None => Ok(None),
        }
    };
    let error = text(&f.error, &f.error_path, "ErrorPath")?.unwrap_or_default();
    let cause = text(&f.cause, &f.cause_path, "CausePath")?.unwrap_or_default();
    Ok(StatesError::new(error, cause))
}

fn num_field(
    value: &Option<NumOrExpr>,
    path: &Option<String>,
    input: &Value,
    ctx: &Value,
    vars: &Vars,
    lang: Lang,
    field: &str,
) -> Result<Option<f64>, StatesError> {
    match (value, path) {
        (Some(NumOrExpr::Num(n)), _) => Ok(n.as_f64()),
        (Some(NumOrExpr::Expr(e)), _) => {
            let states = States { input: Some(input), context: Some(ctx), ..Default::default() };
            match jsonata_value(&Value::String(e.clone()), &states, vars)? {
                Value::Number(n) => Ok(n.as_f64()),
                other => Err(StatesError::query(format!("{field} must give a number, not {other}"))),
            }
        }
        (None, Some(p)) if lang == Lang::JsonPath => {
            match jsonpath::eval(p, scope(input, ctx, vars), &format!("{field}Path"))? {
                Value::Number(n) if n.as_f64().is_some_and(|x| x >= 0.0) => Ok(n.as_f64()),
                other => {
                    Err(StatesError::runtime(format!("{field}Path {p} must give a non-negative number, not {other}")))
                }
            }
        }
        _ => Ok(None),
    }
}

/// When a Wait state ends.
pub fn wait_until(
    w: &asl::Wait,
    raw: &Value,
    ctx: &Value,
    vars: &Vars,
    lang: Lang,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, StatesError> {
    let effective = if lang == Lang::JsonPath { input_path(raw, &w.input_path, ctx, vars)? } else { raw.clone() };
    if let Some(seconds) = num_field(&w.seconds, &w.seconds_path, &effective, ctx, vars, lang, "Seconds")? {
        if seconds < 0.0 {
            return Err(StatesError::runtime(format!("Wait seconds must not be negative, not {seconds}")));
        }
        return Ok(super::clock::add_seconds(now, seconds));
    }
    let timestamp = match (&w.timestamp, &w.timestamp_path) {
        (Some(t), _) => match lang {
            Lang::Jsonata if jsonata::expression(&Value::String(t.clone())).is_some() => {
                let states = States { input: Some(raw), context: Some(ctx), ..Default::default() };
                jsonata_value(&Value::String(t.clone()), &states, vars)?
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_default()
            }
            _ => t.clone(),
        },
        (None, Some(p)) => jsonpath::eval(p, scope(&effective, ctx, vars), "TimestampPath")?
            .as_str()
            .map(str::to_string)
            .unwrap_or_default(),
        (None, None) => return Ok(now),
    };
    choice::timestamp(&timestamp)
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| StatesError::runtime(format!("Wait timestamp {timestamp:?} is not an RFC 3339 timestamp")))
}

/// A Wait state's output once it has waited.
pub fn wait_done<'m>(
    w: &'m asl::Wait,
    raw: &Value,
    ctx: &Value,
    vars: &mut Vars,
    lang: Lang,
) -> Result<Flow<'m>, StatesError> {
    let (output, new_vars) = match lang {
        Lang::JsonPath => {
            let effective = input_path(raw, &w.input_path, ctx, vars)?;
            let new_vars = assign(&w.assign, &effective, &States::default(), ctx, vars, lang)?;
            (output_path(effective, &w.output_path, ctx, vars)?, new_vars)
        }
        Lang::Jsonata => {
            let states = States { input: Some(raw), context: Some(ctx), ..Default::default() };
            let output = match &w.output {
                Some(o) => jsonata_value(o, &states, vars)?,
                None => raw.clone(),
            };
            (output, assign(&w.assign, raw, &states, ctx, vars, lang)?)
        }
    };
    vars.extend(new_vars);
    Ok(flow(&w.transition, output))
}

/// The effective input and the payload a state sends on: `InputPath` then `Parameters` (JSONPath), or `Arguments`
/// (JSONata). Task and Parallel states share this.
fn input_and_payload(
    input_path_field: &Option<Option<String>>,
    parameters: &Option<Value>,
    arguments: &Option<Value>,
    raw: &Value,
    ctx: &Value,
    vars: &Vars,
    lang: Lang,
) -> Result<(Value, Value), StatesError> {
    match lang {
        Lang::JsonPath => {
            let effective = input_path(raw, input_path_field, ctx, vars)?;
            let payload = match parameters {
                Some(p) => template::eval(p, scope(&effective, ctx, vars), "Parameters")?,
                None => effective.clone(),
            };
            Ok((effective, payload))
        }
        Lang::Jsonata => {
            let states = States { input: Some(raw), context: Some(ctx), ..Default::default() };
            let payload = match arguments {
                Some(a) => jsonata_value(a, &states, vars)?,
                None => raw.clone(),
            };
            Ok((raw.clone(), payload))
        }
    }
}

/// A Task's effective input and the parameters it sends.
pub fn task_input(
    t: &asl::Task,
    raw: &Value,
    ctx: &Value,
    vars: &Vars,
    lang: Lang,
) -> Result<(Value, Value), StatesError> {
    input_and_payload(&t.input_path, &t.parameters, &t.arguments, raw, ctx, vars, lang)
}

/// A Task's timeout, if it has one.
pub fn task_timeout(
    t: &asl::Task,
    effective: &Value,
    ctx: &Value,
    vars: &Vars,
    lang: Lang,
) -> Result<Option<Duration>, StatesError> {
    Ok(num_field(&t.timeout_seconds, &t.timeout_seconds_path, effective, ctx, vars, lang, "TimeoutSeconds")?
        .filter(|s| *s > 0.0)
        .map(|s| Duration::from_secs_f64(s.min(1.0e9))))
}

/// The Task's `HeartbeatSeconds` when its resource waits on a worker that must send heartbeats (an activity or a
/// `.waitForTaskToken` callback); other integrations are watched by Step Functions itself and have no heartbeat.
pub fn task_heartbeat(
    t: &asl::Task,
    effective: &Value,
    ctx: &Value,
    vars: &Vars,
    lang: Lang,
) -> Result<Option<Duration>, StatesError> {
    let waits_on_worker = t.resource.ends_with(".waitForTaskToken") || t.resource.contains(":activity:");
    if !waits_on_worker {
        return Ok(None);
    }
    Ok(num_field(&t.heartbeat_seconds, &t.heartbeat_seconds_path, effective, ctx, vars, lang, "HeartbeatSeconds")?
        .filter(|s| *s > 0.0)
        .map(|s| Duration::from_secs_f64(s.min(1.0e9))))
}

/// What a Task, Parallel or Map does with its result: ResultSelector, ResultPath, OutputPath (or Output), Assign.
#[allow(clippy::too_many_arguments)]
pub fn finish<'m>(
    transition: &'m Transition,
    result_selector: &Option<Value>,
    result_path_field: &Option<Option<String>>,
    output_path_field: &Option<Option<String>>,
    output: &Option<Value>,
    assign_field: &Option<Value>,
    raw: &Value,
    result: Value,
    ctx: &Value,
    vars: &mut Vars,
    lang: Lang,
) -> Result<Flow<'m>, StatesError> {
    let (out, new_vars) = match lang {
        Lang::JsonPath => {
            let selected = match result_selector {
                Some(s) => template::eval(s, scope(&result, ctx, vars), "ResultSelector")?,
                None => result,
            };
            let new_vars = assign(assign_field, &selected, &States::default(), ctx, vars, lang)?;
            let placed = result_path(raw, selected, result_path_field)?;
            (output_path(placed, output_path_field, ctx, vars)?, new_vars)
        }
        Lang::Jsonata => {
            let states = States { input: Some(raw), context: Some(ctx), result: Some(&result), ..Default::default() };
            let out = match output {
                Some(o) => jsonata_value(o, &states, vars)?,
                None => result.clone(),
            };
            (out, assign(assign_field, raw, &states, ctx, vars, lang)?)
        }
    };
    vars.extend(new_vars);
    Ok(flow(transition, out))
}

/// A Parallel state's effective input and what each branch gets.
pub fn parallel_input(
    p: &asl::Parallel,
    raw: &Value,
    ctx: &Value,
    vars: &Vars,
    lang: Lang,
) -> Result<(Value, Value), StatesError> {
    input_and_payload(&p.input_path, &p.parameters, &p.arguments, raw, ctx, vars, lang)
}

/// A Map state's effective input and items.
pub fn map_items(
    m: &asl::Map_,
    raw: &Value,
    ctx: &Value,
    vars: &Vars,
    lang: Lang,
) -> Result<(Value, Vec<Value>), StatesError> {
    let (effective, items) = match lang {
        Lang::JsonPath => {
            let effective = input_path(raw, &m.input_path, ctx, vars)?;
            let items = match &m.items_path {
                Some(p) => jsonpath::eval(p, scope(&effective, ctx, vars), "ItemsPath")?,
                None => effective.clone(),
            };
            (effective, items)
        }
        Lang::Jsonata => {
            let states = States { input: Some(raw), context: Some(ctx), ..Default::default() };
            let items = match &m.items {
                Some(i) => jsonata_value(i, &states, vars)?,
                None => raw.clone(),
            };
            (raw.clone(), items)
        }
    };
    match items {
        Value::Array(items) => Ok((effective, items)),
        other => Err(StatesError::runtime(format!("the Map's items must be an array, not {other}"))),
    }
}

/// Groups items into `{"Items": [...], "BatchInput": ...}` when the Map has an ItemBatcher.
pub fn batch(
    m: &asl::Map_,
    items: Vec<Value>,
    effective: &Value,
    ctx: &Value,
    vars: &Vars,
    lang: Lang,
) -> Result<Vec<Value>, StatesError> {
    let Some(b) = &m.item_batcher else { return Ok(items) };
    let max_items =
        num_field(&b.max_items_per_batch, &b.max_items_per_batch_path, effective, ctx, vars, lang, "MaxItemsPerBatch")?;
    let max_bytes = num_field(
        &b.max_input_bytes_per_batch,
        &b.max_input_bytes_per_batch_path,
        effective,
        ctx,
        vars,
        lang,
        "MaxInputBytesPerBatch",
    )?;
    let max_items = max_items.map_or(usize::MAX, |n| n.max(1.0) as usize);
    let max_bytes = max_bytes.map_or(256 * 1024, |n| n.max(1.0) as usize);
    let batch_input = match (&b.batch_input, lang) {
        (Some(t), Lang::JsonPath) => Some(template::eval(t, scope(effective, ctx, vars), "BatchInput")?),
        (Some(t), Lang::Jsonata) => {
            Some(jsonata_value(t, &States { input: Some(effective), context: Some(ctx), ..Default::default() }, vars)?)
        }
        (None, _) => None,
    };
    let mut batches = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    let mut bytes = 0usize;
    for item in items {
        let size = item.to_string().len();
        if !current.is_empty() && (current.len() >= max_items || bytes + size > max_bytes) {
            batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(item);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    Ok(batches
        .into_iter()
        .map(|items| {
            let mut o = Map::new();
            o.insert("Items".into(), Value::Array(items));
            if let Some(b) = &batch_input {
                o.insert("BatchInput".into(), b.clone());
            }
            Value::Object(o)
        })
        .collect())
}

/// A Map's concurrency limit (0: unlimited).
pub fn max_concurrency(
    m: &asl::Map_,
    effective: &Value,
    ctx: &Value,
    vars: &Vars,
    lang: Lang,
) -> Result<Option<usize>, StatesError> {
    Ok(num_field(&m.max_concurrency, &m.max_concurrency_path, effective, ctx, vars, lang, "MaxConcurrency")?
        .map(|n| n as usize))
}

/// A distributed Map's tolerated failure count.
pub fn tolerated_count(
    m: &asl::Map_,
    effective: &Value,
    ctx: &Value,
    vars: &Vars,
    lang: Lang,
) -> Result<Option<f64>, StatesError> {
    num_field(
        &m.tolerated_failure_count,
        &m.tolerated_failure_count_path,
        effective,
        ctx,
        vars,
        lang,
        "ToleratedFailureCount",
    )
}

/// A distributed Map's tolerated failure percentage.
pub fn tolerated_percentage(
    m: &asl::Map_,
    effective: &Value,
    ctx: &Value,
    vars: &Vars,
    lang: Lang,
) -> Result<Option<f64>, StatesError> {
    num_field(
        &m.tolerated_failure_percentage,
        &m.tolerated_failure_percentage_path,
        effective,
        ctx,
        vars,
        lang,
        "ToleratedFailurePercentage",
    )
}

/// How a Map turns an item into its iteration's input.
pub struct ItemSelector<'m> {
    template: Option<&'m Value>,
}

impl<'m> ItemSelector<'m> {
    /// The selector of `m`: `ItemSelector`, or the legacy `Parameters`.
    pub fn of(m: &'m asl::Map_) -> Self {
        ItemSelector { template: m.item_selector.as_ref().or(m.parameters.as_ref()) }
    }

    /// The iteration input for `item` (`ctx` holds `Map.Item`).
    pub fn select(
        &self,
        effective: &Value,
        item: &Value,
        ctx: &Value,
        vars: &Vars,
        lang: Lang,
    ) -> Result<Value, StatesError> {
        match (self.template, lang) {
            (None, _) => Ok(item.clone()),
            (Some(t), Lang::JsonPath) => template::eval(t, scope(effective, ctx, vars), "ItemSelector"),
            (Some(t), Lang::Jsonata) => {
                jsonata_value(t, &States { input: Some(effective), context: Some(ctx), ..Default::default() }, vars)
            }
        }
    }
}

/// What a catcher passes on: the error output placed by `ResultPath` (JSONPath) or its `Output` (JSONata).
pub fn catch_output(
    c: &Catcher,
    raw: &Value,
    error: &StatesError,
    ctx: &Value,
    vars: &mut Vars,
    lang: Lang,
) -> Result<Value, StatesError> {
    let error_output = error.output();
    let (output, new_vars) = match lang {
        Lang::JsonPath => {
            let new_vars = assign(&c.assign, &error_output, &States::default(), ctx, vars, lang)?;
            (result_path(raw, error_output, &c.result_path)?, new_vars)
        }
        Lang::Jsonata => {
            let states = States {
                input: Some(raw),
                context: Some(ctx),
                error_output: Some(&error_output),
                ..Default::default()
            };
            let output = match &c.output {
                Some(o) => jsonata_value(o, &states, vars)?,
                None => error_output.clone(),
            };
            (output, assign(&c.assign, raw, &states, ctx, vars, lang)?)
        }
    };
    vars.extend(new_vars);
    Ok(output)
}
