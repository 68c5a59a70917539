//! Map states: the processor's mode and execution type; the fields only distributed mode has; value ranges of
//! concurrency and tolerated failures; the item reader, batcher and result writer.

use serde_json::Value;

use crate::asl::validate::rules::{integer_field, is_jsonata, kind, resource::arn_problem};
use crate::asl::validate::{Context, Diagnostic, Rule, SCHEMA};

const RULE: &str = "map";
const DISTRIBUTED_ONLY: &[&str] = &[
    "ItemReader",
    "ItemBatcher",
    "ResultWriter",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "Label",
];

/// Map states.
pub struct MapState;

impl Rule for MapState {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for state in ctx.states.iter().filter(|s| s.ty() == Some("Map")) {
            let (processor_key, processor) = match (state.field("ItemProcessor"), state.field("Iterator")) {
                (Some(p), _) => ("ItemProcessor", p),
                (None, Some(p)) => ("Iterator", p),
                (None, None) => continue,
            };
            let config = processor.get("ProcessorConfig");
            let mut distributed = false;
            if let Some(config) = config {
                let at = |k: &str| state.at(&[processor_key, "ProcessorConfig", k]);
                match config.as_object() {
                    None => out.push(Diagnostic::error(
                        SCHEMA,
                        RULE,
                        state.at(&[processor_key, "ProcessorConfig"]),
                        "ProcessorConfig must be an object",
                    )),
                    Some(c) => {
                        match c.get("Mode") {
                            None => {}
                            Some(Value::String(m)) if m == "INLINE" => {}
                            Some(Value::String(m)) if m == "DISTRIBUTED" => distributed = true,
                            Some(v) => out.push(Diagnostic::error(
                                SCHEMA,
                                RULE,
                                at("Mode"),
                                format!("Mode must be \"INLINE\" or \"DISTRIBUTED\", not {v}"),
                            )),
                        }
                        match c.get("ExecutionType") {
                            None if distributed => out.push(Diagnostic::error(
                                SCHEMA,
                                RULE,
                                state.at(&[processor_key, "ProcessorConfig"]),
                                "a DISTRIBUTED processor needs ExecutionType: STANDARD or EXPRESS",
                            )),
                            None => {}
                            Some(Value::String(t)) if (t == "STANDARD" || t == "EXPRESS") && distributed => {}
                            Some(_) if !distributed => out.push(Diagnostic::error(
                                SCHEMA,
                                RULE,
                                at("ExecutionType"),
                                "ExecutionType is for DISTRIBUTED mode only",
                            )),
                            Some(v) => out.push(Diagnostic::error(
                                SCHEMA,
                                RULE,
                                at("ExecutionType"),
                                format!("ExecutionType must be \"STANDARD\" or \"EXPRESS\", not {v}"),
                            )),
                        }
                        for key in c.keys().filter(|k| !matches!(k.as_str(), "Mode" | "ExecutionType")) {
                            out.push(Diagnostic::error(
                                SCHEMA,
                                RULE,
                                at(key),
                                format!("the field {key:?} is not supported in ProcessorConfig"),
                            ));
                        }
                    }
                }
            }
            // Step Functions accepted and ran both of the following (executions recorded on AWS, issue 23): a
            // validator must never refuse what AWS runs, so they are warnings.
            if processor_key == "Iterator" && distributed {
                out.push(Diagnostic::warning(
                    SCHEMA,
                    RULE,
                    state.at(&["Iterator"]),
                    "Iterator is the legacy name of ItemProcessor; Step Functions runs it in DISTRIBUTED mode too, \
                     but its documentation names ItemProcessor",
                ));
            }
            if !distributed {
                for key in DISTRIBUTED_ONLY.iter().filter(|k| state.field(k).is_some()) {
                    let message = format!(
                        "{key} is for DISTRIBUTED mode only; set ItemProcessor.ProcessorConfig.Mode to DISTRIBUTED"
                    );
                    match key.starts_with("ToleratedFailure") {
                        true => out.push(Diagnostic::warning(
                            SCHEMA,
                            RULE,
                            state.at(&[key]),
                            format!("{message} (an inline Map fails at its first failed iteration)"),
                        )),
                        false => out.push(Diagnostic::error(SCHEMA, RULE, state.at(&[key]), message)),
                    }
                }
            }
            integer_field(state, "MaxConcurrency", 0, if distributed { 10_000 } else { 99_999_999 }, RULE, &mut out);
            integer_field(state, "ToleratedFailureCount", 0, i64::MAX, RULE, &mut out);
            if let Some(v) = state.field("ToleratedFailurePercentage")
                && !(state.is_jsonata() && is_jsonata(v))
                && !v.as_f64().is_some_and(|p| (0.0..=100.0).contains(&p))
            {
                out.push(Diagnostic::error(
                    SCHEMA,
                    RULE,
                    state.at(&["ToleratedFailurePercentage"]),
                    format!("ToleratedFailurePercentage must be a number from 0 to 100, not {v}"),
                ));
            }
            if let Some(reader) = state.field("ItemReader").and_then(Value::as_object) {
                match reader.get("Resource") {
                    Some(Value::String(r)) => {
                        if let Some(m) = arn_problem(r) {
                            out.push(Diagnostic::error(
                                "INVALID_RESOURCE",
                                RULE,
                                state.at(&["ItemReader", "Resource"]),
                                m,
                            ));
                        }
                    }
                    Some(v) => out.push(Diagnostic::error(
                        SCHEMA,
                        RULE,
                        state.at(&["ItemReader", "Resource"]),
                        format!("Resource must be a string, not {}", kind(v)),
                    )),
                    None => out.push(Diagnostic::error(
                        SCHEMA,
                        RULE,
                        state.at(&["ItemReader"]),
                        "ItemReader needs Resource",
                    )),
                }
                if let Some(config) = reader.get("ReaderConfig").and_then(Value::as_object)
                    && config.contains_key("MaxItems")
                    && config.contains_key("MaxItemsPath")
                {
                    out.push(Diagnostic::error(
                        SCHEMA,
                        RULE,
                        state.at(&["ItemReader", "ReaderConfig", "MaxItemsPath"]),
                        "MaxItems and MaxItemsPath cannot both be set",
                    ));
                }
                for key in reader
                    .keys()
                    .filter(|k| !matches!(k.as_str(), "Resource" | "ReaderConfig" | "Parameters" | "Arguments"))
                {
                    out.push(Diagnostic::error(
                        SCHEMA,
                        RULE,
                        state.at(&["ItemReader", key]),
                        format!("the field {key:?} is not supported in ItemReader"),
                    ));
                }
            }
            if let Some(batcher) = state.field("ItemBatcher").and_then(Value::as_object) {
                for key in batcher.keys() {
                    let ok = matches!(
                        key.as_str(),
                        "MaxItemsPerBatch"
                            | "MaxItemsPerBatchPath"
                            | "MaxInputBytesPerBatch"
                            | "MaxInputBytesPerBatchPath"
                            | "BatchInput"
                    );
                    if !ok {
                        out.push(Diagnostic::error(
                            SCHEMA,
                            RULE,
                            state.at(&["ItemBatcher", key]),
                            format!("the field {key:?} is not supported in ItemBatcher"),
                        ));
                    }
                }
                for (a, b) in [
                    ("MaxItemsPerBatch", "MaxItemsPerBatchPath"),
                    ("MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath"),
                ] {
                    if batcher.contains_key(a) && batcher.contains_key(b) {
                        out.push(Diagnostic::error(
                            SCHEMA,
                            RULE,
                            state.at(&["ItemBatcher", b]),
                            format!("{a} and {b} cannot both be set"),
                        ));
                    }
                }
                if let Some(n) = batcher.get("MaxInputBytesPerBatch").and_then(Value::as_i64)
                    && !(1..=262_144).contains(&n)
                {
                    out.push(Diagnostic::error(
                        SCHEMA,
                        RULE,
                        state.at(&["ItemBatcher", "MaxInputBytesPerBatch"]),
                        "MaxInputBytesPerBatch must be from 1 to 262144 (256 KiB)",
                    ));
                }
            }
            if let Some(writer) = state.field("ResultWriter").and_then(Value::as_object) {
                for key in writer
                    .keys()
                    .filter(|k| !matches!(k.as_str(), "Resource" | "Parameters" | "Arguments" | "WriterConfig"))
                {
                    out.push(Diagnostic::error(
                        SCHEMA,
                        RULE,
                        state.at(&["ResultWriter", key]),
                        format!("the field {key:?} is not supported in ResultWriter"),
                    ));
                }
            }
        }
        out
    }
}
