//! `read_from_app_database`: copies the app database's tables into the landing tables of the internal RDS.
//!
//! Per table, in one transaction on the landing database: the rows read since the table's last high watermark
//! (minus an overlap window, so rows committed late are not missed) are bulk-loaded, and a ledger row records the
//! extraction. A run id that already has a ledger row for a table is skipped, so rerunning a run writes nothing
//! twice, and a run killed halfway resumes with the tables it had not finished.

use std::time::Instant;
use tracing::Instrument;

use amali_core::config::TableExtract;

use super::Outcome;
use super::landing::{
    self, EXTRACT_SEQ, EXTRACTED_AT, LEDGER, RUN_ID, append_columns, landing_shape, map_batches, repeat_i64,
    repeat_micros, repeat_str, scalar, selected_tables, source_shape,
};
use crate::db::value::{format_timestamp, parse_timestamp};
use crate::db::{Cmp, Database, Filter, Param, Stmt};
use crate::error::{Result, StageError};
use crate::schema::{Engine, Table, Type};
use crate::settings::Settings;
use crate::summary::{Layer, TableSummary};

/// How a table is copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Rows whose watermark column is at least the last high watermark minus the overlap.
    Incremental {
        /// The watermark column.
        column: &'static str,
        /// Whether it is a timestamp (else an integer).
        timestamp: bool,
    },
    /// Every row, every run.
    Full,
}

/// How `table` is copied under `config`: its configured watermark, else `updated_at`, else an integer `id`
/// primary key, else in full.
pub fn mode(table: &'static Table, config: Option<&TableExtract>) -> Result<Mode> {
    if config.is_some_and(|c| c.full_refresh) {
        return Ok(Mode::Full);
    }
    let incremental = |name: &str| -> Option<Mode> {
        let c = table.column(name)?;
        match c.ty {
            Type::DateTime | Type::Timestamp | Type::Date => {
                Some(Mode::Incremental { column: c.name, timestamp: true })
            }
            Type::BigInt | Type::Int => Some(Mode::Incremental { column: c.name, timestamp: false }),
            _ => None,
        }
    };
    if let Some(name) = config.and_then(|c| c.watermark.as_deref()) {
        return incremental(name).ok_or_else(|| {
            StageError::config(format!(
                "{}: the watermark column {name} is not a timestamp, date or integer column of the table",
                table.name
            ))
        });
    }
    if let Some(m) = incremental("updated_at") {
        return Ok(m);
    }
    if table.primary_key == ["id"]
        && let Some(m) = incremental("id")
    {
        return Ok(m);
    }
    Ok(Mode::Full)
}

/// Runs the stage.
pub async fn run(settings: &Settings) -> Outcome {
    match prepare(settings).await {
        Ok((source, target, tables)) => {
            let mut outcome = Outcome::default();
            let started = chrono::Utc::now().timestamp_micros();
            for table in tables {
                let mut summary = TableSummary::new(table.name, Layer::Landing);
                let clock = Instant::now();
                let span = super::table_span(table.name);
                let result =
                    copy_table(settings, &source, &target, table, started, &mut summary).instrument(span.clone()).await;
                span.in_scope(|| outcome.finish(summary, clock, result, "landed"));
            }
            outcome
        }
        Err(e) => Outcome::failed(e),
    }
}

async fn prepare(settings: &Settings) -> Result<(Database, Database, Vec<&'static Table>)> {
    let source = settings.database("app_database")?;
    let target = settings.database("landing_database")?;
    let tables = selected_tables(settings)?;
    let mut present = 0;
    for t in &tables {
        present += source.has_table(t.name).await? as usize;
    }
    if present == 0 {
        return Err(StageError::config(format!(
            "the app database {} has none of the tables to copy; load it first, e.g. `amali seed --target {}`",
            source.describe(),
            source.describe()
        )));
    }
    landing::ensure_ledger(&target).await?;
    Ok((source, target, tables))
}

/// The SQL giving the largest value of `column` among the rows of one extraction, as text.
fn max_as_text(engine: Engine, column: &str, timestamp: bool) -> String {
    let c = crate::schema::quote(engine, column);
    match (engine, timestamp) {
        (Engine::Sqlite, _) => format!("MAX({c})"),
        (Engine::MySql, _) => format!("CAST(MAX({c}) AS CHAR)"),
        (Engine::Postgres, true) => format!("CAST(CAST(MAX({c}) AS timestamp) AS text)"),
        (Engine::Postgres, false) => format!("CAST(MAX({c}) AS text)"),
    }
}

