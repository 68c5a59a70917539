//! The state machine as a diagram, drawn the way the Step Functions console draws it: a start node, one node per
//! state shaped by its type, Parallel branches and Map processors as boxes around their states, solid arrows for
//! `Next`, labelled arrows for Choice rules and `Default`, dashed arrows for catchers, and an end node.

use std::collections::HashMap;
use std::fmt::Write;

use super::choice::ChoiceRule;
use super::execution::{Outcome, Overlay};
use super::{State, StateMachine, States};

/// The diagram languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Mermaid `flowchart`, which GitHub and many editors render.
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// An edge kind, drawn differently.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Edge {
    Next,
    Rule,
    Catch,
}

struct Drawer<'o> {
    format: Format,
    /// An execution's outcome per state, drawn over the states (`amali graph --run`).
    overlay: Option<&'o Overlay>,
    /// Ids of Parallel and Map states, drawn as boxes around their graphs.
    clusters: Vec<String>,
    ids: HashMap<String, String>,
    out: String,
    edges: Vec<(String, String, Edge, String)>,
}

/// A short text for a Choice rule, for edge labels: `$.x == "a"`, `not(...)`, `and(...)`.
pub fn describe_rule(rule: &ChoiceRule) -> String {
    if let Some(c) = &rule.comparison {
        let var = rule.variable.as_deref().unwrap_or("?");
        return format!("{var} {} {}", c.op.as_str(), c.value);
    }
    if let Some(and) = &rule.and {
        return and.iter().map(describe_rule).collect::<Vec<_>>().join(" and ");
    }
    if let Some(or) = &rule.or {
        return or.iter().map(describe_rule).collect::<Vec<_>>().join(" or ");
    }
    if let Some(not) = &rule.not {
        return format!("not ({})", describe_rule(not));
    }
    if let Some(cond) = &rule.condition {
        return cond.as_str().map_or_else(|| cond.to_string(), str::to_string);
    }
    "?".to_string()
}

fn escape_mermaid(text: &str) -> String {
    text.replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;").replace('|', "#124;")
}

fn escape_dot(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The fill and stroke of an outcome, as the console colours an execution's states.
fn colours(outcome: Outcome) -> (&'static str, &'static str) {
    match outcome {
        Outcome::Succeeded => ("#d4edda", "#2e7d32"),
        Outcome::Caught => ("#ffe0b2", "#e67e22"),
        Outcome::Failed => ("#f8d7da", "#c0392b"),
        Outcome::Running => ("#d6eaf8", "#2874a6"),
        Outcome::NotRun => ("#f4f4f4", "#9e9e9e"),
    }
}

/// The Mermaid class of an outcome.
fn class(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => "ran_ok",
        Outcome::Caught => "ran_caught",
        Outcome::Failed => "ran_failed",
        Outcome::Running => "ran_running",
        Outcome::NotRun => "ran_not",
    }
}

