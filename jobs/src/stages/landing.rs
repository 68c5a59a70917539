//! The landing area in the internal RDS, shared by `read_from_app_database` (which fills it) and
//! `ingestion_from_rds` (which drains it into bronze).
//!
//! Each copied table has a landing table of the same name: the source's columns (sensitive ones removed) plus
//! `_run_id`, `_extract_seq` and `_extracted_at`. The ledger `_amali_extracts` has one row per table and extraction:
//! its sequence number (increasing per table), the run, the watermark range it read, and when it was drained.
//! A table's rows and its ledger row commit in one transaction, so a ledger row means the rows are there.

use std::sync::Arc;

use deltalake::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use deltalake::arrow::datatypes::{Field, Schema};

use crate::db::{Batches, Database, Param, Stmt, channel};
use crate::error::{Result, StageError};
use crate::schema::{Column, Shape, Table, Type};
use crate::settings::Settings;

/// The ledger of extractions.
pub const LEDGER: &str = "_amali_extracts";

const fn col(name: &'static str, ty: Type, nullable: bool) -> Column {
    Column { name, ty, nullable, default: None, auto_increment: false }
}

/// The run that copied the row from the app database.
pub const RUN_ID: Column = col("_run_id", Type::Varchar(128), false);
/// The extraction's sequence number within its table.
pub const EXTRACT_SEQ: Column = col("_extract_seq", Type::BigInt, false);
/// When the row was copied.
pub const EXTRACTED_AT: Column = col("_extracted_at", Type::Timestamp, false);

static LEDGER_COLUMNS: &[Column] = &[
    col("table_name", Type::Varchar(64), false),
    col("run_id", Type::Varchar(128), false),
    col("seq", Type::BigInt, false),
    col("mode", Type::Varchar(16), false),
    col("watermark_column", Type::Varchar(64), true),
    col("low", Type::Varchar(40), true),
    col("high", Type::Varchar(40), true),
    col("rows_extracted", Type::BigInt, false),
    col("extracted_at", Type::Varchar(40), false),
    col("drained_at", Type::Varchar(40), true),
];

/// The ledger's shape.
pub fn ledger_shape() -> Shape {
    Shape { name: LEDGER, columns: LEDGER_COLUMNS.to_vec(), primary_key: vec!["table_name", "run_id"] }
}

/// The columns copied from `table`: all but the sensitive ones.
pub fn source_shape(settings: &Settings, table: &'static Table) -> Shape {
    Shape::of(table).without(&settings.sensitive_columns(table.name))
}

/// The landing table's shape for `table`.
pub fn landing_shape(settings: &Settings, table: &'static Table) -> Shape {
    source_shape(settings, table).with(&[RUN_ID, EXTRACT_SEQ, EXTRACTED_AT], &["_run_id"])
}

/// Creates the ledger unless it exists.
pub async fn ensure_ledger(db: &Database) -> Result<()> {
    db.create_table(&ledger_shape(), LEDGER).await
}

/// The tables a stage handles: those named on the command line, else those configured, else the whole schema.
pub fn selected_tables(settings: &Settings) -> Result<Vec<&'static Table>> {
    let names: Vec<String> = if !settings.tables.is_empty() {
        settings.tables.clone()
    } else if !settings.data.extract.tables.is_empty() {
        settings.data.extract.tables.clone()
    } else {
        return Ok(crate::schema::TABLES.iter().collect());
    };
    names
        .iter()
        .map(|n| {
            crate::schema::table(n).ok_or_else(|| {
                StageError::config(format!("{n} is not a table of the app database's schema (see `amali tables`)"))
            })
        })
        .collect()
}

/// The first value of the first row of a query, as text.
pub async fn scalar(db: &Database, stmt: Stmt) -> Result<Option<String>> {
    Ok(db.query(&stmt).await?.into_iter().next().and_then(|r| r.into_iter().next()).flatten())
}

/// Maps every batch of `input` through `f` in a background task.
pub fn map_batches(
    mut input: Batches,
    mut f: impl FnMut(RecordBatch) -> Result<RecordBatch> + Send + 'static,
) -> Batches {
    let (tx, rx) = channel();
    tokio::spawn(async move {
        while let Some(batch) = input.recv().await {
            let out = batch.and_then(&mut f);
            let failed = out.is_err();
            if tx.send(out).await.is_err() || failed {
                break;
            }
        }
    });
    rx
}

/// A batch with columns appended.
pub fn append_columns(batch: RecordBatch, extra: Vec<(Field, ArrayRef)>) -> Result<RecordBatch> {
    let mut fields: Vec<Field> = batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns = batch.columns().to_vec();
    for (f, a) in extra {
        fields.push(f);
        columns.push(a);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| StageError::internal(e.to_string()))
}

/// A column of `n` copies of a string.
pub fn repeat_str(value: &str, n: usize) -> ArrayRef {
    Arc::new(StringArray::from(vec![value; n]))
}

/// A column of `n` copies of an integer.
pub fn repeat_i64(value: i64, n: usize) -> ArrayRef {
    Arc::new(Int64Array::from(vec![value; n]))
}

/// A column of `n` copies of a UTC timestamp.
pub fn repeat_micros(value: i64, n: usize) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(vec![value; n]).with_timezone("UTC"))
}

/// A statement without parameters.
pub fn stmt(sql: impl Into<String>) -> Stmt {
    Stmt::new(sql, Vec::<Param>::new())
}
