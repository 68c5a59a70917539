//! ASL paths: JSONPath as Step Functions accepts it, the context object (`$$`) and variables (`$name`).
//!
//! Step Functions' paths come from the Jayway JSONPath dialect: `$`, `.name`, `['name']`, `[0]`, `[-1]`, `[*]`,
//! `.*`, `..name`, slices `[1:3]`, unions `[0,2]` and filters `[?(@.price < 10)]`. A *reference path* (the only
//! kind `ResultPath` and the `*Path` timing fields accept) may use only names and indexes, so that it names
//! exactly one place. This module parses both; the interpreter evaluates the parsed form.

use std::fmt;

/// Where a path starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// `$`: the state's (effective) input.
    Input,
    /// `$$`: the context object (`$$.Execution.Id`, `$$.Map.Item.Value`, `$$.Task.Token`).
    Context,
    /// `$name`: a workflow variable.
    Variable(String),
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// `.name` or `['name']`.
    Field(String),
    /// `[n]`, negative from the end.
    Index(i64),
    /// `.*` or `[*]`.
    Wildcard,
    /// `..name` (or `..*` when `None`): every descendant with that name.
    Descendants(Option<String>),
    /// `[start:end:step]`.
    Slice(Option<i64>, Option<i64>, Option<i64>),
    /// `[a,b]` or `['x','y']`.
    Union(Vec<UnionItem>),
    /// `[?(expression)]`, kept as written.
    Filter(String),
    /// `[(expression)]`, a Jayway script expression such as `[(@.length-1)]`, kept as written.
    Script(String),
}

/// A member of a union.
#[derive(Debug, Clone, PartialEq)]
pub enum UnionItem {
    /// An array index.
    Index(i64),
    /// An object key.
    Field(String),
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// Where it starts.
    pub root: Root,
    /// The steps from there.
    pub segments: Vec<Segment>,
}

/// Why a string is not a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    /// What is wrong.
    pub message: String,
    /// The byte offset where it went wrong.
    pub offset: usize,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.offset + 1)
    }
}

impl std::error::Error for PathError {}

impl Path {
    /// Parses `text` as a path.
    pub fn parse(text: &str) -> Result<Path, PathError> {
        Parser { text, pos: 0 }.path()
    }

    /// True when the path names exactly one place: only names and indexes (no wildcard, slice, union, filter).
    pub fn is_reference(&self) -> bool {
        self.segments.iter().all(|s| matches!(s, Segment::Field(_) | Segment::Index(_)))
    }

    /// True when the path selects at most one value: a reference path, or one whose scripts (`[(@.length-1)]`)
    /// each compute a single index, possibly ending in a union of names (`['a','b']`, which Jayway merges into one
    /// object). Any other path yields an array of its matches.
    pub fn is_definite(&self) -> bool {
        let before_last = match self.segments.split_last() {
            Some((last, rest)) if last.is_name_union() => rest,
            _ => &self.segments[..],
        };
        before_last.iter().all(|s| matches!(s, Segment::Field(_) | Segment::Index(_) | Segment::Script(_)))
    }
}

impl Segment {
    /// True for a union of names only (`['a','b']`). As the last step of a path, Jayway (and so Step Functions)
    /// selects one object of those members per match, not their values one by one (its PropertyPathToken's
    /// "multi-property merge" case).
    pub fn is_name_union(&self) -> bool {
        matches!(self, Segment::Union(items) if items.iter().all(|i| matches!(i, UnionItem::Field(_))))
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, PathError> {
        Err(PathError { message: message.into(), offset: self.pos })
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn path(mut self) -> Result<Path, PathError> {
        if !self.eat('$') {
            return self.err("a path starts with $");
        }
        let root = if self.eat('$') {
            Root::Context
        } else {
            match self.peek() {
                Some(c) if c.is_alphabetic() || c == '_' => Root::Variable(self.name()),
                _ => Root::Input,
            }
        };
        let mut segments = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                '.' => {
                    self.pos += 1;
                    if self.eat('.') {
                        // `..*` and `..[...]` scan every descendant; `..name` only those with that name.
                        if self.eat('*') || self.peek() == Some('[') {
                            segments.push(Segment::Descendants(None));
                        } else {
                            let name = self.name();
                            if name.is_empty() {
                                return self.err("expected a name after ..");
                            }
                            segments.push(Segment::Descendants(Some(name)));
                        }
                    } else if self.eat('*') {
                        segments.push(Segment::Wildcard);
                    } else if self.peek() == Some('[') {
                        // Jayway, whose grammar Step Functions parses paths with, reads whatever token follows a
                        // dot: `$.[0]` is `$[0]` and `$.Items.[0].State` is `$.Items[0].State`.
                        continue;
                    } else {
                        let name = self.name();
                        if name.is_empty() {
                            return self.err("expected a name after .");
                        }
                        segments.push(Segment::Field(name));
                    }
                }
                '[' => {
                    self.pos += 1;
                    segments.push(self.bracket()?);
                }
                other => return self.err(format!("unexpected {other:?}")),
            }
        }
        Ok(Path { root, segments })
    }

