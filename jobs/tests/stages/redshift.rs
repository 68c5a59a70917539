//! The Redshift load's SQL and manifest are goldens: a change to them shows in review. Regenerate with
//! `AMALI_UPDATE_GOLDENS=1 cargo test -p amali-jobs --test redshift`.

use amali_jobs::redshift::{ManifestEntry, load_statements, manifest};
use amali_jobs::schema::{Column, Shape, Type};

fn golden(name: &str, text: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/goldens").join(name);
    if std::env::var_os("AMALI_UPDATE_GOLDENS").is_some() {
        std::fs::write(&path, text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} is missing", path.display()));
    assert_eq!(text, want, "{name} changed; if that is intended, regenerate the goldens");
}

const fn col(name: &'static str, ty: Type) -> Column {
    Column { name, ty, nullable: true, default: None, auto_increment: false }
}

#[test]
fn daily_sales_metrics_loads_from_its_snapshot_manifest() {
    let shape = Shape {
        name: "daily_sales_metrics",
        columns: vec![
            col("order_year", Type::Int),
            col("order_month", Type::Int),
            col("order_day", Type::Int),
            col("daily_gmv", Type::Double),
            col("order_count", Type::BigInt),
            col("completed_orders", Type::BigInt),
            col("average_order_value", Type::Double),
        ],
        primary_key: vec![],
    };
    let sql = load_statements(
        "daily_sales_metrics",
        &shape,
        "s3://amalimart-lake/delta/gold/daily_sales_metrics/_amali_manifests/v7.manifest",
        "arn:aws:iam::050451375647:role/amalimart-redshift-copy",
        7,
        "run-2024-03-01",
    );
    golden("redshift_daily_sales_metrics.sql", &(sql.join(";\n\n") + ";\n"));
    let m = manifest(&[
        ManifestEntry {
            url: "s3://amalimart-lake/delta/gold/daily_sales_metrics/part-00000-a.snappy.parquet".into(),
            content_length: 18_231,
        },
        ManifestEntry {
            url: "s3://amalimart-lake/delta/gold/daily_sales_metrics/part-00001-b.snappy.parquet".into(),
            content_length: 9_004,
        },
    ]);
    golden("redshift_daily_sales_metrics.manifest", &(m + "\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manifest_lists_the_snapshot_not_the_directory() {
    use deltalake::arrow::array::{Int64Array, RecordBatch};
    use deltalake::arrow::datatypes::{DataType, Field, Schema};
    let dir = tempfile::tempdir().unwrap();
    let lake = amali_jobs::lake::Lake::new(dir.path().display().to_string());
    let schema = Schema::new(vec![Field::new("n", DataType::Int64, true)]);
    let mut table = lake.open_or_create("gold", "t", &schema, &[]).await.unwrap();
    let batch = |v: i64| {
        RecordBatch::try_new(std::sync::Arc::new(schema.clone()), vec![std::sync::Arc::new(Int64Array::from(vec![v]))])
            .unwrap()
    };
    for v in 0..2 {
        amali_jobs::lake::append(&mut table, futures::stream::iter([Ok(batch(v))]), "test", v, "r").await.unwrap();
    }
    // An overwrite removes the two files from the snapshot; they stay in the directory.
    let table = table.write(vec![batch(9)]).with_save_mode(deltalake::protocol::SaveMode::Overwrite).await.unwrap();
    let entries = amali_jobs::redshift::snapshot_entries(&table).unwrap();
    let on_disk = std::fs::read_dir(dir.path().join("gold/t"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".parquet"));
    assert_eq!(on_disk.count(), 3, "the directory keeps removed files");
    assert_eq!(entries.len(), 1, "the manifest lists the snapshot's one file: {entries:?}");
    assert!(entries[0].content_length > 0);
    let path = entries[0].url.trim_start_matches("file://");
    assert_eq!(std::fs::metadata(path).unwrap().len(), entries[0].content_length);
}
