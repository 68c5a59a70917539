//! The loads: lake tables -> a database, atomically per table. `rds` loads the silver data products into the
//! internal RDS; `write_to_rds_rs` loads the gold tables into the warehouse (PostgreSQL protocol here: PostgreSQL,
//! or SQLite locally).
//!
//! Per table: the Delta table's current snapshot streams (DataFusion, batch by batch, memory bounded by the batch
//! size) into a staging table by the engine's bulk path, then the staging table replaces the live one: in one
//! transaction on PostgreSQL and SQLite (their DDL is transactional), by one atomic `RENAME TABLE` on MySQL. A reader
//! sees the old table or the new one, never a missing or half-loaded one. An audit row in `_amali_loads` records
//! table, Delta version, rows and run; a table whose Delta version is already loaded is skipped, so a rerun
//! writes nothing.

use std::time::Instant;
use tracing::Instrument;

use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::datatypes::{DataType, Schema};
use futures::StreamExt;

use super::Outcome;
use super::landing::{scalar, stmt};
use crate::db::{Database, Param, Stmt, channel};
use crate::error::{Result, StageError};
use crate::lake::{self, Lake};
use crate::schema::{Column, Engine, Shape, Type};
use crate::settings::Settings;
use crate::summary::{Layer, TableSummary};

/// The audit table of loads, in the target database.
pub const AUDIT: &str = "_amali_loads";

const fn col(name: &'static str, ty: Type) -> Column {
    Column { name, ty, nullable: true, default: None, auto_increment: false }
}

static AUDIT_COLUMNS: &[Column] = &[
    col("table_name", Type::Varchar(128)),
    col("delta_version", Type::BigInt),
    col("rows_loaded", Type::BigInt),
    col("run_id", Type::Varchar(128)),
    col("loaded_at", Type::Varchar(40)),
];

/// The audit table's shape.
pub fn audit_shape() -> Shape {
    Shape { name: AUDIT, columns: AUDIT_COLUMNS.to_vec(), primary_key: vec![] }
}

/// The column type a lake column is loaded as.
pub fn column_type(data_type: &DataType) -> Result<Type> {
    Ok(match data_type {
        DataType::Int64 | DataType::UInt32 => Type::BigInt,
        DataType::Int32 | DataType::Int16 | DataType::Int8 | DataType::UInt16 | DataType::UInt8 => Type::Int,
        DataType::Boolean => Type::Bool,
        DataType::Decimal128(p, s) => Type::Decimal(*p, *s),
        DataType::Float64 | DataType::Float32 => Type::Double,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => Type::Text,
        DataType::Date32 => Type::Date,
        DataType::Timestamp(..) => Type::Timestamp,
        other => return Err(StageError::data(format!("a column of type {other} cannot be loaded into a database"))),
    })
}

/// The shape of a lake table as a database table. Column names live as long as the process (a stage loads a few
/// dozen tables once).
pub fn shape_of(name: &str, schema: &Schema) -> Result<Shape> {
    let mut columns = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        let name: &'static str = Box::leak(f.name().clone().into_boxed_str());
        columns.push(Column {
            name,
            ty: column_type(f.data_type())?,
            nullable: true,
            default: None,
            auto_increment: false,
        });
    }
    Ok(Shape { name: Box::leak(name.to_string().into_boxed_str()), columns, primary_key: vec![] })
}

/// Casts a batch to the Arrow types the connectors write (`Utf8View` to `Utf8`, timestamps to UTC microseconds).
fn canonical(batch: RecordBatch, shape: &Shape) -> Result<RecordBatch> {
    let schema = std::sync::Arc::new(shape.arrow_schema());
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| deltalake::arrow::compute::cast(c, f.data_type()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| StageError::data(format!("{}: {e}", shape.name)))?;
    RecordBatch::try_new(schema, columns).map_err(|e| StageError::internal(e.to_string()))
}

