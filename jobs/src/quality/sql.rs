//! `sql`: a predicate in DataFusion SQL over the table's columns that every row satisfies (a row where it is false
//! or NULL breaks the rule).

use amali_core::config::QualityRule;
use deltalake::datafusion::prelude::SessionContext;

use super::Violation;
use crate::error::{Result, StageError};

pub(super) fn violation(name: &str, predicate: &str) -> Violation {
    Violation {
        expr: format!("(({predicate}) IS NOT TRUE)"),
        join: None,
        reason: format!("{name}: {predicate} does not hold"),
    }
}

/// Plans a `sql` rule's predicate alone over `relation` (aliased `s`), so that a typo is reported as the
/// configuration error it is, naming its rule, and not as a failure of the query that runs every rule. Other rules
/// pass.
pub async fn check_predicate(ctx: &SessionContext, rule: &QualityRule, table: &str, relation: &str) -> Result<()> {
    let amali_core::config::QualityCheck::Sql { predicate, .. } = &rule.check else { return Ok(()) };
    match ctx.sql(&format!("SELECT ({predicate}) FROM {relation} s")).await {
        Ok(_) => Ok(()),
        Err(e) => Err(StageError::config(format!(
            "quality rule {} in amali.toml: its predicate {predicate:?} is not valid SQL over {table}: {e}",
            rule.id(table)
        ))
        .caused_by(e)),
    }
}
