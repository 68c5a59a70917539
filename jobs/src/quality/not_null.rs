//! `not_null`: these columns are never NULL.

use amali_core::config::QualityRule;

use super::{Scope, Violation};
use crate::error::Result;

pub(super) fn violation(rule: &QualityRule, scope: &Scope<'_>, columns: &[String]) -> Result<Violation> {
    let parts =
        columns.iter().map(|c| Ok(format!("{} IS NULL", scope.column(rule, c)?))).collect::<Result<Vec<_>>>()?;
    Ok(Violation { expr: parts.join(" OR "), join: None, reason: format!("NULL in {}", columns.join(", ")) })
}
