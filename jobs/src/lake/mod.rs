//! The Delta lake: tables under `<lake>/<layer>/<table>` (a local directory or `s3://`), written with delta-rs.
//!
//! Appends are exactly once per application transaction: a commit carries a Delta `txn` action (app id + version)
//! and, in its commit info, the same pair as metadata. Before writing, a stage asks the table for the version of its
//! app id; if the table already has it, the write happened (the stage was killed after the commit) and is not
//! repeated. delta-rs records the `txn` but does not skip a replay by itself, so the check is here.
//! On S3, commits use S3's conditional put (If-None-Match), so two writers can never both create one version.

mod ranges;
mod rewrite;
mod upsert;

use std::sync::Arc;

use deltalake::DeltaTable;
use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::datatypes::Schema;
use deltalake::kernel::StructType;
use deltalake::kernel::Transaction;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::parquet::basic::Compression;
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};

use deltalake::datafusion::prelude::{DataFrame, SessionContext, ident};

use amali_core::stage::StageErrorKind;

use crate::error::{Result, StageError, df_err};

pub use ranges::{KeyRanges, key_ranges, within};
pub use upsert::{FILE_BYTES, Upsert, UpsertMetrics, compact_small_files, null_safe, write_in_key_order};

/// The bronze layer's directory: the landing tables' rows, append-only.
pub const BRONZE: &str = "bronze";
/// The silver layer's directory: conformed tables and the silver data products.
pub const SILVER: &str = "silver";
/// The gold layer's directory: KPI tables and the star schema.
pub const GOLD: &str = "gold";

/// Commit-info metadata keys amali writes.
pub const META_APP_ID: &str = "amali.app_id";
/// The transaction version in the commit info.
pub const META_TXN_VERSION: &str = "amali.txn_version";
/// The run id in the commit info.
pub const META_RUN_ID: &str = "amali.run_id";

/// Every this many commits a table amali creates gets a checkpoint (`delta.checkpointInterval`; Delta's default is
/// 100). Opening a table replays the JSON commits since its last checkpoint: a table a daily run commits to two or
/// three times would otherwise replay up to a hundred of them at every open, one request each on S3.
pub const CHECKPOINT_INTERVAL: u64 = 10;

/// The table properties amali creates tables with (see [`CHECKPOINT_INTERVAL`]).
pub fn table_properties() -> Vec<(String, Option<String>)> {
    vec![(deltalake::TableProperty::CheckpointInterval.as_ref().to_string(), Some(CHECKPOINT_INTERVAL.to_string()))]
}

/// Columns that may never be written to the lake, whatever the configuration says.
pub const FORBIDDEN_COLUMNS: &[&str] = &["password"];

/// Maps a delta-rs error (kept as the source): storage and commit conflicts are transient, the rest are bugs or bad
/// data.
pub fn from_delta(context: &str, e: deltalake::DeltaTableError) -> StageError {
    use deltalake::DeltaTableError as E;
    let kind = match &e {
        E::ObjectStore { .. } | E::Io { .. } | E::VersionAlreadyExists(_) | E::Transaction { .. } => {
            StageErrorKind::Transient
        }
        E::Arrow { .. } | E::SchemaMismatch { .. } | E::Parquet { .. } => StageErrorKind::Data,
        // delta-rs keeps only the text of a DataFusion error it does not map (`Generic`): a query of one of its
        // operations (a merge, a write) that ran out of the memory limit is the configuration's, as in `df_kind`.
        E::Generic(text) if text.starts_with("Resources exhausted") => {
            return crate::memory::exhausted(context, e);
        }
        _ => StageErrorKind::Internal,
    };
    StageError::new(kind, format!("{context}: {e}")).caused_by(e)
}

/// The lake root and the tables in it.
///
/// Clones share the tables opened so far: opening a table again brings the copy in hand up to date (delta-rs reads
/// only the commits after its version: one listing of the log when there are none) instead of replaying the whole
/// log, which a stage did for each table three to five times (its rules' parents, the models' inputs and outputs):
/// a tenth of a +1 % run's CPU.
#[derive(Debug, Clone)]
pub struct Lake {
    root: String,
    opened: Arc<std::sync::Mutex<std::collections::HashMap<String, DeltaTable>>>,
}

/// Registers delta-rs's S3 object store, once per process.
#[cfg(feature = "aws")]
fn register_s3() {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    REGISTER.call_once(|| deltalake::aws::register_handlers(None));
}

