//! The data-quality rules of the silver tables (`[[quality.TABLE]]` in `amali.toml`), one rule per file: each
//! turns its configuration into SQL that flags the incoming rows breaking it. The silver stage runs every rule of
//! a table in one query over its incoming rows (`s`), then warns, quarantines or fails as each rule's action says;
//! `silver_transformation --print-sql` gives the same SQL to other engines.
//!
//! A rule that names a column the table does not have, or whose SQL does not plan, is a configuration error that
//! names the rule: the user's input is wrong, not amali.

mod accepted_values;
mod not_null;
mod range;
mod relationships;
mod sql;
mod unique;

use std::collections::{BTreeMap, BTreeSet};

use amali_core::config::{QualityCheck, QualityRule};

pub use relationships::parents;
pub use sql::check_predicate;

use crate::error::{Result, StageError};
use crate::schema::{Engine, Table, quote};

/// What a rule flags, as SQL over the incoming rows aliased `s`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// True for a row that breaks the rule (NULL counts as not breaking it).
    pub expr: String,
    /// A join the expression needs (a parent table, duplicate keys).
    pub join: Option<String>,
    /// Why a flagged row was flagged, for the quarantine table and the log.
    pub reason: String,
}

/// What a rule's SQL refers to: the table, the rule's position among the table's rules (for unique aliases), and
/// the relation holding a parent table's current rows.
pub struct Scope<'a> {
    /// The table checked.
    pub table: &'a Table,
    /// The rule's position.
    pub index: usize,
    /// The relation of a parent table's rows, by the parent's name.
    pub parent: &'a dyn Fn(&str) -> String,
}

impl Scope<'_> {
    /// The incoming row's column `c`, or a configuration error when the table has no such column.
    fn column(&self, rule: &QualityRule, c: &str) -> Result<String> {
        self.table.column(c).map(|_| format!("s.{}", q(c))).ok_or_else(|| {
            StageError::config(format!(
                "quality rule {} in amali.toml names column {c}, which {} does not have",
                rule.id(self.table.name),
                self.table.name
            ))
        })
    }
}

/// The violation of `rule` in `scope`.
pub fn violation(rule: &QualityRule, scope: &Scope<'_>) -> Result<Violation> {
    match &rule.check {
        QualityCheck::NotNull { columns } => not_null::violation(rule, scope, columns),
        QualityCheck::Unique { columns } => unique::violation(rule, scope, columns),
        QualityCheck::AcceptedValues { column, values } => accepted_values::violation(rule, scope, column, values),
        QualityCheck::Relationships { column, to } => relationships::violation(rule, scope, column, to),
        QualityCheck::Range { column, min, max } => range::violation(rule, scope, column, *min, *max),
        QualityCheck::Sql { name, predicate } => Ok(sql::violation(name, predicate)),
    }
}

/// Tables in an order where every `relationships` parent comes before its children.
pub fn ordered(tables: Vec<&'static Table>, rules: &BTreeMap<String, Vec<QualityRule>>) -> Vec<&'static Table> {
    let mut done: Vec<&'static Table> = Vec::new();
    let mut left = tables;
    while !left.is_empty() {
        let before = left.len();
        let names: BTreeSet<String> = left.iter().map(|t| t.name.to_string()).collect();
        let (ready, wait): (Vec<_>, Vec<_>) =
            left.into_iter().partition(|t| parents(t.name, rules).iter().all(|p| !names.contains(p) || p == t.name));
        done.extend(ready);
        left = wait;
        if left.len() == before {
            // A cycle: keep the rest in name order (their relationship checks see the parents' previous state).
            done.append(&mut left);
        }
    }
    done
}

/// For each of `tables` (parents first, see [`ordered`]), the positions of its parents among them: the tables it
/// waits for. A parent later in the order (a cycle) is not waited for.
pub fn waits_for(tables: &[&'static Table], rules: &BTreeMap<String, Vec<QualityRule>>) -> Vec<Vec<usize>> {
    tables
        .iter()
        .enumerate()
        .map(|(at, table)| {
            let parents = parents(table.name, rules);
            tables[..at].iter().enumerate().filter(|(_, t)| parents.contains(t.name)).map(|(i, _)| i).collect()
        })
        .collect()
}

/// A name quoted for DataFusion SQL.
fn q(name: &str) -> String {
    quote(Engine::Postgres, name)
}