impl Drawer<'_> {
    /// The outcome of `name` in the overlaid execution and the line under its name (`3.2 s`, `12 items, 3.2 s`).
    fn run_of(&self, name: &str) -> Option<(Outcome, String)> {
        let overlay = self.overlay?;
        let Some(run) = overlay.get(name) else { return Some((Outcome::NotRun, String::new())) };
        let mut line = match run.seconds {
            Some(s) if s >= 60.0 => format!("{}m {:02}s", (s / 60.0).floor(), (s % 60.0).round()),
            Some(s) => format!("{s:.1} s"),
            None => String::new(),
        };
        if run.entered > 1 {
            line = format!("{} runs, {line}", run.entered);
        }
        if run.outcome != Outcome::Succeeded {
            line = format!("{} {line}", run.outcome.label()).trim().to_string();
        }
        Some((run.outcome, line))
    }

    fn id(&mut self, path: &str) -> String {
        let next = format!("s{}", self.ids.len());
        self.ids.entry(path.to_string()).or_insert(next).clone()
    }

    fn node(&mut self, id: &str, label: &str, state: &State, indent: &str) {
        let run = self.run_of(label);
        let line = match self.format {
            Format::Mermaid => {
                let mut l = escape_mermaid(label);
                if let Some((_, line)) = run.as_ref().filter(|(_, line)| !line.is_empty()) {
                    l = format!("{l}<br/>{}", escape_mermaid(line));
                }
                let class = match (&run, state) {
                    (Some((outcome, _)), _) => format!(":::{}", class(*outcome)),
                    (None, State::Succeed(_)) => ":::succeed".to_string(),
                    (None, State::Fail(_)) => ":::fail".to_string(),
                    (None, _) => String::new(),
                };
                match state {
                    State::Choice(_) => format!("{id}{{\"{l}\"}}{class}"),
                    State::Pass(_) | State::Succeed(_) | State::Fail(_) => format!("{id}([\"{l}\"]){class}"),
                    State::Wait(_) => format!("{id}[/\"{l}\"/]{class}"),
                    _ => format!("{id}[\"{l}\"]{class}"),
                }
            }
            Format::Dot => {
                let mut l = escape_dot(label);
                let shape = match state {
                    State::Choice(_) => "shape=diamond",
                    State::Pass(_) => "shape=box, style=rounded",
                    State::Wait(_) => "shape=parallelogram",
                    State::Succeed(_) => "shape=box, style=\"rounded,filled\", fillcolor=\"#d4edda\"",
                    State::Fail(_) => "shape=box, style=\"rounded,filled\", fillcolor=\"#f8d7da\"",
                    _ => "shape=box",
                };
                match &run {
                    None => format!("{id} [label=\"{l}\", {shape}];"),
                    Some((outcome, line)) => {
                        if !line.is_empty() {
                            l = format!("{l}\\n{}", escape_dot(line));
                        }
                        let (fill, stroke) = colours(*outcome);
                        let (shape, style) = match state {
                            State::Choice(_) => ("diamond", "filled"),
                            State::Wait(_) => ("parallelogram", "filled"),
                            State::Pass(_) | State::Succeed(_) | State::Fail(_) => ("box", "rounded,filled"),
                            _ => ("box", "filled"),
                        };
                        format!(
                            "{id} [label=\"{l}\", shape={shape}, style=\"{style}\", fillcolor=\"{fill}\", color=\"{stroke}\"];"
                        )
                    }
                }
            }
        };
        let _ = writeln!(self.out, "{indent}{line}");
    }

    /// Draws one graph; returns the id of its start node and the ids of the states that end it.
    fn graph(&mut self, prefix: &str, start: &str, states: &States, depth: usize) -> (String, Vec<String>) {
        let indent = "  ".repeat(depth + 1);
        let mut ends = Vec::new();
        for (name, state) in states {
            let path = format!("{prefix}{name}");
            let id = self.id(&path);
            let nested = state.nested_graphs();
            if nested.is_empty() {
                self.node(&id, name, state, &indent);
            } else {
                let kind = state.type_name();
                self.clusters.push(id.clone());
                self.open_cluster(&id, &format!("{name} ({kind})"), &indent);
                for (i, (nested_start, nested_states)) in nested.into_iter().enumerate() {
                    let inner_prefix = format!("{path}/{i}/");
                    let inner = format!("{id}_{i}");
                    let title = if kind == "Map" { "per item".to_string() } else { format!("branch {}", i + 1) };
                    self.open_cluster(&inner, &title, &format!("{indent}  "));
                    let (entry, _) = self.graph(&inner_prefix, nested_start, nested_states, depth + 2);
                    self.close_cluster(&format!("{indent}  "));
                    let _ = entry;
                }
                self.close_cluster(&indent);
            }
            if let Some(next) = state.transition().and_then(|t| t.next.as_deref()) {
                let to = self.id(&format!("{prefix}{next}"));
                self.edges.push((id.clone(), to, Edge::Next, String::new()));
            }
            if let State::Choice(c) = state {
                for rule in &c.choices {
                    if let Some(next) = &rule.next {
                        let to = self.id(&format!("{prefix}{next}"));
                        self.edges.push((id.clone(), to, Edge::Rule, describe_rule(rule)));
                    }
                }
                if let Some(d) = &c.default {
                    let to = self.id(&format!("{prefix}{d}"));
                    self.edges.push((id.clone(), to, Edge::Rule, "default".into()));
                }
            }
            for c in state.catch() {
                let to = self.id(&format!("{prefix}{}", c.next));
                self.edges.push((id.clone(), to, Edge::Catch, c.error_equals.join(", ")));
            }
            if state.is_terminal() {
                ends.push(id);
            }
        }
        (self.id(&format!("{prefix}{start}")), ends)
    }

    fn open_cluster(&mut self, id: &str, title: &str, indent: &str) {
        let _ = match self.format {
            Format::Mermaid => writeln!(self.out, "{indent}subgraph {id}[\"{}\"]", escape_mermaid(title)),
            Format::Dot => writeln!(
                self.out,
                "{indent}subgraph cluster_{id} {{ label=\"{}\"; {id} [shape=point, style=invis];",
                escape_dot(title)
            ),
        };
    }

    fn close_cluster(&mut self, indent: &str) {
        let _ = match self.format {
            Format::Mermaid => writeln!(self.out, "{indent}end"),
            Format::Dot => writeln!(self.out, "{indent}}}"),
        };
    }

    fn edge(&mut self, from: &str, to: &str, kind: Edge, label: &str) {
        let _ = match self.format {
            Format::Mermaid => {
                let arrow = if kind == Edge::Catch { "-.->" } else { "-->" };
                if label.is_empty() {
                    writeln!(self.out, "  {from} {arrow} {to}")
                } else {
                    writeln!(self.out, "  {from} {arrow}|\"{}\"| {to}", escape_mermaid(label))
                }
            }
            Format::Dot => {
                let style = if kind == Edge::Catch { ", style=dashed, color=\"#c0392b\"" } else { "" };
                // Arrows to and from a Parallel or Map stop at the border of its box.
                let mut clip = String::new();
                if self.clusters.iter().any(|c| c == from) {
                    clip.push_str(&format!(", ltail=cluster_{from}"));
                }
                if self.clusters.iter().any(|c| c == to) {
                    clip.push_str(&format!(", lhead=cluster_{to}"));
                }
                writeln!(self.out, "  {from} -> {to} [label=\"{}\"{style}{clip}];", escape_dot(label))
            }
        };
    }
}

