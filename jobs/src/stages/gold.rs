//! `gold_transformation`: the gold KPI tables and the star schema, built by the SQL models of `jobs/models/gold/`
//! over the silver tables (conformed tables and data products), each replaced in one Delta commit.

use super::Outcome;
use crate::lake::Lake;
use crate::lake::{GOLD, SILVER};
use crate::models::{self, GOLD_MODELS, SILVER_MODELS};
use crate::settings::Settings;

/// Runs the stage.
pub async fn run(settings: &Settings) -> Outcome {
    let lake = Lake::new(settings.lake_root());
    let ctx = settings.session();
    let names = crate::schema::TABLES.iter().map(|t| t.name).chain(SILVER_MODELS.iter().map(|m| m.name));
    match models::register_layer(&ctx, &lake, SILVER, names).await {
        Ok(inputs) => {
            models::build(&ctx, &lake, GOLD, GOLD_MODELS, &inputs, &settings.run_id, &settings.logical_date).await
        }
        Err(e) => Outcome::failed(e),
    }
}
