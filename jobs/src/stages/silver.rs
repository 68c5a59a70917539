//! `silver_transformation`, part one: bronze -> the conformed silver tables, one per source table
//! (`<lake>/silver/<table>`), holding each row's current version, checked against the data-quality rules.
//!
//! Per table, incrementally: the bronze rows ingested since the last run (the silver table's Delta transaction
//! `amali/silver/<table>` holds the newest `_ingested_at` it has merged) are reduced to the latest version per
//! primary key (by `updated_at`, then ingestion time), conformed (strings trimmed, emails lower-cased), checked,
//! and MERGEd (upsert on the primary key; a table of one file is rewritten in one commit instead, see
//! [`rewrite_one_file`]). Rows that break a `quarantine` rule go to `<lake>/silver/_quarantine` with the rule
//! and the reason; a `fail` rule fails the table before anything is written; `warn` only counts.
//! Every table reports `rows_in == rows_out + rows_quarantined`, and the stage checks it.
//! Tables are processed parents first, so a `relationships` rule sees the parent's current rows of this run.
//! Then the original's silver tables (`users_data`, `orders_data`, ...) are built from the conformed tables by the
//! SQL models of `jobs/models/silver/` (see [`crate::models`]).

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU64;
use std::sync::Arc;

use amali::config::{QualityAction, QualityCheck, QualityRule};
use deltalake::DeltaTable;
use deltalake::arrow::array::{
    Array, ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use deltalake::arrow::compute::SortOptions;
use deltalake::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use deltalake::arrow::util::display::array_value_to_string;
use deltalake::datafusion::datasource::MemTable;
use deltalake::datafusion::prelude::{DataFrame, SessionContext, ident};
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;

use super::Outcome;
use super::ingest::BRONZE;
use super::landing::selected_tables;
use crate::error::{Result, StageError, df_err};
use crate::lake::{self, Lake, from_delta};
use crate::schema::{Table, Type, quote};
use crate::settings::Settings;
use crate::summary::{Layer, TableSummary};

/// The silver layer's directory.
pub const SILVER: &str = "silver";
/// The quarantine table's name (under `silver/`).
pub const QUARANTINE: &str = "_quarantine";
/// The size a conformed table's first load aims at per file (see [`conform`]).
const FILE_BYTES: u64 = 16 << 20;

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

/// Tables in an order where every `relationships` parent comes before its children.
pub fn ordered(tables: Vec<&'static Table>, rules: &BTreeMap<String, Vec<QualityRule>>) -> Vec<&'static Table> {
    let parents = |t: &str| parents(t, rules);
    let mut done: Vec<&'static Table> = Vec::new();
    let mut left = tables;
    while !left.is_empty() {
        let before = left.len();
        let names: BTreeSet<String> = left.iter().map(|t| t.name.to_string()).collect();
        let (ready, wait): (Vec<_>, Vec<_>) =
            left.into_iter().partition(|t| parents(t.name).iter().all(|p| !names.contains(p) || p == t.name));
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

/// The parents `table`'s relationships rules refer to (itself excluded).
fn parents(table: &str, rules: &BTreeMap<String, Vec<QualityRule>>) -> BTreeSet<String> {
    rules
        .get(table)
        .into_iter()
        .flatten()
        .filter_map(|r| match &r.check {
            QualityCheck::Relationships { to, .. } => to.split_once('.').map(|(p, _)| p.to_string()),
            _ => None,
        })
        .filter(|p| p != table)
        .collect()
}

/// Where a table's conformed rows go: the lake, the quarantine table (one writer at a time), and the run's time.
struct Sink<'a> {
    lake: &'a Lake,
    quarantine: &'a tokio::sync::Mutex<()>,
    now: i64,
}

/// The violation expression of a rule (true = the row breaks it), over `incoming` aliased `s`, with the joins
/// it needs.
/// `parent` names the relation holding a parent table's current rows.
fn violation(
    rule: &QualityRule,
    index: usize,
    table: &Table,
    parent: &dyn Fn(&str) -> String,
) -> Result<(String, Option<String>, String)> {
    let col = |c: &str| -> Result<String> {
        table.column(c).map(|_| format!("s.{}", q(c))).ok_or_else(|| {
            StageError::config(format!("a quality rule of {} names {c}, which the table does not have", table.name))
        })
    };
    Ok(match &rule.check {
        QualityCheck::NotNull { columns } => {
            let parts: Result<Vec<String>> = columns.iter().map(|c| Ok(format!("{} IS NULL", col(c)?))).collect();
            (parts?.join(" OR "), None, format!("NULL in {}", columns.join(", ")))
        }
        QualityCheck::AcceptedValues { column, values } => {
            let list = values.iter().map(|v| format!("'{}'", v.replace('\'', "''"))).collect::<Vec<_>>().join(", ");
            (
                format!("{0} IS NOT NULL AND {0} NOT IN ({list})", col(column)?),
                None,
                format!("{column} not in [{}]", values.join(", ")),
            )
        }
        QualityCheck::Range { column, min, max } => {
            let c = col(column)?;
            let mut parts = Vec::new();
            if let Some(m) = min {
                parts.push(format!("{c} < {m}"));
            }
            if let Some(m) = max {
                parts.push(format!("{c} > {m}"));
            }
            if parts.is_empty() {
                return Err(StageError::config(format!(
                    "range rule on {}.{column} has neither min nor max",
                    table.name
                )));
            }
            let bounds = format!(
                "[{}, {}]",
                min.map_or("-inf".into(), |m| m.to_string()),
                max.map_or("inf".into(), |m| m.to_string())
            );
            (format!("({})", parts.join(" OR ")), None, format!("{column} outside {bounds}"))
        }
        QualityCheck::Sql { name, predicate } => {
            (format!("(({predicate}) IS NOT TRUE)"), None, format!("{name}: {predicate} does not hold"))
        }
        QualityCheck::Relationships { column, to } => {
            let (parent_name, key) = to.split_once('.').ok_or_else(|| {
                StageError::config(format!(
                    "relationships rule on {}.{column}: `to` is TABLE.COLUMN, not {to:?}",
                    table.name
                ))
            })?;
            let alias = format!("p{index}");
            let join = format!(
                "LEFT JOIN (SELECT DISTINCT {key} AS k FROM {parent_view}) {alias} ON {c} = {alias}.k",
                key = q(key),
                parent_view = q(&parent(parent_name)),
                c = col(column)?
            );
            (
                format!("({c} IS NOT NULL AND {alias}.k IS NULL)", c = col(column)?),
                Some(join),
                format!("{column} has no {to}"),
            )
        }
        QualityCheck::Unique { columns } => {
            let alias = format!("u{index}");
            let cols: Result<Vec<String>> = columns.iter().map(|c| col(c)).collect();
            let cols = cols?;
            let plain = columns.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ");
            let on = columns
                .iter()
                .zip(&cols)
                .map(|(c, s)| format!("{s} = {alias}.{}", q(c)))
                .collect::<Vec<_>>()
                .join(" AND ");
            let join = format!(
                "LEFT JOIN (SELECT {plain} FROM {all} GROUP BY {plain} HAVING count(*) > 1) {alias} ON {on}",
                all = q("all_rows"),
            );
            let first = q(&columns[0]);
            (format!("({alias}.{first} IS NOT NULL)"), Some(join), format!("{} not unique", columns.join(", ")))
        }
    })
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
                let ctx: SessionContext = deltalake::delta_datafusion::create_session().into();
                let rules = settings.quality.get(table.name).cloned().unwrap_or_default();
                let sink = Sink { lake: &lake, quarantine: &quarantine, now };
                let result = conform(&settings, &ctx, &sink, table, &rules, &mut summary).await;
                (summary, result)
            }
        })
        .await,
    );
    let ctx: SessionContext = deltalake::delta_datafusion::create_session().into();
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
    let provider = table.table_provider().await.map_err(df_err("scan"))?;
    ctx.register_table(name, provider).map_err(df_err("register"))?;
    Ok(())
}