/// Draws a state machine.
pub fn draw(machine: &StateMachine, format: Format) -> String {
    draw_run(machine, format, None)
}

/// Draws a state machine with an execution over it, when one is given: each state coloured by its outcome and
/// labelled with its duration, as the console draws an execution.
pub fn draw_run(machine: &StateMachine, format: Format, overlay: Option<&Overlay>) -> String {
    let mut d =
        Drawer { format, overlay, clusters: Vec::new(), ids: HashMap::new(), out: String::new(), edges: Vec::new() };
    match format {
        Format::Mermaid => {
            d.out.push_str("flowchart TD\n");
            d.out.push_str("  start((start))\n");
        }
        Format::Dot => {
            d.out.push_str(
                "digraph state_machine {\n  rankdir=TB;\n  compound=true;\n  node [fontname=\"Helvetica\"];\n",
            );
            d.out.push_str("  start [shape=circle, label=\"start\"];\n");
        }
    }
    let (entry, ends) = d.graph("", &machine.start_at, &machine.states, 0);
    match format {
        Format::Mermaid => d.out.push_str("  stop((end))\n"),
        Format::Dot => d.out.push_str("  stop [shape=doublecircle, label=\"end\"];\n"),
    }
    d.edge("start", &entry, Edge::Next, "");
    for (from, to, kind, label) in std::mem::take(&mut d.edges) {
        d.edge(&from, &to, kind, &label);
    }
    for end in ends {
        d.edge(&end, "stop", Edge::Next, "");
    }
    match format {
        Format::Mermaid if overlay.is_some() => {
            for outcome in [Outcome::Succeeded, Outcome::Caught, Outcome::Failed, Outcome::Running, Outcome::NotRun] {
                let (fill, stroke) = colours(outcome);
                d.out.push_str(&format!("  classDef {} fill:{fill},stroke:{stroke}\n", class(outcome)));
            }
        }
        Format::Mermaid => {
            d.out.push_str("  classDef succeed fill:#d4edda,stroke:#2e7d32\n");
            d.out.push_str("  classDef fail fill:#f8d7da,stroke:#c0392b\n");
        }
        Format::Dot => d.out.push_str("}\n"),
    }
    d.out
}
