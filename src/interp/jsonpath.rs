//! Evaluating ASL paths the way Step Functions (Jayway JsonPath) does.
//!
//! A *definite* path (names and indexes only) yields exactly one value and is a `States.Runtime` error when it
//! matches nothing. Any other path yields an array of every match, in document order, possibly empty, even for a
//! single match (AWS keeps the array shape; see the Step Functions guide, "Paths", and Jayway's definite/indefinite
//! distinction). `ResultPath` writes through a reference path, creating the objects it names.

use serde_json::{Map, Value};

use super::error::StatesError;
use crate::asl::path::{Path, Root, Segment, UnionItem};

/// Workflow variables in scope.
pub type Vars = Map<String, Value>;

/// What paths can read: the state's input (`$`), the context object (`$$`) and variables (`$name`).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The effective input.
    pub input: &'a Value,
    /// The context object.
    pub context: &'a Value,
    /// Variables in scope.
    pub vars: &'a Vars,
}

/// Parses and evaluates `text` (for messages, `field` names where it came from).
pub fn eval(text: &str, scope: Scope<'_>, field: &str) -> Result<Value, StatesError> {
    let path =
        Path::parse(text).map_err(|e| StatesError::runtime(format!("{field}: {text:?} is not a valid path: {e}")))?;
    eval_parsed(&path, text, scope, field)
}

/// Evaluates a parsed path.
pub fn eval_parsed(path: &Path, text: &str, scope: Scope<'_>, field: &str) -> Result<Value, StatesError> {
    let root = match &path.root {
        Root::Input => scope.input,
        Root::Context => scope.context,
        Root::Variable(name) => scope.vars.get(name).ok_or_else(|| {
            StatesError::runtime(format!("The variable ${name} used in {field} ({text}) is not defined"))
        })?,
    };
    let matches: Vec<Value> = match path.segments.split_last() {
        // A union of names as the last step selects one object per match, with those of the names it has (Jayway's
        // multi-property merge): `$['a','b']` of {"a":1,"b":2,"c":3} is {"a":1,"b":2}, not [1,2].
        Some((last @ Segment::Union(items), rest)) if last.is_name_union() => select(root, rest)
            .into_iter()
            .filter_map(|v| v.as_object())
            .map(|m| {
                let picked = items.iter().filter_map(|item| match item {
                    UnionItem::Field(name) => m.get(name).map(|v| (name.clone(), v.clone())),
                    UnionItem::Index(_) => None,
                });
                Value::Object(picked.collect())
            })
            .collect(),
        _ => select(root, &path.segments).into_iter().cloned().collect(),
    };
    if path.is_definite() {
        matches.into_iter().next().ok_or_else(|| {
            let what = match path.root {
                Root::Context => "the context object".to_string(),
                Root::Variable(ref v) => format!("variable ${v}"),
                Root::Input => format!("the input '{}'", truncate(&scope.input.to_string())),
            };
            StatesError::runtime(format!(
                "The JSONPath '{text}' specified for the field '{field}' could not be found in {what}"
            ))
        })
    } else {
        Ok(Value::Array(matches))
    }
}

fn truncate(s: &str) -> String {
    if s.len() > 200 { format!("{}...", &s[..s.floor_char_boundary(200)]) } else { s.to_string() }
}

/// Every value `segments` select from `root`, in document order.
pub fn select<'v>(root: &'v Value, segments: &[Segment]) -> Vec<&'v Value> {
    let mut current = vec![root];
    for segment in segments {
        let mut next = Vec::new();
        for value in current {
            step(value, segment, &mut next);
        }
        current = next;
    }
    current
}

