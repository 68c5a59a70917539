//! `unique`: no two rows share these columns' values, among the table's rows after this run's merge would apply
//! (the relation `all_rows`).

use amali_core::config::QualityRule;

use super::{Scope, Violation, q};
use crate::error::{Result, StageError};

pub(super) fn violation(rule: &QualityRule, scope: &Scope<'_>, columns: &[String]) -> Result<Violation> {
    if columns.is_empty() {
        return Err(StageError::config(format!(
            "quality rule {} in amali.toml names no column",
            rule.id(scope.table.name)
        )));
    }
    let alias = format!("u{}", scope.index);
    let cols = columns.iter().map(|c| scope.column(rule, c)).collect::<Result<Vec<_>>>()?;
    let plain = columns.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ");
    let on =
        columns.iter().zip(&cols).map(|(c, s)| format!("{s} = {alias}.{}", q(c))).collect::<Vec<_>>().join(" AND ");
    let join = format!(
        "LEFT JOIN (SELECT {plain} FROM {all} GROUP BY {plain} HAVING count(*) > 1) {alias} ON {on}",
        all = q("all_rows"),
    );
    Ok(Violation {
        expr: format!("({alias}.{} IS NOT NULL)", q(&columns[0])),
        join: Some(join),
        reason: format!("{} not unique", columns.join(", ")),
    })
}
