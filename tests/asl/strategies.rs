//! proptest strategies for every part of the ASL model.

use amali::asl::*;
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9 _.-]{0,10}"
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("$".to_string()),
        "\\$(\\.[a-z_]{1,6}){1,3}",
        "\\$\\$\\.(Execution|State|Map\\.Item)\\.(Name|Id|Value|Index)",
        "\\$\\.[a-z]{1,4}\\[[0-9]\\]",
    ]
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<u32>().prop_map(Number::from),
        any::<i64>().prop_map(Number::from),
        any::<u64>().prop_map(Number::from),
        (-1.0e12f64..1.0e12).prop_filter_map("finite", Number::from_f64),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number().prop_map(Value::Number),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map("[a-zA-Z.$]{1,8}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn opt_json() -> impl Strategy<Value = Option<Value>> {
    option::of(json())
}

fn nullable_path() -> impl Strategy<Value = Option<Option<String>>> {
    option::of(option::of(path()))
}

fn num_or_expr() -> impl Strategy<Value = NumOrExpr> {
    prop_oneof![number().prop_map(NumOrExpr::Num), "\\{% \\$[a-z]{1,6} %\\}".prop_map(NumOrExpr::Expr)]
}

/// Unknown fields: names the language never uses, so they cannot collide with a known field.
fn extra() -> impl Strategy<Value = Map<String, Value>> {
    btree_map("x-[a-z]{1,6}", json(), 0..2).prop_map(|m| m.into_iter().collect())
}

fn query_language() -> impl Strategy<Value = Option<QueryLanguage>> {
    option::of(prop_oneof![Just(QueryLanguage::JsonPath), Just(QueryLanguage::Jsonata)])
}

fn errors() -> impl Strategy<Value = Vec<String>> {
    vec(prop_oneof![Just("States.ALL".to_string()), Just("States.Timeout".to_string()), "[A-Z][a-z]{1,8}"], 0..3)
}

fn transition() -> impl Strategy<Value = Transition> {
    (option::of(name()), option::of(any::<bool>())).prop_map(|(next, end)| Transition { next, end })
}

fn retrier() -> impl Strategy<Value = Retrier> {
    (
        option::of(".{0,8}"),
        errors(),
        option::of(number()),
        option::of(number()),
        option::of(number()),
        option::of(number()),
        option::of(prop_oneof![Just(JitterStrategy::Full), Just(JitterStrategy::None)]),
        extra(),
    )
        .prop_map(
            |(
                comment,
                error_equals,
                interval_seconds,
                max_attempts,
                backoff_rate,
                max_delay_seconds,
                jitter_strategy,
                extra,
            )| {
                Retrier {
                    comment,
                    error_equals,
                    interval_seconds,
                    max_attempts,
                    backoff_rate,
                    max_delay_seconds,
                    jitter_strategy,
                    extra,
                }
            },
        )
}

fn catcher() -> impl Strategy<Value = Catcher> {
    (option::of(".{0,8}"), errors(), nullable_path(), opt_json(), opt_json(), name(), extra()).prop_map(
        |(comment, error_equals, result_path, output, assign, next, extra)| Catcher {
            comment,
            error_equals,
            result_path,
            output,
            assign,
            next,
            extra,
        },
    )
}

fn comparison() -> impl Strategy<Value = Comparison> {
    (0..ComparisonOp::ALL.len(), json()).prop_map(|(i, value)| Comparison { op: ComparisonOp::ALL[i], value })
}

fn choice_rule() -> impl Strategy<Value = ChoiceRule> {
    let leaf = (option::of(path()), option::of(comparison()), opt_json(), option::of(name()), extra()).prop_map(
        |(variable, comparison, condition, next, extra)| ChoiceRule {
            variable,
            comparison,
            condition,
            next,
            extra,
            ..Default::default()
        },
    );
    leaf.prop_recursive(2, 8, 3, |inner| {
        (
            option::of(vec(inner.clone(), 0..3)),
            option::of(vec(inner.clone(), 0..3)),
            option::of(inner.prop_map(Box::new)),
            option::of(".{0,6}"),
            opt_json(),
            opt_json(),
            option::of(name()),
        )
            .prop_map(|(and, or, not, comment, assign, output, next)| ChoiceRule {
                and,
                or,
                not,
                comment,
                assign,
                output,
                next,
                ..Default::default()
            })
    })
}

