//! One upsert for every table of the lake that is updated by key (silver's conformed tables, the incremental
//! models), a builder you `.await` like delta-rs's own operations:
//!
//! ```ignore
//! let (table, metrics) = Upsert::new(&ctx, table, source)
//!     .on(["id"])
//!     .when_changed("s._ingested_at >= t._ingested_at")
//!     .with_commit_properties(properties)
//!     .await?;
//! ```
//!
//! A source row whose key the table does not hold is inserted; one whose key it holds replaces that row when the
//! `when_changed` predicate (over the source `s` and the target `t`) holds, or always without one; a source row
//! flagged by the `deleting` column deletes the row of its key. Everything lands in one commit with the given
//! properties (a Delta `txn` there makes it exactly once).
//!
//! How: an unpartitioned table whose columns are the source's is written directly, which leaves the same rows as
//! delta-rs's merge for less (the merge reads every file in the source's key range whole, evaluates every clause on
//! every row, and rewrites a file when one row of it changes). The source is joined to the table's rows in the
//! source's key range only (files outside it are skipped by their statistics, pages outside it by the page index,
//! since the upsert writes in key order); the join says which held rows change and which files hold them. Only new
//! rows: they are appended. Changed or deleted rows: only the files holding them are rewritten (their untouched rows
//! and the new and changed rows, in key order, in files of about [`FILE_BYTES`]; merged, not sorted: see `rewrite.rs`),
//! removed and added in one commit.
//! Nothing to write: the commit records the transaction alone. A partitioned table, and a source with columns the
//! table lacks, go through delta-rs's merge, which evolves the schema.

use std::collections::BTreeSet;
use std::future::{Future, IntoFuture};
use std::num::NonZeroU64;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use deltalake::DeltaTable;
use deltalake::arrow::array::{Array, AsArray};
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::{DataType, Schema};
use deltalake::datafusion::datasource::MemTable;
use deltalake::datafusion::prelude::{DataFrame, SessionContext, ident};
use deltalake::kernel::Action;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::operations::optimize::OptimizeType;
use deltalake::protocol::{DeltaOperation, MergePredicate, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use futures::StreamExt;

use super::{from_delta, typed_as};
use crate::error::{Result, StageError, df_err};
use crate::schema::{Engine, quote};
use crate::telemetry::lap;

/// The size of the files the upsert's own writes aim at: each file then holds a narrow key range, so a later upsert,
/// whose new keys are the newest, reads only the last files instead of the whole table.
pub const FILE_BYTES: u64 = 16 << 20;

/// The column of the scan that names the file a held row is in.
const FILE_COLUMN: &str = "__upsert_held_in";

/// What an upsert did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpsertMetrics {
    /// Rows inserted (their key was not in the table).
    pub inserted: usize,
    /// Rows replaced by a changed source row.
    pub updated: usize,
    /// Rows deleted by a flagged source row.
    pub deleted: usize,
    /// The table was written directly (appended to, or only its files holding changed rows rewritten) instead of
    /// merged by delta-rs.
    pub rewritten: bool,
    /// How many of the table's files were rewritten (a direct write that only appended rewrites none).
    pub files_rewritten: usize,
}

impl UpsertMetrics {
    /// One line for the log: `"3 inserted, 2 updated, 1 deleted (written directly, 1 file rewritten)"`.
    pub fn describe(&self) -> String {
        let how = match (self.rewritten, self.files_rewritten) {
            (false, _) => String::new(),
            (true, 1) => " (written directly, 1 file rewritten)".into(),
            (true, n) => format!(" (written directly, {n} files rewritten)"),
        };
        format!("{} inserted, {} updated, {} deleted{how}", self.inserted, self.updated, self.deleted)
    }
}

/// An upsert of `source` into a Delta table: see the module docs.
pub struct Upsert<'a> {
    ctx: &'a SessionContext,
    table: DeltaTable,
    source: DataFrame,
    keys: Vec<String>,
    nullable_keys: BTreeSet<String>,
    changed: Option<String>,
    deleting: Option<String>,
    properties: CommitProperties,
}

/// Names of the relations an upsert registers, unique per upsert so that upserts can share a session.
static NEXT: AtomicUsize = AtomicUsize::new(0);

