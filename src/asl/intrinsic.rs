//! Intrinsic functions: `States.Format('{} items', $.count)` and the rest of the `States.*` family.
//!
//! Arguments are string literals in single quotes (where `\'`, `\{`, `\}` and `\\` are escapes), numbers,
//! `true`/`false`/`null`, paths, and nested intrinsic calls. This module parses calls and knows each function's
//! arity; the interpreter evaluates the parsed form.

use std::fmt;

use serde_json::Number;

use super::path::{Path, PathError};

/// One argument of an intrinsic call.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// `'text'`, unescaped.
    Str(String),
    /// A number literal.
    Num(Number),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// A path into the input, the context or a variable.
    Path(Path),
    /// A nested call.
    Call(Call),
}

/// A parsed intrinsic call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The function, e.g. `States.Format`.
    pub function: Function,
    /// Its arguments.
    pub args: Vec<Arg>,
}

macro_rules! functions {
    ($( $variant:ident => $name:literal, $min:literal, $max:expr; )*) => {
        /// Every intrinsic function Step Functions defines.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Function { $( #[doc = concat!("`", $name, "`")] $variant, )* }

        impl Function {
            /// Every function.
            pub const ALL: &'static [Function] = &[$(Function::$variant,)*];

            /// The function's name as written.
            pub fn name(self) -> &'static str {
                match self { $(Function::$variant => $name,)* }
            }

            /// The function named `name`.
            pub fn from_name(name: &str) -> Option<Function> {
                match name { $($name => Some(Function::$variant),)* _ => None }
            }

            /// The least and most arguments it takes (`None`: no upper bound).
            pub fn arity(self) -> (usize, Option<usize>) {
                match self { $(Function::$variant => ($min, $max),)* }
            }
        }
    };
}

functions! {
    Format => "States.Format", 1, None;
    StringToJson => "States.StringToJson", 1, Some(1);
    JsonToString => "States.JsonToString", 1, Some(1);
    Array => "States.Array", 0, None;
    ArrayPartition => "States.ArrayPartition", 2, Some(2);
    ArrayContains => "States.ArrayContains", 2, Some(2);
    ArrayRange => "States.ArrayRange", 3, Some(3);
    ArrayGetItem => "States.ArrayGetItem", 2, Some(2);
    ArrayLength => "States.ArrayLength", 1, Some(1);
    ArrayUnique => "States.ArrayUnique", 1, Some(1);
    Base64Encode => "States.Base64Encode", 1, Some(1);
    Base64Decode => "States.Base64Decode", 1, Some(1);
    Hash => "States.Hash", 2, Some(2);
    JsonMerge => "States.JsonMerge", 3, Some(3);
    MathRandom => "States.MathRandom", 2, Some(3);
    MathAdd => "States.MathAdd", 2, Some(2);
    StringSplit => "States.StringSplit", 2, Some(2);
    Uuid => "States.UUID", 0, Some(0);
}

/// Why a string is not a valid intrinsic call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntrinsicError {
    /// What is wrong.
    pub message: String,
    /// The byte offset where it went wrong.
    pub offset: usize,
}

impl fmt::Display for IntrinsicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.offset + 1)
    }
}

impl std::error::Error for IntrinsicError {}

/// True when `text` is meant as an intrinsic call (it starts with `States.` and has a parenthesis).
pub fn looks_like_call(text: &str) -> bool {
    text.trim_start().starts_with("States.") && text.contains('(')
}

impl Call {
    /// Parses a whole intrinsic call.
    pub fn parse(text: &str) -> Result<Call, IntrinsicError> {
        let mut p = Parser { text, pos: 0 };
        p.ws();
        let call = p.call()?;
        p.ws();
        if p.pos != text.len() {
            return p.err("unexpected text after the call");
        }
        Ok(call)
    }
}

/// What a literal argument must be; paths and nested calls are only known at run time.
#[derive(Clone, Copy)]
enum Literal {
    Any,
    Str,
    Int,
    Num,
}

