//! Loading the sample data: valid rows in, the rest rejected with a reason, nothing lost without a report.

use std::path::PathBuf;

use amali_jobs::db::sqlite::Sqlite;
use amali_jobs::fixtures::{self, SeedReport};
use amali_jobs::schema;

fn sample_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-data")
}

fn seed() -> (tempfile::TempDir, SeedReport) {
    let dir = tempfile::tempdir().unwrap();
    let report = fixtures::seed_sqlite(&sample_data(), &dir.path().join("app.db")).unwrap();
    (dir, report)
}

fn file<'a>(report: &'a SeedReport, name: &str) -> &'a fixtures::FileReport {
    report.files.iter().find(|f| f.file == name).unwrap_or_else(|| panic!("no report for {name}"))
}

#[test]
fn every_row_is_loaded_or_rejected_with_a_reason() {
    let (dir, report) = seed();
    assert_eq!(report.files.len(), 30, "every CSV of the sample data has a table");
    let db = Sqlite::open(&dir.path().join("app.db")).unwrap();
    let mut loaded_per_table = std::collections::HashMap::<&str, u64>::new();
    for f in &report.files {
        assert_eq!(f.rows, f.loaded + f.rejected, "{}: rows in = loaded + rejected", f.file);
        assert_eq!(f.reasons.values().sum::<u64>(), f.rejected, "{}: every rejection has a reason", f.file);
        *loaded_per_table.entry(schema::table(&f.table).unwrap().name).or_default() += f.loaded;
    }
    for (table, loaded) in loaded_per_table {
        let t = schema::table(table).unwrap();
        let n = db.read(t, table, None, 1000, |_| Ok(())).unwrap();
        assert_eq!(n, loaded, "{table}: the database holds what the report says was loaded");
    }
}

#[test]
fn missing_not_null_columns_are_derived_or_the_row_rejected() {
    let (_dir, report) = seed();
    let categories = file(&report, "categories.csv");
    assert_eq!(categories.filled["slug"], "derived from name");
    assert_eq!(categories.rejected, 0);
    // order_items has no vendor_id: it comes from the product; 1020 of the 2000 items name a product of products.csv.
    let items = file(&report, "order_items.csv");
    assert_eq!(items.filled["vendor_id"], "derived from the product's vendor");
    assert_eq!((items.loaded, items.rejected), (1020, 980));
    // reviews have no status and nothing to derive it from.
    let reviews = file(&report, "reviews.csv");
    assert_eq!(reviews.loaded, 0);
    assert!(reviews.reasons.keys().all(|r| r.starts_with("status: NOT NULL")), "{:?}", reviews.reasons);
    // address.csv and addresses.csv both feed `address`; ids already loaded are duplicates.
    let addresses = file(&report, "addresses.csv");
    assert!(addresses.reasons.contains_key("duplicate primary key (the row is already loaded)"));
}

#[test]
fn values_keep_their_types() {
    let (dir, _) = seed();
    let db = Sqlite::open(&dir.path().join("app.db")).unwrap();
    let users = schema::table("users").unwrap();
    let mut batches = Vec::new();
    db.read(users, "users", Some(("id = ?", vec![1i64.into()])), 10, |b| {
        batches.push(b);
        Ok(())
    })
    .unwrap();
    let b = &batches[0];
    let col = |name: &str| b.column(users.columns.iter().position(|c| c.name == name).unwrap()).clone();
    use deltalake::arrow::array::{Array, BooleanArray, StringArray, TimestampMicrosecondArray};
    assert_eq!(col("email").as_any().downcast_ref::<StringArray>().unwrap().value(0), "user1@example.com");
    assert!(col("is_verified").as_any().downcast_ref::<BooleanArray>().unwrap().value(0), "True is a boolean");
    let created = col("created_at").as_any().downcast_ref::<TimestampMicrosecondArray>().unwrap().value(0);
    assert_eq!(amali_jobs::db::value::format_timestamp(created), "2024-02-15 07:05:47.631980");
    let items = schema::table("order_items").unwrap();
    let mut prices = Vec::new();
    db.read(items, "order_items", Some(("id = ?", vec![1i64.into()])), 10, |b| {
        let i = items.columns.iter().position(|c| c.name == "unit_price").unwrap();
        let a = b.column(i).as_any().downcast_ref::<deltalake::arrow::array::Decimal128Array>().unwrap().clone();
        prices.push((a.value(0), a.scale()));
        Ok(())
    })
    .unwrap();
    assert_eq!(prices, vec![(2599, 2)], "25.99 is stored and read back exactly");
}