impl Lake {
    /// The lake at `root` (an absolute directory or a URL such as `s3://bucket/prefix`).
    pub fn new(root: impl Into<String>) -> Self {
        #[cfg(feature = "aws")]
        register_s3();
        Lake { root: root.into(), opened: Arc::default() }
    }

    /// The root.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// Where a table lives: `<root>/<layer>/<table>`.
    pub fn uri(&self, layer: &str, table: &str) -> String {
        format!("{}/{layer}/{table}", self.root.trim_end_matches('/'))
    }

    /// Opens a table at its latest version, or `None` when there is none yet.
    pub async fn open(&self, layer: &str, table: &str) -> Result<Option<DeltaTable>> {
        let uri = self.uri(layer, table);
        if !uri.contains("://") && !std::path::Path::new(&uri).join("_delta_log").exists() {
            self.forget(&uri);
            return Ok(None);
        }
        let held = self.opened.lock().ok().and_then(|opened| opened.get(&uri).cloned());
        let opened = match held {
            Some(mut t) => match t.update_incremental(None).await {
                Ok(()) => t,
                // Its log was rewritten under it (the directory deleted and the table made again): read it anew.
                Err(_) => return self.open_anew(&uri).await,
            },
            None => return self.open_anew(&uri).await,
        };
        self.remember(&uri, &opened);
        Ok(Some(opened))
    }

    /// Opens the table at `uri` by replaying its log, and keeps it for the next [`Self::open`].
    async fn open_anew(&self, uri: &str) -> Result<Option<DeltaTable>> {
        self.forget(uri);
        let url = deltalake::ensure_table_uri(uri).map_err(|e| from_delta(&format!("open {uri}"), e))?;
        match deltalake::open_table(url).await {
            Ok(table) => {
                self.remember(uri, &table);
                Ok(Some(table))
            }
            Err(deltalake::DeltaTableError::NotATable(_)) => Ok(None),
            Err(e) => Err(from_delta(&format!("open {uri}"), e)),
        }
    }

    fn remember(&self, uri: &str, table: &DeltaTable) {
        if let Ok(mut opened) = self.opened.lock() {
            opened.insert(uri.to_string(), table.clone());
        }
    }

    fn forget(&self, uri: &str) {
        if let Ok(mut opened) = self.opened.lock() {
            opened.remove(uri);
        }
    }

    /// A writer of `table`'s files that commits nothing itself: the table's own when it exists, else one for
    /// `schema` at its location, so that a load that fails before its commit leaves no table behind (the caller
    /// creates it with [`Self::open_or_create`] just before committing).
    pub async fn writer(&self, layer: &str, table: &str, schema: &Schema) -> Result<RecordBatchWriter> {
        if let Some(t) = self.open(layer, table).await? {
            return Ok(RecordBatchWriter::for_table(&t)
                .map_err(|e| from_delta("open writer", e))?
                .with_writer_properties(writer_properties()));
        }
        check_columns(schema, table)?;
        let uri = self.uri(layer, table);
        if !uri.contains("://") {
            std::fs::create_dir_all(&uri).map_err(|e| StageError::config(format!("cannot create {uri}: {e}")))?;
        }
        let url = deltalake::ensure_table_uri(&uri).map_err(|e| from_delta(&format!("open {uri}"), e))?;
        Ok(RecordBatchWriter::try_new(url.as_str(), Arc::new(schema.clone()), None, None)
            .map_err(|e| from_delta("open writer", e))?
            .with_writer_properties(writer_properties()))
    }

    /// Opens a table, creating it with `schema` (and `partition_columns`) if it does not exist.
    pub async fn open_or_create(
        &self,
        layer: &str,
        table: &str,
        schema: &Schema,
        partition_columns: &[&str],
    ) -> Result<DeltaTable> {
        check_columns(schema, table)?;
        if let Some(t) = self.open(layer, table).await? {
            return Ok(t);
        }
        let uri = self.uri(layer, table);
        if !uri.contains("://") {
            std::fs::create_dir_all(&uri).map_err(|e| StageError::config(format!("cannot create {uri}: {e}")))?;
        }
        let url = deltalake::ensure_table_uri(&uri).map_err(|e| from_delta(&format!("open {uri}"), e))?;
        // Built, not loaded: there is no log to load yet.
        let empty = deltalake::DeltaTableBuilder::from_url(url)
            .and_then(|b| b.build())
            .map_err(|e| from_delta(&format!("open {uri}"), e))?;
        let kernel: StructType =
            schema.try_into_kernel().map_err(|e| StageError::internal(format!("schema of {table}: {e}")))?;
        empty
            .create()
            .with_table_name(table)
            .with_columns(kernel.fields().cloned())
            .with_partition_columns(partition_columns.iter().map(|c| c.to_string()))
            .with_configuration(table_properties())
            .await
            .map_err(|e| from_delta(&format!("create {uri}"), e))
    }
}

