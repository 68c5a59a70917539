//! SQL models: the silver data products and the gold tables, one `.sql` file per table under `jobs/models/`, each
//! with its definition in a header comment. They run on DataFusion over the lake's tables and replace their table
//! in one Delta commit (an overwrite), so a reader sees the old or the new version, never half of one.
//!
//! A model whose inputs have not changed since it was last built (same input table versions, same logical date,
//! same SQL) is not rebuilt: rerunning a run changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

use deltalake::DeltaTable;
use deltalake::arrow::array::{Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, new_null_array};
use deltalake::arrow::datatypes::{DataType, Field, Schema};
use deltalake::datafusion::catalog::TableProvider;
use deltalake::datafusion::common::tree_node::TreeNodeRecursion;
use deltalake::datafusion::datasource::MemTable;
use deltalake::datafusion::logical_expr::LogicalPlan;
use deltalake::datafusion::prelude::{DataFrame, SessionContext};
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;
use futures::TryStreamExt;

use crate::error::{Result, StageError, df_err};
use crate::lake::{self, Lake, SILVER, Upsert, from_delta, key_ranges, typed_as, within};
use crate::outcome::Outcome;
use crate::schema::{Engine, quote};
use crate::summary::{Layer, TableSummary};
use crate::telemetry::lap;

/// One model.
#[derive(Debug, Clone, Copy)]
pub struct Model {
    /// The table it builds.
    pub name: &'static str,
    /// Its SQL, with `{{logical_date}}` standing for the run's logical date.
    pub sql: &'static str,
}

macro_rules! model {
    ($layer:literal, $name:literal) => {
        Model { name: $name, sql: include_str!(concat!("../models/", $layer, "/", $name, ".sql")) }
    };
}

/// The original's silver tables, built from the conformed silver tables with the right joins.
pub static SILVER_MODELS: &[Model] = &[
    model!("silver", "users_data"),
    model!("silver", "orders_data"),
    model!("silver", "payments_data"),
    model!("silver", "products_data"),
    model!("silver", "returns_data"),
    model!("silver", "discounts_data"),
    model!("silver", "vendor_applications_data"),
];

/// The gold tables: the original's twelve KPI tables (same names and columns) and the star schema.
pub static GOLD_MODELS: &[Model] = &[
    model!("gold", "daily_sales_metrics"),
    model!("gold", "payment_method_metrics"),
    model!("gold", "monthly_revenue_metrics"),
    model!("gold", "product_sales_metrics"),
    model!("gold", "inventory_metrics"),
    model!("gold", "customer_segments"),
    model!("gold", "customer_lifetime_value"),
    model!("gold", "vendor_application_metrics"),
    model!("gold", "vendor_sales_metrics"),
    model!("gold", "return_analysis_metrics"),
    model!("gold", "shipping_performance_metrics"),
    model!("gold", "executive_dashboard_metrics"),
    model!("gold", "dim_customer"),
    model!("gold", "dim_product"),
    model!("gold", "dim_date"),
    model!("gold", "fact_order_items"),
];

impl Model {
    /// The definition: the header comment's text, without the build directives.
    pub fn definition(&self) -> String {
        self.header().filter(|l| directive(l).is_none()).collect::<Vec<_>>().join(" ")
    }

    fn header(&self) -> impl Iterator<Item = &'static str> {
        self.sql.lines().take_while(|l| l.starts_with("--")).map(|l| l.trim_start_matches("--").trim())
    }

    fn directive(&self, name: &str) -> Option<&'static str> {
        self.header().filter_map(directive).find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.directive(name)
            .map(|v| v.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect())
            .unwrap_or_default()
    }

    /// How the model is updated when few of its input rows changed (`-- incremental:` and `-- grain:`).
    pub fn incremental(&self) -> Option<Incremental> {
        let (key, inputs) = self.directive("incremental")?.split_once("<-")?;
        Some(Incremental { key: key.trim().to_string(), inputs: table_columns(inputs), grain: self.list("grain") })
    }

    /// How the model is updated from the rows that changed when its measures add up (`-- additive: TABLE.UNIT,
    /// ...` and `-- grain:`).
    pub fn additive(&self) -> Option<Additive> {
        let inputs = table_columns(self.directive("additive")?);
        (!inputs.is_empty()).then(|| Additive { inputs, grain: self.list("grain") })
    }

    /// The partition columns of its table (`-- partition_by:`), business dates.
    pub fn partition_by(&self) -> Vec<String> {
        self.list("partition_by")
    }

    /// The columns its files are Z-ordered by when they are compacted (`-- zorder_by:`).
    pub fn zorder_by(&self) -> Vec<String> {
        self.list("zorder_by")
    }

    /// The SQL for a run on `logical_date` (YYYY-MM-DD, checked by the settings).
    pub fn render(&self, logical_date: &str) -> String {
        self.sql.replace("{{logical_date}}", logical_date)
    }
}

/// The build directives a model's header may hold (`-- name: value`).
const DIRECTIVES: &[&str] = &["incremental", "additive", "grain", "partition_by", "zorder_by"];

/// `table.column, ...` as (table, column) pairs.
fn table_columns(list: &str) -> Vec<(String, String)> {
    list.split(',')
        .filter_map(|i| i.trim().split_once('.'))
        .map(|(t, c)| (t.trim().to_string(), c.trim().to_string()))
        .collect()
}

fn directive(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    DIRECTIVES.contains(&name.trim()).then(|| (name.trim(), value.trim()))
}

/// An incremental model: its rows are grouped by `key`, and the rows of key `k` are computed from the rows of each
/// input of `inputs` whose column equals `k` (and from the whole of every other input it reads). When few input
/// rows changed, only the keys they touch (before and after the change) are recomputed and MERGEd into the table
/// on the `grain`; a change to an input read whole rebuilds the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incremental {
    /// The output column the rows are grouped by.
    pub key: String,
    /// The inputs read by key: (table, the column holding the key).
    pub inputs: Vec<(String, String)>,
    /// The output columns that identify a row (the key among them).
    pub grain: Vec<String>,
}

/// An additive model: its SQL computes, in a CTE named `measures` ([`MEASURES`]), sums and counts over its inputs
/// grouped by the `grain`, and derives the table from `measures` in its final SELECT, keeping each measure as a
/// column of the same name. The rows of each input of `inputs` belong to units (an order id, held in a column of
/// each input), and every measure must add up over disjoint sets of units (a sum, a count, or a count of distinct
/// units); with a grain, one of them must count rows, so a group is gone when all its measures are 0 (without a
/// grain the table is one row). When few input rows changed, the measures of the units they belong to are computed
/// twice, over those units' rows before the change and after it, subtracted from and added to the measures the
/// table holds, and the table is derived again from the updated measures: its size, not the inputs', is what the
/// run reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Additive {
    /// The inputs whose changed rows update the measures: (table, the column holding the unit). A changed row's
    /// unit is recomputed whole, from every input.
    pub inputs: Vec<(String, String)>,
    /// The columns the measures are grouped by (none: one row).
    pub grain: Vec<String>,
}

