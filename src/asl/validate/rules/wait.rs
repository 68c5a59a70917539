//! Wait: exactly one of `Seconds`, `Timestamp`, `SecondsPath` and `TimestampPath`; seconds a non-negative integer;
//! the timestamp in RFC 3339 form.

use serde_json::Value;

use crate::asl::validate::rules::{integer_field, is_jsonata};
use crate::asl::validate::{Context, Diagnostic, Rule, SCHEMA};

const RULE: &str = "wait";
const FIELDS: [&str; 4] = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"];

/// True for an RFC 3339 timestamp as Step Functions reads them (`2026-01-01T00:00:00Z`, offsets, fractions).
pub fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    if b.len() < 20 || !digits(0..4) || b[4] != b'-' || !digits(5..7) || b[7] != b'-' || !digits(8..10) {
        return false;
    }
    if !matches!(b[10], b'T' | b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let (month, day, hour, minute, second) =
        (num(&s[5..7]), num(&s[8..10]), num(&s[11..13]), num(&s[14..16]), num(&s[17..19]));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest {
        "Z" | "z" => true,
        offset => {
            let o = offset.as_bytes();
            o.len() == 6
                && matches!(o[0], b'+' | b'-')
                && o[1..3].iter().all(u8::is_ascii_digit)
                && o[3] == b':'
                && o[4..6].iter().all(u8::is_ascii_digit)
                && num(&offset[1..3]) <= 23
                && num(&offset[4..6]) <= 59
        }
    }
}

fn num(s: &str) -> u32 {
    s.parse().unwrap_or(u32::MAX)
}

/// Wait states.
pub struct WaitFields;

impl Rule for WaitFields {
    fn id(&self) -> &'static str {
        RULE
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for state in ctx.states.iter().filter(|s| s.ty() == Some("Wait")) {
            let present: Vec<&str> = FIELDS.into_iter().filter(|f| state.field(f).is_some()).collect();
            if present.len() != 1 {
                out.push(Diagnostic::error(
                    SCHEMA,
                    RULE,
                    state.pointer.clone(),
                    format!(
                        "a Wait state has exactly one of Seconds, Timestamp, SecondsPath, TimestampPath; this one has {}",
                        if present.is_empty() { "none".to_string() } else { present.join(", ") }
                    ),
                ));
            }
            integer_field(state, "Seconds", 0, 99_999_999, RULE, &mut out);
            if let Some(v) = state.field("Timestamp") {
                let ok = match v {
                    Value::String(s) => is_timestamp(s) || (state.is_jsonata() && is_jsonata(v)),
                    _ => false,
                };
                if !ok {
                    out.push(Diagnostic::error(
                        SCHEMA,
                        RULE,
                        state.at(&["Timestamp"]),
                        format!("Timestamp must be an RFC 3339 timestamp such as 2026-01-01T00:00:00Z, not {v}"),
                    ));
                }
            }
        }
        out
    }
}
