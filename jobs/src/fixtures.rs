//! Loading the sample data (the fixture CSVs) into an app database, the way a careful person would: valid rows are
//! loaded, columns the CSV lacks are derived or defaulted where the schema allows, and every rejected row is
//! reported with its reason. Nothing is dropped without a line in the report.
//!
//! The exports are dirty as real exports are: `True`/`False` booleans, fractional-second timestamps, columns that
//! differ from the schema, and four NOT NULL columns missing altogether. `categories.slug` and `tags.slug` are
//! derived from `name`, `order_items.vendor_id` from the product's vendor; `reviews.status` cannot be derived, so
//! reviews without one are rejected. Foreign keys are not enforced while loading (an orphan row is loaded as it is:
//! silver is where orphans are judged).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use deltalake::arrow::array::RecordBatch;
use serde::Serialize;

use crate::db::sqlite::Sqlite;
use crate::db::value::{RowsBuilder, Scalar};
use crate::db::{Database, Stmt, batches_of};
use crate::error::{Result, StageError};
use crate::schema::{self, Default as ColumnDefault, Shape, Table};

/// CSV files whose name is not their table's.
pub const FILE_TABLES: &[(&str, &str)] = &[
    ("addresses", "address"),
    ("product_images", "product_image"),
    ("stores", "store"),
    ("wishlist_items", "wishlist_item"),
];

/// Order of loading: the tables others derive from first.
const FIRST: &[&str] = &["users", "categories", "products"];

/// What happened to one CSV file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileReport {
    /// The file.
    pub file: String,
    /// The table it loads into.
    pub table: String,
    /// Data rows in the file.
    pub rows: u64,
    /// Rows loaded.
    pub loaded: u64,
    /// Rows rejected (reasons below).
    pub rejected: u64,
    /// Why rows were rejected: reason -> count.
    pub reasons: BTreeMap<String, u64>,
    /// A few rejected rows' first field (their id), for looking them up.
    pub examples: Vec<String>,
    /// Columns the file lacks, and how each was filled.
    pub filled: BTreeMap<String, String>,
    /// Columns of the file that the table does not have (ignored).
    pub ignored_columns: Vec<String>,
}

/// The whole load.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SeedReport {
    /// Per file.
    pub files: Vec<FileReport>,
}

impl SeedReport {
    /// Rows loaded over every file.
    pub fn loaded(&self) -> u64 {
        self.files.iter().map(|f| f.loaded).sum()
    }

    /// Rows rejected over every file.
    pub fn rejected(&self) -> u64 {
        self.files.iter().map(|f| f.rejected).sum()
    }
}

/// A URL-safe slug of a name: lower case, words joined by `-`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// The table a CSV file loads into.
pub fn table_for_file(stem: &str) -> Option<&'static Table> {
    let name = FILE_TABLES.iter().find(|(f, _)| *f == stem).map_or(stem, |(_, t)| *t);
    schema::table(name)
}