/// Refuses a schema with a column that must never reach the lake.
pub fn check_columns(schema: &Schema, table: &str) -> Result<()> {
    for f in schema.fields() {
        if FORBIDDEN_COLUMNS.contains(&f.name().to_ascii_lowercase().as_str()) {
            return Err(StageError::config(format!(
                "{table}.{} would be written to the lake; list it in sensitive_columns",
                f.name()
            )));
        }
    }
    Ok(())
}

/// The version of `app_id`'s last transaction in `table`, if any.
pub async fn txn_version(table: &DeltaTable, app_id: &str) -> Result<Option<i64>> {
    let snapshot = table.snapshot().map_err(|e| from_delta("read snapshot", e))?;
    snapshot.transaction_version(table.log_store().as_ref(), app_id).await.map_err(|e| from_delta("read txn", e))
}

/// The table version whose commit carried `app_id`'s transaction `txn`: the oldest version that has it, searching
/// back from the latest (a recovery path, run only after a stage was killed between two commits).
pub async fn version_of_txn(table: &DeltaTable, app_id: &str, txn: i64) -> Result<Option<i64>> {
    let Some(latest) = table.version() else { return Ok(None) };
    let latest = latest as i64;
    let mut found = None;
    let mut t = table.clone();
    for v in (0..=latest).rev().take(200) {
        t.load_version(v as u64).await.map_err(|e| from_delta("read history", e))?;
        match txn_version(&t, app_id).await? {
            Some(have) if have >= txn => found = Some(v),
            _ => break,
        }
    }
    Ok(found)
}

/// The largest dictionary page a column chunk keeps before Parquet falls back to plain encoding.
///
/// Parquet interns every value of a column into a dictionary until it outgrows this limit; the 1 MiB default means
/// a column of keys, amounts or times (128k distinct 8-byte values) was hashed value by value before falling back,
/// in every row group: 14% of `silver_transformation`'s CPU (perf, scale 1). At 64 KiB the columns with few values
/// (statuses, countries, flags, run ids) still get their dictionary and the rest fall back early: side by side,
/// silver used a fifth less CPU (scale 1: 14.0 and 13.8 to 11.0 and 11.1 CPU s) for 2.5% more bytes (460 to 471
/// MB). Zstandard instead of Snappy made silver 37% smaller (297 MB) for a fifth more CPU: not taken while CPU is
/// the target.
pub const DICTIONARY_PAGE_BYTES: usize = 64 * 1024;

/// The Parquet properties of the silver and gold files amali writes: delta-rs's Snappy, with dictionaries bounded
/// by [`DICTIONARY_PAGE_BYTES`]. Bronze ([`append`]) keeps Parquet's 1 MiB dictionaries: silver reads every bronze
/// row, and bronze written with 64 KiB dictionaries cost silver + gold 19.5 CPU s instead of 13.7 (scale 1; more
/// columns arrive plain-encoded, slower to decode than dictionary pages).
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_dictionary_page_size_limit(DICTIONARY_PAGE_BYTES)
        .build()
}

/// The properties of a commit that carries `app_id`'s transaction `txn`, and says so (and which run made it) in its
/// commit info.
pub fn commit_properties(app_id: &str, txn: i64, run_id: &str) -> CommitProperties {
    CommitProperties::default().with_application_transaction(Transaction::new(app_id, txn)).with_metadata([
        (META_APP_ID.to_string(), serde_json::json!(app_id)),
        (META_TXN_VERSION.to_string(), serde_json::json!(txn)),
        (META_RUN_ID.to_string(), serde_json::json!(run_id)),
    ])
}

/// Appends batches to `table` (with delta-rs's writer properties: full dictionaries, see [`writer_properties`]) in
/// one commit carrying `app_id`'s transaction `txn` (see the module docs).
/// Files are written as batches arrive; the commit makes them visible all at once. Returns the new version.
pub async fn append(
    table: &mut DeltaTable,
    batches: impl futures::Stream<Item = Result<RecordBatch>>,
    app_id: &str,
    txn: i64,
    run_id: &str,
) -> Result<(i64, u64)> {
    let properties = commit_properties(app_id, txn, run_id);
    let mut writer = RecordBatchWriter::for_table(table)
        .map_err(|e| from_delta("open writer", e))?
        .with_commit_properties(properties);
    let mut rows = 0u64;
    futures::pin_mut!(batches);
    while let Some(batch) = futures::StreamExt::next(&mut batches).await {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        writer.write(batch).await.map_err(|e| from_delta("write", e))?;
    }
    let version = writer.flush_and_commit(table).await.map_err(|e| from_delta("commit", e))?;
    Ok((version as i64, rows))
}

