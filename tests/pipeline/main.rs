//! The AmaliMart pipeline as rendered for every environment: its shape fixes the original's flaws.

#[path = "../common/mod.rs"]
mod common;

use amali::asl::{self, State, StateMachine, States};
use amali::config::Config;
use amali::pipeline;
use amali::stage::Stage;

fn machines() -> Vec<(String, StateMachine)> {
    let config = Config::builtin().unwrap();
    config.env.keys().map(|name| (name.clone(), pipeline::build(&config, config.env(name).unwrap()).unwrap())).collect()
}

/// Every Task of a graph, recursively, with the Parallel it sits in (if any).
fn tasks<'a>(states: &'a States, parallel: Option<&'a str>, out: &mut Vec<(&'a str, &'a asl::Task, Option<&'a str>)>) {
    for (name, state) in states {
        match state {
            State::Task(t) => out.push((name, t, parallel)),
            State::Parallel(p) => {
                for b in &p.branches {
                    tasks(&b.states, Some(name), out);
                }
            }
            _ => {}
        }
    }
}

/// The states visited from `start` following `Next`/`Default` only (not catchers).
fn path_from<'a>(states: &'a States, start: &'a str) -> Vec<&'a str> {
    let mut path = vec![];
    let mut current = Some(start);
    while let Some(name) = current {
        if path.contains(&name) {
            break;
        }
        path.push(name);
        current = match &states[name] {
            State::Choice(c) => c.default.as_deref(),
            s => s.transition().and_then(|t| t.next.as_deref()),
        };
    }
    path
}

#[test]
fn committed_definitions_are_what_the_dsl_builds() {
    for (env, machine) in machines() {
        let file = common::root().join(format!("asl/{env}.asl.json"));
        assert_eq!(common::read(&file), asl::render(&machine), "{} is stale: run `amali render`", file.display());
    }
}

#[test]
fn every_task_has_a_timeout_and_retries() {
    for (env, m) in machines() {
        let mut all = vec![];
        tasks(&m.states, None, &mut all);
        for (name, task, _) in all {
            assert!(task.timeout_seconds.is_some(), "{env}: {name} has no TimeoutSeconds");
            let retry = task.retry.as_deref().unwrap_or_default();
            assert!(!retry.is_empty(), "{env}: {name} has no Retry");
            for r in retry {
                assert!(r.backoff_rate() >= 1.0);
            }
        }
    }
}

#[test]
fn every_failure_is_notified_and_fails_the_run() {
    for (env, m) in machines() {
        let mut all = vec![];
        tasks(&m.states, None, &mut all);
        for (name, task, parallel) in all {
            // A task in a Parallel is covered by the Parallel's catch; any other by its own.
            let catchers = match parallel {
                Some(p) => m.states[p].catch().to_vec(),
                None => task.catch.clone().unwrap_or_default(),
            };
            let catch_all = catchers.iter().find(|c| c.error_equals == ["States.ALL"]);
            let catch_all = catch_all.unwrap_or_else(|| panic!("{env}: failures of {name} are not caught"));
            if name == pipeline::NOTIFY_FAILURE {
                assert!(
                    matches!(m.states[catch_all.next.as_str()], State::Fail(_)),
                    "{env}: a failed notice still fails the run"
                );
                continue;
            }
            let path = path_from(&m.states, &catch_all.next);
            assert!(path.contains(&pipeline::NOTIFY_FAILURE), "{env}: {name}'s failure path {path:?} sends no notice");
            assert!(!path.contains(&pipeline::NOTIFY_SUCCESS), "{env}: {name}'s failure path {path:?} reports success");
            let last = path.last().unwrap();
            assert!(
                matches!(m.states[*last], State::Fail(_)),
                "{env}: {name}'s failure path ends in {last}, not a Fail"
            );
        }
    }
}

#[test]
fn the_loads_run_in_one_parallel_that_fails_the_run_and_the_pause_comes_after() {
    for (env, m) in machines() {
        let main = path_from(&m.states, &m.start_at);
        let State::Parallel(loads) = &m.states[pipeline::LOADS] else {
            panic!("{env}: no Parallel named {}", pipeline::LOADS)
        };
        let branch_starts: Vec<&str> = loads.branches.iter().map(|b| b.start_at.as_str()).collect();
        assert_eq!(branch_starts, [Stage::Rds.state_name(), Stage::WriteToRdsRs.state_name()]);
        for b in &loads.branches {
            assert_eq!(b.states.len(), 1, "{env}: a branch does only its load; no per-branch notify-and-end");
            assert!(b.states.values().all(|s| s.catch().is_empty()), "{env}: a branch swallows its failure");
        }
        let position = |name: &str| {
            main.iter().position(|n| *n == name).unwrap_or_else(|| panic!("{env}: {name} not on {main:?}"))
        };
        let order: Vec<usize> = [
            Stage::ReadFromAppDatabase.state_name(),
            Stage::IngestionFromRds.state_name(),
            Stage::SilverTransformation.state_name(),
            Stage::GoldTransformation.state_name(),
            pipeline::LOADS,
            Stage::PauseClusters.state_name(),
            pipeline::NOTIFY_SUCCESS,
        ]
        .iter()
        .map(|n| position(n))
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{env}: main path out of order: {main:?}");
        assert!(matches!(m.states[*main.last().unwrap()], State::Succeed(_)));
    }
}

#[test]
fn every_stage_gets_the_run_id_and_logical_date() {
    for (env, m) in machines() {
        let text = asl::render(&m);
        let mut all = vec![];
        tasks(&m.states, None, &mut all);
        for (name, task, _) in all.iter().filter(|(_, t, _)| !t.resource.contains("sns:publish")) {
            let params = serde_json::to_string(&task.parameters).unwrap();
            assert!(params.contains("$.run.run_id"), "{env}: {name} gets no run id: {params}");
        }
        assert!(text.contains("$$.Execution.Name"), "{env}: the run id is not the execution name");
    }
}

#[test]
fn nothing_environment_specific_is_hard_coded() {
    let text = amali::config::BUILTIN.replace("050451375647", "999999999999").replace("eu-west-1", "ap-south-2");
    let config = Config::parse(&text, "test").unwrap();
    for name in ["dev", "prod"] {
        let rendered = asl::render(&pipeline::build(&config, config.env(name).unwrap()).unwrap());
        assert!(
            !rendered.contains("050451375647") && !rendered.contains("eu-west-1"),
            "{name} kept a hard-coded value"
        );
        assert!(rendered.contains("arn:aws:sns:ap-south-2:999999999999:"), "{name}: topics come from the config");
    }
}