async fn copy_table(
    settings: &Settings,
    source: &Database,
    target: &Database,
    table: &'static Table,
    started: i64,
    summary: &mut TableSummary,
) -> Result<()> {
    let name = table.name;
    let done = scalar(
        target,
        Stmt::new(
            format!("SELECT count(*) FROM {LEDGER} WHERE table_name = ? AND run_id = ?"),
            vec![name.into(), settings.run_id.as_str().into()],
        ),
    )
    .await?;
    if done.as_deref().and_then(|n| n.parse::<i64>().ok()).unwrap_or(0) > 0 {
        summary.note = Some(format!("already copied by run {}", settings.run_id));
        return Ok(());
    }
    if !source.has_table(name).await? {
        return Err(StageError::data(format!(
            "{name} does not exist in the app database {}; create it, or leave it out with `tables` in \
             [env.NAME.data.extract]",
            source.describe()
        )));
    }
    let landing = landing_shape(settings, table);
    target.create_table(&landing, name).await?;
    let mode = mode(table, settings.data.extract.table.get(name))?;
    let seq: i64 = scalar(
        target,
        Stmt::new(format!("SELECT COALESCE(MAX(seq), 0) + 1 FROM {LEDGER} WHERE table_name = ?"), vec![name.into()]),
    )
    .await?
    .and_then(|s| s.parse().ok())
    .unwrap_or(1);
    let (filter, low) = match &mode {
        Mode::Full => (None, None),
        Mode::Incremental { column, timestamp } => {
            let high = scalar(
                target,
                Stmt::new(
                    format!(
                        "SELECT high FROM {LEDGER} WHERE table_name = ? AND high IS NOT NULL ORDER BY seq DESC LIMIT 1"
                    ),
                    vec![name.into()],
                ),
            )
            .await?;
            let low = match high {
                None => None,
                Some(h) if *timestamp => {
                    let micros = parse_timestamp(&h).map_err(|e| {
                        StageError::internal(format!(
                            "{LEDGER} holds a high watermark for {name} that is not a time: {e}"
                        ))
                    })?;
                    let overlap = settings.data.extract.overlap_seconds as i64 * 1_000_000;
                    Some(format_timestamp(micros.saturating_sub(overlap)))
                }
                Some(h) => {
                    let id: i64 = h.trim().parse().map_err(|_| {
                        StageError::internal(format!(
                            "{LEDGER} holds a high watermark for {name} that is not an id: {h}"
                        ))
                    })?;
                    Some(id.saturating_sub(settings.data.extract.overlap_ids as i64).to_string())
                }
            };
            let nullable = table.column(column).is_some_and(|c| c.nullable);
            let filter = low.clone().map(|value| Filter { column, cmp: Cmp::AtLeast, value, or_null: nullable });
            (filter, low)
        }
    };
    let (mode_name, watermark) = match &mode {
        Mode::Full => ("full", None),
        Mode::Incremental { column, .. } => ("incremental", Some(*column)),
    };
    let int = target.int_placeholder();
    let high_sql = match &mode {
        Mode::Incremental { column, timestamp } => format!(
            "(SELECT {} FROM {} WHERE {} = {int})",
            max_as_text(target.engine(), column, *timestamp),
            target.quote(name),
            target.quote(EXTRACT_SEQ.name)
        ),
        Mode::Full => "NULL".to_string(),
    };
    let run_id = settings.run_id.clone();
    let rows = source.read(&source_shape(settings, table), name, filter, settings.batch_rows);
    let landed = map_batches(rows, move |batch| {
        let n = batch.num_rows();
        append_columns(
            batch,
            vec![
                (RUN_ID.field().with_nullable(true), repeat_str(&run_id, n)),
                (EXTRACT_SEQ.field().with_nullable(true), repeat_i64(seq, n)),
                (EXTRACTED_AT.field().with_nullable(true), repeat_micros(started, n)),
            ],
        )
    });
    let before = [Stmt::new(
        format!("DELETE FROM {} WHERE {} = ?", target.quote(name), target.quote(RUN_ID.name)),
        vec![settings.run_id.as_str().into()],
    )];
    let count_sql =
        format!("(SELECT count(*) FROM {} WHERE {} = {int})", target.quote(name), target.quote(EXTRACT_SEQ.name));
    let mut params: Vec<Param> = vec![
        name.into(),
        settings.run_id.as_str().into(),
        seq.into(),
        mode_name.into(),
        watermark.map(str::to_string).into(),
        low.clone().into(),
    ];
    if matches!(mode, Mode::Incremental { .. }) {
        params.push(seq.into());
    }
    params.push(seq.into());
    params.push(format_timestamp(started).into());
    let after = [Stmt::new(
        format!(
            "INSERT INTO {LEDGER} (table_name, run_id, seq, mode, watermark_column, low, high, rows_extracted, \
             extracted_at, drained_at) SELECT ?, ?, {int}, ?, ?, ?, {high_sql}, {count_sql}, ?, NULL"
        ),
        params,
    )];
    let loaded = target.write(Some((&landing, name)), &before, landed, &after).await?;
    summary.rows_read = loaded;
    summary.rows_written = loaded;
    if let Some(low) = low {
        summary.note = Some(format!("rows with {} >= {low}", watermark.unwrap_or_default()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::table;

    #[test]
    fn modes() {
        assert_eq!(
            mode(table("users").unwrap(), None).unwrap(),
            Mode::Incremental { column: "updated_at", timestamp: true }
        );
        let full = TableExtract { watermark: None, full_refresh: true };
        assert_eq!(mode(table("users").unwrap(), Some(&full)).unwrap(), Mode::Full);
        let bad = TableExtract { watermark: Some("email".into()), full_refresh: false };
        assert!(mode(table("users").unwrap(), Some(&bad)).is_err());
    }
}