fn index(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

fn step<'v>(value: &'v Value, segment: &Segment, out: &mut Vec<&'v Value>) {
    match segment {
        Segment::Field(name) => out.extend(value.get(name.as_str())),
        Segment::Index(i) => {
            if let Value::Array(a) = value
                && let Some(i) = index(a.len(), *i)
            {
                out.push(&a[i]);
            }
        }
        Segment::Wildcard => match value {
            Value::Array(a) => out.extend(a.iter()),
            Value::Object(m) => out.extend(m.values()),
            _ => {}
        },
        Segment::Descendants(name) => descendants(value, name.as_deref(), out),
        Segment::Slice(start, end, step) => {
            if let Value::Array(a) = value {
                let len = a.len() as i64;
                let step = step.unwrap_or(1);
                let clamp = |v: i64| if v < 0 { (len + v).max(0) } else { v.min(len) };
                if step > 0 {
                    let (s, e) = (clamp(start.unwrap_or(0)), clamp(end.unwrap_or(len)));
                    let mut i = s;
                    while i < e {
                        out.push(&a[i as usize]);
                        i += step;
                    }
                } else {
                    let s = start.map_or(len - 1, |v| if v < 0 { len + v } else { v.min(len - 1) });
                    let e = end.map_or(-1, |v| if v < 0 { (len + v).max(-1) } else { v });
                    let mut i = s;
                    while i > e && i >= 0 {
                        out.push(&a[i as usize]);
                        i += step;
                    }
                }
            }
        }
        Segment::Union(items) => {
            for item in items {
                match (item, value) {
                    (UnionItem::Index(i), Value::Array(a)) => {
                        if let Some(i) = index(a.len(), *i) {
                            out.push(&a[i]);
                        }
                    }
                    (UnionItem::Field(f), Value::Object(m)) => out.extend(m.get(f)),
                    _ => {}
                }
            }
        }
        Segment::Filter(expr) => {
            let candidates: Vec<&Value> = match value {
                Value::Array(a) => a.iter().collect(),
                Value::Object(m) => m.values().collect(),
                _ => Vec::new(),
            };
            for c in candidates {
                if filter::holds(expr, c, value) {
                    out.push(c);
                }
            }
        }
        Segment::Script(expr) => {
            // Jayway scripts are `(@.length - N)`: the only form Step Functions users write.
            if let Value::Array(a) = value
                && let Some(i) = filter::script_index(expr, a.len())
                && let Some(i) = index(a.len(), i)
            {
                out.push(&a[i]);
            }
        }
    }
}

fn descendants<'v>(value: &'v Value, name: Option<&str>, out: &mut Vec<&'v Value>) {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                if name.is_none_or(|n| n == k) {
                    out.push(v);
                }
                descendants(v, name, out);
            }
        }
        Value::Array(a) => {
            for v in a {
                if name.is_none() {
                    out.push(v);
                }
                descendants(v, name, out);
            }
        }
        _ => {}
    }
}

/// Writes `value` at `path` (a reference path from `$`) into `target`, creating objects along the way.
pub fn set(target: &mut Value, text: &str, value: Value) -> Result<(), StatesError> {
    let path =
        Path::parse(text).map_err(|e| StatesError::runtime(format!("ResultPath {text:?} is not a valid path: {e}")))?;
    if path.root != Root::Input || !path.is_reference() {
        return Err(StatesError::runtime(format!("ResultPath {text:?} must be a reference path from $")));
    }
    if path.segments.is_empty() {
        *target = value;
        return Ok(());
    }
    let fail = || {
        StatesError::runtime(format!(
            "Unable to apply ResultPath '{text}' to the state's input: a step of the path is not an object"
        ))
    };
    let mut current = target;
    let last = path.segments.len() - 1;
    for (i, segment) in path.segments.iter().enumerate() {
        match segment {
            Segment::Field(name) => {
                if current.is_null() {
                    *current = Value::Object(Map::new());
                }
                let obj = current.as_object_mut().ok_or_else(fail)?;
                if i == last {
                    obj.insert(name.clone(), value);
                    return Ok(());
                }
                current = obj.entry(name.clone()).or_insert(Value::Object(Map::new()));
            }
            Segment::Index(idx) => {
                let arr = current.as_array_mut().ok_or_else(fail)?;
                let j = index(arr.len(), *idx).ok_or_else(fail)?;
                if i == last {
                    arr[j] = value;
                    return Ok(());
                }
                current = &mut arr[j];
            }
            _ => return Err(fail()),
        }
    }
    Ok(())
}

/// The filter expressions of `[?(...)]`: comparisons of `@`-paths and literals with `==`, `!=`, `<`, `<=`, `>`, `>=`,
/// existence tests (`@.isbn`), `!`, `&&`, `||` and parentheses.
mod filter {
    use serde_json::Value;

    use super::select;
    use crate::asl::path::Path;