/// Loads `tables` of `layer` into the database `which` (`internal_database` or `warehouse`).
pub async fn run(settings: &Settings, which: &str, layer: &str, tables: &[&str], summary_layer: Layer) -> Outcome {
    let db = match settings.database(which) {
        Ok(db) => db,
        Err(e) => return Outcome::failed(e),
    };
    if let Err(e) = db.create_table(&audit_shape(), AUDIT).await {
        return Outcome::failed(e);
    }
    let lake = Lake::new(settings.lake_root());
    let mut outcome = Outcome::default();
    for name in tables {
        let mut summary = TableSummary::new(*name, summary_layer);
        let clock = Instant::now();
        let span = super::table_span(name);
        let result = load_table(settings, &db, &lake, layer, name, &mut summary).instrument(span.clone()).await;
        span.in_scope(|| outcome.finish(summary, clock, result, "loaded"));
    }
    outcome
}

async fn load_table(
    settings: &Settings,
    db: &Database,
    lake: &Lake,
    layer: &str,
    name: &str,
    summary: &mut TableSummary,
) -> Result<()> {
    let table = lake.open(layer, name).await?.ok_or_else(|| {
        StageError::data(format!("{layer}/{name} does not exist in the lake: run the stage that builds it first"))
    })?;
    let version = table.version().map(|v| v as i64).unwrap_or(-1);
    summary.delta_version = Some(version);
    let int = db.int_placeholder();
    let done = scalar(
        db,
        Stmt::new(
            format!("SELECT count(*) FROM {AUDIT} WHERE table_name = ? AND delta_version = {int}"),
            vec![name.into(), version.into()],
        ),
    )
    .await?;
    if done.as_deref().is_some_and(|n| n != "0") && db.has_table(name).await? {
        summary.note = Some(format!("version {version} is loaded already"));
        return Ok(());
    }
    let url =
        if summary.layer == Layer::Warehouse { &settings.data.warehouse } else { &settings.data.internal_database };
    if url.starts_with("redshift://") {
        return load_redshift(settings, db, &table, name, version, summary).await;
    }
    let ctx = settings.session();
    let provider = lake::scan(&table, &ctx).await.map_err(|e| StageError::internal(format!("scan {name}: {e}")))?;
    let df = ctx.read_table(provider).map_err(|e| StageError::internal(format!("scan {name}: {e}")))?;
    let shape = shape_of(name, df.schema().as_arrow())?;
    let mut stream = df.execute_stream().await.map_err(|e| StageError::internal(format!("read {name}: {e}")))?;
    let (tx, rx) = channel();
    let feed_shape = shape.clone();
    let feeder = tokio::spawn(async move {
        let mut rows = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch
                .map_err(|e| StageError::internal(format!("read {}: {e}", feed_shape.name)))
                .and_then(|b| canonical(b, &feed_shape));
            let failed = batch.is_err();
            if let Ok(b) = &batch {
                rows += b.num_rows() as u64;
            }
            if tx.send(batch).await.is_err() || failed {
                break;
            }
        }
        rows
    });

    let staging = format!("{name}__amali_new");
    let old = format!("{name}__amali_old");
    let q = |n: &str| db.quote(n);
    let audit = Stmt::new(
        format!(
            "INSERT INTO {AUDIT} (table_name, delta_version, rows_loaded, run_id, loaded_at) \
             SELECT ?, {int}, (SELECT count(*) FROM {}), ?, ?",
            q(&staging)
        ),
        vec![
            name.into(),
            version.into(),
            settings.run_id.as_str().into(),
            Param::Text(chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()),
        ],
    );
    let before = [stmt(format!("DROP TABLE IF EXISTS {}", q(&staging))), stmt(shape.create_sql(db.engine(), &staging))];
    let exists = db.has_table(name).await?;
    let loaded = match db.engine() {
        Engine::Postgres | Engine::Sqlite => {
            // Transactional DDL: the swap and the audit row commit with the load.
            let mut after = vec![audit];
            if exists {
                after.push(stmt(format!("DROP TABLE IF EXISTS {}", q(&old))));
                after.push(stmt(format!("ALTER TABLE {} RENAME TO {}", q(name), q(&old))));
            }
            after.push(stmt(format!("ALTER TABLE {} RENAME TO {}", q(&staging), q(name))));
            if exists {
                after.push(stmt(format!("DROP TABLE {}", q(&old))));
            }
            db.write(Some((&shape, &staging)), &before, rx, &after).await?
        }
        Engine::MySql => {
            // DDL commits by itself in MySQL: load the staging table, then swap with one atomic RENAME TABLE.
            let n = db.write(Some((&shape, &staging)), &before, rx, &[audit]).await?;
            let swap = if exists {
                vec![
                    stmt(format!("DROP TABLE IF EXISTS {}", q(&old))),
                    stmt(format!("RENAME TABLE {} TO {}, {} TO {}", q(name), q(&old), q(&staging), q(name))),
                    stmt(format!("DROP TABLE {}", q(&old))),
                ]
            } else {
                vec![stmt(format!("RENAME TABLE {} TO {}", q(&staging), q(name)))]
            };
            db.execute(&swap).await?;
            n
        }
    };
    let read = feeder.await.map_err(|e| StageError::internal(e.to_string()))?;
    summary.rows_read = read;
    summary.rows_written = loaded;
    if read != loaded {
        return Err(StageError::internal(format!("{name}: {read} rows read from the lake, {loaded} loaded")));
    }
    Ok(())
}

