//! `silver_transformation`, part one: bronze -> the conformed silver tables, one per source table
//! (`<lake>/silver/<table>`), holding each row's current version, checked against the data-quality rules.
//!
//! Per table, incrementally: the bronze rows ingested since the last run (the silver table's Delta transaction
//! `amali/silver/<table>` holds the newest `_ingested_at` it has merged) are reduced to the latest version per
//! primary key (by `updated_at`, then ingestion time), conformed (strings trimmed, emails lower-cased, float money
//! as exact decimals: see [`crate::money`]), checked,
//! and upserted on the primary key ([`crate::lake::Upsert`]: new rows appended, only the files holding changed
//! rows rewritten, in one commit). Rows that break a `quarantine` rule go to `<lake>/silver/_quarantine` with the rule
//! and the reason; a `fail` rule fails the table before anything is written; `warn` only counts.
//! Every table reports `rows_in == rows_out + rows_quarantined`, and the stage checks it.
//! A table's first load (all of bronze is new) is the same work as one streamed query under the memory limit
//! instead: see [`first_load`].
//! Tables are processed parents first, so a `relationships` rule sees the parent's current rows of this run.
//! Then the original's silver tables (`users_data`, `orders_data`, ...) are built from the conformed tables by the
//! SQL models of `jobs/models/silver/` (see [`crate::models`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use amali_core::config::{QualityAction, QualityCheck, QualityRule};
use deltalake::DeltaTable;
use deltalake::arrow::array::{
    Array, ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use deltalake::arrow::compute::SortOptions;
use deltalake::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use deltalake::arrow::util::display::array_value_to_string;
use deltalake::datafusion::datasource::MemTable;
use deltalake::datafusion::prelude::SessionContext;
use deltalake::kernel::StructType;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;

mod first_load;

use super::Outcome;
use super::landing::selected_tables;
use crate::error::{Result, StageError, df_err};
use crate::lake::{self, BRONZE, Lake, SILVER, Upsert, from_delta};
use crate::money::{self, MONEY_PRECISION, MONEY_SCALE};
use crate::quality::{self, ordered, waits_for};
use crate::schema::{Table, Type, quote};
use crate::settings::Settings;
use crate::summary::{Layer, TableSummary};
use crate::telemetry::lap;

/// The quarantine table's name (under `silver/`).
pub const QUARANTINE: &str = "_quarantine";

fn q(name: &str) -> String {
    quote(crate::schema::Engine::Postgres, name)
}

/// The Delta application id of a silver table's merges.
pub fn app_id(table: &str) -> String {
    format!("amali/silver/{table}")
}

/// The quarantine table's schema.
pub fn quarantine_schema() -> Schema {
    Schema::new(vec![
        Field::new("table_name", DataType::Utf8, false),
        Field::new("rule_id", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("row_key", DataType::Utf8, false),
        Field::new("row", DataType::Utf8, false),
        Field::new("run_id", DataType::Utf8, false),
        Field::new("quarantined_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
    ])
}

/// Where a table's conformed rows go: the lake, the quarantine table (one writer at a time), and the run's time.
struct Sink<'a> {
    lake: &'a Lake,
    quarantine: &'a tokio::sync::Mutex<()>,
    now: i64,
}

/// Runs the stage.
pub async fn run(settings: &Settings) -> Outcome {
    let tables = match selected_tables(settings) {
        Ok(t) => t,
        Err(e) => return Outcome::failed(e),
    };
    let lake = Lake::new(settings.lake_root());
    let now = chrono::Utc::now().timestamp_micros();
    let mut outcome = Outcome::default();
    // A table's relationships rules read its parents' rows of this run: a table starts once its parents are done,
    // a few at a time; writes to the shared quarantine table take turns.
    let quarantine = Arc::new(tokio::sync::Mutex::new(()));
    let tables = ordered(tables, &settings.quality);
    let after = waits_for(&tables, &settings.quality);
    let jobs = tables.into_iter().zip(after).map(|(t, a)| (TableSummary::new(t.name, Layer::Silver), t, a)).collect();
    let shared = (Arc::new(settings.clone()), lake.clone(), quarantine.clone());
    outcome.extend(
        super::each_table_after(jobs, "merged", move |table, mut summary| {
            let (settings, lake, quarantine) = shared.clone();
            async move {
                let ctx = settings.session();
                let rules = settings.quality.get(table.name).cloned().unwrap_or_default();
                let sink = Sink { lake: &lake, quarantine: &quarantine, now };
                let result = conform(&settings, &ctx, &sink, table, &rules, &mut summary).await;
                (summary, result)
            }
        })
        .await,
    );
    let ctx = settings.session();
    // The original's silver tables, from the conformed tables' current rows.
    let names: Vec<&str> = crate::schema::TABLES.iter().map(|t| t.name).collect();
    match crate::models::register_layer(&ctx, &lake, SILVER, names).await {
        Ok(inputs) => outcome.extend(
            crate::models::build(
                &ctx,
                &lake,
                SILVER,
                crate::models::SILVER_MODELS,
                &inputs,
                &settings.run_id,
                &settings.logical_date,
            )
            .await,
        ),
        Err(e) => outcome.failures.push((String::new(), e)),
    }
    outcome
}

/// The SQL of a full rebuild of the silver layer, in the order it runs: each selected table's conformed rows
/// ([`rebuild_sql`], over `bronze_<table>`), parents first, then the data products of `jobs/models/silver/`.
/// Returns (table, SQL) pairs.
pub fn print_sql(settings: &Settings) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for table in ordered(selected_tables(settings)?, &settings.quality) {
        let rules = settings.quality.get(table.name).cloned().unwrap_or_default();
        out.push((table.name.to_string(), rebuild_sql(table, &rules, &settings.sensitive_columns(table.name))?));
    }
    for model in crate::models::SILVER_MODELS {
        out.push((model.name.to_string(), model.render(&settings.logical_date)));
    }
    Ok(out)
}

async fn register(ctx: &SessionContext, name: &str, table: &DeltaTable) -> Result<()> {
    let _ = ctx.deregister_table(name);
    let provider = lake::scan(table, ctx).await.map_err(df_err("scan"))?;
    ctx.register_table(name, provider).map_err(df_err("register"))?;
    Ok(())
}

/// Conforms one table: the bronze rows ingested since its last merge, the latest version per key, checked against
/// its rules, quarantined rows set aside, the rest upserted into its silver table, exactly once per newest ingestion
/// time. Each step is a function below, in the order they run.
async fn conform(
    settings: &Settings,
    ctx: &SessionContext,
    sink: &Sink<'_>,
    table: &'static Table,
    rules: &[QualityRule],
    summary: &mut TableSummary,
) -> Result<()> {
    let (lake, name) = (sink.lake, table.name);
    let mut clock = std::time::Instant::now();
    let Some(bronze) = lake.open(BRONZE, name).await? else {
        summary.note = Some("no bronze table yet".into());
        return Ok(());
    };
    let existing = lake.open(SILVER, name).await?;
    let bronze_schema = bronze.snapshot().map_err(|e| from_delta("snapshot", e))?.schema();
    check_drift(table, &bronze_schema, existing.as_ref())?;
    // The table's columns that bronze has.
    let columns: Vec<&crate::schema::Column> =
        table.columns.iter().filter(|c| bronze_schema.field(c.name).is_some()).collect();
    let select = bronze_select(table, &bronze_schema, &columns);
    if first_load::is_first(existing.as_ref(), name).await?
        && !first_load::fits_in_memory(&bronze, settings.memory_limit)?
    {
        return first_load::load(settings, ctx, sink, table, rules, &bronze, &select, summary).await;
    }
    lap(name, "open", &mut clock);
    let incoming = read_new_rows(ctx, table, &bronze, &select, existing.as_ref()).await?;
    lap(name, "read new bronze rows", &mut clock);
    summary.rows_read = incoming.rows as u64;
    let Some(newest) = incoming.newest else {
        summary.note = Some("no new bronze rows".into());
        summary.delta_version = existing.as_ref().and_then(|t| t.version()).map(|v| v as i64);
        if existing.is_none() {
            // The table exists from the first run on, empty if its source is.
            let t = lake.open_or_create(SILVER, name, &first_load::empty_schema(table, &columns), &[]).await?;
            summary.delta_version = t.version().map(|v| v as i64);
        }
        return Ok(());
    };
    let broken = check_rules(ctx, lake, table, &columns, rules, &incoming, existing.as_ref()).await?;
    lap(name, "quality rules", &mut clock);
    let misfits = money_misfits(table, &incoming);
    let sorted = sort_out(table, rules, incoming, broken, misfits)?;
    if let Some(list) = &sorted.warnings {
        tracing::warn!(table = name, rules = %list, "quality warnings");
        summary.note = Some(format!("warnings: {list}"));
    }
    // Quarantine first (exactly once per newest ingestion time), then the upsert that records it.
    quarantine(settings, sink, name, &sorted.quarantined, newest).await?;
    summary.rows_quarantined = sorted.set_aside as u64;
    lap(name, "sort out and quarantine", &mut clock);
    let keep = conform_money(table, sorted.keep)?;
    let rows_out: u64 = keep.iter().map(|b| b.num_rows() as u64).sum();
    let after = upsert(settings, ctx, lake, table, existing, keep, newest).await?;
    lap(name, "upsert", &mut clock);
    summary.rows_written = rows_out;
    summary.delta_version = after.version().map(|v| v as i64);
    Ok(())
}

/// Schema drift: a column bronze lost or retyped fails the table before anything is written.
fn check_drift(table: &Table, bronze_schema: &StructType, existing: Option<&DeltaTable>) -> Result<()> {
    let name = table.name;
    let Some(silver) = existing else { return Ok(()) };
    let silver_schema = silver.snapshot().map_err(|e| from_delta("snapshot", e))?.schema();
    for field in silver_schema.fields().filter(|f| !f.name().starts_with('_')) {
        match bronze_schema.field(field.name()) {
            None => {
                return Err(StageError::data(format!(
                    "schema drift: bronze {name} no longer has column {}; silver keeps it, so nothing was written",
                    field.name()
                )));
            }
            Some(b) if table.is_float_money(field.name()) && *b.data_type() == deltalake::kernel::DataType::DOUBLE => {
                let money = deltalake::kernel::DataType::decimal(MONEY_PRECISION, MONEY_SCALE as u8)
                    .map_err(|e| StageError::internal(e.to_string()))?;
                if *field.data_type() != money {
                    return Err(StageError::data(format!(
                        "silver {name}.{} is {:?}, written by an amali that kept money as a float; money is \
                         decimal({MONEY_PRECISION},{MONEY_SCALE}) now: delete the silver table (its directory \
                         under silver/) and run the stage again to rebuild it from bronze; nothing was written",
                        field.name(),
                        field.data_type()
                    )));
                }
            }
            Some(b) if b.data_type() != field.data_type() => {
                return Err(StageError::data(format!(
                    "schema drift: bronze {name}.{} is now {:?}, silver has {:?}; nothing was written",
                    field.name(),
                    b.data_type(),
                    field.data_type()
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A table's incoming rows: the latest version per key of the bronze rows ingested since its last merge,
/// conformed, each batch with its first row's position.
struct Incoming {
    batches: Vec<RecordBatch>,
    offsets: Vec<usize>,
    rows: usize,
    /// The newest ingestion time among them (`None`: no rows).
    newest: Option<i64>,
}

/// The select list of a table's conformed rows from bronze: the app schema's columns that bronze has
/// ([`conformed_select`]), then the columns bronze gained that the app schema does not know yet, carried into silver
/// as they are (strings trimmed), which evolves the silver table's schema.
fn bronze_select(table: &Table, bronze_schema: &StructType, columns: &[&crate::schema::Column]) -> Vec<String> {
    let mut select = conformed_select(columns);
    select.extend(
        bronze_schema.fields().filter(|f| !f.name().starts_with('_') && table.column(f.name()).is_none()).map(|f| {
            match *f.data_type() == deltalake::kernel::DataType::STRING {
                true => format!("trim({0}) AS {0}", q(f.name())),
                false => q(f.name()),
            }
        }),
    );
    select
}

/// Reads the bronze rows ingested after the silver table's last merge (its transaction version), conformed, the
/// latest version per key.
async fn read_new_rows(
    ctx: &SessionContext,
    table: &'static Table,
    bronze: &DeltaTable,
    select: &[String],
    existing: Option<&DeltaTable>,
) -> Result<Incoming> {
    let name = table.name;
    let last = match existing {
        Some(t) => lake::txn_version(t, &app_id(name)).await?,
        None => None,
    };
    register(ctx, "bronze_t", bronze).await?;
    let since = match last {
        Some(micros) => {
            let day = crate::db::value::format_date(micros.div_euclid(86_400_000_000) as i32);
            format!("WHERE _ingest_date >= DATE '{day}' AND {}", crate::models::ingested_after(micros))
        }
        None => String::new(),
    };
    // The latest version per key: the same rows as `latest_sql`'s window, by one hash pass (see `latest`).
    let read = format!("SELECT {}, _ingested_at, _extracted_at FROM bronze_t {since}", select.join(", "));
    let read: Vec<RecordBatch> =
        ctx.sql(&read).await.map_err(df_err("read bronze"))?.collect().await.map_err(df_err("read bronze"))?;
    let newest_first = SortOptions { descending: true, nulls_first: true };
    let mut order = Vec::new();
    if table.column("updated_at").is_some() {
        order.push(("updated_at", SortOptions { descending: true, nulls_first: false }));
    }
    order.extend([("_ingested_at", newest_first), ("_extracted_at", newest_first)]);
    let batches: Vec<RecordBatch> = super::latest::latest_per_key(read, table.primary_key, &order)?
        .iter()
        .map(|b| {
            let keep: Vec<usize> = (0..b.num_columns() - 1).collect();
            b.project(&keep).map_err(|e| StageError::internal(e.to_string()))
        })
        .collect::<Result<_>>()?;
    let mut offsets = Vec::with_capacity(batches.len());
    let mut rows = 0usize;
    for b in &batches {
        offsets.push(rows);
        rows += b.num_rows();
    }
    // The newest ingestion time merged, from the rows in hand (not by reading bronze again).
    let newest = batches
        .iter()
        .filter_map(|b| {
            let i = b.schema().index_of("_ingested_at").ok()?;
            let column = b.column(i).as_any().downcast_ref::<TimestampMicrosecondArray>()?;
            deltalake::arrow::compute::max(column)
        })
        .max();
    Ok(Incoming { batches, offsets, rows, newest })
}

/// Runs every rule of the table in one query over the incoming rows: for each rule, why a row breaks it and the
/// positions of the rows that do. Registers `incoming` (the rows, numbered), `all_rows` (the table as this run's upsert would leave it,
/// for unique rules) and each relationships rule's parent rows.
async fn check_rules(
    ctx: &SessionContext,
    lake: &Lake,
    table: &'static Table,
    columns: &[&crate::schema::Column],
    rules: &[QualityRule],
    incoming: &Incoming,
    existing: Option<&DeltaTable>,
) -> Result<Vec<(String, Vec<usize>)>> {
    let name = table.name;
    // Each row carries its position (`__row`), so the checks return positions and flags, not copies of the rows.
    let numbered_schema = Arc::new(Schema::new(
        incoming.batches[0]
            .schema()
            .fields()
            .iter()
            .cloned()
            .chain([Arc::new(Field::new("__row", DataType::UInt64, false))])
            .collect::<Vec<_>>(),
    ));
    let mut numbered = Vec::with_capacity(incoming.batches.len());
    for (b, start) in incoming.batches.iter().zip(&incoming.offsets) {
        let mut columns = b.columns().to_vec();
        columns.push(Arc::new(UInt64Array::from_iter_values(*start as u64..(start + b.num_rows()) as u64)));
        numbered.push(
            RecordBatch::try_new(numbered_schema.clone(), columns).map_err(|e| StageError::internal(e.to_string()))?,
        );
    }
    let mem = MemTable::try_new(numbered_schema, vec![numbered]).map_err(df_err("incoming"))?;
    let _ = ctx.deregister_table("incoming");
    ctx.register_table("incoming", Arc::new(mem)).map_err(df_err("incoming"))?;
    let cols = columns.iter().map(|c| q(c.name)).collect::<Vec<_>>().join(", ");
    let all_rows = match existing {
        Some(t) => {
            register(ctx, "silver_existing", t).await?;
            format!(
                "SELECT {cols} FROM silver_existing e WHERE NOT EXISTS (SELECT 1 FROM incoming i WHERE {on}) UNION ALL SELECT {cols} FROM incoming",
                on = table.primary_key.iter().map(|k| format!("i.{0} = e.{0}", q(k))).collect::<Vec<_>>().join(" AND ")
            )
        }
        None => format!("SELECT {cols} FROM incoming"),
    };
    let _ = ctx.deregister_table("all_rows");
    let all_df = ctx.sql(&all_rows).await.map_err(df_err("all rows"))?;
    ctx.register_table("all_rows", all_df.into_view()).map_err(df_err("all rows"))?;
    // Parents' current rows for relationships rules: only the files that can hold the keys this run refers to.
    register_parents(ctx, lake, table, rules, Some("incoming")).await?;
    let RuleFlags { columns: flags, joins, reasons } = rule_flags(ctx, table, rules).await?;
    // Each rule's reason and the rows breaking it, by position.
    let mut broken: Vec<(String, Vec<usize>)> = reasons.into_iter().map(|r| (r, Vec::new())).collect();
    if rules.is_empty() {
        return Ok(broken);
    }
    let checked_sql = format!("SELECT s.__row, {} FROM incoming s {}", flags.join(", "), joins.join(" "));
    let checked = ctx
        .sql(&checked_sql)
        .await
        .map_err(df_err("check quality"))?
        .collect()
        .await
        .map_err(df_err("check quality"))?;
    let checked_rows: usize = checked.iter().map(|b| b.num_rows()).sum();
    if checked_rows != incoming.rows {
        return Err(StageError::internal(format!(
            "{name}: the quality checks saw {checked_rows} rows of {} (a rule's join multiplied or dropped rows)",
            incoming.rows
        )));
    }
    for batch in &checked {
        let positions = batch
            .column(0)
            .as_any()
            .downcast_ref::<UInt64Array>()
            .ok_or_else(|| StageError::internal("the row positions are not UInt64"))?;
        for (i, rule) in rules.iter().enumerate() {
            let v = batch
                .column(1 + i)
                .as_any()
                .downcast_ref::<BooleanArray>()
                .ok_or_else(|| StageError::internal(format!("the flag of {} is not a boolean", rule.id(name))))?;
            broken[i]
                .1
                .extend(v.values().set_indices().filter(|r| v.is_valid(*r)).map(|r| positions.value(r) as usize));
        }
    }
    Ok(broken)
}

/// The rules of a table as columns of a query over `incoming` (aliased `s`, parents registered by
/// [`register_parents`]): rule `i`'s flag `__v<i>` (true when the row breaks it), with the joins the flags need and
/// each rule's reason.
struct RuleFlags {
    columns: Vec<String>,
    joins: Vec<String>,
    reasons: Vec<String>,
}

/// [`RuleFlags`] of `rules`; an `sql` rule's predicate that does not plan over `incoming` is a configuration error.
async fn rule_flags(ctx: &SessionContext, table: &'static Table, rules: &[QualityRule]) -> Result<RuleFlags> {
    let mut flags = RuleFlags { columns: Vec::new(), joins: Vec::new(), reasons: Vec::new() };
    for (i, rule) in rules.iter().enumerate() {
        quality::check_predicate(ctx, rule, table.name, "incoming").await?;
        let parent = |p: &str| format!("silver_{p}_{i}");
        let v = quality::violation(rule, &quality::Scope { table, index: i, parent: &parent })?;
        flags.columns.push(format!("COALESCE({}, false) AS __v{i}", v.expr));
        flags.joins.extend(v.join);
        flags.reasons.push(v.reason);
    }
    Ok(flags)
}

/// Registers each relationships rule's parent rows as `silver_<parent>_<i>`: the parent's silver table, narrowed to
/// the range of the rule's column in relation `range_of` when given (as literals the scan prunes files with).
async fn register_parents(
    ctx: &SessionContext,
    lake: &Lake,
    table: &Table,
    rules: &[QualityRule],
    range_of: Option<&str>,
) -> Result<()> {
    for (i, rule) in rules.iter().enumerate() {
        if let QualityCheck::Relationships { to, column } = &rule.check
            && let Some((parent, key)) = to.split_once('.')
        {
            let Some(t) = lake.open(SILVER, parent).await? else {
                return Err(StageError::config(format!(
                    "{}: its parent {parent} has no silver table: if {parent} failed in this run, see why; else \
                     add {parent} to the tables this stage runs",
                    rule.id(table.name)
                )));
            };
            let provider = lake::scan(&t, ctx).await.map_err(df_err("scan"))?;
            let range = match range_of {
                Some(relation) => lake::key_ranges(ctx, relation, &q(column), false).await?,
                None => None,
            };
            let rows = lake::within(ctx.read_table(provider).map_err(df_err("scan"))?, key, &range)?;
            let view = format!("silver_{parent}_{i}");
            let _ = ctx.deregister_table(view.as_str());
            ctx.register_table(view.as_str(), rows.into_view()).map_err(df_err("register"))?;
        }
    }
    Ok(())
}

/// A quarantined row: the rule, why, its key and the row as JSON.
struct Quarantined {
    rule: String,
    reason: String,
    key: String,
    row: String,
}

/// The incoming rows sorted out by the rules' actions.
struct Sorted {
    /// The rows that go on.
    keep: Vec<RecordBatch>,
    /// The rows set aside, in incoming order.
    quarantined: Vec<Quarantined>,
    /// Rows set aside (a row breaking several quarantine rules is quarantined once per rule, counted once).
    set_aside: usize,
    /// `warn` rules broken, with their row counts (the rows go on).
    warnings: Option<String>,
}

/// Sorts the incoming rows out by what each broken rule's action says: quarantined (any quarantine rule), the rest
/// go on; a broken `fail` rule stops the table before anything is written. Every row is accounted for.
fn sort_out(
    table: &'static Table,
    rules: &[QualityRule],
    incoming: Incoming,
    broken: Vec<(String, Vec<usize>)>,
    misfits: Vec<Misfit>,
) -> Result<Sorted> {
    let name = table.name;
    let Incoming { batches, offsets, rows: rows_in, .. } = incoming;
    let data_columns = batches[0].num_columns();
    let mut keep = vec![true; rows_in];
    let mut quarantined: Vec<(usize, Quarantined)> = Vec::new();
    let mut warnings: BTreeMap<String, u64> = BTreeMap::new();
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    let pk_index: Vec<usize> = table.primary_key.iter().filter_map(|k| batches[0].schema().index_of(k).ok()).collect();
    // The rows to set aside: each quarantine rule's, then money that does not fit its decimal (always quarantined:
    // a guess would change the amount).
    let mut aside: Vec<(String, String, Vec<usize>)> = Vec::new();
    for (rule, (reason, rows)) in rules.iter().zip(broken) {
        if rows.is_empty() {
            continue;
        }
        let id = rule.id(name);
        match rule.action {
            QualityAction::Warn => *warnings.entry(id).or_default() += rows.len() as u64,
            QualityAction::Fail => *failures.entry(id).or_default() += rows.len() as u64,
            QualityAction::Quarantine => aside.push((id, reason, rows)),
        }
    }
    aside.extend(misfits.into_iter().map(|m| (m.rule, m.reason, m.rows)));
    for (id, reason, rows) in aside {
        for position in rows {
            let b = offsets.partition_point(|o| *o <= position) - 1;
            let (batch, row) = (&batches[b], position - offsets[b]);
            let key = pk_index
                .iter()
                .map(|c| array_value_to_string(batch.column(*c), row).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("|");
            let row = row_json(batch, row, data_columns);
            quarantined.push((position, Quarantined { rule: id.clone(), reason: reason.clone(), key, row }));
            keep[position] = false;
        }
    }
    if !failures.is_empty() {
        let list = failures.iter().map(|(r, n)| format!("{r} ({n} rows)")).collect::<Vec<_>>().join(", ");
        return Err(StageError::data(format!("{name} breaks fail rules: {list}; nothing was written")));
    }
    quarantined.sort_by_key(|(position, _)| *position);
    let set_aside = keep.iter().filter(|k| !**k).count();
    let keep_batches: Vec<RecordBatch> = if set_aside == 0 {
        batches
    } else {
        batches
            .iter()
            .zip(&offsets)
            .map(|(b, o)| {
                let mask = BooleanArray::from(keep[*o..*o + b.num_rows()].to_vec());
                deltalake::arrow::compute::filter_record_batch(b, &mask)
                    .map_err(|e| StageError::internal(e.to_string()))
            })
            .collect::<Result<_>>()?
    };
    let rows_out: usize = keep_batches.iter().map(|b| b.num_rows()).sum();
    if rows_out + set_aside != rows_in {
        return Err(StageError::internal(format!(
            "{name}: {rows_in} rows in, {rows_out} out, {set_aside} quarantined: the counts do not reconcile"
        )));
    }
    let warnings = (!warnings.is_empty())
        .then(|| warnings.iter().map(|(r, n)| format!("{r}: {n}")).collect::<Vec<_>>().join(", "));
    let quarantined = quarantined.into_iter().map(|(_, q)| q).collect();
    Ok(Sorted { keep: keep_batches, quarantined, set_aside, warnings })
}

/// Appends the quarantined rows to the quarantine table, once per table and newest ingestion time (a rerun after a
/// crash finds its transaction and writes nothing twice); one writer at a time.
async fn quarantine(settings: &Settings, sink: &Sink<'_>, name: &str, rows: &[Quarantined], newest: i64) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let _turn = sink.quarantine.lock().await;
    let mut qt = sink.lake.open_or_create(SILVER, QUARANTINE, &quarantine_schema(), &[]).await?;
    let app = format!("amali/quarantine/{name}");
    if lake::txn_version(&qt, &app).await?.is_some_and(|v| v >= newest) {
        return Ok(());
    }
    let batch = quarantine_batch(name, rows, &settings.run_id, sink.now)?;
    lake::append(&mut qt, futures::stream::iter([Ok(batch)]), &app, newest, &settings.run_id).await?;
    Ok(())
}

/// The quarantine table's rows for `rows` of table `name`, set aside by run `run_id` at `now`.
fn quarantine_batch(name: &str, rows: &[Quarantined], run_id: &str, now: i64) -> Result<RecordBatch> {
    let n = rows.len();
    let text =
        |f: fn(&Quarantined) -> &str| Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>())) as ArrayRef;
    RecordBatch::try_new(
        Arc::new(quarantine_schema()),
        vec![
            Arc::new(StringArray::from(vec![name; n])) as ArrayRef,
            text(|r| &r.rule),
            text(|r| &r.reason),
            text(|r| &r.key),
            text(|r| &r.row),
            Arc::new(StringArray::from(vec![run_id; n])),
            Arc::new(TimestampMicrosecondArray::from(vec![now; n]).with_timezone("UTC")),
        ],
    )
    .map_err(|e| StageError::internal(e.to_string()))
}

/// Writes the rows that go on to the silver table in one commit carrying the table's transaction (`newest`): an
/// upsert by primary key, replacing a held row only when it changed; a first load held in memory appends in key
/// order (a larger one streams: [`first_load`]).
async fn upsert(
    settings: &Settings,
    ctx: &SessionContext,
    lake: &Lake,
    table: &'static Table,
    existing: Option<DeltaTable>,
    keep: Vec<RecordBatch>,
    newest: i64,
) -> Result<DeltaTable> {
    let name = table.name;
    let schema = keep[0].schema();
    let properties = lake::commit_properties(&app_id(name), newest, &settings.run_id);
    // The silver table as `conform` opened it (this stage is its only writer), else a new one.
    let first_load = existing.is_none();
    let target = match existing {
        Some(t) => {
            lake::check_columns(&silver_schema(&schema), name)?;
            t
        }
        None => lake.open_or_create(SILVER, name, &silver_schema(&schema), &[]).await?,
    };
    let source = ctx.read_batches(keep).map_err(df_err("upsert source"))?;
    let source = source
        .with_column("_silver_run_id", deltalake::datafusion::prelude::lit(settings.run_id.as_str()))
        .map_err(df_err("upsert source"))?;
    if first_load {
        // Nothing to match: an append (same commit properties, same exactly-once transaction).
        return lake::write_in_key_order(ctx, target, source, table.primary_key, SaveMode::Append, properties).await;
    }
    let target_columns: BTreeSet<String> =
        target.snapshot().map_err(|e| from_delta("snapshot", e))?.schema().fields().map(|f| f.name().clone()).collect();
    // Only a row that changed replaces the held one: rows extracted again unchanged (the extraction's overlap)
    // keep their `_ingested_at`, so the models downstream see no change.
    let differs: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.name())
        .filter(|c| !c.starts_with('_'))
        .map(|c| {
            if target_columns.contains(c.as_str()) {
                format!("(s.{0} IS DISTINCT FROM t.{0})", q(c))
            } else {
                // A column bronze gained: the row changed if it has a value there.
                format!("(s.{} IS NOT NULL)", q(c))
            }
        })
        .collect();
    let changed = if differs.is_empty() {
        "s._ingested_at >= t._ingested_at".to_string()
    } else {
        format!("s._ingested_at >= t._ingested_at AND ({})", differs.join(" OR "))
    };
    let (after, metrics) = Upsert::new(ctx, target, source)
        .on(table.primary_key.iter().copied())
        .when_changed(changed)
        .with_commit_properties(properties)
        .await?;
    tracing::debug!(table = name, "upserted: {}", metrics.describe());
    let properties = CommitProperties::default()
        .with_metadata([(lake::META_RUN_ID.to_string(), serde_json::json!(settings.run_id))]);
    lake::compact_small_files(after, Vec::new(), properties).await
}

/// Rows whose float money does not fit a money decimal, per money column.
struct Misfit {
    /// The built-in rule's id, like a configured rule's (`orders.money.total_amount`).
    rule: String,
    /// Why.
    reason: String,
    /// The rows' positions among the incoming rows.
    rows: Vec<usize>,
}

/// The incoming rows whose float money is not a number, infinite, or too large for its decimal.
fn money_misfits(table: &Table, incoming: &Incoming) -> Vec<Misfit> {
    let Some(first) = incoming.batches.first() else { return Vec::new() };
    let mut found = Vec::new();
    for i in float_money(table, &first.schema()) {
        let mut rows = Vec::new();
        for (batch, start) in incoming.batches.iter().zip(&incoming.offsets) {
            rows.extend(money::misfits(batch.column(i)).into_iter().map(|r| start + r));
        }
        if !rows.is_empty() {
            let name = first.schema().field(i).name().clone();
            found.push(Misfit {
                rule: format!("{}.money.{name}", table.name),
                reason: format!("{name} is not an amount that fits decimal({MONEY_PRECISION},{MONEY_SCALE})"),
                rows,
            });
        }
    }
    found
}

/// The positions of `schema`'s float money columns (Float64 in bronze, money in the app schema).
fn float_money(table: &Table, schema: &Schema) -> Vec<usize> {
    let is_money = |f: &Field| table.is_float_money(f.name()) && *f.data_type() == DataType::Float64;
    schema.fields().iter().enumerate().filter(|(_, f)| is_money(f)).map(|(i, _)| i).collect()
}

/// The rows that go on with their float money as exact decimals (see [`crate::money`]).
fn conform_money(table: &Table, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
    let Some(first) = batches.first() else { return Ok(batches) };
    let schema = first.schema();
    let money = float_money(table, &schema);
    if money.is_empty() {
        return Ok(batches);
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| match money.contains(&i) {
            true => Field::new(f.name(), money::money_type(), f.is_nullable()),
            false => f.as_ref().clone(),
        })
        .collect();
    let conformed = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    batches
        .iter()
        .map(|b| {
            let columns = b
                .columns()
                .iter()
                .enumerate()
                .map(|(i, c)| if money.contains(&i) { money::conform(c) } else { c.clone() })
                .collect();
            RecordBatch::try_new(conformed.clone(), columns).map_err(|e| StageError::internal(e.to_string()))
        })
        .collect()
}

/// The conformed select list of `columns`: strings and enum values trimmed, emails lower-cased.
fn conformed_select(columns: &[&crate::schema::Column]) -> Vec<String> {
    columns
        .iter()
        .map(|c| match c.ty {
            Type::Varchar(_) | Type::Text if c.name.contains("email") => format!("lower(trim({0})) AS {0}", q(c.name)),
            Type::Varchar(_) | Type::Text | Type::Enum(_) => format!("trim({0}) AS {0}", q(c.name)),
            _ => q(c.name),
        })
        .collect()
}

/// The latest version per primary key (by `updated_at`, then ingestion and extraction time) of the bronze rows of
/// `from` that `filter` (a WHERE clause, or empty) keeps, as `select` and `_ingested_at`.
fn latest_sql(table: &Table, select: &[String], from: &str, filter: &str) -> String {
    let pk = table.primary_key.iter().map(|k| q(k)).collect::<Vec<_>>().join(", ");
    let order = if table.column("updated_at").is_some() { "updated_at DESC NULLS LAST, " } else { "" };
    format!(
        "SELECT {}, _ingested_at FROM (SELECT *, row_number() OVER (PARTITION BY {pk} ORDER BY {order}_ingested_at DESC, _extracted_at DESC) AS _rn FROM {from} {filter}) WHERE _rn = 1",
        select.join(", ")
    )
}

/// The SQL that rebuilds the conformed silver table of `table` in full from a relation `bronze_<table>` holding
/// all its bronze rows: the latest version per key, conformed, without the rows a `quarantine` rule sets aside
/// (relationships read the parents' rebuilt tables, named like their source tables); `sensitive` columns are not in
/// bronze. `warn` and `fail` rules do
/// not change the rows. `silver_transformation --print-sql` prints it so that other engines can run the same work
/// (bench/transform_vs_peers.sh).
pub fn rebuild_sql(table: &'static Table, rules: &[QualityRule], sensitive: &[&str]) -> Result<String> {
    let columns: Vec<&crate::schema::Column> = table.columns.iter().filter(|c| !sensitive.contains(&c.name)).collect();
    let incoming = latest_sql(table, &conformed_select(&columns), &q(&format!("bronze_{}", table.name)), "");
    let mut flags = Vec::new();
    let mut joins = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let v = quality::violation(rule, &quality::Scope { table, index: i, parent: &|p| p.to_string() })?;
        if rule.action == QualityAction::Quarantine {
            flags.push(format!("COALESCE({}, false)", v.expr));
        }
        joins.extend(v.join);
    }
    // Money as decimal (other engines' casts round half away from zero where amali rounds half-even: they differ
    // only on amounts that end in exactly half a cent).
    let cols = columns
        .iter()
        .map(|c| match table.is_float_money(c.name) {
            true => format!("CAST(s.{0} AS DECIMAL({MONEY_PRECISION},{MONEY_SCALE})) AS {0}", q(c.name)),
            false => format!("s.{}", q(c.name)),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let plain = columns.iter().map(|c| q(c.name)).collect::<Vec<_>>().join(", ");
    Ok(format!(
        "WITH incoming AS ({incoming}), all_rows AS (SELECT {plain} FROM incoming) SELECT {cols}, s._ingested_at FROM incoming s {} {}",
        joins.join(" "),
        if flags.is_empty() { String::new() } else { format!("WHERE NOT ({})", flags.join(" OR ")) }
    ))
}

/// The silver schema: the conformed columns, `_ingested_at`, and the silver run.
fn silver_schema(incoming: &Schema) -> Schema {
    let mut fields: Vec<Field> = incoming.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect();
    fields.push(Field::new("_silver_run_id", DataType::Utf8, true));
    Schema::new(fields)
}

/// One row as a JSON object of its values' text (for the quarantine table).
fn row_json(batch: &RecordBatch, row: usize, columns: usize) -> String {
    let schema = batch.schema();
    let mut map = serde_json::Map::new();
    for i in 0..columns {
        let a = batch.column(i);
        let v = if a.is_null(row) {
            serde_json::Value::Null
        } else {
            serde_json::Value::String(array_value_to_string(a, row).unwrap_or_default())
        };
        map.insert(schema.field(i).name().clone(), v);
    }
    serde_json::Value::Object(map).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_waits_for_its_parents_and_only_those_before_it() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../amali.toml")).unwrap();
        let config = amali_core::config::Config::parse(&text, "amali.toml").unwrap();
        let tables = ordered(crate::schema::TABLES.iter().collect(), &config.quality);
        assert_eq!(tables.len(), crate::schema::TABLES.len(), "every table once");
        let after = waits_for(&tables, &config.quality);
        assert!(after.iter().any(|a| !a.is_empty()), "amali.toml has relationships rules");
        for (at, t) in tables.iter().enumerate() {
            let parents = quality::parents(t.name, &config.quality);
            let waited: BTreeSet<String> = after[at].iter().map(|p| tables[*p].name.to_string()).collect();
            assert!(after[at].iter().all(|p| *p < at), "{} waits only for tables before it", t.name);
            for p in &parents {
                let position = tables.iter().position(|x| x.name == p.as_str());
                if position.is_some_and(|pp| pp < at) {
                    assert!(waited.contains(p), "{} waits for its parent {p}", t.name);
                }
            }
            assert!(waited.is_subset(&parents), "{} waits only for its parents", t.name);
        }
        let orders = tables.iter().position(|t| t.name == "orders").unwrap();
        assert!(after[orders].iter().any(|p| tables[*p].name == "users"), "orders waits for users");
    }
}
