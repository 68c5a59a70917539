//! `accepted_values`: the column holds one of these values (or NULL).

use amali_core::config::QualityRule;

use super::{Scope, Violation};
use crate::error::Result;

pub(super) fn violation(rule: &QualityRule, scope: &Scope<'_>, column: &str, values: &[String]) -> Result<Violation> {
    let list = values.iter().map(|v| format!("'{}'", v.replace('\'', "''"))).collect::<Vec<_>>().join(", ");
    Ok(Violation {
        expr: format!("{0} IS NOT NULL AND {0} NOT IN ({list})", scope.column(rule, column)?),
        join: None,
        reason: format!("{column} not in [{}]", values.join(", ")),
    })
}