/// A scan of `table` as `ctx` reads parquet (strings as plain strings, not views: see [`crate::memory::session`];
/// delta-rs's own default would read views whatever the session says). `.await` it for the table provider.
pub fn scan(table: &DeltaTable, ctx: &SessionContext) -> deltalake::delta_datafusion::TableProviderBuilder {
    table.table_provider().with_session(Arc::new(ctx.state()))
}

/// Every row of a table (small tables and tests).
pub async fn read_all(table: &DeltaTable) -> Result<Vec<RecordBatch>> {
    use deltalake::datafusion::prelude::SessionContext;
    let ctx = SessionContext::new();
    let provider = table.table_provider().await.map_err(|e| StageError::internal(format!("scan: {e}")))?;
    ctx.register_table("t", provider).map_err(|e| StageError::internal(e.to_string()))?;
    let df = ctx.sql("SELECT * FROM t").await.map_err(|e| StageError::internal(e.to_string()))?;
    df.collect().await.map_err(|e| StageError::internal(e.to_string()))
}

/// `df` with the columns of `schema` in its order, each cast to its type there.
pub fn typed_as(df: DataFrame, schema: &Schema, context: &str) -> Result<DataFrame> {
    let typed: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| deltalake::datafusion::prelude::cast(ident(f.name()), f.data_type().clone()).alias(f.name()))
        .collect();
    df.select(typed).map_err(df_err(context))
}

#[cfg(test)]
mod tests {
    use deltalake::arrow::array::Int64Array;
    use deltalake::arrow::datatypes::{DataType, Field};

    use super::*;

    fn ids(from: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![from, from + 1]))]).unwrap()
    }

    /// Delta writes a checkpoint after version v when (v + 1) is a multiple of `delta.checkpointInterval`
    /// (PROTOCOL.md, "Checkpoints"; delta-rs's post-commit hook): a table amali creates gets one every
    /// [`CHECKPOINT_INTERVAL`] commits, and reopening it reads the commits after it only.
    #[tokio::test]
    async fn a_table_gets_a_checkpoint_every_ten_commits() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path().to_str().unwrap());
        let mut table = lake.open_or_create(SILVER, "t", &ids(0).schema(), &[]).await.unwrap();
        for txn in 1..=(CHECKPOINT_INTERVAL as i64 + 2) {
            append(&mut table, futures::stream::iter([Ok(ids(txn * 10))]), "test", txn, "run").await.unwrap();
        }
        let log = dir.path().join("silver/t/_delta_log");
        let checkpoint = |v: u64| log.join(format!("{v:020}.checkpoint.parquet")).exists();
        assert!(checkpoint(CHECKPOINT_INTERVAL - 1), "a checkpoint after version {}", CHECKPOINT_INTERVAL - 1);
        assert!(!checkpoint(CHECKPOINT_INTERVAL), "none after the next one");
        // A fresh open (a new process) finds every row and the last transaction.
        let reopened = Lake::new(dir.path().to_str().unwrap()).open(SILVER, "t").await.unwrap().unwrap();
        let rows: usize = read_all(&reopened).await.unwrap().iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 2 * (CHECKPOINT_INTERVAL as usize + 2));
        assert_eq!(txn_version(&reopened, "test").await.unwrap(), Some(CHECKPOINT_INTERVAL as i64 + 2));
    }

    /// A table opened again through the same lake is brought up to date, not replayed: it sees a commit made
    /// through another handle, and a table deleted under it is gone.
    #[tokio::test]
    async fn a_table_opened_again_sees_the_commits_since() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path().to_str().unwrap());
        let mut table = lake.open_or_create(SILVER, "t", &ids(0).schema(), &[]).await.unwrap();
        let first = lake.open(SILVER, "t").await.unwrap().unwrap();
        append(&mut table, futures::stream::iter([Ok(ids(1))]), "test", 1, "run").await.unwrap();
        let again = lake.clone().open(SILVER, "t").await.unwrap().unwrap();
        assert_eq!(again.version(), first.version().map(|v| v + 1));
        assert_eq!(txn_version(&again, "test").await.unwrap(), Some(1));
        std::fs::remove_dir_all(dir.path().join("silver/t")).unwrap();
        assert!(lake.open(SILVER, "t").await.unwrap().is_none());
    }
}