impl Additive {
    /// The inputs as the header names them (`orders.id, order_items.order_id`).
    pub fn described(&self) -> String {
        self.inputs.iter().map(|(t, c)| format!("{t}.{c}")).collect::<Vec<_>>().join(", ")
    }
}

/// The name of an additive model's CTE of measures.
pub const MEASURES: &str = "measures";

/// The SQL of a model's [`MEASURES`] CTE (with the CTEs before it), and of the rest of the query, which reads
/// `measures` as a table.
pub fn split_measures(ctx: &SessionContext, sql: &str) -> Result<(String, String)> {
    use deltalake::datafusion::sql::parser::Statement as Parsed;
    use deltalake::datafusion::sql::sqlparser::ast::Statement;
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let parsed = state.sql_to_statement(sql, &dialect).map_err(df_err("parse the model"))?;
    let no_measures = || {
        StageError::config(format!(
            "an additive model needs a CTE named {MEASURES} (WITH {MEASURES} AS (...) SELECT ...)"
        ))
    };
    let Parsed::Statement(statement) = parsed else { return Err(no_measures()) };
    let Statement::Query(query) = *statement else { return Err(no_measures()) };
    let mut rest = (*query).clone();
    let with = rest.with.as_mut().ok_or_else(no_measures)?;
    let at = with
        .cte_tables
        .iter()
        .position(|c| c.alias.name.value.eq_ignore_ascii_case(MEASURES))
        .ok_or_else(no_measures)?;
    let cte = with.cte_tables.remove(at);
    let earlier: Vec<String> = with.cte_tables[..at].iter().map(|c| c.to_string()).collect();
    if with.cte_tables.is_empty() {
        rest.with = None;
    }
    let measures =
        if earlier.is_empty() { cte.query.to_string() } else { format!("WITH {} {}", earlier.join(", "), cte.query) };
    Ok((measures, rest.to_string()))
}

/// Commit metadata: what an incremental build needs to know of the last build (see [`State`]).
const META_STATE: &str = "amali.state";
/// Above this share of the table's keys, recomputing the affected keys costs more than a rebuild.
const MAX_AFFECTED_SHARE: f64 = 0.25;
/// Up to this many affected keys a merge is always cheap, whatever the share.
const MIN_KEYS_TO_WEIGH: usize = 10_000;

/// Whether `changed` of `total` keys (or rows) are too many to update the table by them: a rebuild costs less.
fn too_many(changed: usize, total: i64) -> bool {
    changed > MIN_KEYS_TO_WEIGH && changed as f64 > MAX_AFFECTED_SHARE * total as f64
}

/// What a model's last build read: the versions of its inputs and the newest `_ingested_at` of the inputs it
/// reads by key.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct State {
    sql: String,
    versions: BTreeMap<String, i64>,
    watermarks: BTreeMap<String, i64>,
    /// The version of the table's last full rebuild: a model reading this one by key rebuilds after it (a rebuild
    /// can change rows without a newer `_ingested_at`, e.g. when the model's SQL changed).
    #[serde(default)]
    rebuilt: i64,
}

/// Registers each existing table of `layer` named in `names` under its name; returns name -> version.
pub async fn register_layer(
    ctx: &SessionContext,
    lake: &Lake,
    layer: &str,
    names: impl IntoIterator<Item = &str>,
) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    for name in names {
        if let Some(table) = lake.open(layer, name).await? {
            let _ = ctx.deregister_table(name);
            let provider =
                lake::scan(&table, ctx).await.map_err(|e| StageError::internal(format!("scan {name}: {e}")))?;
            ctx.register_table(name, provider).map_err(|e| StageError::internal(format!("register {name}: {e}")))?;
            let bytes = table.snapshot().map_or(0, |s| s.log_data().iter().map(|f| f.size().max(0) as u64).sum());
            let version = table.version().map(|v| v as i64).unwrap_or(-1);
            inputs.0.insert(name.to_string(), Input { version, bytes });
        }
    }
    Ok(inputs)
}

/// The tables registered for the models ([`register_layer`]), by name.
#[derive(Debug, Clone, Default)]
pub struct Inputs(BTreeMap<String, Input>);

/// A registered table: the version registered and the bytes of its active files.
#[derive(Debug, Clone)]
struct Input {
    version: i64,
    bytes: u64,
}

impl Inputs {
    /// The version of `name` registered (-1: not registered, or a table without a version).
    fn version(&self, name: &str) -> i64 {
        self.0.get(name).map_or(-1, |i| i.version)
    }

    /// The Parquet bytes of the tables `names` (those registered).
    fn bytes<'a>(&self, names: impl IntoIterator<Item = &'a String>) -> u64 {
        names.into_iter().filter_map(|n| self.0.get(n.as_str())).map(|i| i.bytes).sum()
    }
}

/// Below this many Parquet bytes of input, a model is rebuilt rather than updated: working out the affected keys
/// (time travel over every input, the model over those keys, a merge) then costs more than the whole query. At
/// scale 1, `dim_customer` (over `users_data`, 5 MB) took 0.47 s to merge 2.4k changed customers and 0.07 s to
/// rebuild. A model other models read by key keeps its lineage through such a rebuild (see `Build::lineage_holds`).
/// `AMALI_SMALL_INPUT_BYTES` overrides it (0: always update by key).
const SMALL_INPUT_BYTES: u64 = 16 << 20;

/// [`SMALL_INPUT_BYTES`], or `AMALI_SMALL_INPUT_BYTES` when set to a number of bytes.
fn small_input_bytes() -> u64 {
    std::env::var("AMALI_SMALL_INPUT_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(SMALL_INPUT_BYTES)
}

/// Whether some model reads `table` by key or by unit (an `-- incremental:` or `-- additive:` input): a rebuild
/// that changes rows without a newer `_ingested_at` would make that model rebuild too (see [`State::rebuilt`]).
fn read_by_key(table: &str) -> bool {
    SILVER_MODELS.iter().chain(GOLD_MODELS).any(|m| {
        let inc = m.incremental().map(|i| i.inputs).unwrap_or_default();
        let add = m.additive().map(|a| a.inputs).unwrap_or_default();
        inc.iter().chain(&add).any(|(t, _)| t == table)
    })
}

fn hash_of(value: impl Hash) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The build state in a table's last commit (none for a table amali did not build, or built before states).
async fn last_state(table: &DeltaTable) -> Result<Option<State>> {
    let info = last_commit_info(table).await?;
    Ok(info.get(META_STATE).and_then(|v| v.as_str()).and_then(|s| serde_json::from_str(s).ok()))
}

async fn last_commit_info(table: &DeltaTable) -> Result<serde_json::Map<String, serde_json::Value>> {
    let commits: Vec<_> = table.history(Some(1)).try_collect().await.map_err(|e| from_delta("read history", e))?;
    Ok(commits.into_iter().next().map(|c| c.info.into_iter().collect()).unwrap_or_default())
}

/// The tables `sql` reads (sorted, once each).
fn references(ctx: &SessionContext, sql: &str) -> Vec<String> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let Ok(statement) = state.sql_to_statement(sql, &dialect) else { return Vec::new() };
    let Ok(references) = state.resolve_table_references(&statement) else { return Vec::new() };
    let mut names: Vec<String> = references.into_iter().map(|r| r.table().to_string()).collect();
    names.sort();
    names.dedup();
    names
}