    #[derive(Debug, Clone, PartialEq)]
    enum Tok {
        Path(String),
        Lit(Value),
        Op(&'static str),
        Open,
        Close,
    }

    fn lex(expr: &str) -> Option<Vec<Tok>> {
        let b: Vec<char> = expr.chars().collect();
        let mut i = 0;
        let mut out = Vec::new();
        while i < b.len() {
            let c = b[i];
            if c.is_whitespace() {
                i += 1;
                continue;
            }
            let two: String = b[i..(i + 2).min(b.len())].iter().collect();
            if let Some(op) = ["==", "!=", "<=", ">=", "&&", "||"].into_iter().find(|o| *o == two) {
                out.push(Tok::Op(op));
                i += 2;
                continue;
            }
            match c {
                '<' => out.push(Tok::Op("<")),
                '>' => out.push(Tok::Op(">")),
                '!' => out.push(Tok::Op("!")),
                '(' => out.push(Tok::Open),
                ')' => out.push(Tok::Close),
                '@' | '$' => {
                    let start = i;
                    i += 1;
                    let mut depth = 0;
                    while i < b.len() {
                        let d = b[i];
                        if d == '[' {
                            depth += 1;
                        } else if d == ']' {
                            depth -= 1;
                        } else if depth == 0 && (d.is_whitespace() || "=!<>&|()".contains(d)) {
                            break;
                        }
                        i += 1;
                    }
                    out.push(Tok::Path(b[start..i].iter().collect()));
                    continue;
                }
                '\'' | '"' => {
                    let q = c;
                    i += 1;
                    let mut s = String::new();
                    while i < b.len() && b[i] != q {
                        if b[i] == '\\' && i + 1 < b.len() {
                            i += 1;
                        }
                        s.push(b[i]);
                        i += 1;
                    }
                    out.push(Tok::Lit(Value::String(s)));
                }
                _ => {
                    let start = i;
                    while i < b.len() && !b[i].is_whitespace() && !"=!<>&|()".contains(b[i]) {
                        i += 1;
                    }
                    let word: String = b[start..i].iter().collect();
                    out.push(Tok::Lit(serde_json::from_str(&word).ok()?));
                    continue;
                }
            }
            i += 1;
        }
        Some(out)
    }

    struct Eval<'a> {
        toks: Vec<Tok>,
        pos: usize,
        current: &'a Value,
        root: &'a Value,
    }

    enum Operand {
        Missing,
        Val(Value),
    }

