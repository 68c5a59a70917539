//! CloudFormation's `DefinitionSubstitutions`: a definition written for `AWS::StepFunctions::StateMachine` (or SAM's
//! `AWS::Serverless::StateMachine`) holds `${Name}` placeholders, which CloudFormation replaces with the
//! substitutions' values, as text, before Step Functions reads the definition. `amali validate` and `amali exec`
//! take the same values (`--substitute NAME=VALUE`, `--substitutions FILE`) and replace them the same way; a
//! placeholder left without a value is reported by name.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};

/// Placeholder values by name.
pub type Substitutions = BTreeMap<String, String>;

/// The substitutions of `--substitutions FILE` (a JSON object of strings, the shape of `DefinitionSubstitutions`)
/// and then of each `--substitute NAME=VALUE` (which win).
pub fn collect(file: Option<&Path>, pairs: &[String]) -> anyhow::Result<Substitutions> {
    let mut out = Substitutions::new();
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the substitutions file {}", file.display()))?;
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).with_context(|| {
            format!("{} is not a JSON object of NAME: VALUE (DefinitionSubstitutions' shape)", file.display())
        })?;
        for (name, value) in object {
            let value = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                other => bail!("{}: the value of {name} is {other}; a substitution is a string", file.display()),
            };
            out.insert(name, value);
        }
    }
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            bail!("--substitute {pair:?}: write NAME=VALUE, e.g. --substitute LambdaArn=arn:aws:lambda:...");
        };
        if name.is_empty() {
            bail!("--substitute {pair:?}: the name before = is empty");
        }
        out.insert(name.to_string(), value.to_string());
    }
    Ok(out)
}

/// `text` with every `${Name}` that `values` has replaced by its value, as CloudFormation does.
pub fn apply(text: &str, values: &Substitutions) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, end, name) in spans(text) {
        if let Some(value) = values.get(name) {
            out.push_str(&text[copied..at]);
            out.push_str(value);
            copied = end;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The names of the `${Name}` placeholders in `text`, each once, in order.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (_, _, name) in spans(text) {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    names
}

/// Each `${Name}` of `text`: where it starts, where it ends and the name (letters, digits, `_`, `.`, `:` and `-`,
/// as CloudFormation's logical ids, parameters and attributes are).
fn spans(text: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(found) = text[from..].find("${") {
            let at = from + found;
            let rest = &text[at + 2..];
            from = at + 2;
            if let Some(len) = rest.find('}')
                && len > 0
                && rest[..len].chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
            {
                from = at + 2 + len + 1;
                return Some((at, from, &rest[..len]));
            }
        }
        None
    })
}

/// True when `value` is exactly one placeholder, `${Name}`.
pub fn is_placeholder(value: &str) -> bool {
    value.starts_with("${")
        && value.ends_with('}')
        && placeholders(value).len() == 1
        && value.matches("${").count() == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_what_it_has_and_keeps_the_rest() {
        let values = Substitutions::from([("Fn".to_string(), "arn:aws:lambda:eu-west-1:1:function:f".to_string())]);
        let text = r#"{"Resource": "${Fn}", "TopicArn": "${Topic}", "Wait": ${Seconds}}"#;
        assert_eq!(
            apply(text, &values),
            r#"{"Resource": "arn:aws:lambda:eu-west-1:1:function:f", "TopicArn": "${Topic}", "Wait": ${Seconds}}"#
        );
        assert_eq!(placeholders(&apply(text, &values)), ["Topic", "Seconds"]);
    }

    #[test]
    fn a_placeholder_is_a_whole_name() {
        assert!(is_placeholder("${LambdaArn}"));
        assert!(!is_placeholder("arn:${Partition}:states:::lambda:invoke"));
        assert!(!is_placeholder("${A}${B}"));
        assert!(placeholders("${} and ${not a name}").is_empty());
    }

    #[test]
    fn pairs_and_files_give_values_and_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("subs.json");
        std::fs::write(&file, r#"{"A": "from-file", "B": "b", "N": 3}"#).unwrap();
        let values = collect(Some(&file), &["A=from-flag".into(), "C=x=y".into()]).unwrap();
        assert_eq!(values["A"], "from-flag");
        assert_eq!(values["B"], "b");
        assert_eq!(values["C"], "x=y");
        assert_eq!(values["N"], "3");
        assert!(collect(None, &["novalue".into()]).unwrap_err().to_string().contains("NAME=VALUE"));
        std::fs::write(&file, r#"{"A": {"x": 1}}"#).unwrap();
        assert!(collect(Some(&file), &[]).unwrap_err().to_string().contains("a substitution is a string"));
    }
}
