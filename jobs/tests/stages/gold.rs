//! `gold_transformation` (and the silver data products it reads): expected values on a small hand-checkable app
//! database, the fixtures end to end, and reruns that change nothing.

use crate::common;
use crate::common::{Workdir, rows_text, sample_data};
use amali_jobs::db::sqlite::Sqlite;
use amali_jobs::lake::Lake;
use amali_jobs::schema;
use deltalake::datafusion::prelude::SessionContext;

/// Rows of `sql` over the lake table `layer/table` (registered as `t`), as text.
async fn query(lake: &Lake, layer: &str, table: &str, sql: &str) -> Vec<String> {
    let t = lake.open(layer, table).await.unwrap().unwrap_or_else(|| panic!("no table {layer}/{table}"));
    let ctx = SessionContext::new();
    ctx.register_table("t", t.table_provider().await.unwrap()).unwrap();
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let mut rows = rows_text(&batches, &[]);
    rows.sort();
    rows
}

const APP: &[(&str, &str)] = &[
    (
        "users (id, email, gender, password, full_name, role, is_verified, created_at, updated_at)",
        "
        (1, 'a@x.com', 'F', 'x', 'Ama', 'CUSTOMER', 1, '2024-01-01 00:00:00', '2024-01-01 00:00:00'),
        (2, 'b@x.com', 'M', 'x', 'Kofi', 'CUSTOMER', 0, '2024-01-01 00:00:00', '2024-01-01 00:00:00'),
        (3, 'v@x.com', 'F', 'x', 'Esi', 'VENDOR', 1, '2024-01-01 00:00:00', '2024-01-01 00:00:00')",
    ),
    (
        "address (id, user_id, city, country, is_default, updated_at)",
        "
        (1, 1, 'Accra', 'Ghana', 1, '2024-01-01 00:00:00'),
        (2, 1, 'Kumasi', 'Ghana', 0, '2024-02-01 00:00:00'),
        (3, 2, 'Lagos', 'Nigeria', 0, '2024-01-01 00:00:00')",
    ),
    ("categories (id, name, slug)", "(100, 'Office', 'office'), (101, 'Books', 'books')"),
    (
        "products (id, name, sku, price, stock_quantity, low_stock_threshold, vendor_id, status)",
        "
        (10, 'Pen', 'P-10', '2.50', 5, 10, 3, 'ACTIVE'),
        (11, 'Book', 'B-11', '10.00', 50, 10, 3, 'ACTIVE')",
    ),
    ("product_category (product_id, category_id)", "(10, 100), (11, 101), (11, 100)"),
    (
        "orders (id, user_id, order_date, total_amount, status)",
        "
        (1000, 1, '2024-03-01 10:00:00', 15.0, 'DELIVERED'),
        (1001, 1, '2024-03-01 12:00:00', 10.0, 'PENDING'),
        (1002, 2, '2024-03-02 09:00:00', 5.0, 'CANCELLED'),
        (1003, 2, '2023-12-31 00:00:00', 7.0, 'DELIVERED'),
        (1004, 1, '2024-03-20 08:00:00', 9.0, 'DELIVERED')",
    ),
    (
        "order_items (id, order_id, product_id, quantity, unit_price, total_price, vendor_id)",
        "
        (1, 1000, 10, 2, '2.50', '5.00', 3),
        (2, 1000, 11, 1, '10.00', '10.00', 3),
        (3, 1001, 11, 1, '10.00', '10.00', 3),
        (4, 1002, 10, 2, '2.50', '5.00', 3)",
    ),
    (
        "reviews (id, user_id, product_id, rating, status)",
        "
        (1, 1, 10, 4, 'ACTIVE'), (2, 2, 10, 2, 'ACTIVE'), (3, 1, 11, 5, 'HIDDEN')",
    ),
    (
        "payments (id, order_id, payment_method, amount, status, paid_at)",
        "
        (1, 1000, 'Card', '15.00', 'PAID', '2024-03-01 10:05:00'),
        (2, 1001, 'Card', '10.00', 'PENDING', '2024-03-01 12:05:00'),
        (3, 1003, 'Mobile Money', '7.00', 'PAID', '2023-12-31 00:05:00')",
    ),
    (
        "shipping_info (id, order_id, city, is_express, delivery_fee, delivered_at)",
        "
        (1, 1000, 'Accra', 1, '5.00', '2024-03-03 10:00:00'),
        (2, 1003, 'Accra', 1, '3.00', '2024-01-01 00:00:00')",
    ),
    ("returns (id, user_id, product_id, status, request_at)", "(1, 1, 10, 'PENDING', '2024-03-05 00:00:00')"),
    (
        "vendor_applications (id, business_name, business_email, business_phone, password, business_certificate_url, \
      representative_name, representative_email, representative_phone, business_account_type, status, created_at)",
        "
        (1, 'A', 'a@b.com', '1', 'x', 'u', 'R', 'r@b.com', '2', 'Retail', 'PENDING', '2023-05-01 00:00:00'),
        (2, 'B', 'b@b.com', '1', 'x', 'u', 'S', 's@b.com', '2', 'Retail', 'PENDING', '2024-02-01 00:00:00')",
    ),
];