/// The primary key of a lake table a model may read: a source table's, or a data product's grain.
fn row_key(table: &str) -> Option<Vec<String>> {
    if let Some(t) = crate::schema::table(table) {
        return Some(t.primary_key.iter().map(|k| k.to_string()).collect());
    }
    let grain = SILVER_MODELS.iter().find(|m| m.name == table)?.incremental()?.grain;
    (!grain.is_empty()).then_some(grain)
}

/// The columns each table `plan` scans reads (its projection and its pushed-down filters), after optimisation.
fn scanned_columns(plan: DataFrame) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let plan = plan.into_optimized_plan().map_err(df_err("plan"))?;
    let mut columns: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let read = columns.entry(scan.table_name.table().to_string()).or_default();
            read.extend(scan.projected_schema.fields().iter().map(|f| f.name().clone()));
            for filter in &scan.filters {
                read.extend(filter.column_refs().into_iter().map(|c| c.name.clone()));
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .map_err(df_err("plan"))?;
    Ok(columns)
}

async fn collect(ctx: &SessionContext, sql: &str, context: &str) -> Result<Vec<RecordBatch>> {
    ctx.sql(sql).await.map_err(df_err(context))?.collect().await.map_err(df_err(context))
}

async fn scalar_i64(ctx: &SessionContext, sql: &str, context: &str) -> Result<Option<i64>> {
    let batches = collect(ctx, sql, context).await?;
    Ok(batches.iter().find(|b| b.num_rows() > 0).and_then(|b| {
        let c = deltalake::arrow::compute::cast(b.column(0), &DataType::Int64).ok()?;
        let a = c.as_any().downcast_ref::<Int64Array>()?;
        (!a.is_null(0)).then(|| a.value(0))
    }))
}

/// `_ingested_at` after `micros` (a literal DataFusion folds, so file statistics can skip older files).
pub fn ingested_after(micros: i64) -> String {
    format!("_ingested_at > arrow_cast({micros}, 'Timestamp(Microsecond, Some(\"UTC\"))')")
}

/// Builds `models` into `layer` over the tables registered in `ctx`, a few at a time (each in a context of its
/// own over the same tables). A model that fails (bad SQL, a missing input) fails its table; the others go on.
pub async fn build(
    ctx: &SessionContext,
    lake: &Lake,
    layer: &'static str,
    models: &'static [Model],
    inputs: &Inputs,
    run_id: &str,
    logical_date: &str,
) -> Outcome {
    let kind = if layer == "gold" { Layer::Gold } else { Layer::Silver };
    let jobs = models.iter().map(|m| (TableSummary::new(m.name, kind), m)).collect();
    let shared = (ctx.clone(), lake.clone(), Arc::new(inputs.clone()), run_id.to_string(), logical_date.to_string());
    crate::outcome::each_table(jobs, "built", move |model, mut summary| {
        let (ctx, lake, inputs, run_id, logical_date) = shared.clone();
        async move {
            let result = async {
                let own = own_context(&ctx).await?;
                let job = Build { ctx: &own, lake: &lake, layer, model, run_id: &run_id, logical_date: &logical_date };
                job.run(&inputs, &mut summary).await
            }
            .await;
            (summary, result)
        }
    })
    .await
}

/// A context over the tables registered in `ctx`, for one build: the temporary tables a build registers
/// (`__target`, `__changed_<input>`, ...) do not clash with another build's.
async fn own_context(ctx: &SessionContext) -> Result<SessionContext> {
    let own = crate::memory::session_like(ctx);
    let options = ctx.state().config().options().catalog.clone();
    let names = ctx
        .catalog(&options.default_catalog)
        .and_then(|c| c.schema(&options.default_schema))
        .map(|s| s.table_names())
        .unwrap_or_default();
    for name in names {
        let provider = ctx.table_provider(name.as_str()).await.map_err(df_err("inputs"))?;
        own.register_table(name.as_str(), provider).map_err(df_err("inputs"))?;
    }
    Ok(own)
}

/// One model's build.
struct Build<'a> {
    ctx: &'a SessionContext,
    lake: &'a Lake,
    layer: &'a str,
    model: &'a Model,
    run_id: &'a str,
    logical_date: &'a str,
}

