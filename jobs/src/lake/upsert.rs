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
//! How: a table of one unpartitioned file whose columns are the source's is written directly, which leaves the same
//! rows for less than delta-rs's merge (which reads that file whole, evaluates every clause on every row and, when
//! one row changes, rewrites the file anyway): only new rows are appended; otherwise the file's rows that no source
//! row touches and the new or changed rows replace it in one overwrite commit. Both writes are in key order, in
//! files of about [`FILE_BYTES`]. Every other table, and a source that changes nothing (its commit still records
//! the transaction), goes through delta-rs's merge, which evolves the schema when the source has new columns.

use std::collections::BTreeSet;
use std::future::{Future, IntoFuture};
use std::num::NonZeroU64;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use deltalake::DeltaTable;
use deltalake::arrow::array::BooleanArray;
use deltalake::datafusion::datasource::MemTable;
use deltalake::datafusion::prelude::{DataFrame, SessionContext, ident};
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;

use super::{from_delta, typed_as};
use crate::error::{Result, StageError, df_err};
use crate::schema::{Engine, quote};

/// The size of the files the upsert's own writes aim at: each file then holds a narrow key range, so a later upsert,
/// whose new keys are the newest, reads only the last files instead of the whole table.
pub const FILE_BYTES: u64 = 16 << 20;

/// What an upsert did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpsertMetrics {
    /// Rows inserted (their key was not in the table).
    pub inserted: usize,
    /// Rows replaced by a changed source row.
    pub updated: usize,
    /// Rows deleted by a flagged source row.
    pub deleted: usize,
    /// The table's one file was written directly (appended to or rewritten) instead of merged.
    pub rewritten: bool,
}

impl UpsertMetrics {
    /// One line for the log: `"3 inserted, 2 updated, 1 deleted (its one file rewritten)"`.
    pub fn describe(&self) -> String {
        let how = if self.rewritten { " (its one file written directly)" } else { "" };
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

    /// The one-file path (see the module docs); `None` when it does not apply or nothing would be written.
    async fn write_directly(&self) -> Result<Option<(DeltaTable, UpsertMetrics)>> {
        let snapshot = self.table.snapshot().map_err(|e| from_delta("snapshot", e))?;
        if snapshot.log_data().num_files() != 1 || !snapshot.metadata().partition_columns().is_empty() {
            return Ok(None);
        }
        let provider = super::scan(&self.table, self.ctx).await.map_err(df_err("scan"))?;
        let schema = provider.schema();
        let theirs: BTreeSet<String> = self.written_columns().into_iter().collect();
        let ours: BTreeSet<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        if theirs != ours {
            return Ok(None);
        }
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let (target, source, upserts) = (format!("__upsert_t{n}"), format!("__upsert_s{n}"), format!("__upsert_u{n}"));
        let names = [&target, &source, &upserts];
        let result = async {
            self.ctx.register_table(target.as_str(), provider).map_err(df_err("scan"))?;
            self.ctx
                .register_table(source.as_str(), self.source.clone().into_view())
                .map_err(df_err("upsert source"))?;
            let on = self.on_clause();
            let delete = self.deleting.as_ref().map_or("false".to_string(), |f| format!("s.{}", q(f)));
            let changed = self.changed.clone().unwrap_or_else(|| "true".into());
            // Each source row that writes something, with whether its key is held: new rows (unless deletions),
            // deletions of held rows, and held rows that changed.
            let sql = format!(
                "SELECT s.*, t.__upsert_held IS NOT NULL AS __upsert_matched, {delete} AS __upsert_delete \
                 FROM {source} s LEFT JOIN (SELECT *, true AS __upsert_held FROM {target}) t ON {on} \
                 WHERE (t.__upsert_held IS NULL AND NOT {delete}) \
                 OR (t.__upsert_held IS NOT NULL AND ({delete} OR ({changed})))"
            );
            let rows = self.ctx.sql(&sql).await.map_err(df_err("rows to write"))?;
            let rows = rows.collect().await.map_err(df_err("rows to write"))?;
            let Some(first) = rows.first() else { return Ok(None) };
            let mut metrics = UpsertMetrics { rewritten: true, ..UpsertMetrics::default() };
            for batch in &rows {
                let flag = |i: usize| {
                    batch
                        .column(batch.num_columns() - i)
                        .as_any()
                        .downcast_ref::<BooleanArray>()
                        .cloned()
                        .ok_or_else(|| StageError::internal("the upsert's flags are not booleans"))
                };
                let (matched, deleted) = (flag(2)?, flag(1)?);
                for i in 0..batch.num_rows() {
                    match (matched.value(i), deleted.value(i)) {
                        (false, _) => metrics.inserted += 1,
                        (true, false) => metrics.updated += 1,
                        (true, true) => metrics.deleted += 1,
                    }
                }
            }
            let mem = MemTable::try_new(first.schema(), vec![rows]).map_err(df_err("rows to write"))?;
            self.ctx.register_table(upserts.as_str(), Arc::new(mem)).map_err(df_err("rows to write"))?;
            let new = self
                .ctx
                .sql(&format!("SELECT * FROM {upserts} WHERE NOT __upsert_delete"))
                .await
                .map_err(df_err("rows to write"))?;
            let new = typed_as(new, &schema, "rows to write")?;
            let (rows, mode) = if metrics.updated == 0 && metrics.deleted == 0 {
                (new, SaveMode::Append)
            } else {
                let kept = format!("SELECT * FROM {target} t WHERE NOT EXISTS (SELECT 1 FROM {upserts} s WHERE {on})");
                let kept = typed_as(self.ctx.sql(&kept).await.map_err(df_err("rows kept"))?, &schema, "rows kept")?;
                (kept.union(new).map_err(df_err("rows to write"))?, SaveMode::Overwrite)
            };
            let written =
                write_in_key_order(self.ctx, self.table.clone(), rows, &self.keys, mode, self.properties.clone())
                    .await?;
            Ok(Some((written, metrics)))
        }
        .await;
        for name in names {
            let _ = self.ctx.deregister_table(name.as_str());
        }
        result
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
            rewritten: false,
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
