//! `range`: the column's value is within bounds, inclusive (NULL passes).

use amali_core::config::QualityRule;

use super::{Scope, Violation};
use crate::error::{Result, StageError};

pub(super) fn violation(
    rule: &QualityRule,
    scope: &Scope<'_>,
    column: &str,
    min: Option<f64>,
    max: Option<f64>,
) -> Result<Violation> {
    let c = scope.column(rule, column)?;
    let parts: Vec<String> =
        [min.map(|m| format!("{c} < {m}")), max.map(|m| format!("{c} > {m}"))].into_iter().flatten().collect();
    if parts.is_empty() {
        return Err(StageError::config(format!(
            "quality rule {} in amali.toml has neither min nor max",
            rule.id(scope.table.name)
        )));
    }
    let bounds =
        format!("[{}, {}]", min.map_or("-inf".into(), |m| m.to_string()), max.map_or("inf".into(), |m| m.to_string()));
    Ok(Violation {
        expr: format!("({})", parts.join(" OR ")),
        join: None,
        reason: format!("{column} outside {bounds}"),
    })
}