impl Build<'_> {
    async fn run(&self, inputs: &Inputs, summary: &mut TableSummary) -> Result<()> {
        let model = self.model;
        let sql = model.render(self.logical_date);
        let reads = references(self.ctx, &sql);
        let missing: Vec<&String> =
            reads.iter().filter(|r| !self.ctx.table_exist(r.as_str()).unwrap_or(true)).collect();
        if !missing.is_empty() {
            // A model over tables this environment does not copy (extract.tables) cannot be built; say so, do not fail.
            let list = missing.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ");
            summary.note = Some(format!("not built: it reads {list}, which the lake does not have"));
            tracing::warn!(table = model.name, missing = %list, "model skipped");
            return Ok(());
        }
        // The versions of what it reads (every input lives in the silver layer).
        let versions: BTreeMap<String, i64> = reads.iter().map(|r| (r.clone(), inputs.version(r))).collect();
        let sql_hash = hash_of((model.sql, self.logical_date));
        let existing = self.lake.open(self.layer, model.name).await?;
        let state = match &existing {
            Some(t) => last_state(t).await?,
            None => None,
        };
        if state.as_ref().is_some_and(|s| s.sql == sql_hash && s.versions == versions) {
            summary.delta_version = existing.as_ref().and_then(|t| t.version()).map(|v| v as i64);
            summary.note = Some("inputs unchanged since the last build".into());
            return Ok(());
        }
        let (mut incremental, mut additive) = (model.incremental(), model.additive());
        let updatable = incremental.is_some() || additive.is_some();
        let mut clock = Instant::now();
        // Recorded even for a rebuild of small inputs: a later build whose inputs have grown updates by key from them.
        let watermarks = match updatable {
            true => self.watermarks(&reads).await?,
            false => BTreeMap::new(),
        };
        // Over small inputs a rebuild costs less than an update (see SMALL_INPUT_BYTES).
        let small = updatable && inputs.bytes(&reads) < small_input_bytes();
        lap(model.name, "watermarks", &mut clock);
        let mut new_state = State { sql: sql_hash.clone(), versions: versions.clone(), watermarks, rebuilt: 0 };
        // An overwrite commits the next version (0 for a new table).
        let next = existing.as_ref().and_then(|t| t.version()).map_or(0, |v| v as i64 + 1);
        let old = state.filter(|s| s.sql == sql_hash);
        // Where an update by key applies, a rebuild leaves the same rows: models reading this one by key go on
        // updating from its newer `_ingested_at` (see `State::rebuilt`) whichever of the two runs.
        let lineage = match (&incremental, existing.is_some(), &old) {
            (Some(inc), true, Some(old)) if !small || read_by_key(model.name) => {
                self.lineage_holds(inc, old, &versions).await?
            }
            _ => false,
        };
        new_state.rebuilt = match (&old, lineage) {
            (Some(old), true) => old.rebuilt,
            _ => next,
        };
        if small {
            tracing::debug!(table = model.name, lineage, "rebuilt: its inputs are small");
            (incremental, additive) = (None, None);
        }
        if let (Some(inc), Some(table), Some(old), true) = (&incremental, existing.clone(), &old, lineage)
            && let Some(plan) = self.affected(inc, old, &versions, &table).await?
        {
            lap(model.name, "affected keys", &mut clock);
            return self.merge(inc, table, plan, &sql, &new_state, summary).await;
        }
        if let (Some(add), Some(table), Some(old)) = (&additive, existing.clone(), &old)
            && let Some(change) = self.measure_changes(add, old, &versions, &table, &sql).await?
        {
            lap(model.name, "changed measures", &mut clock);
            return self.add(add, table, change, &new_state, summary).await;
        }
        let df = self.ctx.sql(&sql).await.map_err(|e| self.sql_error(e))?;
        match self.rebuild(existing.clone(), df, &new_state, summary).await {
            Err(e) if crate::memory::is_exhausted(&e) => {
                // A hash join's build side cannot spill: the same query with sort-merge joins, which can, over
                // the same inputs read as plain strings, under the same limit (slower, so only when the fast plan
                // did not fit). Nothing of the first try was committed.
                tracing::warn!(
                    table = model.name,
                    "its hash joins do not fit the memory limit: rebuilding it with sort-merge joins"
                );
                let spilling = crate::memory::spilling_joins(self.ctx);
                register_layer(&spilling, self.lake, SILVER, reads.iter().map(String::as_str)).await?;
                let df = spilling.sql(&sql).await.map_err(|e| self.sql_error(e))?;
                self.rebuild(existing, df, &new_state, summary).await
            }
            done => done,
        }
    }

    /// A watermark of each input that has `_ingested_at` (absent otherwise): every row it holds is at or before it,
    /// every row it gets later after it. A conformed silver table's is its merge transaction, the newest ingestion
    /// time merged (silver reads only the bronze rows ingested after it): read from the log, where the newest
    /// `_ingested_at` was a scan of the column. Any other input's is its newest `_ingested_at` (`i64::MIN` when
    /// empty).
    async fn watermarks(&self, reads: &[String]) -> Result<BTreeMap<String, i64>> {
        let mut out = BTreeMap::new();
        for table in reads {
            if crate::schema::table(table).is_some()
                && let Some(t) = self.lake.open(SILVER, table).await?
                && let Some(merged) = lake::txn_version(&t, &crate::stages::silver::app_id(table)).await?
            {
                out.insert(table.clone(), merged);
                continue;
            }
            let has = self
                .ctx
                .table_provider(table.as_str())
                .await
                .map(|p| p.schema().field_with_name("_ingested_at").is_ok())
                .unwrap_or(false);
            if has {
                let newest = scalar_i64(
                    self.ctx,
                    &format!("SELECT CAST(max(_ingested_at) AS BIGINT) FROM {table}"),
                    "watermark",
                )
                .await?;
                // An empty table: every row it gets later is newer.
                out.insert(table.clone(), newest.unwrap_or(i64::MIN));
            }
        }
        Ok(out)
    }

    /// Whether an update by key of `inc` from the last build (`old`) would leave the rows a rebuild leaves: no input
    /// it reads whole changed ([`Self::changed_whole`]), and each input it reads by key that changed has the
    /// watermark of the last build, a row key, and was not rebuilt since ([`Self::rebuilt_since`]).
    async fn lineage_holds(&self, inc: &Incremental, old: &State, versions: &BTreeMap<String, i64>) -> Result<bool> {
        for (name, version) in versions {
            if !inc.inputs.iter().any(|(t, _)| t == name) {
                if self.changed_whole(name, *version, old).await? {
                    return Ok(false);
                }
            } else if old.versions.get(name) != Some(version)
                && (!old.watermarks.contains_key(name)
                    || row_key(name).is_none()
                    || self.rebuilt_since(name, old).await?)
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The keys whose rows may have changed since the last build, when [`Self::lineage_holds`] (`None`: so many
    /// that a rebuild costs less).
    async fn affected(
        &self,
        inc: &Incremental,
        old: &State,
        versions: &BTreeMap<String, i64>,
        table: &DeltaTable,
    ) -> Result<Option<Vec<RecordBatch>>> {
        let mut clock = Instant::now();
        let mut parts = Vec::new();
        for (name, column) in &inc.inputs {
            let (Some(version), Some(mark), Some(pk)) = (versions.get(name), old.watermarks.get(name), row_key(name))
            else {
                continue;
            };
            if old.versions.get(name) == Some(version) {
                continue;
            }
            let previous = self.previous(name, old).await?;
            parts.extend(self.changed_keys(name, column, *mark, &pk, previous).await?);
        }
        if parts.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let keys = self.distinct_keys(&parts).await?;
        lap(self.model.name, "changed keys", &mut clock);
        let affected: usize = keys.iter().map(|b| b.num_rows()).sum();
        if affected <= MIN_KEYS_TO_WEIGH {
            return Ok(Some(keys));
        }
        // The table's keys, estimated (HyperLogLog: one pass, no hash table of every key; a share is all it needs).
        let provider = lake::scan(table, self.ctx).await.map_err(df_err("scan"))?;
        let _ = self.ctx.deregister_table("__target");
        self.ctx.register_table("__target", provider).map_err(df_err("scan"))?;
        let total = scalar_i64(self.ctx, &format!("SELECT approx_distinct({}) FROM __target", inc.key), "key count")
            .await?
            .unwrap_or(0);
        lap(self.model.name, "key count", &mut clock);
        Ok((!too_many(affected, total)).then_some(keys))
    }

    /// Whether an input read whole may hold rows that changed since the last build (or the last build did not
    /// read it). Silver never deletes a row and stamps every row it changes with a newer `_ingested_at`, so a new
    /// version without newer rows, e.g. the overlap of an extraction merged again unchanged, changes nothing.
    async fn changed_whole(&self, name: &str, version: i64, old: &State) -> Result<bool> {
        if old.versions.get(name) == Some(&version) {
            return Ok(false);
        }
        let Some(mark) = old.watermarks.get(name) else { return Ok(true) };
        let newer =
            scalar_i64(self.ctx, &format!("SELECT count(*) FROM {name} WHERE {}", ingested_after(*mark)), "changes")
                .await?;
        Ok(newer != Some(0) || self.rebuilt_since(name, old).await?)
    }

    /// The silver table `name` as the last build read it (`None` when that build did not read it).
    async fn previous(&self, name: &str, old: &State) -> Result<Option<Arc<dyn TableProvider>>> {
        let Some(version) = old.versions.get(name).filter(|v| **v >= 0) else { return Ok(None) };
        let Some(mut previous) = self.lake.open(SILVER, name).await? else { return Ok(None) };
        previous.load_version(*version as u64).await.map_err(|e| from_delta("time travel", e))?;
        Ok(Some(lake::scan(&previous, self.ctx).await.map_err(df_err("time travel"))?))
    }

    /// Registers `__changed_{name}`: the primary key `pk` and `column AS k` of the rows of `name` ingested after
    /// `mark`. Returns the SQL of the keys they hold, and of the keys the same rows held in `previous` (a row that
    /// moved to another key leaves the old one changed too); nothing when no row changed.
    async fn changed_keys(
        &self,
        name: &str,
        column: &str,
        mark: i64,
        pk: &[String],
        previous: Option<Arc<dyn TableProvider>>,
    ) -> Result<Vec<String>> {
        let changed = format!("__changed_{name}");
        let df = self
            .ctx
            .sql(&format!("SELECT {}, {column} AS k FROM {name} WHERE {}", pk.join(", "), ingested_after(mark)))
            .await
            .map_err(df_err("changed rows"))?;
        let _ = self.ctx.deregister_table(changed.as_str());
        let rows = df.collect().await.map_err(df_err("changed rows"))?;
        if rows.iter().all(|b| b.num_rows() == 0) {
            return Ok(Vec::new());
        }
        let mem = MemTable::try_new(rows[0].schema(), vec![rows]).map_err(df_err("changed rows"))?;
        self.ctx.register_table(changed.as_str(), Arc::new(mem)).map_err(df_err("changed rows"))?;
        let mut parts = vec![format!("SELECT k FROM {changed}")];
        if let Some(provider) = previous {
            let alias = format!("__before_{name}");
            // Only the files that can hold the changed keys are read (file statistics prune the rest).
            let range = key_ranges(self.ctx, &changed, &pk[0], false).await?;
            let before = within(self.ctx.read_table(provider).map_err(df_err("time travel"))?, &pk[0], &range)?;
            let _ = self.ctx.deregister_table(alias.as_str());
            self.ctx.register_table(alias.as_str(), before.into_view()).map_err(df_err("time travel"))?;
            let on = pk.iter().map(|k| format!("b.{k} = c.{k}")).collect::<Vec<_>>().join(" AND ");
            parts.push(format!("SELECT b.{column} AS k FROM {alias} b JOIN {changed} c ON {on}"));
        }
        Ok(parts)
    }

    /// The distinct keys (`k`) of the union of `parts`.
    async fn distinct_keys(&self, parts: &[String]) -> Result<Vec<RecordBatch>> {
        collect(self.ctx, &format!("SELECT DISTINCT k FROM ({})", parts.join(" UNION ALL ")), "affected keys").await
    }

    /// Whether `name`, a data product, was rebuilt since the last build read it: its rows may then differ without
    /// a newer `_ingested_at` (its SQL changed, or an input it reads whole did).
    async fn rebuilt_since(&self, name: &str, old: &State) -> Result<bool> {
        if !SILVER_MODELS.iter().any(|m| m.name == name) {
            return Ok(false);
        }
        let Some(input) = self.lake.open(SILVER, name).await? else { return Ok(true) };
        Ok(last_state(&input).await?.is_none_or(|s| s.rebuilt > old.versions.get(name).copied().unwrap_or(-1)))
    }

    /// Recomputes the rows of the affected keys and MERGEs them on the grain: changed rows updated, new ones
    /// inserted, rows of those keys that are gone deleted; one commit.
    #[allow(clippy::too_many_arguments)]
    async fn merge(
        &self,
        inc: &Incremental,
        table: DeltaTable,
        keys: Vec<RecordBatch>,
        sql: &str,
        state: &State,
        summary: &mut TableSummary,
    ) -> Result<()> {
        let name = self.model.name;
        let mut clock = Instant::now();
        let affected: usize = keys.iter().map(|b| b.num_rows()).sum();
        if affected == 0 {
            summary.delta_version = table.version().map(|v| v as i64);
            summary.note = Some("no input row that it reads by key changed".into());
            return Ok(());
        }
        // NULL is a key like the others (an aggregate has a NULL group), compared with IS NULL.
        let has_null = keys.iter().any(|b| b.column(0).null_count() > 0);
        let in_keys = |column: &str| among_keys(column, "__affected", has_null);
        // The model over the affected keys only: inputs read by key are filtered to those keys.
        let sub = crate::memory::session_like(self.ctx);
        let mem = MemTable::try_new(keys[0].schema(), vec![keys]).map_err(df_err("affected keys"))?;
        sub.register_table("__affected", Arc::new(mem)).map_err(df_err("affected keys"))?;
        // The keys' ranges as literals (NULL too when it is a key): the scans below read only the files and pages
        // that can hold an affected key (an incremental run's keys are mostly new ones, in the newest files, and a
        // few old ones), not every file of every input.
        let range = key_ranges(&sub, "__affected", "k", has_null).await?;
        for read in references(self.ctx, sql) {
            let provider = self.ctx.table_provider(read.as_str()).await.map_err(df_err("inputs"))?;
            match inc.inputs.iter().find(|(t, _)| *t == read) {
                Some((_, column)) => {
                    let whole = format!("__all_{read}");
                    let ranged = within(sub.read_table(provider).map_err(df_err("inputs"))?, column, &range)?;
                    sub.register_table(whole.as_str(), ranged.into_view()).map_err(df_err("inputs"))?;
                    let view = sub
                        .sql(&format!("SELECT * FROM {whole} WHERE {}", in_keys(column)))
                        .await
                        .map_err(df_err("inputs"))?;
                    sub.register_table(read.as_str(), view.into_view()).map_err(df_err("inputs"))?;
                }
                None => {
                    sub.register_table(read.as_str(), provider).map_err(df_err("inputs"))?;
                }
            }
        }
        let fresh = sub.sql(sql).await.map_err(|e| self.sql_error(e))?;
        let schema: Schema = fresh.schema().as_arrow().clone();
        lake::check_columns(&schema, name)?;
        let fresh = fresh.collect().await.map_err(|e| self.sql_error(e))?;
        let recomputed: usize = fresh.iter().map(|b| b.num_rows()).sum();
        lap(name, "model over the affected keys", &mut clock);
        let schema = Arc::new(schema);
        sub.register_table(
            "__new",
            Arc::new(MemTable::try_new(schema.clone(), vec![fresh.clone()]).map_err(df_err("rows"))?),
        )
        .map_err(df_err("rows"))?;
        let provider = lake::scan(&table, &sub).await.map_err(df_err("scan"))?;
        let target = within(sub.read_table(provider).map_err(df_err("scan"))?, &inc.key, &range)?;
        sub.register_table("__target", target.into_view()).map_err(df_err("scan"))?;
        // Rows of the affected keys that the model no longer gives: deleted by the merge.
        let identity: Vec<String> = self.identity(inc);
        let same = identity
            .iter()
            .map(|c| format!("{} = {}", lake::null_safe("n", c), lake::null_safe("t", c)))
            .collect::<Vec<_>>();
        let stale = collect(
            &sub,
            &format!(
                "SELECT {cols} FROM __target t WHERE {keyed} AND NOT EXISTS (SELECT 1 FROM __new n WHERE {same})",
                cols = identity.iter().map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", "),
                keyed = in_keys(&format!("t.{}", inc.key)),
                same = same.join(" AND ")
            ),
            "stale rows",
        )
        .await?;
        let stale_rows: usize = stale.iter().map(|b| b.num_rows()).sum();
        lap(name, "stale rows", &mut clock);
        if recomputed == 0 && stale_rows == 0 {
            summary.delta_version = table.version().map(|v| v as i64);
            summary.note = Some(format!("{affected} changed keys, no row of the table changed"));
            return Ok(());
        }
        // The source: the recomputed rows, and the stale rows' identity flagged for deletion.
        let mut source = Vec::new();
        let flagged = Arc::new(Schema::new(
            schema
                .fields()
                .iter()
                .cloned()
                .chain([Arc::new(Field::new("__delete", DataType::Boolean, false))])
                .collect::<Vec<_>>(),
        ));
        for batch in &fresh {
            let mut columns = batch.columns().to_vec();
            columns.push(Arc::new(BooleanArray::from(vec![false; batch.num_rows()])));
            source
                .push(RecordBatch::try_new(flagged.clone(), columns).map_err(|e| StageError::internal(e.to_string()))?);
        }
        for batch in &stale {
            let n = batch.num_rows();
            let mut columns: Vec<ArrayRef> = Vec::new();
            for field in schema.fields() {
                let column = match identity.iter().position(|c| c == field.name()) {
                    Some(i) => deltalake::arrow::compute::cast(batch.column(i), field.data_type())
                        .map_err(|e| StageError::internal(e.to_string()))?,
                    None => new_null_array(field.data_type(), n),
                };
                columns.push(column);
            }
            columns.push(Arc::new(BooleanArray::from(vec![true; n])));
            source
                .push(RecordBatch::try_new(flagged.clone(), columns).map_err(|e| StageError::internal(e.to_string()))?);
        }
        // Only identity columns with a NULL in the source are compared NULL-safely: a plain comparison lets the
        // merge skip the target files outside the source's key range and partitions.
        let nullable: Vec<&String> = identity
            .iter()
            .filter(|c| source.iter().any(|b| b.schema().index_of(c).is_ok_and(|i| b.column(i).null_count() > 0)))
            .collect();
        let source = sub.read_batches(source).map_err(df_err("upsert source"))?;
        let (after, metrics) = Upsert::new(&sub, table, source)
            .on(identity.iter().cloned())
            .nulls_match(nullable.into_iter().cloned())
            .deleting("__delete")
            .with_commit_properties(self.properties(state))
            .await?;
        lap(name, "upsert", &mut clock);
        summary.rows_read = recomputed as u64;
        summary.rows_written = (metrics.inserted + metrics.updated) as u64;
        summary.delta_version = after.version().map(|v| v as i64);
        summary.note = Some(format!("merged {affected} changed keys: {}", metrics.describe()));
        self.compact(after, state).await
    }

    /// The columns that identify a row: the grain (the key first), and the partition columns.
    fn identity(&self, inc: &Incremental) -> Vec<String> {
        let mut cols = vec![inc.key.clone()];
        for c in inc.grain.iter().chain(self.model.partition_by().iter()) {
            if !cols.contains(c) {
                cols.push(c.clone());
            }
        }
        cols
    }

    fn sql_error(&self, e: deltalake::datafusion::error::DataFusionError) -> StageError {
        let (layer, name) = (self.layer, self.model.name);
        StageError::new(crate::error::df_kind(&e), format!("model {name}: {e} (jobs/models/{layer}/{name}.sql)"))
            .caused_by(e)
    }

    fn properties(&self, state: &State) -> CommitProperties {
        CommitProperties::default().with_metadata([
            (META_STATE.to_string(), serde_json::json!(serde_json::to_string(state).unwrap_or_default())),
            (lake::META_RUN_ID.to_string(), serde_json::json!(self.run_id)),
            ("amali.logical_date".to_string(), serde_json::json!(self.logical_date)),
        ])
    }

    /// The measures of the units whose input rows changed since the last build, before and after the change
    /// (`None`: rebuild instead, e.g. a table the measures read whole changed, or too many units did).
    async fn measure_changes(
        &self,
        add: &Additive,
        old: &State,
        versions: &BTreeMap<String, i64>,
        table: &DeltaTable,
        sql: &str,
    ) -> Result<Option<MeasureChanges>> {
        let (measures, derive) = split_measures(self.ctx, sql)?;
        let plan = self.ctx.sql(&measures).await.map_err(|e| self.sql_error(e))?;
        let schema = Arc::new(plan.schema().as_arrow().clone());
        let columns = scanned_columns(plan)?;
        // The table must hold every measure (a table built before they were kept is rebuilt).
        let target = table.snapshot().map_err(|e| from_delta("snapshot", e))?.schema().clone();
        if schema.fields().iter().any(|f| target.field(f.name()).is_none()) {
            return Ok(None);
        }
        let is_input = |name: &str| add.inputs.iter().any(|(t, _)| t == name);
        let reads = references(self.ctx, &measures);
        for name in reads.iter().filter(|r| !is_input(r)) {
            if self.changed_whole(name, versions.get(name).copied().unwrap_or(-1), old).await? {
                return Ok(None);
            }
        }
        let mut derive_inputs_changed = false;
        for name in references(self.ctx, &derive).iter().filter(|r| *r != MEASURES) {
            derive_inputs_changed |= self.changed_whole(name, versions.get(name).copied().unwrap_or(-1), old).await?;
        }
        let mut change = MeasureChanges {
            schema,
            derive,
            derive_inputs_changed,
            units: 0,
            after: Vec::new(),
            rows_after: 0,
            before: Vec::new(),
            rows_before: 0,
        };
        // Each input as it is now and as the last build read it (the same table when it did not change).
        let mut clock = Instant::now();
        let mut now = Vec::new();
        let mut then = Vec::new();
        let mut parts = Vec::new();
        let mut changed = Vec::new();
        for (input, unit) in &add.inputs {
            let (Some(version), Some(mark)) = (versions.get(input), old.watermarks.get(input)) else { return Ok(None) };
            let current = self.ctx.table_provider(input.as_str()).await.map_err(df_err("inputs"))?;
            now.push((input.as_str(), unit.as_str(), current.clone()));
            if old.versions.get(input) == Some(version) {
                then.push((input.as_str(), unit.as_str(), current));
                continue;
            }
            let Some(pk) = row_key(input) else { return Ok(None) };
            let Some(previous) = self.previous(input, old).await? else { return Ok(None) };
            if self.rebuilt_since(input, old).await? {
                return Ok(None);
            }
            let found = self.changed_keys(input, unit, *mark, &pk, Some(previous.clone())).await?;
            if !found.is_empty() {
                changed.push(input);
            }
            parts.extend(found);
            then.push((input.as_str(), unit.as_str(), previous));
        }
        if parts.is_empty() {
            return Ok(Some(change));
        }
        let units = self.distinct_keys(&parts).await?;
        change.units = units.iter().map(|b| b.num_rows()).sum();
        if change.units > MIN_KEYS_TO_WEIGH {
            let (mut rows, mut total) = (0, 0);
            for input in &changed {
                let n = scalar_i64(self.ctx, &format!("SELECT count(*) FROM __changed_{input}"), "changes").await?;
                rows += n.unwrap_or(0);
                total +=
                    scalar_i64(self.ctx, &format!("SELECT count(*) FROM {input}"), "row count").await?.unwrap_or(0);
            }
            if too_many(rows as usize, total) {
                return Ok(None);
            }
        }
        lap(self.model.name, "changed units", &mut clock);
        (change.after, change.rows_after) = self.measures_of(&units, &now, &measures, &reads, &columns).await?;
        lap(self.model.name, "measures after", &mut clock);
        (change.before, change.rows_before) = self.measures_of(&units, &then, &measures, &reads, &columns).await?;
        lap(self.model.name, "measures before", &mut clock);
        Ok(Some(change))
    }

    /// The measures over the rows of `units` in `inputs` (each additive input at one version, with the column that
    /// holds its unit), and how many input rows that is. Only the `columns` the measures read are held.
    async fn measures_of(
        &self,
        units: &[RecordBatch],
        inputs: &[(&str, &str, Arc<dyn TableProvider>)],
        measures: &str,
        reads: &[String],
        columns: &BTreeMap<String, BTreeSet<String>>,
    ) -> Result<(Vec<RecordBatch>, usize)> {
        let sub = crate::memory::session_like(self.ctx);
        let mem = MemTable::try_new(units[0].schema(), vec![units.to_vec()]).map_err(df_err("units"))?;
        sub.register_table("__units", Arc::new(mem)).map_err(df_err("units"))?;
        let has_null = units.iter().any(|b| b.column(0).null_count() > 0);
        // Only the files that can hold a changed unit are read (usually the newest ones).
        let range = key_ranges(&sub, "__units", "k", has_null).await?;
        let mut count = 0;
        for (input, unit, provider) in inputs {
            let all = format!("__all_{input}");
            let ranged = within(sub.read_table(provider.clone()).map_err(df_err("inputs"))?, unit, &range)?;
            sub.register_table(all.as_str(), ranged.into_view()).map_err(df_err("inputs"))?;
            let held = match columns.get(*input) {
                Some(read) if !read.is_empty() => {
                    read.iter().map(|c| quote(Engine::Postgres, c)).collect::<Vec<_>>().join(", ")
                }
                _ => "*".to_string(),
            };
            let df = sub
                .sql(&format!("SELECT {held} FROM {all} WHERE {}", among_keys(unit, "__units", has_null)))
                .await
                .map_err(df_err("inputs"))?;
            let schema = Arc::new(df.schema().as_arrow().clone());
            let rows = df.collect().await.map_err(df_err("inputs"))?;
            count += rows.iter().map(|b| b.num_rows()).sum::<usize>();
            let mem = MemTable::try_new(schema, vec![rows]).map_err(df_err("rows"))?;
            sub.register_table(*input, Arc::new(mem)).map_err(df_err("inputs"))?;
        }
        if count == 0 {
            return Ok((Vec::new(), 0));
        }
        for read in reads.iter().filter(|r| !inputs.iter().any(|(t, _, _)| t == *r)) {
            let provider = self.ctx.table_provider(read.as_str()).await.map_err(df_err("inputs"))?;
            sub.register_table(read.as_str(), provider).map_err(df_err("inputs"))?;
        }
        let batches = collect(&sub, measures, "measures")
            .await
            .map_err(|e| StageError::data(format!("model {}: {e}", self.model.name)))?;
        Ok((batches, count))
    }

    /// Adds the changed measures to the table's (after the change added, before it subtracted), derives the table
    /// from them again and replaces it in one commit (the table is an aggregate: small).
    async fn add(
        &self,
        add: &Additive,
        table: DeltaTable,
        change: MeasureChanges,
        state: &State,
        summary: &mut TableSummary,
    ) -> Result<()> {
        if change.after.is_empty() && change.before.is_empty() && !change.derive_inputs_changed {
            summary.delta_version = table.version().map(|v| v as i64);
            summary.note = Some(format!("no row of {} changed", add.described()));
            return Ok(());
        }
        let sub = crate::memory::session_like(self.ctx);
        let provider = lake::scan(&table, &sub).await.map_err(df_err("scan"))?;
        sub.register_table("__old", provider).map_err(df_err("scan"))?;
        for (name, batches) in [("__after", change.after), ("__before", change.before)] {
            let mem = MemTable::try_new(change.schema.clone(), vec![batches]).map_err(df_err("measures"))?;
            sub.register_table(name, Arc::new(mem)).map_err(df_err("measures"))?;
        }
        let grain: Vec<&str> = add.grain.iter().map(String::as_str).collect();
        let values: Vec<&str> =
            change.schema.fields().iter().map(|f| f.name().as_str()).filter(|n| !grain.contains(n)).collect();
        let negated: Vec<String> =
            grain.iter().map(|g| g.to_string()).chain(values.iter().map(|v| format!("-{v} AS {v}"))).collect();
        let plain = grain.iter().chain(&values).copied().collect::<Vec<_>>().join(", ");
        let sums: Vec<String> = values.iter().map(|v| format!("sum({v}) AS {v}")).collect();
        let zero: Vec<String> = values.iter().map(|v| format!("COALESCE(sum({v}), 0) = 0")).collect();
        // A group whose measures all went to 0 is gone; without a grain the table is always one row.
        let group = match grain.is_empty() {
            true => String::new(),
            false => format!(" GROUP BY {} HAVING NOT ({})", grain.join(", "), zero.join(" AND ")),
        };
        let combined = sub
            .sql(&format!(
                "SELECT {cols} FROM (SELECT {plain} FROM __old UNION ALL SELECT {plain} FROM __after \
                 UNION ALL SELECT {negated} FROM __before) u{group}",
                cols = grain.iter().map(|g| g.to_string()).chain(sums).collect::<Vec<_>>().join(", "),
                negated = negated.join(", "),
            ))
            .await
            .map_err(df_err("add the measures"))?;
        // Back to the measures' own types (a sum widens a decimal).
        let combined = typed_as(combined, &change.schema, "add the measures")?;
        sub.register_table(MEASURES, combined.into_view()).map_err(df_err("add the measures"))?;
        for read in references(self.ctx, &change.derive).iter().filter(|r| *r != MEASURES) {
            let provider = self.ctx.table_provider(read.as_str()).await.map_err(df_err("inputs"))?;
            sub.register_table(read.as_str(), provider).map_err(df_err("inputs"))?;
        }
        let df = sub.sql(&change.derive).await.map_err(|e| self.sql_error(e))?;
        self.rebuild(Some(table), df, state, summary).await?;
        summary.rows_read = (change.rows_after + change.rows_before) as u64;
        summary.note = Some(format!(
            "updated from {} changed units of {}: {} rows after the change added, {} before it subtracted",
            change.units,
            add.described(),
            change.rows_after,
            change.rows_before
        ));
        Ok(())
    }

    /// Replaces the table with the rows of `df` (the model's) in one commit.
    async fn rebuild(
        &self,
        existing: Option<DeltaTable>,
        df: DataFrame,
        state: &State,
        summary: &mut TableSummary,
    ) -> Result<()> {
        let (layer, model) = (self.layer, self.model);
        let mut clock = Instant::now();
        let schema: Schema = df.schema().as_arrow().clone();
        lake::check_columns(&schema, model.name)?;
        let (session, plan) = df.into_parts();
        let table = match existing {
            Some(t) => t,
            None => {
                let uri = self.lake.uri(layer, model.name);
                if !uri.contains("://") {
                    std::fs::create_dir_all(&uri)
                        .map_err(|e| StageError::config(format!("cannot create {uri}: {e}")))?;
                }
                let url = deltalake::ensure_table_uri(&uri).map_err(|e| from_delta(&format!("open {uri}"), e))?;
                deltalake::DeltaTableBuilder::from_url(url)
                    .and_then(|b| b.build())
                    .map_err(|e| from_delta(&format!("open {uri}"), e))?
            }
        };
        let written = table
            .write(Vec::new())
            .with_input_plan(plan)
            .with_session_state(Arc::new(session))
            .with_save_mode(SaveMode::Overwrite)
            .with_writer_properties(crate::lake::writer_properties())
            .with_schema_mode(deltalake::operations::write::SchemaMode::Overwrite)
            .with_partition_columns(model.partition_by())
            .with_table_name(model.name)
            .with_description(model.definition())
            .with_configuration(crate::lake::table_properties())
            .with_commit_properties(self.properties(state))
            .await
            .map_err(|e| from_delta(&format!("write {layer}/{}", model.name), e))?;
        lap(model.name, "write", &mut clock);
        let info = last_commit_info(&written).await?;
        let rows = info
            .get("operationMetrics")
            .and_then(|m| m.get("num_added_rows"))
            .and_then(|n| n.as_u64().or_else(|| n.as_str().and_then(|s| s.parse().ok())))
            .unwrap_or(0);
        summary.rows_written = rows;
        summary.delta_version = written.version().map(|v| v as i64);
        self.compact(written, state).await
    }

    /// Compacts the table's small files (Z-ordered by `zorder_by` when the model names columns) once merges have
    /// left many of them ([`lake::compact_small_files`]); a reader sees the same rows before and after. The commit
    /// keeps the build's metadata.
    async fn compact(&self, table: DeltaTable, state: &State) -> Result<()> {
        lake::compact_small_files(table, self.model.zorder_by(), self.properties(state)).await.map(|_| ())
    }
}

/// What changed in an additive model's measures (see [`Additive`]).
struct MeasureChanges {
    /// The measures' schema.
    schema: Arc<Schema>,
    /// The rest of the model's query, over `measures`.
    derive: String,
    /// Whether a table that query reads changed (the table is then derived again even if no measure changed).
    derive_inputs_changed: bool,
    /// The changed units.
    units: usize,
    /// The measures of the changed units after the change, and the input rows they were computed from.
    after: Vec<RecordBatch>,
    rows_after: usize,
    /// The same before the change.
    before: Vec<RecordBatch>,
    rows_before: usize,
}

/// A predicate: `column` holds one of the keys (`k`) of the table `keys`; NULL is a key like the others when
/// `has_null` (an aggregate has a NULL group), compared with IS NULL.
fn among_keys(column: &str, keys: &str, has_null: bool) -> String {
    let listed = format!("{column} IN (SELECT k FROM {keys} WHERE k IS NOT NULL)");
    if has_null { format!("({listed} OR {column} IS NULL)") } else { listed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_has_a_definition_and_a_unique_name() {
        let mut names = std::collections::HashSet::new();
        for m in SILVER_MODELS.iter().chain(GOLD_MODELS) {
            assert!(m.definition().starts_with(m.name), "{}: header comment names the table", m.name);
            assert!(names.insert(m.name), "{} twice", m.name);
        }
        assert_eq!(GOLD_MODELS.len(), 16, "twelve KPI tables and four of the star schema");
    }

    #[test]
    fn the_models_read_by_key_are_known() {
        // users_data feeds dim_customer and customer_lifetime_value by key: its rebuilds must keep the lineage.
        assert!(read_by_key("users_data"));
        assert!(read_by_key("orders"));
        assert!(!read_by_key("dim_customer"));
        assert!(!read_by_key("daily_sales_metrics"));
    }

    #[test]
    fn a_change_to_more_than_a_quarter_of_many_keys_rebuilds() {
        assert!(!too_many(MIN_KEYS_TO_WEIGH, 1), "a few keys always merge");
        assert!(!too_many(20_000, 100_000), "a fifth merges");
        assert!(too_many(30_000, 100_000), "three tenths rebuild");
        assert!(too_many(20_000, 0), "an estimate of none rebuilds");
    }

    #[test]
    fn additive_models_keep_every_measure_and_group_by_their_grain() {
        let ctx = SessionContext::new();
        let additive: Vec<_> = GOLD_MODELS.iter().filter_map(|m| Some((m, m.additive()?))).collect();
        assert!(additive.len() >= 7, "the KPI sums are additive");
        for (model, add) in additive {
            assert!(model.incremental().is_none(), "{}: additive or incremental, not both", model.name);
            let (measures, derive) = split_measures(&ctx, &model.render("2024-01-01")).unwrap();
            for (input, unit) in &add.inputs {
                assert!(measures.contains(input.as_str()), "{}: the measures read {input}", model.name);
                let table = crate::schema::table(input).map(|t| t.column(unit).is_some());
                let product = SILVER_MODELS.iter().find(|m| m.name == input).map(|m| m.sql.contains(unit.as_str()));
                assert!(table.or(product) == Some(true), "{}: {input} has a unit column {unit}", model.name);
            }
            assert!(derive.contains(MEASURES) && !derive.contains("GROUP BY"), "{}: derived from measures", model.name);
            // A grain needs a measure that counts rows (a group is gone when they all are 0).
            assert!(add.grain.is_empty() || measures.contains("count("), "{}: a count", model.name);
        }
        let two = Model { name: "x", sql: "-- additive: orders.id, order_items.order_id\nWITH measures AS (SELECT 1)" };
        let two = two.additive().unwrap();
        assert_eq!(two.described(), "orders.id, order_items.order_id");
        assert!(two.grain.is_empty());
        let plain = Model { name: "x", sql: "SELECT 1" };
        assert!(split_measures(&ctx, plain.sql).unwrap_err().to_string().contains("WITH measures AS"));
    }
}