impl<'a> Upsert<'a> {
    /// An upsert of `source` into `table`, planned in `ctx`.
    pub fn new(ctx: &'a SessionContext, table: DeltaTable, source: DataFrame) -> Self {
        Upsert {
            ctx,
            table,
            source,
            keys: Vec::new(),
            nullable_keys: BTreeSet::new(),
            changed: None,
            deleting: None,
            properties: CommitProperties::default(),
        }
    }

    /// The columns that identify a row (the key first): a source row matches the table's row with the same values.
    pub fn on<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Self {
        self.keys = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Key columns that may be NULL, where NULL matches NULL (an aggregate's NULL group is a key like the others).
    /// The others are compared plainly, which lets the merge skip the files outside the source's key range.
    pub fn nulls_match<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.nullable_keys = columns.into_iter().map(Into::into).collect();
        self
    }

    /// Replace a held row only when this predicate over the source `s` and the target `t` holds (default: always).
    pub fn when_changed(mut self, predicate: impl Into<String>) -> Self {
        self.changed = Some(predicate.into());
        self
    }

    /// The source's boolean column that marks a row as a deletion of its key's row (the column is not written).
    pub fn deleting(mut self, flag: impl Into<String>) -> Self {
        self.deleting = Some(flag.into());
        self
    }

    /// The properties of the commit (application transaction, metadata).
    pub fn with_commit_properties(mut self, properties: CommitProperties) -> Self {
        self.properties = properties;
        self
    }

    fn on_clause(&self) -> String {
        self.keys
            .iter()
            .map(|k| {
                if self.nullable_keys.contains(k) {
                    format!("{} = {}", null_safe("t", k), null_safe("s", k))
                } else {
                    format!("t.{0} = s.{0}", q(k))
                }
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// The source's columns that are written (the deletion flag left out).
    fn written_columns(&self) -> Vec<String> {
        let flag = self.deleting.as_deref();
        self.source.schema().fields().iter().map(|f| f.name().clone()).filter(|c| Some(c.as_str()) != flag).collect()
    }

    async fn run(self) -> Result<(DeltaTable, UpsertMetrics)> {
        if self.keys.is_empty() {
            return Err(StageError::internal("an upsert needs the key columns (.on)"));
        }
        if let Some(done) = self.write_directly().await? {
            return Ok(done);
        }
        self.merge().await
    }

    /// The direct path (see the module docs); `None` when it does not apply.
    async fn write_directly(&self) -> Result<Option<(DeltaTable, UpsertMetrics)>> {
        let snapshot = self.table.snapshot().map_err(|e| from_delta("snapshot", e))?;
        if !snapshot.metadata().partition_columns().is_empty() {
            return Ok(None);
        }
        let provider =
            super::scan(&self.table, self.ctx).with_file_column(FILE_COLUMN).await.map_err(df_err("scan"))?;
        let scanned = provider.schema();
        let theirs: BTreeSet<String> = self.written_columns().into_iter().collect();
        let ours: BTreeSet<String> =
            scanned.fields().iter().map(|f| f.name().clone()).filter(|c| c != FILE_COLUMN).collect();
        if theirs != ours {
            return Ok(None);
        }
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let (target, source, upserts) = (format!("__upsert_t{n}"), format!("__upsert_s{n}"), format!("__upsert_u{n}"));
        let names = [&target, &source, &upserts];
        let table_name =
            self.table.table_url().path().trim_end_matches('/').rsplit('/').next().unwrap_or("").to_string();
        let mut clock = std::time::Instant::now();
        let result = async {
            self.ctx
                .register_table(source.as_str(), self.source.clone().into_view())
                .map_err(df_err("upsert source"))?;
            // Only the target's rows in the source's key range are read: the scan skips the files outside it by
            // their statistics, and the pages outside it by the files' page indexes (keys are written in order).
            let key = &self.keys[0];
            let range = super::key_ranges(self.ctx, &source, &q(key), self.nullable_keys.contains(key)).await?;
            let held = self.ctx.read_table(provider).map_err(df_err("scan"))?;
            let held = super::within(held, key, &range)?;
            self.ctx.register_table(target.as_str(), held.into_view()).map_err(df_err("scan"))?;
            let on = self.on_clause();
            let delete = self.deleting.as_ref().map_or("false".to_string(), |f| format!("s.{}", q(f)));
            let changed = self.changed.clone().unwrap_or_else(|| "true".into());
            // Each source row that writes something, with the file of the row its key holds: new rows (unless
            // deletions), deletions of held rows, and held rows that changed.
            let sql = format!(
                "SELECT s.*, t.{FILE_COLUMN} AS __upsert_file, {delete} AS __upsert_delete \
                 FROM {source} s LEFT JOIN {target} t ON {on} \
                 WHERE (t.{FILE_COLUMN} IS NULL AND NOT {delete}) \
                 OR (t.{FILE_COLUMN} IS NOT NULL AND ({delete} OR ({changed})))"
            );
            let rows = self.ctx.sql(&sql).await.map_err(df_err("rows to write"))?;
            let rows = rows.collect().await.map_err(df_err("rows to write"))?;
            lap(&table_name, "upsert: rows to write", &mut clock);
            let mut metrics = UpsertMetrics { rewritten: true, ..UpsertMetrics::default() };
            let mut files = BTreeSet::new();
            for batch in &rows {
                // delta-rs gives the file as a dictionary of strings: read as plain text (a no-op if it already is).
                let file = cast(batch.column(batch.num_columns() - 2), &DataType::Utf8)
                    .map_err(|e| StageError::internal(format!("the upsert's file column: {e}")))?;
                let (file, deleted) = (file.as_string::<i32>(), batch.column(batch.num_columns() - 1).as_boolean());
                for i in 0..batch.num_rows() {
                    match (file.is_valid(i), deleted.value(i)) {
                        (false, _) => metrics.inserted += 1,
                        (true, false) => metrics.updated += 1,
                        (true, true) => metrics.deleted += 1,
                    }
                    if file.is_valid(i) {
                        files.insert(file.value(i).to_string());
                    }
                }
            }
            let Some(first) = rows.first() else {
                // Nothing changed: the commit records the transaction alone.
                return Ok(Some((self.commit(Vec::new(), &range).await?, metrics)));
            };
            let table_schema =
                Schema::new(scanned.fields().iter().filter(|f| f.name() != FILE_COLUMN).cloned().collect::<Vec<_>>());
            let mem = MemTable::try_new(first.schema(), vec![rows.clone()]).map_err(df_err("rows to write"))?;
            self.ctx.register_table(upserts.as_str(), Arc::new(mem)).map_err(df_err("rows to write"))?;
            let new = self
                .ctx
                .sql(&format!("SELECT * FROM {upserts} WHERE NOT __upsert_delete"))
                .await
                .map_err(df_err("rows to write"))?;
            let new = typed_as(new, &table_schema, "rows to write")?;
            if files.is_empty() {
                let written = write_in_key_order(
                    self.ctx,
                    self.table.clone(),
                    new,
                    &self.keys,
                    SaveMode::Append,
                    self.properties.clone(),
                )
                .await?;
                return Ok(Some((written, metrics)));
            }
            // The files that hold a changed or deleted row are rewritten: their other rows, and the new and
            // changed rows, in key order; the other files stay as they are.
            // Keys that may be NULL are matched by a query (NULL = NULL); the others without one.
            let mut actions = if self.nullable_keys.is_empty() {
                let upserts = super::rewrite::Upserts { batches: &rows, keys: &self.keys };
                super::rewrite::rewrite(self.ctx, &self.table, upserts, &files).await?
            } else {
                let holding = super::scan(&self.table, self.ctx)
                    .with_file_paths(files.iter().cloned())
                    .await
                    .map_err(df_err("scan"))?;
                self.ctx.deregister_table(target.as_str()).map_err(df_err("scan"))?;
                self.ctx.register_table(target.as_str(), holding).map_err(df_err("scan"))?;
                let kept = format!("SELECT * FROM {target} t WHERE NOT EXISTS (SELECT 1 FROM {upserts} s WHERE {on})");
                let kept = self.ctx.sql(&kept).await.map_err(df_err("rows kept"))?;
                let kept = typed_as(kept, &table_schema, "rows kept")?;
                self.write_files(kept.union(new).map_err(df_err("rows to write"))?).await?
            };
            lap(&table_name, "upsert: files rewritten", &mut clock);
            let mut root = self.table.table_url().clone();
            if !root.path().ends_with('/') {
                root.set_path(&format!("{}/", root.path()));
            }
            let held: Vec<_> = snapshot
                .log_data()
                .into_iter()
                .filter(|f| root.join(f.path().as_ref()).is_ok_and(|url| files.contains(url.as_str())))
                .map(|f| Action::Remove(f.remove_action(true)))
                .collect();
            if held.len() != files.len() {
                return Err(StageError::internal(format!(
                    "the upsert found rows in {} files and {} of them in the table's log",
                    files.len(),
                    held.len()
                )));
            }
            metrics.files_rewritten = held.len();
            actions.extend(held);
            Ok(Some((self.commit(actions, &range).await?, metrics)))
        }
        .await;
        for name in names {
            let _ = self.ctx.deregister_table(name.as_str());
        }
        result
    }

    /// `rows` written to new files of the table in key order, of about [`FILE_BYTES`] each: their `Add` actions.
    async fn write_files(&self, rows: DataFrame) -> Result<Vec<Action>> {
        let by_key = self.keys.iter().map(|k| ident(k).sort(true, false)).collect();
        let mut writer = RecordBatchWriter::for_table(&self.table)
            .map_err(|e| from_delta("open writer", e))?
            .with_writer_properties(super::writer_properties())
            .with_target_file_size(FILE_BYTES);
        let rows = typed_as(rows, &writer.arrow_schema(), "rows to write")?;
        let rows = rows.sort(by_key).map_err(df_err("order by key"))?;
        let mut stream = rows.execute_stream().await.map_err(df_err("rows to write"))?;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(df_err("rows to write"))?;
            writer.write(batch).await.map_err(|e| from_delta("write", e))?;
        }
        let adds = writer.flush().await.map_err(|e| from_delta("write", e))?;
        Ok(adds.into_iter().map(Action::Add).collect())
    }

    /// Commits `actions` (none: the transaction alone) as this upsert, with its properties; the table after it.
    async fn commit(&self, actions: Vec<Action>, range: &Option<super::KeyRanges>) -> Result<DeltaTable> {
        let operation = DeltaOperation::Merge {
            predicate: range
                .as_ref()
                .and_then(|r| r.bounds())
                .map(|(lo, hi)| format!("t.{} BETWEEN {lo} AND {hi}", q(&self.keys[0]))),
            merge_predicate: Some(self.on_clause()),
            matched_predicates: vec![
                MergePredicate {
                    action_type: "update".into(),
                    predicate: Some(self.changed.clone().unwrap_or_else(|| "true".into())),
                },
                MergePredicate {
                    action_type: "delete".into(),
                    predicate: Some(self.deleting.as_ref().map_or("false".into(), |f| format!("s.{}", q(f)))),
                },
            ],
            not_matched_predicates: vec![MergePredicate { action_type: "insert".into(), predicate: None }],
            not_matched_by_source_predicates: Vec::new(),
        };
        let snapshot = self.table.snapshot().map_err(|e| from_delta("snapshot", e))?;
        CommitBuilder::from(self.properties.clone())
            .with_actions(actions)
            .build(Some(snapshot), self.table.log_store(), operation)
            .await
            .map_err(|e| from_delta("commit", e))?;
        let mut table = self.table.clone();
        table.update_incremental(None).await.map_err(|e| from_delta("reload", e))?;
        Ok(table)
    }

    /// delta-rs's merge: delete flagged rows' keys, replace changed rows, insert new ones, in one commit.
    async fn merge(self) -> Result<(DeltaTable, UpsertMetrics)> {
        let on = self.on_clause();
        let columns = self.written_columns();
        let (changed, deleting) = (self.changed.clone(), self.deleting.clone());
        let name = self.table.table_url().to_string();
        let mut builder = self
            .table
            .merge(self.source, on.as_str())
            .with_source_alias("s")
            .with_target_alias("t")
            .with_merge_schema(true)
            .with_writer_properties(super::writer_properties())
            .with_commit_properties(self.properties);
        if let Some(flag) = &deleting {
            builder = builder
                .when_matched_delete(|d| d.predicate(format!("s.{}", q(flag))))
                .map_err(|e| from_delta("merge", e))?;
        }
        let (table, metrics) = builder
            .when_matched_update(|u| {
                let mut u = match &changed {
                    Some(p) => u.predicate(p.as_str()),
                    None => u,
                };
                for c in &columns {
                    u = u.update(c.as_str(), format!("s.{}", q(c)).as_str());
                }
                u
            })
            .and_then(|m| {
                m.when_not_matched_insert(|i| {
                    let mut i = match &deleting {
                        Some(flag) => i.predicate(format!("NOT s.{}", q(flag))),
                        None => i,
                    };
                    for c in &columns {
                        i = i.set(c.as_str(), format!("s.{}", q(c)).as_str());
                    }
                    i
                })
            })
            .map_err(|e| from_delta("merge", e))?
            .await
            .map_err(|e| from_delta(&format!("merge into {name}"), e))?;
        tracing::debug!(
            table = %name,
            files_scanned = metrics.num_target_files_scanned,
            files_skipped = metrics.num_target_files_skipped_during_scan,
            files_added = metrics.num_target_files_added,
            files_removed = metrics.num_target_files_removed,
            rows_copied = metrics.num_target_rows_copied,
            scan_ms = metrics.scan_time_ms,
            rewrite_ms = metrics.rewrite_time_ms,
            total_ms = metrics.execution_time_ms,
            "merge"
        );
        let metrics = UpsertMetrics {
            inserted: metrics.num_target_rows_inserted,
            updated: metrics.num_target_rows_updated,
            deleted: metrics.num_target_rows_deleted,
            ..UpsertMetrics::default()
        };
        Ok((table, metrics))
    }
}

impl<'a> IntoFuture for Upsert<'a> {
    type Output = Result<(DeltaTable, UpsertMetrics)>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// A table with more than this many files under a quarter of [`FILE_BYTES`] (eight times as many when it is
/// partitioned: it gets a file per partition written) is compacted ([`compact_small_files`]).
pub const COMPACT_AFTER_SMALL_FILES: usize = 16;

/// Whether a table of files of these sizes is compacted: more than [`COMPACT_AFTER_SMALL_FILES`] small ones (eight
/// times as many when `partitioned`). Only the small files count (each upsert or incremental build that inserts
/// appends one): a large table is many full-size files, and counting those made every incremental build of
/// `fact_order_items` at scale 10 Z-order its 30M rows again (52 s of a 74 s run).
pub fn needs_compaction(sizes: impl IntoIterator<Item = u64>, partitioned: bool) -> bool {
    let small = sizes.into_iter().filter(|size| *size < FILE_BYTES / 4).count();
    small > if partitioned { COMPACT_AFTER_SMALL_FILES * 8 } else { COMPACT_AFTER_SMALL_FILES }
}

/// Compacts `table` once it holds many small files ([`needs_compaction`]), in one commit with `properties` that
/// changes no row: bin-packed into files of about [`FILE_BYTES`] in log order, so the key ranges of appended files
/// stay together; or, with `zorder` columns, Z-ordered, which delta-rs does for every file of the table (so only
/// that often). Returns the table after.
pub async fn compact_small_files(
    table: DeltaTable,
    zorder: Vec<String>,
    properties: CommitProperties,
) -> Result<DeltaTable> {
    let snapshot = table.snapshot().map_err(|e| from_delta("snapshot", e))?;
    let partitioned = !snapshot.metadata().partition_columns().is_empty();
    if !needs_compaction(snapshot.log_data().into_iter().map(|f| f.size() as u64), partitioned) {
        return Ok(table);
    }
    let name = table.table_url().to_string();
    let kind = if zorder.is_empty() { OptimizeType::Compact } else { OptimizeType::ZOrder(zorder) };
    let clock = std::time::Instant::now();
    let (table, metrics) = table
        .optimize()
        .with_type(kind)
        .with_target_size(NonZeroU64::new(FILE_BYTES).unwrap_or(NonZeroU64::MIN))
        .with_writer_properties(super::writer_properties())
        .with_commit_properties(properties)
        .await
        .map_err(|e| from_delta(&format!("compact {name}"), e))?;
    tracing::info!(
        table = %name,
        removed = metrics.num_files_removed,
        added = metrics.num_files_added,
        ms = clock.elapsed().as_millis() as u64,
        "compacted"
    );
    Ok(table)
}

/// Writes `rows` to `target` in one commit, in `key` order and in files of about [`FILE_BYTES`] (see there).
pub async fn write_in_key_order(
    ctx: &SessionContext,
    target: DeltaTable,
    rows: DataFrame,
    key: &[impl AsRef<str>],
    mode: SaveMode,
    properties: CommitProperties,
) -> Result<DeltaTable> {
    let by_key = key.iter().map(|k| ident(k.as_ref()).sort(true, false)).collect();
    let rows = rows.sort(by_key).map_err(df_err("order by key"))?;
    target
        .write(Vec::new())
        .with_input_plan(rows.logical_plan().clone())
        .with_session_state(Arc::new(ctx.state()))
        .with_target_file_size(NonZeroU64::new(FILE_BYTES))
        .with_writer_properties(super::writer_properties())
        .with_save_mode(mode)
        .with_commit_properties(properties)
        .await
        .map_err(|e| from_delta("write", e))
}

/// A column name quoted for DataFusion SQL.
fn q(name: &str) -> String {
    quote(Engine::Postgres, name)
}

/// A column compared so that NULL equals NULL (and no value equals the marker).
pub fn null_safe(alias: &str, column: &str) -> String {
    format!("COALESCE(CAST({alias}.{} AS VARCHAR), '\u{1}')", q(column))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use deltalake::arrow::array::{BooleanArray, Int64Array, RecordBatch, StringArray};
    use deltalake::arrow::datatypes::Field;

    use super::*;
    use crate::lake::{Lake, append, commit_properties, read_all, txn_version};

    fn schema(deleting: bool) -> Arc<Schema> {
        let mut fields = vec![Field::new("id", DataType::Int64, false), Field::new("v", DataType::Utf8, true)];
        if deleting {
            fields.push(Field::new("__delete", DataType::Boolean, false));
        }
        Arc::new(Schema::new(fields))
    }

    /// Rows `(id, v)`, with a deletion flag per row when `deletes` is given.
    fn batch(rows: &[(i64, &str)], deletes: Option<&[bool]>) -> RecordBatch {
        let mut columns: Vec<Arc<dyn Array>> = vec![
            Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
            Arc::new(StringArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
        ];
        if let Some(flags) = deletes {
            columns.push(Arc::new(BooleanArray::from(flags.to_vec())));
        }
        RecordBatch::try_new(schema(deletes.is_some()), columns).unwrap()
    }

    /// A table `name` of three files: ids 1-3, 4-6 and 7-9, each `v = "a"`.
    async fn three_files(lake: &Lake, name: &str) -> DeltaTable {
        let mut table = lake.open_or_create("silver", name, &schema(false), &[]).await.unwrap();
        for (txn, ids) in [[1, 2, 3], [4, 5, 6], [7, 8, 9]].into_iter().enumerate() {
            let rows: Vec<_> = ids.iter().map(|&i| (i, "a")).collect();
            let batches = futures::stream::iter([Ok(batch(&rows, None))]);
            append(&mut table, batches, "load", txn as i64, "run").await.unwrap();
        }
        table
    }

    /// [`three_files`] as table `t` of a lake in a temporary directory (deleted when the guard is dropped).
    async fn lake_of_three_files() -> (tempfile::TempDir, DeltaTable) {
        let dir = tempfile::tempdir().unwrap();
        let table = three_files(&Lake::new(dir.path().to_str().unwrap()), "t").await;
        (dir, table)
    }

    fn files(table: &DeltaTable) -> BTreeSet<String> {
        table.snapshot().unwrap().log_data().into_iter().map(|f| f.path().to_string()).collect()
    }

    async fn rows(table: &DeltaTable) -> BTreeMap<i64, String> {
        let mut rows = BTreeMap::new();
        for b in read_all(table).await.unwrap() {
            let b = typed(&b);
            let ids = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            let vs = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
            for i in 0..b.num_rows() {
                rows.insert(ids.value(i), vs.value(i).to_string());
            }
        }
        rows
    }

    /// `b`'s columns as the test's plain types (the scan may read strings as views).
    fn typed(b: &RecordBatch) -> RecordBatch {
        let columns = [b.column_by_name("id").unwrap(), b.column_by_name("v").unwrap()]
            .iter()
            .zip([DataType::Int64, DataType::Utf8])
            .map(|(c, t)| deltalake::arrow::compute::cast(c, &t).unwrap())
            .collect();
        RecordBatch::try_new(schema(false), columns).unwrap()
    }

    /// A session as the stages make them.
    fn session() -> SessionContext {
        crate::memory::session(&Arc::new(deltalake::datafusion::execution::runtime_env::RuntimeEnv::default()))
    }

    /// An upsert of `source` on `id`, replacing a held row when `v` differs, as transaction `txn` of app `test`.
    async fn upsert(table: DeltaTable, source: RecordBatch, txn: i64) -> (DeltaTable, UpsertMetrics) {
        let ctx = session();
        let deleting = source.schema().index_of("__delete").is_ok();
        let source = ctx.read_batch(source).unwrap();
        let mut upsert = Upsert::new(&ctx, table, source)
            .on(["id"])
            .when_changed("s.v IS DISTINCT FROM t.v")
            .with_commit_properties(commit_properties("test", txn, "run"));
        if deleting {
            upsert = upsert.deleting("__delete");
        }
        upsert.await.unwrap()
    }

    #[tokio::test]
    async fn only_the_file_holding_a_changed_row_is_rewritten() {
        let (_dir, table) = lake_of_three_files().await;
        let before = files(&table);
        // 5 changed, 6 extracted again unchanged, 10 new.
        let (after, metrics) = upsert(table, batch(&[(5, "b"), (6, "a"), (10, "a")], None), 1).await;
        assert_eq!((metrics.inserted, metrics.updated, metrics.deleted), (1, 1, 0));
        assert!(metrics.rewritten);
        assert_eq!(metrics.files_rewritten, 1, "only the file of ids 4-6");
        let now = files(&after);
        assert_eq!(before.difference(&now).count(), 1, "one file removed");
        assert_eq!(before.intersection(&now).count(), 2, "the other two kept as they were");
        let rows = rows(&after).await;
        assert_eq!(rows.len(), 10);
        assert_eq!(rows[&5], "b");
        assert!(rows.iter().all(|(id, v)| *id == 5 || v == "a"));
        assert_eq!(txn_version(&after, "test").await.unwrap(), Some(1));
    }

    /// The ids of each file of `table`, in the file's order (read with the Parquet reader, no query between).
    fn ids_by_file(table: &DeltaTable) -> Vec<Vec<i64>> {
        let root = table.table_url().to_file_path().unwrap();
        let mut out = Vec::new();
        for f in table.snapshot().unwrap().log_data() {
            let file = std::fs::File::open(root.join(f.path().as_ref())).unwrap();
            let reader =
                deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024).unwrap();
            let mut ids = Vec::new();
            for b in reader {
                let b = b.unwrap();
                ids.extend(
                    b.column_by_name("id").unwrap().as_primitive::<deltalake::arrow::datatypes::Int64Type>().values(),
                );
            }
            out.push(ids);
        }
        out.sort();
        out
    }

    #[tokio::test]
    async fn a_rewritten_file_is_in_key_order_with_the_new_keys_of_its_range_merged_in() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path().to_str().unwrap());
        let mut table = lake.open_or_create("silver", "t", &schema(false), &[]).await.unwrap();
        // One file not in key order (as a first load may leave it), with gaps at 4 and 8.
        let held = [(5, "a"), (1, "a"), (7, "a"), (2, "a"), (3, "a"), (9, "a")];
        append(&mut table, futures::stream::iter([Ok(batch(&held, None))]), "load", 0, "run").await.unwrap();
        // 7 changed, 2 deleted, 4 and 8 new keys inside the file's range, 12 beyond it.
        let source =
            batch(&[(7, "b"), (2, "a"), (4, "a"), (8, "a"), (12, "a")], Some(&[false, true, false, false, false]));
        let (after, metrics) = upsert(table, source, 1).await;
        assert_eq!((metrics.inserted, metrics.updated, metrics.deleted, metrics.files_rewritten), (3, 1, 1, 1));
        assert_eq!(ids_by_file(&after), [vec![1, 3, 4, 5, 7, 8, 9, 12]], "sorted once, the new keys merged in");
        // The next rewrite merges into the file in key order.
        let (again, _) = upsert(after, batch(&[(5, "c"), (6, "a"), (20, "a")], None), 2).await;
        assert_eq!(ids_by_file(&again), [vec![1, 3, 4, 5, 6, 7, 8, 9, 12, 20]]);
        let now = rows(&again).await;
        assert_eq!((now[&5].as_str(), now[&7].as_str(), now[&6].as_str()), ("c", "b", "a"));
    }

    #[tokio::test]
    async fn only_new_rows_are_appended_without_rewriting_a_file() {
        let (_dir, table) = lake_of_three_files().await;
        let before = files(&table);
        let (after, metrics) = upsert(table, batch(&[(9, "a"), (11, "a"), (10, "a")], None), 1).await;
        assert_eq!((metrics.inserted, metrics.updated, metrics.deleted, metrics.files_rewritten), (2, 0, 0, 0));
        assert!(before.is_subset(&files(&after)), "every file kept");
        assert_eq!(rows(&after).await.keys().copied().collect::<Vec<_>>(), (1..=11).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_source_that_changes_nothing_commits_its_transaction_alone() {
        let (_dir, table) = lake_of_three_files().await;
        let (version, before) = (table.version(), files(&table));
        let (after, metrics) = upsert(table, batch(&[(2, "a"), (8, "a")], None), 7).await;
        assert_eq!((metrics.inserted, metrics.updated, metrics.deleted), (0, 0, 0));
        assert_eq!(after.version(), version.map(|v| v + 1), "one commit");
        assert_eq!(files(&after), before);
        assert_eq!(txn_version(&after, "test").await.unwrap(), Some(7), "a rerun finds its transaction");
    }

    #[tokio::test]
    async fn a_flagged_row_deletes_its_key_and_leaves_as_delta_rs_merge_would() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path().to_str().unwrap());
        let source = || {
            let rows = [(2, "a"), (3, "c"), (8, "a"), (12, "a"), (13, "a")];
            batch(&rows, Some(&[true, false, false, false, true]))
        };
        let (direct, metrics) = upsert(three_files(&lake, "direct").await, source(), 1).await;
        assert_eq!((metrics.inserted, metrics.updated, metrics.deleted, metrics.files_rewritten), (1, 1, 1, 1));
        // The same upsert through delta-rs's merge.
        let ctx = session();
        let merged = Upsert::new(&ctx, three_files(&lake, "merged").await, ctx.read_batch(source()).unwrap())
            .on(["id"])
            .when_changed("s.v IS DISTINCT FROM t.v")
            .deleting("__delete")
            .with_commit_properties(commit_properties("test", 1, "run"));
        let (merged, by_merge) = merged.merge().await.unwrap();
        assert_eq!((by_merge.inserted, by_merge.updated, by_merge.deleted), (1, 1, 1));
        let rows = rows(&direct).await;
        assert_eq!(rows, self::rows(&merged).await);
        assert!(!rows.contains_key(&2) && !rows.contains_key(&13) && rows[&3] == "c" && rows[&12] == "a");
    }

    #[tokio::test]
    async fn many_small_files_are_compacted_without_changing_a_row() {
        let (_dir, mut table) = lake_of_three_files().await;
        let untouched = compact_small_files(table.clone(), Vec::new(), CommitProperties::default()).await.unwrap();
        assert_eq!(untouched.version(), table.version(), "three small files are left alone");
        // Each run's inserts append one small file.
        for txn in 3..=(COMPACT_AFTER_SMALL_FILES as i64 + 1) {
            let rows = [(txn * 10, "a"), (txn * 10 + 1, "a")];
            append(&mut table, futures::stream::iter([Ok(batch(&rows, None))]), "load", txn, "run").await.unwrap();
        }
        let before = rows(&table).await;
        assert_eq!(files(&table).len(), COMPACT_AFTER_SMALL_FILES + 2);
        let compacted = compact_small_files(table, Vec::new(), CommitProperties::default()).await.unwrap();
        assert_eq!(files(&compacted).len(), 1, "bin-packed into one file");
        assert_eq!(rows(&compacted).await, before);
        assert_eq!(txn_version(&compacted, "load").await.unwrap(), Some(COMPACT_AFTER_SMALL_FILES as i64 + 1));
    }

    #[test]
    fn a_table_is_compacted_for_its_small_files_not_for_its_size() {
        let full = FILE_BYTES;
        // A large table built whole: many full-size files, nothing to compact.
        assert!(!needs_compaction(std::iter::repeat_n(full, 60), false));
        // Seventeen incremental builds' small files beside them: compacted.
        let grown = std::iter::repeat_n(full, 60).chain(std::iter::repeat_n(1 << 20, COMPACT_AFTER_SMALL_FILES + 1));
        assert!(needs_compaction(grown.clone(), false));
        // A partitioned table holds a file per partition per build: it waits for eight times as many.
        assert!(!needs_compaction(grown, true));
        assert!(needs_compaction(std::iter::repeat_n(1 << 20, COMPACT_AFTER_SMALL_FILES * 8 + 1), true));
    }
}
