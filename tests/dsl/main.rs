//! The builder DSL: valid graphs build, invalid ones are refused with every problem listed.

use amali::asl::{self, State};
use amali::dsl::*;
use serde_json::json;

fn codes(errors: &BuildErrors) -> Vec<(&'static str, &str)> {
    errors.0.iter().map(|p| (p.code, p.location.as_str())).collect()
}

#[test]
fn a_chain_wires_next_and_ends() {
    let chain = Chain::start(Pass::new("A")).next(Wait::seconds("B", 5)).next(Pass::new("C"));
    let m = StateMachineBuilder::new(chain).build().unwrap();
    assert_eq!(m.start_at, "A");
    assert_eq!(m.states["A"].transition().unwrap().next.as_deref(), Some("B"));
    assert_eq!(m.states["B"].transition().unwrap().next.as_deref(), Some("C"));
    assert!(m.states["C"].is_terminal(), "an open end becomes End: true");
}

#[test]
fn a_shared_handler_is_written_once_and_catch_all_goes_last() {
    let handler = || Chain::start(Pass::new("Record")).next(Fail::new("Failed").error("Boom"));
    let chain = Chain::start(
        Task::new("T1", Lambda::invoke("f1"))
            .catch(Catch::all(), handler())
            .catch(Catch::on([ErrorName::TIMEOUT]), handler()),
    )
    .next(Task::new("T2", Lambda::invoke("f2")).catch(Catch::all().result_path("$.error"), handler()));
    let m = StateMachineBuilder::new(chain).build().unwrap();
    assert_eq!(m.states.keys().collect::<Vec<_>>(), ["T1", "T2", "Record", "Failed"]);
    let catch = m.states["T1"].catch();
    assert_eq!(catch[0].error_equals, ["States.Timeout"]);
    assert_eq!(catch[1].error_equals, ["States.ALL"]);
}

#[test]
fn choice_afterwards_joins_every_branch_and_the_default() {
    let chain = Choice::new("Which")
        .when(Condition::string_equals("$.k", "a"), Pass::new("A"))
        .when(Condition::not(Condition::is_present("$.k")), Pass::new("B"))
        .afterwards()
        .next(Succeed::new("Done"));
    let m = StateMachineBuilder::new(chain).build().unwrap();
    let State::Choice(c) = &m.states["Which"] else { panic!() };
    assert_eq!(c.default.as_deref(), Some("Done"), "no otherwise: the default continues after the Choice");
    assert_eq!(m.states["A"].transition().unwrap().next.as_deref(), Some("Done"));
    assert_eq!(m.states["B"].transition().unwrap().next.as_deref(), Some("Done"));
}

#[test]
fn parallel_and_map_nest_graphs() {
    let chain = Chain::start(
        Parallel::new("P")
            .branch(Pass::new("Left"))
            .branch(Map::new("M").items_path("$.items").max_concurrency(4).item_processor(Pass::new("Each")))
            .retry(Retry::on([ErrorName::ALL]).max_attempts(2).backoff(1.5).full_jitter()),
    );
    let m = StateMachineBuilder::new(chain).build().unwrap();
    let State::Parallel(p) = &m.states["P"] else { panic!() };
    assert_eq!(p.branches.len(), 2);
    let State::Map(map) = &p.branches[1].states["M"] else { panic!() };
    assert_eq!(map.processor().unwrap().start_at, "Each");
    assert_eq!(p.retry.as_ref().unwrap()[0].jitter_strategy, Some(asl::JitterStrategy::Full));
}

#[test]
fn integrations_render_their_resources() {
    let glue =
        Task::new("G", Glue::start_job_run("job").sync().argument("--run_id", "$.run_id").argument("--env", "dev"));
    let ecs = Task::new("E", Ecs::run_task("c", "td").sync().command("main", json!(["run"])));
    let sns = Task::new("S", Sns::publish("arn:aws:sns:eu-west-1:000000000000:t", "$.message"));
    let m = StateMachineBuilder::new(Chain::start(glue).next(ecs).next(sns)).build().unwrap();
    let task = |n: &str| match &m.states[n] {
        State::Task(t) => t.clone(),
        _ => panic!(),
    };
    assert_eq!(task("G").resource, "arn:aws:states:::glue:startJobRun.sync");
    assert_eq!(task("G").parameters.unwrap()["Arguments"], json!({"--run_id.$": "$.run_id", "--env": "dev"}));
    assert_eq!(task("E").resource, "arn:aws:states:::ecs:runTask.sync");
    assert_eq!(task("E").parameters.unwrap()["Overrides"]["ContainerOverrides"][0]["Command"], json!(["run"]));
    assert_eq!(task("S").parameters.unwrap()["Message.$"], "$.message");
}

#[test]
fn raw_states_are_an_escape_hatch() {
    let raw = RawState::new(
        "Raw",
        json!({"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets", "Parameters": {}}),
    );
    let m = StateMachineBuilder::new(Chain::start(raw).next(Succeed::new("Done"))).build().unwrap();
    assert_eq!(m.states["Raw"].transition().unwrap().next.as_deref(), Some("Done"));
}

#[test]
fn an_invalid_graph_reports_every_problem_at_once() {
    let chain = Chain::start(Pass::new("Same"))
        .next(Choice::new("Empty choice").afterwards())
        .next(Parallel::new("No branches").branch(Pass::new("Same").result(json!(1))))
        .next(Map::new("No processor"))
        .next(Task::new("T", Lambda::invoke("f")).retry(Retry::on([ErrorName::ALL, ErrorName::TIMEOUT])))
        .next(RawState::new("Dangling", json!({"Type": "Pass", "Next": "Nowhere"})))
        .next(RawState::new("Broken", json!({"Type": "Teleport"})));
    let errors = StateMachineBuilder::new(chain).build().unwrap_err();
    let found = codes(&errors);
    for expected in [
        ("SCHEMA_VALIDATION_FAILED", "/States/Empty choice/Choices"),
        ("SCHEMA_VALIDATION_FAILED", "/States/No processor/ItemProcessor"),
        ("SCHEMA_VALIDATION_FAILED", "/States/T/Retry"),
        ("DUPLICATE_STATE_NAME", "/States/No branches/Branches/0/States/Same"),
        ("MISSING_TRANSITION_TARGET", "/States/Dangling"),
        ("UNREACHABLE_STATE", "/States/Broken"),
        ("SCHEMA_VALIDATION_FAILED", "/States/Broken"),
    ] {
        assert!(found.contains(&expected), "missing {expected:?} in {found:#?}");
    }
    let text = errors.to_string();
    assert!(text.starts_with(&format!("the state machine has {} problem(s)", errors.0.len())), "{text}");
}

#[test]
fn two_different_states_with_one_name_are_refused() {
    let chain = Chain::start(Pass::new("X")).next(Pass::new("X").result(json!(2)));
    let errors = StateMachineBuilder::new(chain).build().unwrap_err();
    assert_eq!(codes(&errors), [("DUPLICATE_STATE_NAME", "/States/X")]);
}
