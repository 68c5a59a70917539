//! A silver table's first load, streamed: every bronze row of the table is new, so instead of holding them (and the
//! copies that checking, sorting out and writing them take) the whole conform runs as one query under the stage's
//! memory limit and its batches go straight to the Delta writers.
//!
//! The query is the rebuild's ([`super::rebuild_sql`]'s shape): the latest version per key by a window over
//! bronze (a sort, which spills past the limit), each rule's flag as a column (relationships and unique rules as
//! joins), in key order. Each batch is sorted out as it arrives: rows breaking a `quarantine` rule, and float money
//! that does not fit its decimal, stream to the quarantine table's writer; `warn` and `fail` rules are counted; the
//! rest, money conformed, stream to the silver table's writer. Nothing is committed until the last batch: a broken
//! `fail` rule then leaves both tables as they were. Commits go quarantine first, then silver, each carrying the
//! table's transaction (the newest `_ingested_at` merged), as in the incremental path.

use std::collections::BTreeMap;
use std::sync::Arc;

use amali_core::config::{QualityAction, QualityRule};
use deltalake::DeltaTable;
use deltalake::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampMicrosecondArray};
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::{DataType, Schema};
use deltalake::arrow::util::display::array_value_to_string;
use deltalake::datafusion::prelude::SessionContext;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use futures::StreamExt;

use super::{
    QUARANTINE, Quarantined, RuleFlags, Sink, app_id, float_money, latest_sql, q, quarantine_batch, quarantine_schema,
    register, register_parents, row_json, rule_flags, silver_schema,
};
use crate::error::{Result, StageError, df_err};
use crate::lake::{self, FILE_BYTES, SILVER, from_delta};
use crate::money::{self, MONEY_PRECISION, MONEY_SCALE};
use crate::schema::Table;
use crate::settings::Settings;
use crate::summary::TableSummary;

/// What a rule's flag column means for the rows it flags.
struct Flag {
    /// The rule's id (`orders.relationships.user_id`).
    id: String,
    /// Why a flagged row breaks it.
    reason: String,
    action: QualityAction,
    /// Rows flagged so far.
    rows: u64,
}

