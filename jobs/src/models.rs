//! SQL models: the silver data products and the gold tables, one `.sql` file per table under `jobs/models/`, each
//! with its definition in a header comment. They run on DataFusion over the lake's tables and replace their table
//! in one Delta commit (an overwrite), so a reader sees the old or the new version, never half of one.
//!
//! A model whose inputs have not changed since it was last built (same input table versions, same logical date,
//! same SQL) is not rebuilt: rerunning a run changes nothing.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

use deltalake::DeltaTable;
use deltalake::datafusion::prelude::SessionContext;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;
use futures::TryStreamExt;

use crate::error::{Result, StageError};
use crate::lake::{self, Lake, from_delta};
use crate::stages::Outcome;
use crate::summary::{Layer, TableSummary};

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
    /// The definition: the header comment's text.
    pub fn definition(&self) -> String {
        self.sql
            .lines()
            .take_while(|l| l.starts_with("--"))
            .map(|l| l.trim_start_matches("--").trim())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The SQL for a run on `logical_date` (YYYY-MM-DD, checked by the settings).
    pub fn render(&self, logical_date: &str) -> String {
        self.sql.replace("{{logical_date}}", logical_date)
    }
}

const META_INPUTS: &str = "amali.inputs";

/// Registers each existing table of `layer` named in `names` under its name; returns name -> version.
pub async fn register_layer(
    ctx: &SessionContext,
    lake: &Lake,
    layer: &str,
    names: impl IntoIterator<Item = &str>,
) -> Result<BTreeMap<String, i64>> {
    let mut versions = BTreeMap::new();
    for name in names {
        if let Some(table) = lake.open(layer, name).await? {
            let _ = ctx.deregister_table(name);
            let provider =
                table.table_provider().await.map_err(|e| StageError::internal(format!("scan {name}: {e}")))?;
            ctx.register_table(name, provider).map_err(|e| StageError::internal(format!("register {name}: {e}")))?;
            versions.insert(format!("{layer}/{name}"), table.version().map(|v| v as i64).unwrap_or(-1));
        }
    }
    Ok(versions)
}

fn fingerprint(model: &Model, logical_date: &str, inputs: &BTreeMap<String, i64>) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (model.sql, logical_date, inputs).hash(&mut h);
    format!("{:016x}", h.finish())
}

async fn last_commit_info(table: &DeltaTable) -> Result<serde_json::Map<String, serde_json::Value>> {
    let commits: Vec<_> = table.history(Some(1)).try_collect().await.map_err(|e| from_delta("read history", e))?;
    Ok(commits.into_iter().next().map(|c| c.info.into_iter().collect()).unwrap_or_default())
}

/// The tables `sql` reads that are not registered in `ctx`.
fn missing_inputs(ctx: &SessionContext, sql: &str) -> Vec<String> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let Ok(statement) = state.sql_to_statement(sql, &dialect) else { return Vec::new() };
    let Ok(references) = state.resolve_table_references(&statement) else { return Vec::new() };
    let mut missing: Vec<String> = references
        .into_iter()
        .filter(|r| !ctx.table_exist(r.clone()).unwrap_or(true))
        .map(|r| r.table().to_string())
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

/// Builds `models` into `layer`, each after the tables it can read are registered in `ctx`. A model that fails
/// (bad SQL, a missing input) fails its table; the others go on.
pub async fn build(
    ctx: &SessionContext,
    lake: &Lake,
    layer: &str,
    models: &[Model],
    inputs: &BTreeMap<String, i64>,
    run_id: &str,
    logical_date: &str,
) -> Outcome {
    let mut outcome = Outcome::default();
    for model in models {
        let mut summary = TableSummary::new(model.name, if layer == "gold" { Layer::Gold } else { Layer::Silver });
        let clock = Instant::now();
        let result = build_one(ctx, lake, layer, model, inputs, run_id, logical_date, &mut summary).await;
        outcome.finish(summary, clock, result, "built");
    }
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn build_one(
    ctx: &SessionContext,
    lake: &Lake,
    layer: &str,
    model: &Model,
    inputs: &BTreeMap<String, i64>,
    run_id: &str,
    logical_date: &str,
    summary: &mut TableSummary,
) -> Result<()> {
    let print = fingerprint(model, logical_date, inputs);
    let existing = lake.open(layer, model.name).await?;
    if let Some(t) = &existing
        && last_commit_info(t).await?.get(META_INPUTS).and_then(|v| v.as_str()) == Some(print.as_str())
    {
        summary.delta_version = t.version().map(|v| v as i64);
        summary.note = Some("inputs unchanged since the last build".into());
        return Ok(());
    }
    let sql = model.render(logical_date);
    let missing = missing_inputs(ctx, &sql);
    if !missing.is_empty() {
        // A model over tables this environment does not copy (extract.tables) cannot be built; say so, do not fail.
        summary.note = Some(format!("not built: it reads {}, which the lake does not have", missing.join(", ")));
        tracing::warn!(table = model.name, missing = %missing.join(", "), "model skipped");
        return Ok(());
    }
    let df = ctx
        .sql(&sql)
        .await
        .map_err(|e| StageError::data(format!("model {}: {e} (jobs/models/{layer}/{}.sql)", model.name, model.name)))?;
    let schema: deltalake::arrow::datatypes::Schema = df.schema().as_arrow().clone();
    lake::check_columns(&schema, model.name)?;
    let table = match existing {
        Some(t) => t,
        None => {
            let uri = lake.uri(layer, model.name);
            if !uri.contains("://") {
                std::fs::create_dir_all(&uri).map_err(|e| StageError::config(format!("cannot create {uri}: {e}")))?;
            }
            let url = deltalake::ensure_table_uri(&uri).map_err(|e| from_delta(&format!("open {uri}"), e))?;
            deltalake::DeltaTableBuilder::from_url(url)
                .and_then(|b| b.build())
                .map_err(|e| from_delta(&format!("open {uri}"), e))?
        }
    };
    let properties = CommitProperties::default().with_metadata([
        (META_INPUTS.to_string(), serde_json::json!(print)),
        (lake::META_RUN_ID.to_string(), serde_json::json!(run_id)),
        ("amali.logical_date".to_string(), serde_json::json!(logical_date)),
    ]);
    let written = table
        .write(Vec::new())
        .with_input_plan(df.logical_plan().clone())
        .with_session_state(Arc::new(ctx.state()))
        .with_save_mode(SaveMode::Overwrite)
        .with_schema_mode(deltalake::operations::write::SchemaMode::Overwrite)
        .with_table_name(model.name)
        .with_description(model.definition())
        .with_commit_properties(properties)
        .await
        .map_err(|e| from_delta(&format!("write {layer}/{}", model.name), e))?;
    let info = last_commit_info(&written).await?;
    let rows = info
        .get("operationMetrics")
        .and_then(|m| m.get("num_added_rows"))
        .and_then(|n| n.as_u64().or_else(|| n.as_str().and_then(|s| s.parse().ok())))
        .unwrap_or(0);
    summary.rows_written = rows;
    summary.delta_version = written.version().map(|v| v as i64);
    Ok(())
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
}
