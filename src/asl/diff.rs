//! Semantic diff of two ASL documents: states added, removed and renamed (across branches and item processors too),
//! and per-state field changes, old -> new. Key order and formatting never count as changes.

use serde::Serialize;
use serde_json::{Map, Value};

use super::pointer_push;

/// Where a state lives: its name, type, the graph it is in (empty at the top level) and its own fields, without the
/// states of any graph nested in it.
#[derive(Debug, Clone)]
struct FlatState {
    name: String,
    ty: String,
    parent: String,
    value: Value,
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// JSON pointer within the state (or the document, for machine-level changes).
    pub path: String,
    /// The old value (`null` when the field was added).
    pub old: Option<Value>,
    /// The new value (`null` when the field was removed).
    pub new: Option<Value>,
}

/// A state that exists on one side only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateRef {
    /// Its name.
    pub name: String,
    /// Its `Type`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The graph it is in: empty at the top level, else e.g. `Load warehouses/Branches/0`.
    pub parent: String,
}

/// A state whose definition is unchanged but whose name changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rename {
    /// The old name.
    pub from: String,
    /// The new name.
    pub to: String,
}

/// A state present on both sides whose fields differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateChange {
    /// Its (new) name.
    pub name: String,
    /// Its (new) `Type`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The fields that differ.
    pub changes: Vec<FieldChange>,
}

/// The whole difference between two documents.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diff {
    /// Changes to the document's own fields (Comment, StartAt, TimeoutSeconds, ...).
    pub machine: Vec<FieldChange>,
    /// States only in the new document.
    pub added: Vec<StateRef>,
    /// States only in the old document.
    pub removed: Vec<StateRef>,
    /// States that only changed name.
    pub renamed: Vec<Rename>,
    /// States whose definition changed.
    pub changed: Vec<StateChange>,
}

impl Diff {
    /// True when the documents mean the same state machine.
    pub fn is_empty(&self) -> bool {
        self.machine.is_empty()
            && self.added.is_empty()
            && self.removed.is_empty()
            && self.renamed.is_empty()
            && self.changed.is_empty()
    }
}

/// Collects every state of a graph and of the graphs nested in its states.
fn flatten(graph: &Value, parent: &str, out: &mut Vec<FlatState>) {
    let Some(states) = graph.get("States").and_then(Value::as_object) else { return };
    for (name, state) in states {
        let mut own = state.clone();
        let here = if parent.is_empty() { name.clone() } else { format!("{parent}/{name}") };
        if let Some(obj) = own.as_object_mut() {
            if let Some(Value::Array(branches)) = obj.get_mut("Branches") {
                for (i, b) in branches.iter_mut().enumerate() {
                    flatten(b, &format!("{here}/Branches/{i}"), out);
                    if let Some(b) = b.as_object_mut() {
                        b.remove("States");
                    }
                }
            }
            for key in ["ItemProcessor", "Iterator"] {
                if let Some(p) = obj.get_mut(key) {
                    flatten(p, &format!("{here}/{key}"), out);
                    if let Some(p) = p.as_object_mut() {
                        p.remove("States");
                    }
                }
            }
        }
        let ty = state.get("Type").and_then(Value::as_str).unwrap_or("?").to_string();
        out.push(FlatState { name: name.clone(), ty, parent: parent.to_string(), value: own });
    }
}

/// Field-by-field differences between two values, as JSON pointers below `at`.
pub fn field_changes(old: &Value, new: &Value, at: &str, out: &mut Vec<FieldChange>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                match b.get(k) {
                    Some(vb) => field_changes(va, vb, &pointer_push(at, k), out),
                    None => out.push(FieldChange { path: pointer_push(at, k), old: Some(va.clone()), new: None }),
                }
            }
            for (k, vb) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                out.push(FieldChange { path: pointer_push(at, k), old: None, new: Some(vb.clone()) });
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                field_changes(va, vb, &pointer_push(at, &i.to_string()), out);
            }
        }
        (a, b) if a != b => out.push(FieldChange { path: at.to_string(), old: Some(a.clone()), new: Some(b.clone()) }),
        _ => {}
    }
}