/// Loads `table`'s silver table for the first time from all of `bronze`, streamed (see the module docs). `select`
/// is the conformed select list of the columns bronze has.
#[allow(clippy::too_many_arguments)]
pub(super) async fn load(
    settings: &Settings,
    ctx: &SessionContext,
    sink: &Sink<'_>,
    table: &'static Table,
    rules: &[QualityRule],
    bronze: &DeltaTable,
    select: &[String],
    summary: &mut TableSummary,
) -> Result<()> {
    let name = table.name;
    // Its sorts must spill: bronze and the parents read as plain strings.
    crate::memory::plain_strings(ctx);
    register(ctx, "bronze_t", bronze).await?;
    let incoming = ctx.sql(&latest_sql(table, select, "bronze_t", "")).await.map_err(df_err("read bronze"))?;
    let incoming_schema: Schema = incoming.schema().as_arrow().clone();
    let _ = ctx.deregister_table("incoming");
    ctx.register_table("incoming", incoming.into_view()).map_err(df_err("incoming"))?;
    let cols = table
        .columns
        .iter()
        .filter(|c| incoming_schema.index_of(c.name).is_ok())
        .map(|c| q(c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = ctx.deregister_table("all_rows");
    let all_rows = ctx.sql(&format!("SELECT {cols} FROM incoming")).await.map_err(df_err("all rows"))?;
    ctx.register_table("all_rows", all_rows.into_view()).map_err(df_err("all rows"))?;
    // Every key of a first load is new: the parents' whole tables, no key range to narrow them to.
    register_parents(ctx, sink.lake, table, rules, None).await?;
    let RuleFlags { columns, joins, reasons } = rule_flags(ctx, table, rules).await?;
    let mut flags: Vec<Flag> = rules
        .iter()
        .zip(reasons)
        .map(|(rule, reason)| Flag { id: rule.id(name), reason, action: rule.action, rows: 0 })
        .collect();
    let key = table.primary_key.iter().map(|k| format!("s.{}", q(k))).collect::<Vec<_>>().join(", ");
    let checked = format!(
        "SELECT s.*{} FROM incoming s {} ORDER BY {key}",
        columns.iter().map(|c| format!(", {c}")).collect::<String>(),
        joins.join(" ")
    );
    let mut stream = ctx
        .sql(&checked)
        .await
        .map_err(df_err("check quality"))?
        .execute_stream()
        .await
        .map_err(df_err("check quality"))?;

    // The silver table's writer, on the table's schema (money as decimal, the silver run last).
    let data_columns = incoming_schema.fields().len();
    let money = float_money(table, &incoming_schema);
    let conformed = Arc::new(stored(&incoming_schema, &money));
    let target_schema = Arc::new(silver_schema(&conformed));
    let mut writer = sink.lake.writer(SILVER, name, &target_schema).await?.with_target_file_size(FILE_BYTES);
    let mut aside = QuarantineWriter::default();
    let pk_index: Vec<usize> = table.primary_key.iter().filter_map(|k| incoming_schema.index_of(k).ok()).collect();
    let ingested = incoming_schema.index_of("_ingested_at").map_err(|e| StageError::internal(e.to_string()))?;
    let (mut rows_in, mut rows_out, mut set_aside) = (0usize, 0usize, 0usize);
    let mut newest: Option<i64> = None;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(df_err("check quality"))?;
        let n = batch.num_rows();
        if n == 0 {
            continue;
        }
        rows_in += n;
        let at = batch
            .column(ingested)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .ok_or_else(|| StageError::internal("_ingested_at is not a timestamp"))?;
        newest = newest.max(deltalake::arrow::compute::max(at));
        // Each row's reasons to be set aside, in the order the incremental path lists them: rules, then money.
        let mut reasons: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, flag) in flags.iter_mut().enumerate() {
            let v = batch
                .column(data_columns + i)
                .as_any()
                .downcast_ref::<BooleanArray>()
                .ok_or_else(|| StageError::internal(format!("the flag of {} is not a boolean", flag.id)))?;
            for row in v.values().set_indices().filter(|r| v.is_valid(*r)) {
                flag.rows += 1;
                if flag.action == QualityAction::Quarantine {
                    reasons[row].push(i);
                }
            }
        }
        let mut misfit_reasons = Vec::new();
        for &c in &money {
            let column = incoming_schema.field(c).name();
            for row in money::misfits(batch.column(c)) {
                reasons[row].push(flags.len() + misfit_reasons.len());
            }
            misfit_reasons.push((
                format!("{name}.money.{column}"),
                format!("{column} is not an amount that fits decimal({MONEY_PRECISION},{MONEY_SCALE})"),
            ));
        }
        let mut keep = vec![true; n];
        for (row, why) in reasons.iter().enumerate().filter(|(_, why)| !why.is_empty()) {
            keep[row] = false;
            set_aside += 1;
            let key: Vec<String> =
                pk_index.iter().map(|c| array_value_to_string(batch.column(*c), row).unwrap_or_default()).collect();
            let json = row_json(&batch, row, data_columns);
            for &r in why {
                let (id, reason) = match flags.get(r) {
                    Some(f) => (f.id.as_str(), f.reason.as_str()),
                    None => {
                        let (id, reason) = &misfit_reasons[r - flags.len()];
                        (id.as_str(), reason.as_str())
                    }
                };
                aside.push(id, reason, &key, &json);
            }
        }
        aside.flush_batch(settings, sink, name).await?;
        let data: Vec<usize> = (0..data_columns).collect();
        let mut kept = batch.project(&data).map_err(|e| StageError::internal(e.to_string()))?;
        if keep.iter().any(|k| !k) {
            kept = deltalake::arrow::compute::filter_record_batch(&kept, &BooleanArray::from(keep))
                .map_err(|e| StageError::internal(e.to_string()))?;
        }
        if kept.num_rows() == 0 {
            continue;
        }
        rows_out += kept.num_rows();
        let mut out: Vec<ArrayRef> = kept
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| match money.contains(&i) {
                true => Ok(money::conform(c)),
                false if c.data_type() != conformed.field(i).data_type() => {
                    cast(c, conformed.field(i).data_type()).map_err(|e| StageError::internal(e.to_string()))
                }
                false => Ok(c.clone()),
            })
            .collect::<Result<_>>()?;
        out.push(Arc::new(StringArray::from(vec![settings.run_id.as_str(); kept.num_rows()])));
        let out = RecordBatch::try_new(target_schema.clone(), out).map_err(|e| StageError::internal(e.to_string()))?;
        writer.write(out).await.map_err(|e| from_delta("write", e))?;
    }
    if rows_out + set_aside != rows_in {
        return Err(StageError::internal(format!(
            "{name}: {rows_in} rows in, {rows_out} out, {set_aside} quarantined: the counts do not reconcile"
        )));
    }
    summary.rows_read = rows_in as u64;
    let failures: Vec<String> = flags
        .iter()
        .filter(|f| f.action == QualityAction::Fail && f.rows > 0)
        .map(|f| format!("{} ({} rows)", f.id, f.rows))
        .collect();
    if !failures.is_empty() {
        writer.reset();
        return Err(StageError::data(format!(
            "{name} breaks fail rules: {}; nothing was written",
            failures.join(", ")
        )));
    }
    let warnings: BTreeMap<&str, u64> = flags
        .iter()
        .filter(|f| f.action == QualityAction::Warn && f.rows > 0)
        .map(|f| (f.id.as_str(), f.rows))
        .collect();
    if !warnings.is_empty() {
        let list = warnings.iter().map(|(r, n)| format!("{r}: {n}")).collect::<Vec<_>>().join(", ");
        tracing::warn!(table = name, rules = %list, "quality warnings");
        summary.note = Some(format!("warnings: {list}"));
    }
    // The table exists from the first run on, empty if its source is.
    let mut target = sink.lake.open_or_create(SILVER, name, &target_schema, &[]).await?;
    let Some(newest) = newest else {
        summary.note = Some("no new bronze rows".into());
        summary.delta_version = target.version().map(|v| v as i64);
        return Ok(());
    };
    // Quarantine first (exactly once per newest ingestion time), then the silver commit that records it.
    aside.commit(settings, sink, name, newest).await?;
    summary.rows_quarantined = set_aside as u64;
    let properties = lake::commit_properties(&app_id(name), newest, &settings.run_id);
    // Committed even when every row was set aside: the transaction records that these rows were merged.
    let mut writer = writer.with_commit_properties(properties);
    let version = writer.flush_and_commit(&mut target).await.map_err(|e| from_delta("commit", e))?;
    summary.rows_written = rows_out as u64;
    summary.delta_version = Some(version as i64);
    Ok(())
}