/// The hand-checkable app database, through all four stages, on logical date 2024-03-15.
fn pipeline() -> Workdir {
    let mut w = Workdir::sqlite();
    w.logical_date = "2024-03-15".into();
    let mut db = Sqlite::open(&w.path().join("app.db")).unwrap();
    for t in schema::TABLES {
        db.create_table(t, t.name).unwrap();
    }
    for (table, values) in APP {
        db.connection().execute(&format!("INSERT INTO {table} VALUES {values}"), []).unwrap();
    }
    for stage in ["read_from_app_database", "ingestion_from_rds", "silver_transformation", "gold_transformation"] {
        w.run(stage, "r1");
    }
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_gold_table_has_the_expected_values() {
    let w = pipeline();
    let lake = w.lake();
    let gold = |table: &'static str, sql: &'static str| {
        let lake = lake.clone();
        async move { query(&lake, "gold", table, sql).await }
    };
    // GMV once per order (not per item: 40.00 would be the original's), completed = DELIVERED; money to the cent.
    assert_eq!(
        gold("daily_sales_metrics", "SELECT order_year, order_month, order_day, daily_gmv, order_count, completed_orders, average_order_value FROM t").await,
        ["2023|12|31|7.00|1|1|7.00", "2024|3|1|25.00|2|1|12.50", "2024|3|20|9.00|1|1|9.00", "2024|3|2|5.00|1|0|5.00"]
    );
    assert_eq!(
        gold("payment_method_metrics", "SELECT * FROM t").await,
        ["Card|2024|3|25.00|2|12.5000|2", "Mobile Money|2023|12|7.00|1|7.0000|1"]
    );
    assert_eq!(
        gold("monthly_revenue_metrics", "SELECT * FROM t").await,
        ["2023|12|7.00|1|7.00", "2024|3|15.00|1|15.00"]
    );
    // Items of the cancelled order are not sales; reviews are the active ones; categories through product_category.
    assert_eq!(
        gold("product_sales_metrics", "SELECT * FROM t").await,
        ["10|Pen|Office|2|5.00|3.0|2|1", "11|Book|Office|2|20.00||0|2"]
    );
    assert_eq!(gold("inventory_metrics", "SELECT * FROM t").await, ["Office|55|1|27.5"]);
    assert_eq!(
        gold("customer_segments", "SELECT * FROM t").await,
        ["F|CUSTOMER|Ghana|1|1.0", "F|VENDOR||1|1.0", "M|CUSTOMER|Nigeria|1|0.0"]
    );
    assert_eq!(
        gold("customer_lifetime_value", "SELECT user_id, user_full_name, user_email, address_country, total_order_amount, order_count, CAST(first_order_date AS VARCHAR), CAST(last_order_date AS VARCHAR) FROM t").await,
        [
            "1|Ama|a@x.com|Ghana|34.00|3|2024-03-01T10:00:00Z|2024-03-20T08:00:00Z",
            "2|Kofi|b@x.com|Nigeria|12.00|2|2023-12-31T00:00:00Z|2024-03-02T09:00:00Z"
        ]
    );
    assert_eq!(gold("vendor_application_metrics", "SELECT * FROM t").await, ["Retail|PENDING|2|2023.5"]);
    assert_eq!(gold("vendor_sales_metrics", "SELECT * FROM t").await, ["3|4|25.00|2"]);
    assert_eq!(gold("return_analysis_metrics", "SELECT * FROM t").await, ["PENDING|2024|3|1"]);
    assert_eq!(
        gold(
            "shipping_performance_metrics",
            "SELECT shipping_city, is_express, average_delivery_fee, shipment_count, average_delivery_days FROM t"
        )
        .await,
        ["Accra|true|4.0000|2|1.5"]
    );
    // Year to date relative to the logical date (2024-03-15): orders 1000 and 1001 only.
    assert_eq!(gold("executive_dashboard_metrics", "SELECT * FROM t").await, ["2024-03-15|25.00|2|4|2|1|3.0"]);
    assert_eq!(
        gold("fact_order_items", "SELECT count(*), sum(quantity), min(date_key), max(date_key) FROM t").await,
        ["4|6|20240301|20240302"]
    );
    assert_eq!(
        gold("dim_date", "SELECT count(*), min(date_key), max(date_key) FROM t").await,
        ["81|20231231|20240320"]
    );
    assert_eq!(gold("dim_customer", "SELECT count(*) FROM t").await, ["3"]);
    assert_eq!(gold("dim_product", "SELECT product_key, category_name FROM t").await, ["10|Office", "11|Office"]);
    // The silver data products: one row per user with the default address; one row per order item.
    assert_eq!(
        query(&lake, "silver", "users_data", "SELECT user_id, address_city FROM t").await,
        ["1|Accra", "2|Lagos", "3|"]
    );
    assert_eq!(query(&lake, "silver", "orders_data", "SELECT count(*) FROM t").await, ["6"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerunning_gold_changes_nothing() {
    let w = pipeline();
    let before: Vec<_> = futures::future::join_all(["daily_sales_metrics", "executive_dashboard_metrics"].map(|t| {
        let lake = w.lake();
        async move { lake.open("gold", t).await.unwrap().unwrap().version() }
    }))
    .await;
    let again = w.run("gold_transformation", "r1");
    assert!(again["tables"].as_array().unwrap().iter().all(|t| t["rows_written"] == 0), "{again}");
    let after: Vec<_> = futures::future::join_all(["daily_sales_metrics", "executive_dashboard_metrics"].map(|t| {
        let lake = w.lake();
        async move { lake.open("gold", t).await.unwrap().unwrap().version() }
    }))
    .await;
    assert_eq!(before, after, "no new versions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixtures_build_every_gold_table_readable_by_python() {
    let w = Workdir::sqlite();
    amali_jobs::fixtures::seed_sqlite(&sample_data(), &w.path().join("app.db")).unwrap();
    for stage in ["read_from_app_database", "ingestion_from_rds", "silver_transformation", "gold_transformation"] {
        w.run(stage, "r1");
    }
    let python = std::env::var("AMALI_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/read_lake.py");
    let out = std::process::Command::new(&python).arg(&script).arg(w.path().join("lake")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tables: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for m in amali_jobs::models::GOLD_MODELS.iter().chain(amali_jobs::models::SILVER_MODELS) {
        let key = format!(
            "{}/{}",
            if amali_jobs::models::GOLD_MODELS.iter().any(|g| g.name == m.name) { "gold" } else { "silver" },
            m.name
        );
        let t = &tables[&key];
        assert_eq!(t["deltalake"], t["polars"], "{key} read alike");
        assert!(t["deltalake"].as_u64().is_some(), "{key} is readable: {tables}");
    }
    let daily = &tables["gold/daily_sales_metrics"]["columns"];
    for c in [
        "order_year",
        "order_month",
        "order_day",
        "daily_gmv",
        "order_count",
        "completed_orders",
        "average_order_value",
    ] {
        assert!(daily.as_array().unwrap().iter().any(|x| x == c), "the dashboards' column {c}");
    }
}

/// Changes to the hand-checkable app database that touch every incremental model: a new order with items, a
/// payment and a shipment, a new order without items, an address that moves its user to another country, and a
/// hidden review that becomes active.
const CHANGES: &[&str] = &[
    "INSERT INTO orders (id, user_id, order_date, total_amount, status) VALUES \
     (1005, 2, '2024-03-10 09:00:00', 32.5, 'DELIVERED'), (1006, 1, '2024-03-11 09:00:00', 0, 'PENDING')",
    "INSERT INTO order_items (id, order_id, product_id, quantity, unit_price, total_price, vendor_id) VALUES \
     (5, 1005, 10, 1, '2.50', '2.50', 3), (6, 1005, 11, 3, '10.00', '30.00', 3)",
    "INSERT INTO payments (id, order_id, payment_method, amount, status, paid_at) VALUES \
     (4, 1005, 'Card', '32.50', 'PAID', '2024-03-10 09:05:00')",
    "INSERT INTO shipping_info (id, order_id, city, is_express, delivery_fee, delivered_at) VALUES \
     (3, 1005, 'Tema', 0, '2.00', '2024-03-12 00:00:00')",
    "UPDATE address SET city = 'Tema', country = 'Ghana', updated_at = '2024-03-12 00:00:00' WHERE id = 3",
    "UPDATE reviews SET status = 'ACTIVE', updated_at = '2024-03-12 00:00:00' WHERE id = 3",
];

/// The incremental tables with what identifies their rows.
const INCREMENTAL: &[(&str, &str)] = &[
    ("silver", "orders_data"),
    ("silver", "users_data"),
    ("silver", "payments_data"),
    ("silver", "products_data"),
    ("gold", "fact_order_items"),
    ("gold", "customer_lifetime_value"),
    ("gold", "dim_customer"),
    ("gold", "dim_product"),
];

/// The additive tables: updated from the measures of the changed orders, payments and shipments.
const ADDITIVE: &[&str] = &[
    "daily_sales_metrics",
    "payment_method_metrics",
    "monthly_revenue_metrics",
    "vendor_sales_metrics",
    "product_sales_metrics",
    "shipping_performance_metrics",
    "executive_dashboard_metrics",
];

/// The pipeline after a first run, with [`CHANGES`] applied to the app database and extracted and ingested as run
/// `r2` (silver and gold not run yet).
fn changed_pipeline() -> Workdir {
    let w = pipeline();
    let conn = rusqlite::Connection::open(w.path().join("app.db")).unwrap();
    for change in CHANGES {
        conn.execute(change, []).unwrap();
    }
    drop(conn);
    w.run("read_from_app_database", "r2");
    w.run("ingestion_from_rds", "r2");
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_run_merges_the_changed_keys_and_equals_a_full_rebuild() {
    let w = changed_pipeline();
    // Every input here is tiny: without the override every model would be rebuilt.
    let run = |name: &str| {
        let mut stage = w.stage(name, "r2");
        stage.env("AMALI_SMALL_INPUT_BYTES", "0");
        let out = stage.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let silver = run("silver_transformation");
    let gold = run("gold_transformation");
    let notes: std::collections::BTreeMap<String, String> = [&silver, &gold]
        .iter()
        .flat_map(|s| s["tables"].as_array().unwrap().clone())
        .map(|t| (t["table"].as_str().unwrap().to_string(), t["note"].as_str().unwrap_or("").to_string()))
        .collect();
    for (_, table) in INCREMENTAL {
        assert!(notes[*table].starts_with("merged"), "{table} was merged, not rebuilt: {:?}", notes[*table]);
    }
    for table in ADDITIVE {
        assert!(notes[*table].starts_with("updated from"), "{table} was updated, not rebuilt: {:?}", notes[*table]);
    }
    assert!(notes["orders_data"].contains("2 changed keys"), "only the two new orders: {}", notes["orders_data"]);
    assert!(
        notes["vendor_sales_metrics"].starts_with("updated from 2 changed units of orders_data.order_id"),
        "the measures of the two new orders only: {}",
        notes["vendor_sales_metrics"]
    );

    // The same app database built from scratch.
    let mut fresh = Workdir::sqlite();
    fresh.logical_date = w.logical_date.clone();
    std::fs::copy(w.path().join("app.db"), fresh.path().join("app.db")).unwrap();
    for stage in ["read_from_app_database", "ingestion_from_rds", "silver_transformation", "gold_transformation"] {
        fresh.run(stage, "full");
    }
    for (layer, table) in INCREMENTAL.iter().copied().chain(ADDITIVE.iter().map(|t| ("gold", *t))) {
        let merged = common::table_rows(&w.lake(), layer, table, &["_ingested_at"]).await;
        let rebuilt = common::table_rows(&fresh.lake(), layer, table, &["_ingested_at"]).await;
        assert_eq!(merged, rebuilt, "{layer}/{table}: the merge gives what a rebuild gives");
    }
    // The changes are there: user 2 now lives in Ghana, product 11 has its review, order 1005 has two items and 1006
    // none (one row with empty item columns).
    let lake = w.lake();
    assert_eq!(
        query(&lake, "gold", "customer_lifetime_value", "SELECT user_id, address_country, order_count FROM t").await,
        ["1|Ghana|4", "2|Ghana|3"]
    );
    assert_eq!(
        query(&lake, "gold", "product_sales_metrics", "SELECT product_id, total_units_sold, review_count FROM t").await,
        ["10|3|2", "11|5|1"]
    );
    assert_eq!(
        query(
            &lake,
            "silver",
            "orders_data",
            "SELECT order_id, count(order_item_id) FROM t WHERE order_id >= 1005 GROUP BY 1"
        )
        .await,
        ["1005|2", "1006|0"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_products_are_partitioned_by_their_business_year() {
    let w = pipeline();
    let t = w.lake().open("silver", "orders_data").await.unwrap().unwrap();
    let partitions = t.snapshot().unwrap().metadata().partition_columns().to_vec();
    assert_eq!(partitions, ["order_year"]);
    assert!(w.path().join("lake/silver/orders_data/order_year=2024").is_dir());
    let t = w.lake().open("silver", "payments_data").await.unwrap().unwrap();
    assert_eq!(t.snapshot().unwrap().metadata().partition_columns().to_vec(), ["payment_year"]);
}

/// Rows as text with every number rounded to two decimals (the app database sums floats, the lake decimals).
fn normalized(rows: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = rows
        .into_iter()
        .map(|r| {
            r.split('|')
                .map(|c| c.parse::<f64>().map(|v| format!("{v:.2}")).unwrap_or_else(|_| c.to_string()))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    out.sort();
    out
}

/// Rows of `sql` over the app database, NULL as empty text.
fn app_rows(conn: &rusqlite::Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |row| {
        Ok((0..n)
            .map(|i| match row.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Null => String::new(),
                rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                rusqlite::types::ValueRef::Real(v) => v.to_string(),
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                rusqlite::types::ValueRef::Blob(_) => "<blob>".into(),
            })
            .collect::<Vec<_>>()
            .join("|"))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// The KPIs of the sample data, computed a second way: SQLite over the seeded app database, written here from the
/// KPIs' definitions without the models' SQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixture_kpis_equal_an_independent_computation_over_the_app_database() {
    let w = Workdir::sqlite();
    amali_jobs::fixtures::seed_sqlite(&sample_data(), &w.path().join("app.db")).unwrap();
    for stage in ["read_from_app_database", "ingestion_from_rds", "silver_transformation", "gold_transformation"] {
        w.run(stage, "r1");
    }
    let conn = rusqlite::Connection::open(w.path().join("app.db")).unwrap();
    let year = |c: &str| format!("CAST(strftime('%Y', {c}) AS INTEGER)");
    let month = |c: &str| format!("CAST(strftime('%m', {c}) AS INTEGER)");
    let cases = [
        (
            "daily_sales_metrics",
            "SELECT order_year, order_month, order_day, daily_gmv, order_count, completed_orders FROM t".to_string(),
            format!(
                "SELECT {}, {}, CAST(strftime('%d', order_date) AS INTEGER), sum(total_amount), count(*), \
                 sum(status = 'DELIVERED') FROM orders WHERE order_date IS NOT NULL GROUP BY 1, 2, 3",
                year("order_date"),
                month("order_date")
            ),
        ),
        (
            "payment_method_metrics",
            "SELECT payment_method, payment_year, payment_month, total_payment_value, payment_count FROM t".into(),
            format!(
                "SELECT payment_method, {}, {}, sum(amount), count(*) FROM payments GROUP BY 1, 2, 3",
                year("paid_at"),
                month("paid_at")
            ),
        ),
        (
            "monthly_revenue_metrics",
            "SELECT payment_year, payment_month, monthly_revenue, paid_orders_count FROM t".into(),
            format!(
                "SELECT {}, {}, sum(amount), count(DISTINCT order_id) FROM payments \
                 WHERE status = 'PAID' AND paid_at IS NOT NULL GROUP BY 1, 2",
                year("paid_at"),
                month("paid_at")
            ),
        ),
        (
            "return_analysis_metrics",
            "SELECT status, return_year, return_month, return_count FROM t".into(),
            format!(
                "SELECT status, {}, {}, count(*) FROM returns GROUP BY 1, 2, 3",
                year("COALESCE(request_at, created_at)"),
                month("COALESCE(request_at, created_at)")
            ),
        ),
        (
            "vendor_application_metrics",
            "SELECT business_account_type, status, application_count, average_application_year FROM t".into(),
            format!(
                "SELECT business_account_type, status, count(*), avg({}) FROM vendor_applications GROUP BY 1, 2",
                year("created_at")
            ),
        ),
        (
            // Days to delivery from the order (orders without a user or a date are quarantined in silver).
            "shipping_performance_metrics",
            "SELECT shipping_city, CAST(is_express AS VARCHAR), shipment_count, average_delivery_fee, \
             average_delivery_days FROM t"
                .into(),
            "SELECT s.city, CASE WHEN s.is_express IS NULL THEN NULL WHEN s.is_express THEN 'true' ELSE 'false' END, count(*), avg(s.delivery_fee), \
             avg(julianday(s.delivered_at) - julianday(o.order_date)) FROM shipping_info s LEFT JOIN orders o \
             ON o.id = s.order_id AND o.user_id IS NOT NULL AND o.order_date IS NOT NULL GROUP BY 1, 2"
                .into(),
        ),
        (
            // Year to date of the logical date, 2024-03-01.
            "executive_dashboard_metrics",
            "SELECT ytd_revenue, ytd_orders, total_customers FROM t".into(),
            "SELECT sum(total_amount), count(*), (SELECT count(*) FROM users WHERE role = 'CUSTOMER') FROM orders \
             WHERE order_date >= '2024-01-01' AND order_date < '2024-03-02' AND status NOT IN ('CANCELLED', 'REJECTED')"
                .into(),
        ),
    ];
    let lake = w.lake();
    for (table, gold_sql, app_sql) in cases {
        let expected = normalized(app_rows(&conn, &app_sql));
        assert!(!expected.is_empty(), "{table}: the sample data has rows for it");
        assert_eq!(normalized(query(&lake, "gold", table, &gold_sql).await), expected, "{table}");
    }
}

/// Issue 21: money is exact. The app keeps `orders.total_amount` as a double; a float sum over it changed its last
/// digits from one run to the next (`11896.659999999998`, then `11896.66`). Two runs over the same data must give
/// the same gold tables, digit for digit (only the ingestion times differ), and no money column is a float.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_over_the_same_data_give_identical_gold_tables_with_decimal_money() {
    let run = || {
        let w = Workdir::sqlite();
        amali_jobs::fixtures::seed_sqlite(&sample_data(), &w.path().join("app.db")).unwrap();
        for stage in ["read_from_app_database", "ingestion_from_rds", "silver_transformation", "gold_transformation"] {
            w.run(stage, "r1");
        }
        w
    };
    let (first, second) = (run(), run());
    let money = ["amount", "gmv", "revenue", "price", "fee", "order_value", "spent"];
    for m in amali_jobs::models::GOLD_MODELS {
        let rows = |w: &Workdir| {
            let lake = w.lake();
            async move { crate::common::table_rows(&lake, "gold", m.name, &["_ingested_at"]).await }
        };
        let (a, b) = (rows(&first).await, rows(&second).await);
        assert!(!a.is_empty(), "gold {} has rows", m.name);
        assert_eq!(a, b, "gold {} differs between two runs over the same data", m.name);
    }
    for (layer, names) in [
        ("silver", schema::TABLES.iter().map(|t| t.name).collect::<Vec<_>>()),
        ("silver", amali_jobs::models::SILVER_MODELS.iter().map(|m| m.name).collect()),
        ("gold", amali_jobs::models::GOLD_MODELS.iter().map(|m| m.name).collect()),
    ] {
        for name in names {
            let Some(t) = first.lake().open(layer, name).await.unwrap() else { continue };
            let schema = t.snapshot().unwrap().schema();
            for field in schema.fields().filter(|f| money.iter().any(|w| f.name().contains(w))) {
                let ty = field.data_type();
                assert!(
                    *ty != deltalake::kernel::DataType::DOUBLE && *ty != deltalake::kernel::DataType::FLOAT,
                    "{layer}/{name}.{} is money kept as a float ({ty:?})",
                    field.name()
                );
            }
        }
    }
}

/// With the default threshold the sample's tiny inputs rebuild every model (cheaper than working out the changed
/// keys), and a model other models read by key keeps its lineage through that rebuild: the models reading it update
/// from its changed keys as they would after a merge. Here silver runs with the default threshold (`users_data` is
/// rebuilt) and gold updates by key everywhere (threshold 0): `dim_customer` and `customer_lifetime_value` are merged
/// from `users_data`'s changes, and the user who moved is in Ghana in both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_model_is_rebuilt_and_the_models_reading_it_by_key_still_merge() {
    let w = changed_pipeline();
    let silver = w.run("silver_transformation", "r2");
    let mut stage = w.stage("gold_transformation", "r2");
    stage.env("AMALI_SMALL_INPUT_BYTES", "0");
    let out = stage.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let gold: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let note = |summary: &serde_json::Value, table: &str| {
        let t = summary["tables"].as_array().unwrap().iter().find(|t| t["table"] == table).unwrap().clone();
        t["note"].as_str().unwrap_or("").to_string()
    };
    assert_eq!(note(&silver, "users_data"), "", "small inputs: rebuilt");
    for table in ["dim_customer", "customer_lifetime_value"] {
        assert!(note(&gold, table).starts_with("merged"), "{table} was merged, not rebuilt: {}", note(&gold, table));
    }
    assert_eq!(
        query(&w.lake(), "gold", "customer_lifetime_value", "SELECT user_id, address_country FROM t WHERE user_id = 2")
            .await,
        ["2|Ghana"]
    );
    assert_eq!(
        query(&w.lake(), "gold", "dim_customer", "SELECT customer_key, country FROM t WHERE customer_key = 2").await,
        ["2|Ghana"]
    );
}