/// Redshift: a COPY manifest of the snapshot's active files, then COPY, replace and audit in one transaction.
async fn load_redshift(
    settings: &Settings,
    db: &Database,
    table: &deltalake::DeltaTable,
    name: &str,
    version: i64,
    summary: &mut TableSummary,
) -> Result<()> {
    use crate::redshift::{load_statements, manifest};
    let role = settings.data.redshift_iam_role.as_deref().ok_or_else(|| {
        StageError::config(
            "the warehouse is Redshift: set redshift_iam_role (the role its COPY assumes) in [env.NAME.data]",
        )
    })?;
    if !settings.lake_root().starts_with("s3://") {
        return Err(StageError::config(format!(
            "Redshift COPYs from S3, and the lake is {}: use an s3:// lake with a Redshift warehouse",
            settings.lake_root()
        )));
    }
    let entries = crate::redshift::snapshot_entries(table)?;
    let log_store = table.log_store();
    let path = deltalake::Path::from(format!("_amali_manifests/v{version}.manifest"));
    use deltalake::logstore::object_store::ObjectStoreExt;
    table
        .object_store()
        .put(&path, manifest(&entries).into_bytes().into())
        .await
        .map_err(|e| StageError::transient(format!("write the manifest of {name}: {e}")))?;
    let manifest_url = log_store.to_uri(&path);
    let shape = {
        let ctx = settings.session();
        let provider = lake::scan(table, &ctx).await.map_err(|e| StageError::internal(format!("scan {name}: {e}")))?;
        let df = ctx.read_table(provider).map_err(|e| StageError::internal(format!("scan {name}: {e}")))?;
        shape_of(name, df.schema().as_arrow())?
    };
    let statements: Vec<Stmt> =
        load_statements(name, &shape, &manifest_url, role, version, &settings.run_id).into_iter().map(stmt).collect();
    db.execute(&statements).await?;
    let rows = scalar(
        db,
        Stmt::new(
            format!("SELECT rows_loaded FROM {AUDIT} WHERE table_name = ? AND delta_version = CAST(? AS BIGINT)"),
            vec![name.into(), version.into()],
        ),
    )
    .await?;
    summary.rows_written = rows.and_then(|r| r.parse().ok()).unwrap_or(0);
    summary.rows_read = summary.rows_written;
    summary.note = Some(format!("COPY from {manifest_url} ({} files)", entries.len()));
    Ok(())
}