/// The CSV files of `dir` in load order, with their tables.
pub fn files(dir: &Path) -> Result<Vec<(std::path::PathBuf, &'static Table)>> {
    let mut out = Vec::new();
    let entries =
        std::fs::read_dir(dir).map_err(|e| StageError::config(format!("cannot list {}: {e}", dir.display())))?;
    for entry in entries {
        let path = entry.map_err(|e| StageError::config(e.to_string()))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("csv") {
            continue;
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        match table_for_file(&stem) {
            Some(t) => out.push((path, t)),
            None => tracing::warn!(file = %path.display(), "no table of the schema matches this file; skipped"),
        }
    }
    let rank = |t: &Table| FIRST.iter().position(|n| *n == t.name).unwrap_or(FIRST.len());
    out.sort_by(|(pa, a), (pb, b)| (rank(a), a.name, pa).cmp(&(rank(b), b.name, pb)));
    Ok(out)
}

/// Loads every CSV of `dir` into the SQLite database at `target`, creating the tables.
pub fn seed_sqlite(dir: &Path, target: &Path) -> Result<SeedReport> {
    let mut db = Sqlite::open(target)?;
    for t in schema::TABLES {
        db.create_table(t, t.name)?;
    }
    let mut report = SeedReport::default();
    let mut product_vendor: HashMap<i64, i64> = HashMap::new();
    let mut keys: HashMap<&'static str, HashSet<String>> = HashMap::new();
    for (path, table) in files(dir)? {
        let (batch, file_report, vendors) =
            read_file(&path, table, &product_vendor, keys.entry(table.name).or_default())?;
        product_vendor.extend(vendors);
        db.insert(table, table.name, &[batch])?;
        tracing::info!(file = %file_report.file, table = table.name, loaded = file_report.loaded, rejected = file_report.rejected, "seeded");
        report.files.push(file_report);
    }
    Ok(report)
}

/// Loads every CSV of `dir` into `db` (any engine), creating the tables; the sample tables' previous contents are
/// replaced, each table in one transaction.
pub async fn seed(dir: &Path, db: &Database) -> Result<SeedReport> {
    for t in schema::TABLES {
        db.create_table(&Shape::of(t), t.name).await?;
    }
    let mut report = SeedReport::default();
    let mut product_vendor: HashMap<i64, i64> = HashMap::new();
    let mut keys: HashMap<&'static str, HashSet<String>> = HashMap::new();
    let mut cleared: HashSet<&'static str> = HashSet::new();
    for (path, table) in files(dir)? {
        let (batch, file_report, vendors) =
            read_file(&path, table, &product_vendor, keys.entry(table.name).or_default())?;
        product_vendor.extend(vendors);
        let before = if cleared.insert(table.name) {
            vec![Stmt::new(format!("DELETE FROM {}", db.quote(table.name)), vec![])]
        } else {
            vec![]
        };
        db.write(Some((&Shape::of(table), table.name)), &before, batches_of(vec![batch]), &[]).await?;
        tracing::info!(file = %file_report.file, table = table.name, loaded = file_report.loaded, rejected = file_report.rejected, "seeded");
        report.files.push(file_report);
    }
    Ok(report)
}

/// Reads one CSV into a batch of valid rows, with its report. `keys` holds primary keys already loaded into the
/// table (two files may feed one table); `product_vendor` maps product ids to vendors for `order_items`.
pub fn read_file(
    path: &Path,
    table: &'static Table,
    product_vendor: &HashMap<i64, i64>,
    keys: &mut HashSet<String>,
) -> Result<(RecordBatch, FileReport, HashMap<i64, i64>)> {
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or_default().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| StageError::data(format!("cannot read {file}: {e}")))?;
    let headers: Vec<String> =
        reader.headers().map_err(|e| StageError::data(format!("{file}: {e}")))?.iter().map(str::to_string).collect();
    let mut report = FileReport { file: file.clone(), table: table.name.to_string(), ..Default::default() };
    report.ignored_columns = headers.iter().filter(|h| table.column(h).is_none()).cloned().collect();
    // For each column: its position in the file, or how to fill it.
    let positions: Vec<Option<usize>> =
        table.columns.iter().map(|c| headers.iter().position(|h| h == c.name)).collect();
    for (c, pos) in table.columns.iter().zip(&positions) {
        if pos.is_some() {
            continue;
        }
        let how = match (table.name, c.name, c.default, c.nullable) {
            ("categories" | "tags", "slug", _, _) => "derived from name".to_string(),
            ("order_items", "vendor_id", _, _) => "derived from the product's vendor".to_string(),
            (_, _, Some(ColumnDefault::Value(v)), _) => format!("default {v}"),
            (_, _, Some(ColumnDefault::Now), _) => "default CURRENT_TIMESTAMP (load time)".to_string(),
            (_, _, None, true) => "NULL".to_string(),
            (_, _, None, false) => "missing: rows are rejected".to_string(),
        };
        report.filled.insert(c.name.to_string(), how);
    }
    let name_pos = headers.iter().position(|h| h == "name");
    let now = chrono::Utc::now().timestamp_micros();
    let mut builder = RowsBuilder::new(table.columns);
    let mut vendors = HashMap::new();
    let reject = |report: &mut FileReport, id: &str, reason: String| {
        report.rejected += 1;
        *report.reasons.entry(reason).or_insert(0) += 1;
        if report.examples.len() < 5 {
            report.examples.push(id.to_string());
        }
    };
    for record in reader.records() {
        report.rows += 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                reject(&mut report, "?", format!("unreadable CSV line: {e}"));
                continue;
            }
        };
        let id = record.get(0).unwrap_or("?").to_string();
        let mut values: Vec<Option<Scalar>> = Vec::with_capacity(table.columns.len());
        let mut problem: Option<String> = None;
        for (c, pos) in table.columns.iter().zip(&positions) {
            let raw = pos.and_then(|p| record.get(p));
            let value = match raw {
                Some(text) if !text.is_empty() && !text.eq_ignore_ascii_case("null") => match Scalar::parse(c.ty, text)
                {
                    Ok(v) => Some(v),
                    Err(e) => {
                        problem = Some(format!("{}: {e}", c.name));
                        break;
                    }
                },
                Some(_) => None,
                None => match (table.name, c.name, c.default) {
                    ("categories" | "tags", "slug", _) => {
                        name_pos.and_then(|p| record.get(p)).map(|n| Scalar::Str(slug(n)))
                    }
                    ("order_items", "vendor_id", _) => {
                        let product = positions_value(table, &positions, &record, "product_id");
                        product.and_then(|p| product_vendor.get(&p)).map(|v| Scalar::Int(*v))
                    }
                    (_, _, Some(ColumnDefault::Value(v))) => Scalar::parse(c.ty, v).ok(),
                    (_, _, Some(ColumnDefault::Now)) => Some(Scalar::Micros(now)),
                    _ => None,
                },
            };
            if value.is_none() && !c.nullable {
                problem = Some(match raw {
                    None => format!("{}: NOT NULL, not in the file, and cannot be derived", c.name),
                    Some(_) => format!("{}: NOT NULL but empty", c.name),
                });
                break;
            }
            values.push(value);
        }
        if let Some(p) = problem {
            reject(&mut report, &id, p);
            continue;
        }
        let key: String = table
            .primary_key
            .iter()
            .filter_map(|k| table.columns.iter().position(|c| c.name == *k))
            .map(|i| format!("{:?}", values[i]))
            .collect::<Vec<_>>()
            .join("|");
        if !keys.insert(key) {
            reject(&mut report, &id, "duplicate primary key (the row is already loaded)".to_string());
            continue;
        }
        if table.name == "products"
            && let (Some(Some(Scalar::Int(p))), Some(Some(Scalar::Int(v)))) = (
                table.columns.iter().position(|c| c.name == "id").map(|i| values[i].clone()),
                table.columns.iter().position(|c| c.name == "vendor_id").map(|i| values[i].clone()),
            )
        {
            vendors.insert(p, v);
        }
        builder.push(&values).map_err(StageError::internal)?;
        report.loaded += 1;
    }
    Ok((builder.finish(), report, vendors))
}

fn positions_value(
    table: &Table,
    positions: &[Option<usize>],
    record: &csv::StringRecord,
    column: &str,
) -> Option<i64> {
    let i = table.columns.iter().position(|c| c.name == column)?;
    record.get(positions[i]?)?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug("Home & Garden"), "home-garden");
        assert_eq!(slug("  Kids' Toys 2 "), "kids-toys-2");
    }

    #[test]
    fn every_alias_names_a_table() {
        for (file, table) in FILE_TABLES {
            assert!(schema::table(table).is_some(), "{file} -> {table}");
        }
    }
}