async fn conform(
    settings: &Settings,
    ctx: &SessionContext,
    sink: &Sink<'_>,
    table: &'static Table,
    rules: &[QualityRule],
    summary: &mut TableSummary,
) -> Result<()> {
    let (lake, now) = (sink.lake, sink.now);
    let name = table.name;
    let Some(bronze) = lake.open(BRONZE, name).await? else {
        summary.note = Some("no bronze table yet".into());
        return Ok(());
    };
    let existing = lake.open(SILVER, name).await?;
    let last = match &existing {
        Some(t) => lake::txn_version(t, &app_id(name)).await?,
        None => None,
    };
    // Schema drift: a column bronze lost or retyped fails the table before anything is written.
    let bronze_schema = bronze.snapshot().map_err(|e| from_delta("snapshot", e))?.schema();
    if let Some(silver) = &existing {
        let silver_schema = silver.snapshot().map_err(|e| from_delta("snapshot", e))?.schema();
        for field in silver_schema.fields().filter(|f| !f.name().starts_with('_')) {
            match bronze_schema.field(field.name()) {
                None => {
                    return Err(StageError::data(format!(
                        "schema drift: bronze {name} no longer has column {}; silver keeps it, so nothing was written",
                        field.name()
                    )));
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
    }
    register(ctx, "bronze_t", &bronze).await?;
    let columns: Vec<&crate::schema::Column> =
        table.columns.iter().filter(|c| bronze_schema.field(c.name).is_some()).collect();
    // Columns bronze gained that the app schema does not know yet: carried into silver as they are (strings
    // trimmed), which evolves the silver table's schema on the merge.
    let added: Vec<(String, bool)> = bronze_schema
        .fields()
        .filter(|f| !f.name().starts_with('_') && table.column(f.name()).is_none())
        .map(|f| (f.name().clone(), *f.data_type() == deltalake::kernel::DataType::STRING))
        .collect();
    let mut select = conformed_select(&columns);
    select.extend(added.iter().map(|(c, text)| if *text { format!("trim({0}) AS {0}", q(c)) } else { q(c) }));
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
    let incoming: Vec<RecordBatch> = super::latest::latest_per_key(read, table.primary_key, &order)?
        .iter()
        .map(|b| {
            let keep: Vec<usize> = (0..b.num_columns() - 1).collect();
            b.project(&keep).map_err(|e| StageError::internal(e.to_string()))
        })
        .collect::<Result<_>>()?;
    let rows_in: usize = incoming.iter().map(|b| b.num_rows()).sum();
    summary.rows_read = rows_in as u64;
    if rows_in == 0 {
        summary.note = Some("no new bronze rows".into());
        summary.delta_version = existing.as_ref().and_then(|t| t.version()).map(|v| v as i64);
        if existing.is_none() {
            // The table exists from the first run on, empty if its source is.
            let schema = silver_schema(&conformed_schema(&columns));
            let t = lake.open_or_create(SILVER, name, &schema, &[]).await?;
            summary.delta_version = t.version().map(|v| v as i64);
        }
        return Ok(());
    }
    // The newest ingestion time merged, from the rows in hand (not by reading bronze again).
    let newest: i64 = incoming
        .iter()
        .filter_map(|b| {
            let i = b.schema().index_of("_ingested_at").ok()?;
            let column = b.column(i).as_any().downcast_ref::<TimestampMicrosecondArray>()?;
            deltalake::arrow::compute::max(column)
        })
        .max()
        .ok_or_else(|| StageError::internal("no newest ingestion time"))?;
    // Each row carries its position (`__row`), so the checks return positions and flags, not copies of the rows.
    let data_columns = incoming[0].num_columns();
    let numbered_schema = Arc::new(Schema::new(
        incoming[0]
            .schema()
            .fields()
            .iter()
            .cloned()
            .chain([Arc::new(Field::new("__row", DataType::UInt64, false))])
            .collect::<Vec<_>>(),
    ));
    let mut offsets = Vec::with_capacity(incoming.len());
    let mut numbered = Vec::with_capacity(incoming.len());
    let mut start = 0usize;
    for b in &incoming {
        offsets.push(start);
        let mut columns = b.columns().to_vec();
        columns.push(Arc::new(UInt64Array::from_iter_values(start as u64..(start + b.num_rows()) as u64)));
        numbered.push(
            RecordBatch::try_new(numbered_schema.clone(), columns).map_err(|e| StageError::internal(e.to_string()))?,
        );
        start += b.num_rows();
    }
    let mem = MemTable::try_new(numbered_schema, vec![numbered]).map_err(df_err("incoming"))?;
    let _ = ctx.deregister_table("incoming");
    ctx.register_table("incoming", Arc::new(mem)).map_err(df_err("incoming"))?;
    // `all_rows`: the table's rows after this merge would apply (for unique rules).
    let all_rows = match &existing {
        Some(t) => {
            register(ctx, "silver_existing", t).await?;
            format!(
                "SELECT {cols} FROM silver_existing e WHERE NOT EXISTS (SELECT 1 FROM incoming i WHERE {on}) UNION ALL SELECT {cols} FROM incoming",
                cols = columns.iter().map(|c| q(c.name)).collect::<Vec<_>>().join(", "),
                on = table.primary_key.iter().map(|k| format!("i.{0} = e.{0}", q(k))).collect::<Vec<_>>().join(" AND ")
            )
        }
        None => format!("SELECT {} FROM incoming", columns.iter().map(|c| q(c.name)).collect::<Vec<_>>().join(", ")),
    };
    let _ = ctx.deregister_table("all_rows");
    let all_df = ctx.sql(&all_rows).await.map_err(df_err("all rows"))?;
    ctx.register_table("all_rows", all_df.into_view()).map_err(df_err("all rows"))?;
    // Parents' current rows for relationships rules: only the files that can hold the keys this run refers to
    // (the range of the incoming column, as literals the scan prunes files with).
    for (i, rule) in rules.iter().enumerate() {
        if let QualityCheck::Relationships { to, column } = &rule.check
            && let Some((parent, key)) = to.split_once('.')
        {
            let Some(t) = lake.open(SILVER, parent).await? else {
                return Err(StageError::config(format!(
                    "{}: its parent {parent} has no silver table; add {parent} to the tables this stage runs",
                    rule.id(name)
                )));
            };
            let provider = t.table_provider().await.map_err(df_err("scan"))?;
            let range = lake::min_max(ctx, "incoming", &q(column)).await?;
            let rows = lake::within(ctx.read_table(provider).map_err(df_err("scan"))?, key, &range)?;
            let view = format!("silver_{parent}_{i}");
            let _ = ctx.deregister_table(view.as_str());
            ctx.register_table(view.as_str(), rows.into_view()).map_err(df_err("register"))?;
        }
    }
    let mut flags = Vec::new();
    let mut joins = Vec::new();
    let mut reasons = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let (expr, join, reason) = violation(rule, i, table, &|p| format!("silver_{p}_{i}"))?;
        flags.push(format!("COALESCE({expr}, false) AS _v{i}"));
        joins.extend(join);
        reasons.push(reason);
    }
    // The rows breaking each rule, by position.
    let mut violations: Vec<Vec<usize>> = vec![Vec::new(); rules.len()];
    if !rules.is_empty() {
        let checked_sql = format!("SELECT s.__row, {} FROM incoming s {}", flags.join(", "), joins.join(" "));
        let checked = ctx
            .sql(&checked_sql)
            .await
            .map_err(df_err("check quality"))?
            .collect()
            .await
            .map_err(df_err("check quality"))?;
        let checked_rows: usize = checked.iter().map(|b| b.num_rows()).sum();
        if checked_rows != rows_in {
            return Err(StageError::internal(format!(
                "{name}: the quality checks saw {checked_rows} rows of {rows_in} (a rule's join multiplied or dropped rows)"
            )));
        }
        for batch in &checked {
            let positions = batch
                .column(0)
                .as_any()
                .downcast_ref::<UInt64Array>()
                .ok_or_else(|| StageError::internal("the row positions are not UInt64"))?;
            for (i, rule) in rules.iter().enumerate() {
                let v =
                    batch.column(1 + i).as_any().downcast_ref::<BooleanArray>().ok_or_else(|| {
                        StageError::internal(format!("the flag of {} is not a boolean", rule.id(name)))
                    })?;
                violations[i]
                    .extend(v.values().set_indices().filter(|r| v.is_valid(*r)).map(|r| positions.value(r) as usize));
            }
        }
    }
    // Sort the rows out: quarantined (any quarantine rule), the rest go on; fail rules stop the table.
    let mut keep = vec![true; rows_in];
    let mut quarantine_rows: Vec<(usize, String, String, String, String)> = Vec::new();
    let mut warnings: BTreeMap<String, u64> = BTreeMap::new();
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    let pk_index: Vec<usize> = table.primary_key.iter().filter_map(|k| incoming[0].schema().index_of(k).ok()).collect();
    for (i, (rule, rows)) in rules.iter().zip(violations).enumerate() {
        if rows.is_empty() {
            continue;
        }
        let id = rule.id(name);
        match rule.action {
            QualityAction::Warn => *warnings.entry(id).or_default() += rows.len() as u64,
            QualityAction::Fail => *failures.entry(id).or_default() += rows.len() as u64,
            QualityAction::Quarantine => {
                for position in rows {
                    let b = offsets.partition_point(|o| *o <= position) - 1;
                    let (batch, row) = (&incoming[b], position - offsets[b]);
                    let key = pk_index
                        .iter()
                        .map(|c| array_value_to_string(batch.column(*c), row).unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join("|");
                    quarantine_rows.push((
                        position,
                        id.clone(),
                        reasons[i].clone(),
                        key,
                        row_json(batch, row, data_columns),
                    ));
                    keep[position] = false;
                }
            }
        }
    }
    quarantine_rows.sort_by_key(|r| r.0);
    let quarantined = keep.iter().filter(|k| !**k).count() as u64;
    let keep_batches: Vec<RecordBatch> = if quarantined == 0 {
        incoming
    } else {
        incoming
            .iter()
            .zip(&offsets)
            .map(|(b, o)| {
                let mask = BooleanArray::from(keep[*o..*o + b.num_rows()].to_vec());
                deltalake::arrow::compute::filter_record_batch(b, &mask)
                    .map_err(|e| StageError::internal(e.to_string()))
            })
            .collect::<Result<_>>()?
    };
    if !failures.is_empty() {
        let list = failures.iter().map(|(r, n)| format!("{r} ({n} rows)")).collect::<Vec<_>>().join(", ");
        return Err(StageError::data(format!("{name} breaks fail rules: {list}; nothing was written")));
    }
    if !warnings.is_empty() {
        let list = warnings.iter().map(|(r, n)| format!("{r}: {n}")).collect::<Vec<_>>().join(", ");
        tracing::warn!(table = name, rules = %list, "quality warnings");
        summary.note = Some(format!("warnings: {list}"));
    }
    let rows_out: u64 = keep_batches.iter().map(|b| b.num_rows() as u64).sum();
    if rows_out + quarantined != rows_in as u64 {
        return Err(StageError::internal(format!(
            "{name}: {rows_in} rows in, {rows_out} out, {quarantined} quarantined: the counts do not reconcile"
        )));
    }

    // Quarantine first (exactly once per newest ingestion time), then the merge that records it.
    if !quarantine_rows.is_empty() {
        let _turn = sink.quarantine.lock().await;
        let mut qt = lake.open_or_create(SILVER, QUARANTINE, &quarantine_schema(), &[]).await?;
        let app = format!("amali/quarantine/{name}");
        if lake::txn_version(&qt, &app).await?.is_none_or(|v| v < newest) {
            let n = quarantine_rows.len();
            let batch = RecordBatch::try_new(
                Arc::new(quarantine_schema()),
                vec![
                    Arc::new(StringArray::from(vec![name; n])) as ArrayRef,
                    Arc::new(StringArray::from(quarantine_rows.iter().map(|r| r.1.as_str()).collect::<Vec<_>>())),
                    Arc::new(StringArray::from(quarantine_rows.iter().map(|r| r.2.as_str()).collect::<Vec<_>>())),
                    Arc::new(StringArray::from(quarantine_rows.iter().map(|r| r.3.as_str()).collect::<Vec<_>>())),
                    Arc::new(StringArray::from(quarantine_rows.iter().map(|r| r.4.as_str()).collect::<Vec<_>>())),
                    Arc::new(StringArray::from(vec![settings.run_id.as_str(); n])),
                    Arc::new(TimestampMicrosecondArray::from(vec![now; n]).with_timezone("UTC")),
                ],
            )
            .map_err(|e| StageError::internal(e.to_string()))?;
            lake::append(&mut qt, futures::stream::iter([Ok(batch)]), &app, newest, &settings.run_id).await?;
        }
    }
    summary.rows_quarantined = quarantined;

    let schema = keep_batches[0].schema();
    let properties = CommitProperties::default()
        .with_application_transaction(Transaction::new(app_id(name), newest))
        .with_metadata([
            (lake::META_APP_ID.to_string(), serde_json::json!(app_id(name))),
            (lake::META_TXN_VERSION.to_string(), serde_json::json!(newest)),
            (lake::META_RUN_ID.to_string(), serde_json::json!(settings.run_id)),
        ]);
    let target = lake.open_or_create(SILVER, name, &silver_schema(&schema), &[]).await?;
    let source = ctx.read_batches(keep_batches).map_err(df_err("merge source"))?;
    let source = source
        .with_column("_silver_run_id", deltalake::datafusion::prelude::lit(settings.run_id.as_str()))
        .map_err(df_err("merge source"))?;
    if existing.is_none() {
        // The first load: nothing to match, so an append (same commit properties, same exactly-once txn).
        let written = write_in_key_order(ctx, target, source, table.primary_key, SaveMode::Append, properties).await?;
        summary.rows_written = rows_out;
        summary.delta_version = written.version().map(|v| v as i64);
        return Ok(());
    }
    let on = table.primary_key.iter().map(|k| format!("t.{0} = s.{0}", q(k))).collect::<Vec<_>>().join(" AND ");
    let all: Vec<String> =
        schema.fields().iter().map(|f| f.name().clone()).chain(["_silver_run_id".to_string()]).collect();
    let target_columns: BTreeSet<String> =
        target.snapshot().map_err(|e| from_delta("snapshot", e))?.schema().fields().map(|f| f.name().clone()).collect();
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
    if let Some((after, note)) =
        rewrite_one_file(ctx, &target, source.clone(), &on, &changed, table.primary_key, properties.clone()).await?
    {
        summary.rows_written = rows_out;
        summary.delta_version = after.version().map(|v| v as i64);
        tracing::debug!(table = name, note, "merged");
        return Ok(());
    }
    let (table_after, metrics) = target
        .merge(source, on.as_str())
        .with_source_alias("s")
        .with_target_alias("t")
        .with_merge_schema(true)
        .with_commit_properties(properties)
        .when_matched_update(|u| {
            // Only a row that changed is updated: rows extracted again unchanged (the extraction's overlap) keep
            // their `_ingested_at`, so the models downstream see no change.
            let mut u = u.predicate(changed.as_str());
            for c in &all {
                u = u.update(c.as_str(), format!("s.{}", q(c)).as_str());
            }
            u
        })
        .and_then(|m| {
            m.when_not_matched_insert(|i| {
                let mut i = i;
                for c in &all {
                    i = i.set(c.as_str(), format!("s.{}", q(c)).as_str());
                }
                i
            })
        })
        .map_err(|e| from_delta("merge", e))?
        .await
        .map_err(|e| from_delta(&format!("merge into silver {name}"), e))?;
    summary.rows_written = rows_out;
    summary.delta_version = table_after.version().map(|v| v as i64);
    tracing::debug!(
        table = name,
        inserted = metrics.num_target_rows_inserted,
        updated = metrics.num_target_rows_updated,
        "merged"
    );
    Ok(())
}

/// The merge of `source` into `target` (`on` and `changed` as for the merge), done by writing the table's rows
/// when it is one file, which delta-rs's merge reads whole and, when a row of it changes, rewrites whole, at more
/// cost (it evaluates every clause on every row): only new rows are appended; otherwise the file's rows that no
/// source row changes and the source's new or changed rows replace it, in key order, in one overwrite commit.
/// `None` (nothing written) when the table has more files, or its columns are not the source's (an evolving
/// schema is the merge's work), or no row is new or changed.
async fn rewrite_one_file(
    ctx: &SessionContext,
    target: &DeltaTable,
    source: DataFrame,
    on: &str,
    changed: &str,
    key: &[&str],
    properties: CommitProperties,
) -> Result<Option<(DeltaTable, String)>> {
    let snapshot = target.snapshot().map_err(|e| from_delta("snapshot", e))?;
    if snapshot.log_data().num_files() != 1 {
        return Ok(None);
    }
    let provider = target.table_provider().await.map_err(df_err("scan"))?;
    let schema = provider.schema();
    let theirs: BTreeSet<&String> = source.schema().fields().iter().map(|f| f.name()).collect();
    let ours: BTreeSet<&String> = schema.fields().iter().map(|f| f.name()).collect();
    if theirs != ours {
        return Ok(None);
    }
    for relation in ["__whole", "__source", "__upserts"] {
        let _ = ctx.deregister_table(relation);
    }
    ctx.register_table("__whole", provider).map_err(df_err("scan"))?;
    ctx.register_table("__source", source.into_view()).map_err(df_err("merge source"))?;
    let upserts = format!(
        "SELECT s.*, t.{first} IS NOT NULL AS __matched FROM __source s LEFT JOIN __whole t ON {on} \
         WHERE t.{first} IS NULL OR ({changed})",
        first = q(key[0])
    );
    let upserts = ctx.sql(&upserts).await.map_err(df_err("rows to write"))?;
    let upserts = upserts.collect().await.map_err(df_err("rows to write"))?;
    let Some(first) = upserts.first() else { return Ok(None) };
    let (mut updated, mut inserted) = (0, 0);
    for batch in &upserts {
        let matched = batch.column(batch.num_columns() - 1).as_any().downcast_ref::<BooleanArray>();
        let matched = matched.ok_or_else(|| StageError::internal("the match flag is not a boolean"))?.true_count();
        updated += matched;
        inserted += batch.num_rows() - matched;
    }
    let upserts = MemTable::try_new(first.schema(), vec![upserts]).map_err(df_err("rows to write"))?;
    ctx.register_table("__upserts", Arc::new(upserts)).map_err(df_err("rows to write"))?;
    // The table's columns only (the match flag left out), as its types.
    let new = lake::typed_as(ctx.table("__upserts").await.map_err(df_err("rows to write"))?, &schema, "rows to write")?;
    let (rows, mode, note) = if updated == 0 {
        (new, SaveMode::Append, format!("{inserted} inserted (appended)"))
    } else {
        let kept = format!("SELECT * FROM __whole t WHERE NOT EXISTS (SELECT 1 FROM __upserts s WHERE {on})");
        let kept = lake::typed_as(ctx.sql(&kept).await.map_err(df_err("rows kept"))?, &schema, "rows kept")?;
        let rows = kept.union(new).map_err(df_err("rows to write"))?;
        (rows, SaveMode::Overwrite, format!("{inserted} inserted, {updated} updated (its one file rewritten)"))
    };
    let written = write_in_key_order(ctx, target.clone(), rows, key, mode, properties).await?;
    Ok(Some((written, note)))
}

/// Writes `rows` to the silver table `target` in one commit, in `key` order and in files of about [`FILE_BYTES`]:
/// each file then holds a narrow key range, so a later merge, whose new keys and re-extracted overlap are the
/// newest, reads only the last files instead of the whole table.
async fn write_in_key_order(
    ctx: &SessionContext,
    target: DeltaTable,
    rows: DataFrame,
    key: &[&str],
    mode: SaveMode,
    properties: CommitProperties,
) -> Result<DeltaTable> {
    let by_key = key.iter().map(|k| ident(*k).sort(true, false)).collect();
    let rows = rows.sort(by_key).map_err(df_err("order by key"))?;
    target
        .write(Vec::new())
        .with_input_plan(rows.logical_plan().clone())
        .with_session_state(Arc::new(ctx.state()))
        .with_target_file_size(NonZeroU64::new(FILE_BYTES))
        .with_save_mode(mode)
        .with_commit_properties(properties)
        .await
        .map_err(|e| from_delta("write silver", e))
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
        let (expr, join, _) = violation(rule, i, table, &|p| p.to_string())?;
        if rule.action == QualityAction::Quarantine {
            flags.push(format!("COALESCE({expr}, false)"));
        }
        joins.extend(join);
    }
    let cols = columns.iter().map(|c| format!("s.{}", q(c.name))).collect::<Vec<_>>().join(", ");
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

/// The schema of the conformed rows: the table's columns bronze has, then `_ingested_at`.
fn conformed_schema(columns: &[&crate::schema::Column]) -> Schema {
    let mut fields: Vec<Field> = columns.iter().map(|c| c.field().with_nullable(true)).collect();
    fields.push(Field::new("_ingested_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true));
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
        let config = amali::config::Config::parse(&text, "amali.toml").unwrap();
        let tables = ordered(crate::schema::TABLES.iter().collect(), &config.quality);
        assert_eq!(tables.len(), crate::schema::TABLES.len(), "every table once");
        let after = waits_for(&tables, &config.quality);
        assert!(after.iter().any(|a| !a.is_empty()), "amali.toml has relationships rules");
        for (at, t) in tables.iter().enumerate() {
            let parents = parents(t.name, &config.quality);
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