/// `schema` as the silver table stores it: the float money columns at `money` as money decimals, and strings as
/// plain strings (DataFusion reads parquet strings as views; a Delta table's schema has no view types).
fn stored(schema: &Schema, money: &[usize]) -> Schema {
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| match (money.contains(&i), f.data_type()) {
            (true, _) => f.as_ref().clone().with_data_type(money::money_type()),
            (false, DataType::Utf8View) => f.as_ref().clone().with_data_type(DataType::Utf8),
            (false, DataType::BinaryView) => f.as_ref().clone().with_data_type(DataType::Binary),
            _ => f.as_ref().clone(),
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// The quarantined rows of one table, streamed to the quarantine table's writer (opened at the first row).
#[derive(Default)]
struct QuarantineWriter {
    writer: Option<RecordBatchWriter>,
    /// The current batch's rows: rule, reason, key, row.
    pending: Vec<Quarantined>,
    rows: usize,
}

impl QuarantineWriter {
    fn push(&mut self, rule: &str, reason: &str, key: &[String], row: &str) {
        self.pending.push(Quarantined {
            rule: rule.to_string(),
            reason: reason.to_string(),
            key: key.join("|"),
            row: row.to_string(),
        });
    }

    /// Writes the pending rows (uncommitted until [`Self::commit`]).
    async fn flush_batch(&mut self, settings: &Settings, sink: &Sink<'_>, name: &str) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.writer.is_none() {
            let _turn = sink.quarantine.lock().await;
            self.writer = Some(sink.lake.writer(SILVER, QUARANTINE, &quarantine_schema()).await?);
        }
        let rows = std::mem::take(&mut self.pending);
        self.rows += rows.len();
        let batch = quarantine_batch(name, &rows, &settings.run_id, sink.now)?;
        let writer = self.writer.as_mut().expect("opened above");
        writer.write(batch).await.map_err(|e| from_delta("write quarantine", e))
    }

    /// Commits the rows written, once per table and newest ingestion time (a rerun after a crash between this
    /// commit and silver's finds the transaction and commits nothing twice); one committer at a time.
    async fn commit(self, settings: &Settings, sink: &Sink<'_>, name: &str, newest: i64) -> Result<()> {
        let Some(writer) = self.writer else { return Ok(()) };
        let _turn = sink.quarantine.lock().await;
        let mut qt = sink.lake.open_or_create(SILVER, QUARANTINE, &quarantine_schema(), &[]).await?;
        let app = format!("amali/quarantine/{name}");
        if lake::txn_version(&qt, &app).await?.is_some_and(|v| v >= newest) {
            return Ok(());
        }
        let mut writer = writer.with_commit_properties(lake::commit_properties(&app, newest, &settings.run_id));
        writer.flush_and_commit(&mut qt).await.map_err(|e| from_delta("commit quarantine", e))?;
        tracing::debug!(table = name, rows = self.rows, "quarantined");
        Ok(())
    }
}

/// Whether a table's silver load is its first: no silver table, or one that never merged a row (created empty
/// while its source was).
pub(super) async fn is_first(existing: Option<&DeltaTable>, name: &str) -> Result<bool> {
    let Some(t) = existing else { return Ok(true) };
    let files = t.snapshot().map_err(|e| from_delta("snapshot", e))?.log_data().num_files();
    Ok(files == 0 && lake::txn_version(t, &app_id(name)).await?.is_none())
}

/// Whether a first load of `bronze` is small enough to hold (the in-memory path, faster on small tables): its
/// parquet bytes times [`HOLD_FACTOR`] within the memory limit. `AMALI_SILVER_STREAMING=always` streams every
/// first load (to reproduce what a large table does on small data; the tests compare the two paths).
pub(super) fn fits_in_memory(bronze: &DeltaTable, limit: u64) -> Result<bool> {
    if std::env::var("AMALI_SILVER_STREAMING").is_ok_and(|v| v == "always") {
        return Ok(false);
    }
    let snapshot = bronze.snapshot().map_err(|e| from_delta("snapshot", e))?;
    let bytes: u64 = snapshot.log_data().iter().map(|f| f.size().max(0) as u64).sum();
    Ok(bytes.saturating_mul(HOLD_FACTOR) <= limit)
}

/// How much memory the in-memory path takes per byte of bronze parquet: decoded Arrow is about 4x the compressed
/// bytes, and it holds about four copies while checking and writing, for up to three tables at once.
pub const HOLD_FACTOR: u64 = 48;

/// The silver schema of a table whose bronze has no row yet (the table exists from the first run on).
pub(super) fn empty_schema(table: &Table, columns: &[&crate::schema::Column]) -> Schema {
    let mut fields: Vec<deltalake::arrow::datatypes::Field> =
        columns.iter().map(|c| table.silver_field(c).with_nullable(true)).collect();
    fields.push(deltalake::arrow::datatypes::Field::new(
        "_ingested_at",
        DataType::Timestamp(deltalake::arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into())),
        true,
    ));
    silver_schema(&Schema::new(fields))
}
