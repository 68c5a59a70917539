//! A read-only view of a raw document: its graphs (top level, branches, item processors) and their states.

use serde_json::{Map, Value};

use crate::asl::pointer_push;

/// The query language in force for a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryLang {
    /// Paths and payload templates.
    JsonPath,
    /// `{% %}` expressions.
    Jsonata,
}

/// What a graph is part of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphKind {
    /// The state machine itself.
    Root,
    /// A Parallel branch.
    Branch,
    /// A Map's item processor (`distributed` when it runs as child executions).
    Processor {
        /// True in distributed mode.
        distributed: bool,
    },
}

/// One graph: an object with `StartAt` and `States`.
#[derive(Debug, Clone)]
pub struct GraphView<'a> {
    /// JSON pointer of the graph's object.
    pub pointer: String,
    /// The object itself (`None` when it is not an object).
    pub obj: Option<&'a Map<String, Value>>,
    /// What the graph belongs to.
    pub kind: GraphKind,
    /// The query language its states inherit.
    pub query_language: QueryLang,
}

impl<'a> GraphView<'a> {
    /// `StartAt`, when it is a string.
    pub fn start_at(&self) -> Option<&'a str> {
        self.obj?.get("StartAt")?.as_str()
    }

    /// `States`, when it is an object.
    pub fn states(&self) -> Option<&'a Map<String, Value>> {
        self.obj?.get("States")?.as_object()
    }
}

/// One state.
#[derive(Debug, Clone)]
pub struct StateView<'a> {
    /// The state's name.
    pub name: &'a str,
    /// JSON pointer of the state's object.
    pub pointer: String,
    /// Index of its graph in [`Context::graphs`].
    pub graph: usize,
    /// The state's value (normally an object).
    pub value: &'a Value,
    /// The query language in force for the state.
    pub query_language: QueryLang,
}

impl<'a> StateView<'a> {
    /// The state's object, if it is one.
    pub fn obj(&self) -> Option<&'a Map<String, Value>> {
        self.value.as_object()
    }

    /// The `Type`, when it is a string.
    pub fn ty(&self) -> Option<&'a str> {
        self.field("Type")?.as_str()
    }

    /// A field of the state.
    pub fn field(&self, key: &str) -> Option<&'a Value> {
        self.obj()?.get(key)
    }

    /// The JSON pointer of one of its fields (or deeper, with more segments).
    pub fn at(&self, segments: &[&str]) -> String {
        segments.iter().fold(self.pointer.clone(), |p, s| pointer_push(&p, s))
    }

    /// True for JSONata states.
    pub fn is_jsonata(&self) -> bool {
        self.query_language == QueryLang::Jsonata
    }
}

/// The document and its walked structure.
#[derive(Debug)]
pub struct Context<'a> {
    /// The whole document.
    pub root: &'a Value,
    /// Its size in bytes as written.
    pub size: usize,
    /// Every graph, the root first, then nested ones in document order.
    pub graphs: Vec<GraphView<'a>>,
    /// Every state of every graph.
    pub states: Vec<StateView<'a>>,
}

fn query_lang(value: Option<&Value>, inherited: QueryLang) -> QueryLang {
    match value.and_then(Value::as_str) {
        Some("JSONata") => QueryLang::Jsonata,
        Some("JSONPath") => QueryLang::JsonPath,
        _ => inherited,
    }
}

impl<'a> Context<'a> {
    /// Walks `root`.
    pub fn new(root: &'a Value, size: usize) -> Self {
        let mut ctx = Context { root, size, graphs: Vec::new(), states: Vec::new() };
        let ql = query_lang(root.get("QueryLanguage"), QueryLang::JsonPath);
        ctx.walk(root, String::new(), GraphKind::Root, ql, 0);
        ctx
    }

    fn walk(&mut self, graph: &'a Value, pointer: String, kind: GraphKind, ql: QueryLang, depth: usize) {
        // A definition nests graphs only as deep as it is written; the bound only protects the stack.
        if depth > 64 {
            return;
        }
        let index = self.graphs.len();
        self.graphs.push(GraphView { pointer: pointer.clone(), obj: graph.as_object(), kind, query_language: ql });
        let Some(states) = graph.get("States").and_then(Value::as_object) else { return };
        let states_pointer = pointer_push(&pointer, "States");
        for (name, value) in states {
            let state_pointer = pointer_push(&states_pointer, name);
            let state_ql = query_lang(value.get("QueryLanguage"), ql);
            self.states.push(StateView {
                name,
                pointer: state_pointer.clone(),
                graph: index,
                value,
                query_language: state_ql,
            });
            match value.get("Type").and_then(Value::as_str) {
                Some("Parallel") => {
                    if let Some(branches) = value.get("Branches").and_then(Value::as_array) {
                        let branches_pointer = pointer_push(&state_pointer, "Branches");
                        for (i, b) in branches.iter().enumerate() {
                            let p = pointer_push(&branches_pointer, &i.to_string());
                            self.walk(b, p, GraphKind::Branch, state_ql, depth + 1);
                        }
                    }
                }
                Some("Map") => {
                    for key in ["ItemProcessor", "Iterator"] {
                        if let Some(p) = value.get(key) {
                            let distributed =
                                p.get("ProcessorConfig").and_then(|c| c.get("Mode")).and_then(Value::as_str)
                                    == Some("DISTRIBUTED");
                            let kind = GraphKind::Processor { distributed };
                            self.walk(p, pointer_push(&state_pointer, key), kind, state_ql, depth + 1);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// The states of graph `index`.
    pub fn states_of(&self, index: usize) -> impl Iterator<Item = &StateView<'a>> {
        self.states.iter().filter(move |s| s.graph == index)
    }

    /// The state named `name` in graph `index`.
    pub fn state(&self, index: usize, name: &str) -> Option<&StateView<'a>> {
        self.states_of(index).find(|s| s.name == name)
    }
}

/// Where a state may go next: `(field pointer, target)` for Next, Default, each Choice rule's Next and each Catch.
pub fn transitions<'a>(state: &StateView<'a>) -> Vec<(String, &'a str)> {
    let mut out = Vec::new();
    if let Some(n) = state.field("Next").and_then(Value::as_str) {
        out.push((state.at(&["Next"]), n));
    }
    if let Some(d) = state.field("Default").and_then(Value::as_str) {
        out.push((state.at(&["Default"]), d));
    }
    if let Some(rules) = state.field("Choices").and_then(Value::as_array) {
        for (i, r) in rules.iter().enumerate() {
            if let Some(n) = r.get("Next").and_then(Value::as_str) {
                out.push((state.at(&["Choices", &i.to_string(), "Next"]), n));
            }
        }
    }
    if let Some(catchers) = state.field("Catch").and_then(Value::as_array) {
        for (i, c) in catchers.iter().enumerate() {
            if let Some(n) = c.get("Next").and_then(Value::as_str) {
                out.push((state.at(&["Catch", &i.to_string(), "Next"]), n));
            }
        }
    }
    out
}