/// Comment, QueryLanguage, InputPath, OutputPath: the fields most states share.
type Common = (Option<String>, Option<QueryLanguage>, Option<Option<String>>, Option<Option<String>>);

fn common_fields() -> impl Strategy<Value = Common> {
    (option::of(".{0,10}"), query_language(), nullable_path(), nullable_path())
}

fn leaf_state() -> impl Strategy<Value = State> {
    prop_oneof![
        (common_fields(), opt_json(), opt_json(), nullable_path(), opt_json(), opt_json(), transition(), extra())
            .prop_map(
                |(
                    (comment, query_language, input_path, output_path),
                    parameters,
                    result,
                    result_path,
                    output,
                    assign,
                    transition,
                    extra,
                )| {
                    State::Pass(Pass {
                        comment,
                        query_language,
                        input_path,
                        parameters,
                        result,
                        result_path,
                        output_path,
                        output,
                        assign,
                        transition,
                        extra,
                    })
                }
            ),
        (
            common_fields(),
            ("arn:aws:states:::[a-z]{2,8}:[a-zA-Z]{2,10}(\\.sync)?", opt_json(), opt_json(), opt_json()),
            (option::of(num_or_expr()), option::of(path()), option::of(num_or_expr()), option::of(path())),
            (opt_json(), nullable_path(), opt_json(), opt_json()),
            (option::of(vec(retrier(), 0..3)), option::of(vec(catcher(), 0..3)), transition(), extra()),
        )
            .prop_map(
                |(
                    (comment, query_language, input_path, output_path),
                    (resource, credentials, parameters, arguments),
                    (timeout_seconds, timeout_seconds_path, heartbeat_seconds, heartbeat_seconds_path),
                    (result_selector, result_path, output, assign),
                    (retry, catch, transition, extra),
                )| {
                    State::Task(Task {
                        comment,
                        query_language,
                        resource,
                        credentials,
                        input_path,
                        parameters,
                        arguments,
                        timeout_seconds,
                        timeout_seconds_path,
                        heartbeat_seconds,
                        heartbeat_seconds_path,
                        result_selector,
                        result_path,
                        output_path,
                        output,
                        assign,
                        retry,
                        catch,
                        transition,
                        extra,
                    })
                }
            ),
        (common_fields(), vec(choice_rule(), 0..4), option::of(name()), opt_json(), opt_json(), extra()).prop_map(
            |((comment, query_language, input_path, output_path), choices, default, output, assign, extra)| {
                State::Choice(Choice {
                    comment,
                    query_language,
                    input_path,
                    choices,
                    default,
                    output_path,
                    output,
                    assign,
                    extra,
                })
            }
        ),
        (
            common_fields(),
            (option::of(num_or_expr()), option::of(".{0,20}"), option::of(path()), option::of(path())),
            opt_json(),
            opt_json(),
            transition(),
            extra()
        )
            .prop_map(
                |(
                    (comment, query_language, input_path, output_path),
                    (seconds, timestamp, seconds_path, timestamp_path),
                    output,
                    assign,
                    transition,
                    extra,
                )| {
                    State::Wait(Wait {
                        comment,
                        query_language,
                        input_path,
                        seconds,
                        timestamp,
                        seconds_path,
                        timestamp_path,
                        output_path,
                        output,
                        assign,
                        transition,
                        extra,
                    })
                }
            ),
        (common_fields(), opt_json(), extra()).prop_map(
            |((comment, query_language, input_path, output_path), output, extra)| {
                State::Succeed(Succeed { comment, query_language, input_path, output_path, output, extra })
            }
        ),
        (
            option::of(".{0,10}"),
            query_language(),
            option::of(".{0,8}"),
            option::of(path()),
            option::of(".{0,8}"),
            option::of(path()),
            extra()
        )
            .prop_map(|(comment, query_language, error, error_path, cause, cause_path, extra)| {
                State::Fail(Fail { comment, query_language, error, error_path, cause, cause_path, extra })
            }),
    ]
}

fn states(inner: BoxedStrategy<State>) -> impl Strategy<Value = States> {
    vec((name(), inner), 1..4).prop_map(|v| v.into_iter().collect())
}

