//! `relationships`: the column's value exists in another table's column (or is NULL), a foreign key. The parent's
//! current rows are read from the relation the scope names; a table's relationships decide the order in which the
//! silver stage conforms tables (parents first).

use std::collections::{BTreeMap, BTreeSet};

use amali_core::config::{QualityCheck, QualityRule};

use super::{Scope, Violation, q};
use crate::error::{Result, StageError};

pub(super) fn violation(rule: &QualityRule, scope: &Scope<'_>, column: &str, to: &str) -> Result<Violation> {
    let (parent, key) = to.split_once('.').ok_or_else(|| {
        StageError::config(format!(
            "quality rule {} in amali.toml: `to` is TABLE.COLUMN, not {to:?}",
            rule.id(scope.table.name)
        ))
    })?;
    let c = scope.column(rule, column)?;
    let alias = format!("p{}", scope.index);
    // A parent's primary key is unique in its silver table (rows are merged on it): joined as it is. Any other
    // column is made distinct first, so that the join cannot multiply the rows it checks.
    let unique = crate::schema::table(parent).is_some_and(|t| t.primary_key == [key]);
    let join = format!(
        "LEFT JOIN (SELECT {distinct}{key} AS k FROM {parent_view}) {alias} ON {c} = {alias}.k",
        distinct = if unique { "" } else { "DISTINCT " },
        key = q(key),
        parent_view = q(&(scope.parent)(parent)),
    );
    Ok(Violation {
        expr: format!("({c} IS NOT NULL AND {alias}.k IS NULL)"),
        join: Some(join),
        reason: format!("{column} has no {to}"),
    })
}

/// The parents `table`'s relationships rules refer to (itself excluded).
pub fn parents(table: &str, rules: &BTreeMap<String, Vec<QualityRule>>) -> BTreeSet<String> {
    rules
        .get(table)
        .into_iter()
        .flatten()
        .filter_map(|r| match &r.check {
            QualityCheck::Relationships { to, .. } => to.split_once('.').map(|(p, _)| p.to_string()),
            _ => None,
        })
        .filter(|p| p != table)
        .collect()
}
