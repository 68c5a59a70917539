//! `ingestion_from_rds`: landing tables -> bronze Delta tables, append-only, exactly once.
//!
//! Per table: the landing rows of every extraction not yet drained (ledger sequence numbers up to `seq`) are
//! appended to `<lake>/bronze/<table>` in one commit carrying the Delta transaction (`amali/bronze/<table>`, `seq`),
//! with `_run_id`, `_extracted_at`, `_ingested_at`, `_source_table`, partitioned by `_ingest_date`. Then one row goes
//! to the audit table `<lake>/audit/ingestion` (same transaction id), and only then are the landing rows deleted and
//! the ledger marked drained. Killed anywhere, a rerun finds the transaction in bronze (skips the append), in the
//! audit table (skips the row), and drains: no row is lost or written twice.

use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

use deltalake::arrow::array::{ArrayRef, Date32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use deltalake::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use super::Outcome;
use super::landing::{
    self, EXTRACT_SEQ, LEDGER, landing_shape, repeat_micros, repeat_str, scalar, selected_tables, source_shape,
};
use crate::db::value::format_timestamp;
use crate::db::{Cmp, Database, Filter, Param, Stmt};
use crate::error::{Result, StageError};
use crate::lake::BRONZE;
use crate::lake::{self, Lake};
use crate::schema::Table;
use crate::settings::Settings;
use crate::summary::{Layer, TableSummary};

/// The partition column of bronze tables.
pub const INGEST_DATE: &str = "_ingest_date";

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The bronze schema of `table`: the copied columns, then the ingestion columns.
pub fn bronze_schema(settings: &Settings, table: &'static Table) -> Schema {
    let mut fields: Vec<Field> =
        source_shape(settings, table).arrow_schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend([
        Field::new("_run_id", DataType::Utf8, true),
        Field::new("_extracted_at", utc_micros(), true),
        Field::new("_ingested_at", utc_micros(), true),
        Field::new("_source_table", DataType::Utf8, true),
        Field::new(INGEST_DATE, DataType::Date32, true),
    ]);
    Schema::new(fields)
}

/// The audit table's schema.
pub fn audit_schema() -> Schema {
    Schema::new(vec![
        Field::new("table_name", DataType::Utf8, false),
        Field::new("run_id", DataType::Utf8, false),
        Field::new("first_seq", DataType::Int64, false),
        Field::new("last_seq", DataType::Int64, false),
        Field::new("rows", DataType::Int64, false),
        Field::new("delta_version", DataType::Int64, false),
        Field::new("ingested_at", utc_micros(), false),
    ])
}

/// The Delta application id of `table`'s bronze appends.
pub fn app_id(table: &str) -> String {
    format!("amali/bronze/{table}")
}

/// Runs the stage.
pub async fn run(settings: &Settings) -> Outcome {
    let prepared = async {
        let landing_db = settings.database("landing_database")?;
        landing::ensure_ledger(&landing_db).await?;
        Ok::<_, StageError>((landing_db, selected_tables(settings)?))
    }
    .await;
    let (landing_db, tables) = match prepared {
        Ok(p) => p,
        Err(e) => return Outcome::failed(e),
    };
    let lake = Lake::new(settings.lake_root());
    let now = chrono::Utc::now().timestamp_micros();
    let mut outcome = Outcome::default();
    for table in tables {
        let mut summary = TableSummary::new(table.name, Layer::Bronze);
        let clock = Instant::now();
        let span = super::table_span(table.name);
        let result =
            ingest_table(settings, &landing_db, &lake, table, now, &mut summary).instrument(span.clone()).await;
        span.in_scope(|| outcome.finish(summary, clock, result, "ingested"));
    }
    outcome
}

/// Pending extractions of `table`: (seq, run id), oldest first.
async fn pending(db: &Database, table: &str) -> Result<Vec<(i64, String)>> {
    let rows = db
        .query(&Stmt::new(
            format!("SELECT seq, run_id FROM {LEDGER} WHERE table_name = ? AND drained_at IS NULL ORDER BY seq"),
            vec![table.into()],
        ))
        .await?;
    rows.into_iter()
        .map(|r| {
            let seq = r.first().cloned().flatten().and_then(|s| s.parse().ok());
            let run = r.get(1).cloned().flatten();
            seq.zip(run).ok_or_else(|| StageError::internal(format!("{LEDGER} has an unreadable row for {table}")))
        })
        .collect()
}

async fn ingest_table(
    settings: &Settings,
    db: &Database,
    lake: &Lake,
    table: &'static Table,
    now: i64,
    summary: &mut TableSummary,
) -> Result<()> {
    let name = table.name;
    let schema = bronze_schema(settings, table);
    let mut bronze = lake.open_or_create(BRONZE, name, &schema, &[INGEST_DATE]).await?;
    let pending = pending(db, name).await?;
    let (Some((first_seq, _)), Some((last_seq, _))) = (pending.first().cloned(), pending.last().cloned()) else {
        summary.delta_version = bronze.version().map(|v| v as i64);
        summary.note = Some("nothing landed since the last ingestion".into());
        return Ok(());
    };
    if !db.has_table(name).await? {
        return Err(StageError::internal(format!(
            "{LEDGER} lists extractions of {name} but its landing table is missing"
        )));
    }
    let app = app_id(name);
    let landing = landing_shape(settings, table);
    let upto = Filter { column: EXTRACT_SEQ.name, cmp: Cmp::AtMost, value: last_seq.to_string(), or_null: false };
    let int = db.int_placeholder();
    let landed_rows = || async {
        let n = scalar(
            db,
            Stmt::new(
                format!("SELECT count(*) FROM {} WHERE {} <= {int}", db.quote(name), db.quote(EXTRACT_SEQ.name)),
                vec![last_seq.into()],
            ),
        )
        .await?;
        Ok::<i64, StageError>(n.and_then(|n| n.parse().ok()).unwrap_or(0))
    };

    let mut ingested_rows = None;
    let version = match lake::txn_version(&bronze, &app).await? {
        Some(have) if have >= last_seq => {
            // Killed after the commit last time: the rows are in bronze already.
            summary.note = Some(format!("extractions {first_seq}..={last_seq} were already in bronze; drained them"));
            lake::version_of_txn(&bronze, &app, last_seq).await?.or(bronze.version().map(|v| v as i64)).unwrap_or(0)
        }
        _ => {
            let run_id = settings.run_id.clone();
            let date = (now.div_euclid(86_400_000_000)) as i32;
            let target = Arc::new(schema.clone());
            let copied = landing.columns.len() - 3;
            let rows = db.read(&landing, name, Some(upto), settings.batch_rows);
            let source_table = name.to_string();
            let batches = futures::stream::unfold(rows, |mut rows| async move { rows.recv().await.map(|b| (b, rows)) });
            let target2 = target.clone();
            let batches = futures::StreamExt::map(batches, move |b| {
                b.and_then(|batch| {
                    let n = batch.num_rows();
                    let mut columns: Vec<ArrayRef> = batch.columns()[..copied].to_vec();
                    columns.push(batch.column(copied).clone()); // _run_id
                    columns.push(batch.column(copied + 2).clone()); // _extracted_at
                    columns.push(repeat_micros(now, n));
                    columns.push(repeat_str(&source_table, n));
                    columns.push(Arc::new(Date32Array::from(vec![date; n])));
                    RecordBatch::try_new(target2.clone(), columns).map_err(|e| StageError::internal(e.to_string()))
                })
            });
            let (version, rows) = lake::append(&mut bronze, batches, &app, last_seq, &run_id).await?;
            summary.rows_read = rows;
            summary.rows_written = rows;
            ingested_rows = Some(rows as i64);
            version
        }
    };
    summary.delta_version = Some(version);

    // The audit row, exactly once per (table, last_seq) too.
    let mut audit = lake.open_or_create("audit", "ingestion", &audit_schema(), &[]).await?;
    if lake::txn_version(&audit, &app).await?.is_none_or(|have| have < last_seq) {
        let rows = match ingested_rows {
            Some(n) => n,
            None => landed_rows().await?,
        };
        let batch = RecordBatch::try_new(
            Arc::new(audit_schema()),
            vec![
                Arc::new(StringArray::from(vec![name])),
                Arc::new(StringArray::from(vec![settings.run_id.as_str()])),
                Arc::new(Int64Array::from(vec![first_seq])),
                Arc::new(Int64Array::from(vec![last_seq])),
                Arc::new(Int64Array::from(vec![rows])),
                Arc::new(Int64Array::from(vec![version])),
                Arc::new(TimestampMicrosecondArray::from(vec![now]).with_timezone("UTC")),
            ],
        )
        .map_err(|e| StageError::internal(e.to_string()))?;
        lake::append(&mut audit, futures::stream::iter([Ok(batch)]), &app, last_seq, &settings.run_id).await?;
    }

    // Only now, with bronze and the audit durable, are the landing rows released. When the landing table holds
    // nothing newer than what was ingested (the usual case) it is truncated, which is much cheaper than deleting
    // millions of rows; a crash between the truncate and the ledger update is safe, since the rerun finds the
    // transaction in bronze and only marks the ledger.
    // Landing rows newer than `last_seq` exist only if the ledger has a newer extraction (rows and ledger row
    // commit together); stages of one environment never run concurrently, so nothing is in flight.
    let newer = scalar(
        db,
        Stmt::new(
            format!("SELECT count(*) FROM {LEDGER} WHERE table_name = ? AND seq > {int}"),
            vec![name.into(), last_seq.into()],
        ),
    )
    .await?;
    let release = if newer.as_deref() == Some("0") && db.engine() != crate::schema::Engine::Sqlite {
        Stmt::new(format!("TRUNCATE TABLE {}", db.quote(name)), vec![])
    } else {
        Stmt::new(
            format!("DELETE FROM {} WHERE {} <= {int}", db.quote(name), db.quote(EXTRACT_SEQ.name)),
            vec![last_seq.into()],
        )
    };
    db.execute(&[
        release,
        Stmt::new(
            format!("UPDATE {LEDGER} SET drained_at = ? WHERE table_name = ? AND seq <= {int} AND drained_at IS NULL"),
            vec![Param::Text(format_timestamp(now)), name.into(), last_seq.into()],
        ),
    ])
    .await?;
    Ok(())
}