fn state() -> BoxedStrategy<State> {
    leaf_state()
        .prop_recursive(2, 16, 4, |inner| {
            let branch = (option::of(".{0,6}"), name(), states(inner.clone()), extra())
                .prop_map(|(comment, start_at, states, extra)| Branch { comment, start_at, states, extra });
            let processor = (
                option::of(".{0,6}"),
                option::of((
                    option::of(prop_oneof![Just(ProcessorMode::Inline), Just(ProcessorMode::Distributed)]),
                    option::of(prop_oneof![Just(ExecutionType::Standard), Just(ExecutionType::Express)]),
                    extra(),
                )),
                name(),
                states(inner),
                extra(),
            )
                .prop_map(|(comment, config, start_at, states, extra)| ItemProcessor {
                    comment,
                    processor_config: config.map(|(mode, execution_type, extra)| ProcessorConfig {
                        mode,
                        execution_type,
                        extra,
                    }),
                    start_at,
                    states,
                    extra,
                })
                .boxed();
            prop_oneof![
                (
                    vec(branch, 0..3),
                    opt_json(),
                    nullable_path(),
                    option::of(vec(retrier(), 0..2)),
                    option::of(vec(catcher(), 0..2)),
                    transition(),
                    extra()
                )
                    .prop_map(
                        |(branches, parameters, result_path, retry, catch, transition, extra)| {
                            State::Parallel(Parallel {
                                branches,
                                parameters,
                                result_path,
                                retry,
                                catch,
                                transition,
                                extra,
                                ..Default::default()
                            })
                        }
                    ),
                (
                    (option::of(processor.clone()), option::of(processor), option::of(path()), opt_json(), opt_json()),
                    (
                        option::of(num_or_expr()),
                        option::of(path()),
                        option::of(num_or_expr()),
                        option::of(num_or_expr()),
                        option::of(".{0,6}")
                    ),
                    (
                        option::of(("arn:aws:states:::s3:[a-zA-Z]{3,8}", opt_json(), opt_json()).prop_map(
                            |(resource, reader_config, parameters)| ItemReader {
                                resource,
                                reader_config,
                                parameters,
                                ..Default::default()
                            }
                        )),
                        option::of((option::of(num_or_expr()), option::of(path()), opt_json()).prop_map(
                            |(max_items_per_batch, max_input_bytes_per_batch_path, batch_input)| ItemBatcher {
                                max_items_per_batch,
                                max_input_bytes_per_batch_path,
                                batch_input,
                                ..Default::default()
                            }
                        )),
                        option::of((option::of("arn:aws:states:::s3:putObject"), opt_json(), opt_json()).prop_map(
                            |(resource, parameters, writer_config)| ResultWriter {
                                resource,
                                parameters,
                                writer_config,
                                ..Default::default()
                            }
                        )),
                    ),
                    transition(),
                    extra(),
                )
                    .prop_map(
                        |(
                            (item_processor, iterator, items_path, item_selector, items),
                            (
                                max_concurrency,
                                tolerated_failure_count_path,
                                tolerated_failure_count,
                                tolerated_failure_percentage,
                                label,
                            ),
                            (item_reader, item_batcher, result_writer),
                            transition,
                            extra,
                        )| {
                            State::Map(Map_ {
                                item_processor,
                                iterator,
                                items_path,
                                item_selector,
                                items,
                                max_concurrency,
                                tolerated_failure_count_path,
                                tolerated_failure_count,
                                tolerated_failure_percentage,
                                label,
                                item_reader,
                                item_batcher,
                                result_writer,
                                transition,
                                extra,
                                ..Default::default()
                            })
                        }
                    ),
            ]
        })
        .boxed()
}

/// Any state machine the model can hold (not necessarily a valid one: round trip must not care).
pub fn state_machine() -> impl Strategy<Value = StateMachine> {
    (
        option::of(".{0,12}"),
        query_language(),
        name(),
        states(state()),
        option::of(num_or_expr()),
        option::of(Just("1.0".to_string())),
        extra(),
    )
        .prop_map(|(comment, query_language, start_at, states, timeout_seconds, version, extra)| StateMachine {
            comment,
            query_language,
            start_at,
            states,
            timeout_seconds,
            version,
            extra,
        })
}