    impl Eval<'_> {
        fn peek(&self) -> Option<&Tok> {
            self.toks.get(self.pos)
        }
        fn or(&mut self) -> Option<bool> {
            let mut v = self.and()?;
            while self.peek() == Some(&Tok::Op("||")) {
                self.pos += 1;
                let r = self.and()?;
                v = v || r;
            }
            Some(v)
        }
        fn and(&mut self) -> Option<bool> {
            let mut v = self.unary()?;
            while self.peek() == Some(&Tok::Op("&&")) {
                self.pos += 1;
                let r = self.unary()?;
                v = v && r;
            }
            Some(v)
        }
        fn unary(&mut self) -> Option<bool> {
            match self.peek()? {
                Tok::Op("!") => {
                    self.pos += 1;
                    Some(!self.unary()?)
                }
                Tok::Open => {
                    self.pos += 1;
                    let v = self.or()?;
                    (self.peek() == Some(&Tok::Close)).then(|| self.pos += 1)?;
                    Some(v)
                }
                _ => self.comparison(),
            }
        }
        fn operand(&mut self) -> Option<Operand> {
            let tok = self.toks.get(self.pos)?.clone();
            self.pos += 1;
            Some(match tok {
                Tok::Lit(v) => Operand::Val(v),
                Tok::Path(p) => {
                    let (base, text) = if let Some(rest) = p.strip_prefix('@') {
                        (self.current, format!("${rest}"))
                    } else {
                        (self.root, p)
                    };
                    let path = Path::parse(&text).ok()?;
                    match select(base, &path.segments).first() {
                        Some(v) => Operand::Val((*v).clone()),
                        None => Operand::Missing,
                    }
                }
                _ => return None,
            })
        }
        fn comparison(&mut self) -> Option<bool> {
            let left = self.operand()?;
            let op = match self.peek() {
                Some(Tok::Op(op)) if !matches!(*op, "&&" | "||" | "!") => *op,
                _ => {
                    return Some(matches!(left, Operand::Val(ref v) if !matches!(v, Value::Bool(false) | Value::Null)));
                }
            };
            self.pos += 1;
            let right = self.operand()?;
            let (Operand::Val(l), Operand::Val(r)) = (left, right) else { return Some(op == "!=") };
            Some(match op {
                "==" => equal(&l, &r),
                "!=" => !equal(&l, &r),
                _ => match (l.as_f64(), r.as_f64(), l.as_str(), r.as_str()) {
                    (Some(a), Some(b), _, _) => compare(op, a.partial_cmp(&b)?),
                    (_, _, Some(a), Some(b)) => compare(op, a.cmp(b)),
                    _ => false,
                },
            })
        }
    }

    fn equal(a: &Value, b: &Value) -> bool {
        match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        }
    }

    fn compare(op: &str, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match op {
            "<" => ord == Less,
            "<=" => ord != Greater,
            ">" => ord == Greater,
            ">=" => ord != Less,
            _ => false,
        }
    }

    /// Whether the filter `expr` holds for `current` (`@`), with `root` as `$`.
    pub fn holds(expr: &str, current: &Value, root: &Value) -> bool {
        let Some(toks) = lex(expr) else { return false };
        let mut e = Eval { toks, pos: 0, current, root };
        e.or().unwrap_or(false) && e.pos == e.toks.len()
    }

    /// The index a `(@.length - N)` script names in an array of `len` elements.
    pub fn script_index(expr: &str, len: usize) -> Option<i64> {
        let compact: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
        let rest = compact.strip_prefix("@.length")?;
        if rest.is_empty() {
            return Some(len as i64);
        }
        let (sign, n) = rest.split_at(1);
        let n: i64 = n.parse().ok()?;
        match sign {
            "-" => Some(len as i64 - n),
            "+" => Some(len as i64 + n),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(path: &str, input: &Value) -> Result<Value, StatesError> {
        let vars = Vars::new();
        eval(path, Scope { input, context: &json!({"Execution": {"Id": "x"}}), vars: &vars }, "InputPath")
    }

    #[test]
    fn definite_and_indefinite() {
        let doc = json!({"a": {"b": [1, 2, 3]}, "items": [{"p": 5, "n": "x"}, {"p": 15, "n": "y"}, {"n": "z"}]});
        assert_eq!(run("$.a.b[1]", &doc).unwrap(), json!(2));
        assert_eq!(run("$.a.b[-1]", &doc).unwrap(), json!(3));
        assert_eq!(run("$.a.b[*]", &doc).unwrap(), json!([1, 2, 3]));
        assert_eq!(run("$.a.b[1:]", &doc).unwrap(), json!([2, 3]));
        assert_eq!(run("$.a.b[0,2]", &doc).unwrap(), json!([1, 3]));
        assert_eq!(run("$.items[?(@.p < 10)].n", &doc).unwrap(), json!(["x"]));
        assert_eq!(run("$.items[?(@.p)].n", &doc).unwrap(), json!(["x", "y"]));
        assert_eq!(run("$.items[?(@.p > 1 && @.n == 'y')].n", &doc).unwrap(), json!(["y"]));
        assert_eq!(run("$..n", &doc).unwrap(), json!(["x", "y", "z"]));
        assert_eq!(run("$.items[(@.length-1)].n", &doc).unwrap(), json!("z"));
        assert_eq!(run("$$.Execution.Id", &doc).unwrap(), json!("x"));
        assert_eq!(run("$.nothing[*]", &doc).unwrap(), json!([]));
        let err = run("$.missing", &doc).unwrap_err();
        assert_eq!(err.error, "States.Runtime");
    }

    #[test]
    fn result_path_creates_objects() {
        let mut doc = json!({"a": 1});
        set(&mut doc, "$.x.y", json!(2)).unwrap();
        assert_eq!(doc, json!({"a": 1, "x": {"y": 2}}));
        set(&mut doc, "$", json!("all")).unwrap();
        assert_eq!(doc, json!("all"));
        let mut doc = json!({"a": 1});
        assert!(set(&mut doc, "$.a.b", json!(2)).is_err());
    }
}