    /// A dot-notation name: anything up to the next `.`, `[`, or a character that cannot be in a name.
    fn name(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(c, '.' | '[' | ']' | '(' | ')' | '\'' | '"' | ',' | '*' | '$' | '@' | '?') || c.is_whitespace()
            {
                break;
            }
            self.pos += c.len_utf8();
        }
        self.text[start..self.pos].to_string()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn quoted(&mut self) -> Result<String, PathError> {
        let quote = self.peek().expect("called on a quote");
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return self.err("unterminated quoted name"),
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c) => {
                            out.push(c);
                            self.pos += c.len_utf8();
                        }
                        None => return self.err("unterminated escape"),
                    }
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(c) => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn integer(&mut self) -> Option<i64> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        match self.text[start..self.pos].parse() {
            Ok(n) => Some(n),
            Err(_) => {
                self.pos = start;
                None
            }
        }
    }

    /// After an opening `(`: the text up to the matching `)`, which is consumed.
    fn parenthesized(&mut self) -> Result<String, PathError> {
        let start = self.pos;
        let mut depth = 1;
        while depth > 0 {
            match self.peek() {
                None => return self.err("unterminated expression"),
                Some('(') => depth += 1,
                Some(')') => depth -= 1,
                Some('\'' | '"') => {
                    self.quoted()?;
                    continue;
                }
                _ => {}
            }
            self.pos += self.peek().map_or(1, char::len_utf8);
        }
        let expr = self.text[start..self.pos - 1].trim().to_string();
        if expr.is_empty() {
            return self.err("empty expression");
        }
        Ok(expr)
    }

    /// After `[`: an index, wildcard, slice, union, quoted name or filter, up to and including `]`.
    fn bracket(&mut self) -> Result<Segment, PathError> {
        self.skip_ws();
        let segment = match self.peek() {
            Some('*') => {
                self.pos += 1;
                Segment::Wildcard
            }
            Some('(') => {
                self.pos += 1;
                Segment::Script(self.parenthesized()?)
            }
            Some('?') => {
                self.pos += 1;
                if !self.eat('(') {
                    return self.err("a filter is written [?(...)]");
                }
                Segment::Filter(self.parenthesized()?)
            }
            Some('\'' | '"') => {
                let mut items = vec![UnionItem::Field(self.quoted()?)];
                self.skip_ws();
                while self.eat(',') {
                    self.skip_ws();
                    match self.peek() {
                        Some('\'' | '"') => items.push(UnionItem::Field(self.quoted()?)),
                        _ => return self.err("expected a quoted name in the union"),
                    }
                    self.skip_ws();
                }
                if items.len() == 1 {
                    let Some(UnionItem::Field(name)) = items.pop() else { unreachable!() };
                    Segment::Field(name)
                } else {
                    Segment::Union(items)
                }
            }
            _ => {
                let first = self.integer();
                self.skip_ws();
                if self.eat(':') {
                    self.skip_ws();
                    let end = self.integer();
                    self.skip_ws();
                    let step = if self.eat(':') {
                        self.skip_ws();
                        self.integer()
                    } else {
                        None
                    };
                    if step == Some(0) {
                        return self.err("a slice step cannot be 0");
                    }
                    Segment::Slice(first, end, step)
                } else if let Some(first) = first {
                    let mut items = vec![UnionItem::Index(first)];
                    while self.eat(',') {
                        self.skip_ws();
                        match self.integer() {
                            Some(n) => items.push(UnionItem::Index(n)),
                            None => return self.err("expected an index in the union"),
                        }
                        self.skip_ws();
                    }
                    if items.len() == 1 { Segment::Index(first) } else { Segment::Union(items) }
                } else {
                    return self.err("expected an index, a quoted name, *, a slice or a filter in [...]");
                }
            }
        };
        self.skip_ws();
        if !self.eat(']') {
            return self.err("expected ]");
        }
        Ok(segment)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.root {
            Root::Input => f.write_str("$")?,
            Root::Context => f.write_str("$$")?,
            Root::Variable(v) => write!(f, "${v}")?,
        }
        for s in &self.segments {
            match s {
                Segment::Field(n) => write!(f, ".{n}")?,
                Segment::Index(i) => write!(f, "[{i}]")?,
                Segment::Wildcard => f.write_str("[*]")?,
                Segment::Descendants(Some(n)) => write!(f, "..{n}")?,
                Segment::Descendants(None) => f.write_str("..*")?,
                Segment::Slice(a, b, c) => {
                    let o = |x: &Option<i64>| x.map(|v| v.to_string()).unwrap_or_default();
                    write!(f, "[{}:{}", o(a), o(b))?;
                    if c.is_some() {
                        write!(f, ":{}", o(c))?;
                    }
                    f.write_str("]")?;
                }
                Segment::Union(items) => {
                    let parts: Vec<String> = items
                        .iter()
                        .map(|i| match i {
                            UnionItem::Index(n) => n.to_string(),
                            UnionItem::Field(s) => format!("'{s}'"),
                        })
                        .collect();
                    write!(f, "[{}]", parts.join(","))?;
                }
                Segment::Filter(e) => write!(f, "[?({e})]")?,
                Segment::Script(e) => write!(f, "[({e})]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_dialect() {
        for ok in [
            "$",
            "$.a.b",
            "$['a b'].c",
            "$.a[0]",
            "$.a[-1]",
            "$.a[*]",
            "$.*",
            "$..price",
            "$.a[1:]",
            "$.a[:2:1]",
            "$.a[0,2]",
            "$['x','y']",
            "$.items[?(@.price < 10)]",
            "$$.Execution.Id",
            "$$.Map.Item.Value",
            "$productName",
            "$product.name",
            "$.delivery-partner",
            // A bracket right after a dot (Jayway's PathCompiler.readDotToken reads the next token, any token).
            "$.[0]",
            "$.Items.[0].State",
            "$.[?(@.n > 0)]",
            "$.[*].['a','b']",
        ] {
            assert!(Path::parse(ok).is_ok(), "{ok}: {:?}", Path::parse(ok));
        }
        for bad in ["", "a", "$.", "$[", "$.a[", "$.a[x]", "$.a[?(]", "$ .a", "$.a[0:1:0]"] {
            assert!(Path::parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn a_bracket_after_a_dot_is_the_bracket_alone() {
        for (dotted, plain) in [
            ("$.[0]", "$[0]"),
            ("$.Items.[0].State", "$.Items[0].State"),
            ("$.[?(@.n > 0)]", "$[?(@.n > 0)]"),
            ("$.[*].['a','b']", "$[*]['a','b']"),
            ("$$.Execution.['Input']", "$$.Execution['Input']"),
        ] {
            assert_eq!(Path::parse(dotted), Path::parse(plain), "{dotted}");
        }
        // Still refused, as Jayway refuses them: a path ending in a dot, three dots.
        for bad in ["$.a.", "$...a", "$.[0]."] {
            assert!(Path::parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn reference_paths_name_one_place() {
        assert!(Path::parse("$.a['b'][0]").unwrap().is_reference());
        assert!(!Path::parse("$.a[*]").unwrap().is_reference());
        assert!(!Path::parse("$..a").unwrap().is_reference());
    }
}