/// A state's value with every transition target blanked, to recognise a renamed state whose neighbours also moved.
fn without_targets(value: &Value) -> Value {
    let mut v = value.clone();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("Next");
        obj.remove("Default");
        for list in ["Catch", "Choices"] {
            if let Some(Value::Array(items)) = obj.get_mut(list) {
                for item in items {
                    if let Some(item) = item.as_object_mut() {
                        item.remove("Next");
                    }
                }
            }
        }
    }
    v
}

/// The semantic difference from `old` to `new`.
pub fn diff(old: &Value, new: &Value) -> Diff {
    let mut result = Diff::default();
    let empty = Map::new();
    let (a, b) = (old.as_object().unwrap_or(&empty), new.as_object().unwrap_or(&empty));
    let strip = |m: &Map<String, Value>| {
        let mut m = m.clone();
        m.remove("States");
        Value::Object(m)
    };
    field_changes(&strip(a), &strip(b), "", &mut result.machine);

    let (mut before, mut after) = (Vec::new(), Vec::new());
    flatten(old, "", &mut before);
    flatten(new, "", &mut after);
    let mut removed: Vec<FlatState> = Vec::new();
    for s in &before {
        match after.iter().find(|t| t.name == s.name) {
            Some(t) => {
                let mut changes = Vec::new();
                if t.parent != s.parent {
                    changes.push(FieldChange {
                        path: "(moved)".into(),
                        old: Some(Value::String(s.parent.clone())),
                        new: Some(Value::String(t.parent.clone())),
                    });
                }
                field_changes(&s.value, &t.value, "", &mut changes);
                if !changes.is_empty() {
                    result.changed.push(StateChange { name: t.name.clone(), ty: t.ty.clone(), changes });
                }
            }
            None => removed.push(s.clone()),
        }
    }
    let mut added: Vec<FlatState> =
        after.iter().filter(|t| !before.iter().any(|s| s.name == t.name)).cloned().collect();
    // A removed and an added state with the same definition (ignoring where they lead) is a rename.
    removed.retain(|r| {
        let key = without_targets(&r.value);
        let candidates: Vec<usize> =
            added.iter().enumerate().filter(|(_, a)| without_targets(&a.value) == key).map(|(i, _)| i).collect();
        if let [i] = candidates[..] {
            let to = added.remove(i);
            let mut changes = Vec::new();
            field_changes(&r.value, &to.value, "", &mut changes);
            if !changes.is_empty() {
                result.changed.push(StateChange { name: to.name.clone(), ty: to.ty.clone(), changes });
            }
            result.renamed.push(Rename { from: r.name.clone(), to: to.name });
            false
        } else {
            true
        }
    });
    let to_ref = |s: FlatState| StateRef { name: s.name, ty: s.ty, parent: s.parent };
    result.removed = removed.into_iter().map(to_ref).collect();
    result.added = added.into_iter().map(to_ref).collect();
    result
}

/// A value on one line, for people.
pub fn compact(value: &Option<Value>) -> String {
    match value {
        None => "(absent)".to_string(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 120 { format!("{}…", s.chars().take(117).collect::<String>()) } else { s }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_renames_changes_and_nested_states() {
        let a = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Task", "Resource": "r", "TimeoutSeconds": 5, "End": true},
            "P": {"Type": "Parallel", "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Succeed"}}}], "End": true}}});
        let b = json!({"StartAt": "A", "TimeoutSeconds": 60, "States": {
            "A": {"Type": "Pass", "Next": "C"},
            "C": {"Type": "Task", "Resource": "r", "TimeoutSeconds": 5, "End": true},
            "P": {"Type": "Parallel", "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Succeed", "Comment": "new"}}}], "End": true}}});
        let d = diff(&a, &b);
        assert_eq!(d.machine, vec![FieldChange { path: "/TimeoutSeconds".into(), old: None, new: Some(json!(60)) }]);
        assert_eq!(d.renamed, vec![Rename { from: "B".into(), to: "C".into() }]);
        assert!(d.added.is_empty() && d.removed.is_empty());
        let names: Vec<&str> = d.changed.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["A", "X"]);
        assert!(diff(&a, &a).is_empty());
    }
}
