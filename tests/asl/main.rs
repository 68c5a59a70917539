//! The ASL model: parse -> render -> parse is the identity, on a corpus of real-world shapes and under proptest.

#[path = "../common/mod.rs"]
mod common;
pub mod strategies;

use amali::asl::{self, State};
use proptest::prelude::*;
use serde_json::Value;

#[test]
fn corpus_has_every_state_type_and_at_least_thirty_documents() {
    let files = common::corpus();
    assert!(files.len() >= 31, "the corpus has {} documents", files.len());
    let mut types = std::collections::BTreeSet::new();
    fn collect(states: &asl::States, types: &mut std::collections::BTreeSet<&'static str>) {
        for state in states.values() {
            types.insert(state.type_name());
            for (_, nested) in state.nested_graphs() {
                collect(nested, types);
            }
        }
    }
    for file in &files {
        collect(&asl::parse(&common::read(file)).unwrap().states, &mut types);
    }
    assert_eq!(types.len(), 8, "state types seen: {types:?}");
}

#[test]
fn corpus_round_trips_without_loss() {
    for file in common::corpus() {
        let text = common::read(&file);
        let original: Value = serde_json::from_str(&text).unwrap();
        let machine = asl::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let rendered = asl::render(&machine);
        let reparsed: Value = serde_json::from_str(&rendered).unwrap();
        assert_eq!(original, reparsed, "{} lost or changed something", file.display());
        let again = asl::parse(&rendered).unwrap();
        assert_eq!(machine, again, "{}: parse(render(m)) != m", file.display());
        assert_eq!(rendered, asl::render(&again), "{}: rendering is not stable", file.display());
    }
}

#[test]
fn rendering_is_canonical() {
    let text = r#"{"States": {"A": {"End": true, "Result": 1, "Type": "Pass", "Comment": "c"}}, "StartAt": "A"}"#;
    let rendered = asl::render(&asl::parse(text).unwrap());
    let expected = "{\n  \"StartAt\": \"A\",\n  \"States\": {\n    \"A\": {\n      \"Type\": \"Pass\",\n      \"Comment\": \"c\",\n      \"Result\": 1,\n      \"End\": true\n    }\n  }\n}\n";
    assert_eq!(rendered, expected);
}

#[test]
fn null_and_absent_are_different() {
    let m = asl::parse(
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": null, "ResultPath": null, "End": true}}}"#,
    )
    .unwrap();
    let State::Pass(p) = &m.states["A"] else { panic!("not a Pass") };
    assert_eq!(p.result, Some(Value::Null));
    assert_eq!(p.result_path, Some(None));
    assert_eq!(p.input_path, None);
}

#[test]
fn unknown_fields_are_kept_in_place() {
    let text = common::read(&common::root().join("tests/fixtures/asl/31-unknown-fields.asl.json"));
    let m = asl::parse(&text).unwrap();
    assert_eq!(m.extra["x-owner"], "data-platform");
    let State::Task(t) = &m.states["A"] else { panic!("not a Task") };
    assert_eq!(t.extra["x-cost-center"], "1234");
    assert_eq!(t.retry.as_ref().unwrap()[0].extra["x-note"], "generic");
}

#[test]
fn choice_operators_are_typed() {
    let text = common::read(&common::root().join("tests/fixtures/asl/03-choice-all-operators.asl.json"));
    let m = asl::parse(&text).unwrap();
    let State::Choice(c) = &m.states["Route"] else { panic!("not a Choice") };
    let ops: std::collections::BTreeSet<_> =
        c.choices.iter().filter_map(|r| r.comparison.as_ref().map(|c| c.op.as_str())).collect();
    assert_eq!(ops.len(), asl::ComparisonOp::ALL.len(), "every operator is in the fixture and parsed as one");
    let last = c.choices.last().unwrap();
    assert_eq!(last.and.as_ref().unwrap().len(), 2);
}

#[test]
fn errors_say_where() {
    let err = asl::parse(r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": 5, "End": true}}}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("States.A"), "{err}");
    let err = asl::parse("{not json").unwrap_err().to_string();
    assert!(err.starts_with("not valid JSON"), "{err}");
}

/// parse(render(m)) == m for any model. Run on a large stack: the strategy's types nest deeply in debug builds.
#[test]
fn any_model_round_trips() {
    let run = || {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(256));
        runner
            .run(&strategies::state_machine(), |machine| {
                let rendered = asl::render(&machine);
                let parsed = asl::parse(&rendered).expect("a rendered model parses");
                prop_assert_eq!(&parsed, &machine);
                prop_assert_eq!(asl::render(&parsed), rendered);
                Ok(())
            })
            .unwrap();
    };
    std::thread::Builder::new().stack_size(256 << 20).spawn(run).unwrap().join().unwrap();
}