/// Checks the literal arguments of a call against the function's types, as Step Functions does when it validates.
fn check_literals(function: Function, args: &[Arg]) -> Result<(), String> {
    use Function::*;
    use Literal::*;
    let expected: &[Literal] = match function {
        MathAdd => &[Num, Num],
        MathRandom => &[Int, Int, Int],
        ArrayRange => &[Int, Int, Int],
        ArrayPartition | ArrayGetItem => &[Any, Int],
        Hash => &[Any, Str],
        StringSplit => &[Str, Str],
        Base64Encode | Base64Decode | StringToJson => &[Str],
        Format => &[Str],
        _ => &[],
    };
    for (i, (arg, want)) in args.iter().zip(expected).enumerate() {
        let ok = match (want, arg) {
            (_, Arg::Path(_) | Arg::Call(_)) | (Any, _) => true,
            (Str, Arg::Str(_)) => true,
            (Int, Arg::Num(n)) => n.is_i64() || n.is_u64(),
            (Num, Arg::Num(_)) => true,
            _ => false,
        };
        if !ok {
            let what = match want {
                Str => "a string",
                Int => "an integer",
                Num => "a number",
                Any => "a value",
            };
            return Err(format!("argument {} must be {what} or a path", i + 1));
        }
    }
    match (function, args) {
        (Hash, [_, Arg::Str(algorithm)])
            if !["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"].contains(&algorithm.as_str()) =>
        {
            Err(format!("{algorithm:?} is not one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"))
        }
        (JsonMerge, [_, _, Arg::Bool(true)]) => {
            Err("deep merging (true) is not supported: the third argument must be false".into())
        }
        (JsonMerge, [_, _, third]) if !matches!(third, Arg::Bool(false) | Arg::Path(_) | Arg::Call(_)) => {
            Err("the third argument must be false".into())
        }
        (ArrayRange, [_, _, Arg::Num(step)]) if step.as_i64() == Some(0) => Err("the step cannot be 0".into()),
        _ => Ok(()),
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, IntrinsicError> {
        Err(IntrinsicError { message: message.into(), offset: self.pos })
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn call(&mut self) -> Result<Call, IntrinsicError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '.') {
            self.pos += 1;
        }
        let name = &self.text[start..self.pos];
        let Some(function) = Function::from_name(name) else {
            self.pos = start;
            return self.err(format!("{name:?} is not an intrinsic function"));
        };
        self.ws();
        if self.peek() != Some('(') {
            return self.err(format!("expected ( after {name}"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.ws();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                self.ws();
                args.push(self.arg()?);
                self.ws();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return self.err("expected , or ) after an argument"),
                }
            }
        }
        let (min, max) = function.arity();
        if args.len() < min || max.is_some_and(|m| args.len() > m) {
            let expected = match max {
                Some(m) if m == min => format!("{min}"),
                Some(m) => format!("{min} to {m}"),
                None => format!("at least {min}"),
            };
            self.pos = start;
            return self.err(format!("{name} takes {expected} argument(s), not {}", args.len()));
        }
        if let Err(message) = check_literals(function, &args) {
            self.pos = start;
            return self.err(format!("{name}: {message}"));
        }
        if function == Function::Format
            && let Some(Arg::Str(template)) = args.first()
        {
            let placeholders = template.matches("{}").count();
            if placeholders != args.len() - 1 {
                self.pos = start;
                return self.err(format!(
                    "States.Format's template has {placeholders} {{}} but {} value(s) follow",
                    args.len() - 1
                ));
            }
        }
        Ok(Call { function, args })
    }

    fn arg(&mut self) -> Result<Arg, IntrinsicError> {
        match self.peek() {
            Some('\'') => self.string().map(Arg::Str),
            Some('$') => {
                let start = self.pos;
                let mut depth = 0usize;
                while let Some(c) = self.peek() {
                    match c {
                        '[' | '(' => depth += 1,
                        ']' | ')' if depth > 0 => depth -= 1,
                        ',' | ')' if depth == 0 => break,
                        _ => {}
                    }
                    self.pos += c.len_utf8();
                }
                let text = self.text[start..self.pos].trim_end();
                Path::parse(text).map(Arg::Path).map_err(|PathError { message, offset }| IntrinsicError {
                    message: format!("invalid path argument: {message}"),
                    offset: start + offset,
                })
            }
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')) {
                    self.pos += 1;
                }
                match serde_json::from_str::<Number>(&self.text[start..self.pos]) {
                    Ok(n) => Ok(Arg::Num(n)),
                    Err(_) => {
                        self.pos = start;
                        self.err("invalid number")
                    }
                }
            }
            _ if self.rest().starts_with("true") => {
                self.pos += 4;
                Ok(Arg::Bool(true))
            }
            _ if self.rest().starts_with("false") => {
                self.pos += 5;
                Ok(Arg::Bool(false))
            }
            _ if self.rest().starts_with("null") => {
                self.pos += 4;
                Ok(Arg::Null)
            }
            _ if self.rest().starts_with("States.") => self.call().map(Arg::Call),
            _ => self.err("expected a string in single quotes, a number, true, false, null, a path or a call"),
        }
    }

    fn string(&mut self) -> Result<String, IntrinsicError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return self.err("unterminated string"),
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        // `\{` and `\}` stay escaped so that States.Format can tell them from placeholders.
                        Some(c @ ('{' | '}')) => {
                            out.push('\\');
                            out.push(c);
                            self.pos += 1;
                        }
                        Some(c @ ('\'' | '\\')) => {
                            out.push(c);
                            self.pos += 1;
                        }
                        _ => return self.err("only \\', \\{, \\} and \\\\ are escapes in an intrinsic string"),
                    }
                }
                Some('\'') => {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_calls() {
        let c = Call::parse("States.Format('Hello, {} \\'x\\'', $.name)").unwrap();
        assert_eq!(c.function, Function::Format);
        assert_eq!(c.args[0], Arg::Str("Hello, {} 'x'".into()));
        let c = Call::parse("States.ArrayGetItem(States.StringSplit($$.Execution.StartTime, 'T'), 0)").unwrap();
        assert!(matches!(&c.args[0], Arg::Call(inner) if inner.function == Function::StringSplit));
        assert!(Call::parse("States.UUID()").is_ok());
        assert!(Call::parse("States.MathAdd($.a, -1.5)").is_ok());
        assert!(Call::parse("States.Array($.items[?(@.x, 1)], true, null)").is_ok());
    }

    #[test]
    fn rejects_bad_calls() {
        for bad in [
            "States.Nope(1)",
            "States.UUID(1)",
            "States.ArrayRange(1, 2)",
            "States.Format('{} {}', $.a)",
            "States.Format('x'",
            "States.Format(\"x\")",
            "States.Format('\\n')",
            "States.MathAdd(1, 2) extra",
            "States.MathAdd(1,'-1')",
            "States.Hash($.x, 'SHA-3')",
            "States.JsonMerge($.a, $.b, true)",
        ] {
            assert!(Call::parse(bad).is_err(), "{bad} parsed");
        }
    }
}
