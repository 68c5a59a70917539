//! The connectors against the real MariaDB and PostgreSQL on this machine (bash .ci/test starts them) and SQLite:
//! every type of the app schema survives a write and a read, and the first two stages give the same bronze tables
//! whichever engines hold the app and landing databases.

use crate::common;
use crate::common::{Workdir, bronze, sample_data};
use amali_jobs::db::value::{Scalar, format_timestamp, parse_date, parse_timestamp, scalar_at};
use amali_jobs::db::{Cmp, Database, Filter, Stmt, batches_of};
use amali_jobs::schema::{Column, Shape, Type};

const MARIADB: &str = "mysql://root@127.0.0.1:3306";
const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh MariaDB database or PostgreSQL schema for one test, and its URL.
async fn scratch(engine: &str, name: &str) -> String {
    let name = format!("amali_t_{name}_{}", std::process::id());
    match engine {
        "mysql" => {
            let admin = Database::open(&format!("{MARIADB}/mysql"), std::path::Path::new("."), None).unwrap();
            admin
                .execute(&[
                    Stmt::new(format!("DROP DATABASE IF EXISTS {name}"), vec![]),
                    Stmt::new(format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"), vec![]),
                ])
                .await
                .expect("MariaDB on 127.0.0.1:3306 (bash .ci/test starts it)");
            format!("{MARIADB}/{name}")
        }
        "postgres" => {
            let admin = Database::open(POSTGRES, std::path::Path::new("."), None).unwrap();
            admin
                .execute(&[
                    Stmt::new(format!("DROP SCHEMA IF EXISTS {name} CASCADE"), vec![]),
                    Stmt::new(format!("CREATE SCHEMA {name}"), vec![]),
                ])
                .await
                .expect("PostgreSQL on 127.0.0.1:5432 (bash .ci/test starts it)");
            format!("{POSTGRES}?options=-c%20search_path%3D{name}")
        }
        _ => unreachable!(),
    }
}

const fn col(name: &'static str, ty: Type) -> Column {
    Column { name, ty, nullable: true, default: None, auto_increment: false }
}

static EVERY_TYPE: &[Column] = &[
    Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
    col("small", Type::Int),
    col("flag", Type::Bool),
    col("bit", Type::Bit),
    col("money", Type::Decimal(10, 2)),
    col("big_money", Type::Decimal(18, 4)),
    col("ratio", Type::Double),
    col("name", Type::Varchar(64)),
    col("body", Type::Text),
    col("status", Type::Enum(&["PENDING", "DELIVERED"])),
    col("day", Type::Date),
    col("at", Type::DateTime),
    col("stamp", Type::Timestamp),
];

fn every_type_rows() -> Vec<Vec<Option<Scalar>>> {
    let ts = |t: &str| Some(Scalar::Micros(parse_timestamp(t).unwrap()));
    vec![
        vec![
            Some(Scalar::Int(1)),
            Some(Scalar::Int(-2_147_483_648)),
            Some(Scalar::Bool(true)),
            Some(Scalar::Bool(true)),
            Some(Scalar::Decimal(-5)),
            Some(Scalar::Decimal(12_345_678_901_234)),
            Some(Scalar::Float(0.1)),
            Some(Scalar::Str("Zoë 🚀 O'Brien".into())),
            Some(Scalar::Str("tab\there\nnew line \\ backslash \\N not null".into())),
            Some(Scalar::Str("DELIVERED".into())),
            Some(Scalar::Date(parse_date("1969-07-20").unwrap())),
            ts("2024-02-29 23:59:59.999999"),
            ts("1999-12-31 00:00:00.000001"),
        ],
        vec![
            Some(Scalar::Int(2)),
            Some(Scalar::Int(2_147_483_647)),
            Some(Scalar::Bool(false)),
            Some(Scalar::Bool(false)),
            Some(Scalar::Decimal(99_999_999)),
            Some(Scalar::Decimal(0)),
            Some(Scalar::Float(-1.5e300)),
            Some(Scalar::Str(String::new())),
            Some(Scalar::Str("x".repeat(60_000))),
            Some(Scalar::Str("PENDING".into())),
            Some(Scalar::Date(parse_date("2038-01-20").unwrap())),
            ts("1970-01-01 00:00:00"),
            ts("2038-01-19 03:14:07"),
        ],
        std::iter::once(Some(Scalar::Int(3))).chain(std::iter::repeat_n(None, EVERY_TYPE.len() - 1)).collect(),
    ]
}

async fn round_trip(url: &str) {
    let db = Database::open(url, std::path::Path::new("/tmp"), None).unwrap();
    let shape = Shape { name: "every_type", columns: EVERY_TYPE.to_vec(), primary_key: vec!["id"] };
    db.create_table(&shape, "every_type").await.unwrap();
    let rows = every_type_rows();
    let mut builder = amali_jobs::db::value::RowsBuilder::new(EVERY_TYPE);
    for r in &rows {
        builder.push(r).unwrap();
    }
    let n = db.write(Some((&shape, "every_type")), &[], batches_of(vec![builder.finish()]), &[]).await.unwrap();
    assert_eq!(n, 3, "{url}: rows loaded");
    let mut back = db.read(&shape, "every_type", None, 2);
    let mut got: Vec<Vec<Option<Scalar>>> = Vec::new();
    while let Some(batch) = back.recv().await {
        let batch = batch.unwrap();
        for row in 0..batch.num_rows() {
            got.push(
                EVERY_TYPE.iter().enumerate().map(|(i, c)| scalar_at(batch.column(i).as_ref(), row, c.ty)).collect(),
            );
        }
    }
    got.sort_by_key(|r| match r[0] {
        Some(Scalar::Int(i)) => i,
        _ => 0,
    });
    for (want, have) in rows.iter().zip(&got) {
        for ((c, w), h) in EVERY_TYPE.iter().zip(want).zip(have) {
            assert_eq!(w, h, "{url}: column {} ({:?})", c.name, c.ty);
        }
    }
    assert_eq!(got.len(), 3);
    // A filter on a timestamp reads only the rows at or after it.
    let filter = Filter {
        column: "at",
        cmp: Cmp::AtLeast,
        value: format_timestamp(parse_timestamp("2000-01-01").unwrap()),
        or_null: true,
    };
    let mut some = db.read(&shape, "every_type", Some(filter), 10);
    let mut n = 0;
    while let Some(b) = some.recv().await {
        n += b.unwrap().num_rows();
    }
    assert_eq!(n, 2, "{url}: the 2024 row and the NULL row");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_round_trips_through_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(&format!("sqlite://{}", dir.path().join("t.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_round_trips_through_mariadb() {
    round_trip(&scratch("mysql", "types").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_round_trips_through_postgres() {
    round_trip(&scratch("postgres", "types").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_row_rolls_back_the_whole_load() {
    let url = scratch("mysql", "rollback").await;
    let db = Database::open(&url, std::path::Path::new("."), None).unwrap();
    let shape = Shape { name: "every_type", columns: EVERY_TYPE.to_vec(), primary_key: vec!["id"] };
    db.create_table(&shape, "every_type").await.unwrap();
    let mut builder = amali_jobs::db::value::RowsBuilder::new(EVERY_TYPE);
    let rows = every_type_rows();
    builder.push(&rows[0]).unwrap();
    builder.push(&rows[0]).unwrap(); // the same key twice
    let err = db.write(Some((&shape, "every_type")), &[], batches_of(vec![builder.finish()]), &[]).await.unwrap_err();
    assert!(err.to_string().contains("every_type"), "{err}");
    let count = db.query(&Stmt::new("SELECT count(*) FROM every_type", vec![])).await.unwrap();
    assert_eq!(count[0][0].as_deref(), Some("0"), "nothing of a failed load stays");
}

/// Seeds `app`, runs both stages with `landing`, returns the bronze tables.
async fn pipeline(app: &str, landing: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let w = Workdir::with(app, landing, "");
    let db = Database::open(app, w.path(), None).unwrap();
    amali_jobs::fixtures::seed(&sample_data(), &db).await.unwrap();
    w.run("read_from_app_database", "run-1");
    w.run("ingestion_from_rds", "run-1");
    bronze(&w.lake()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bronze_is_the_same_whichever_engines_hold_the_data() {
    let sqlite = pipeline("sqlite://app.db", "sqlite://internal.db").await;
    let mysql_to_pg = pipeline(&scratch("mysql", "app1").await, &scratch("postgres", "landing1").await).await;
    let pg_to_mysql = pipeline(&scratch("postgres", "app2").await, &scratch("mysql", "landing2").await).await;
    for (table, rows) in &sqlite {
        assert_eq!(&mysql_to_pg[table], rows, "{table}: MariaDB -> PostgreSQL");
        assert_eq!(&pg_to_mysql[table], rows, "{table}: PostgreSQL -> MariaDB");
    }
}

#[test]
fn a_dead_database_is_a_transient_failure_that_names_it() {
    let w = Workdir::with("mysql://etl@127.0.0.1:1/app", "sqlite://internal.db", "");
    let out = w.stage("read_from_app_database", "r1").output().unwrap();
    assert_eq!(out.status.code(), Some(75), "EX_TEMPFAIL: the state machine retries it");
    let summary = common::summary("read_from_app_database", &out, false);
    assert_eq!(summary["status"], "FAILED");
    assert_eq!(summary["error"], "Amali.TransientError");
    assert!(summary["cause"].as_str().unwrap().contains("127.0.0.1:1"), "{summary}");
}

#[test]
fn a_password_in_a_url_or_a_missing_secret_is_a_configuration_error() {
    let w = Workdir::with("mysql://etl:hunter2@127.0.0.1:3306/app", "sqlite://internal.db", "");
    let out = w.stage("read_from_app_database", "r1").output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("hunter2"), "the password is never printed: {text}");
    let w = Workdir::with(
        "mysql://etl@127.0.0.1:3306/app",
        "sqlite://internal.db",
        "passwords = { app_database = \"env:AMALI_TEST_UNSET_PASSWORD\" }",
    );
    let out = w.stage("read_from_app_database", "r1").env_remove("AMALI_TEST_UNSET_PASSWORD").output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    let summary = common::summary("read_from_app_database", &out, false);
    assert!(summary["cause"].as_str().unwrap().contains("export AMALI_TEST_UNSET_PASSWORD"), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_replace_tables_atomically_on_mariadb_and_postgres() {
    let internal = scratch("mysql", "internal").await;
    let warehouse = scratch("postgres", "warehouse").await;
    let w = Workdir::custom(["sqlite://app.db", "sqlite://landing.db", &internal, &warehouse], "");
    amali_jobs::fixtures::seed_sqlite(&sample_data(), &w.path().join("app.db")).unwrap();
    for stage in ["read_from_app_database", "ingestion_from_rds", "silver_transformation", "gold_transformation"] {
        w.run(stage, "r1");
    }
    let rds = common::written(&w.run("rds", "r1"));
    let dwh = common::written(&w.run("write_to_rds_rs", "r1"));
    let internal_db = Database::open(&internal, w.path(), None).unwrap();
    let warehouse_db = Database::open(&warehouse, w.path(), None).unwrap();
    let count = |db: &Database, t: &str| {
        let db = db.clone();
        let sql = format!("SELECT count(*) FROM {}", db.quote(t));
        async move { db.query(&Stmt::new(sql, vec![])).await.unwrap()[0][0].clone().unwrap().parse::<u64>().unwrap() }
    };
    assert_eq!(count(&internal_db, "users_data").await, rds["users_data"]);
    assert_eq!(count(&internal_db, "orders_data").await, rds["orders_data"]);
    assert_eq!(count(&warehouse_db, "daily_sales_metrics").await, dwh["daily_sales_metrics"]);
    assert_eq!(count(&warehouse_db, "fact_order_items").await, dwh["fact_order_items"]);
    assert!(!internal_db.has_table("users_data__amali_new").await.unwrap(), "no staging table is left");
    // Every value survives the load: decimals, booleans, timestamps, dates and text, on both engines.
    let lake = w.lake();
    for (db, layer, table) in [
        (&internal_db, "silver", "users_data"),
        (&internal_db, "silver", "payments_data"),
        (&internal_db, "silver", "orders_data"),
        (&warehouse_db, "gold", "payment_method_metrics"),
        (&warehouse_db, "gold", "customer_lifetime_value"),
        (&warehouse_db, "gold", "dim_date"),
    ] {
        let (want, got) = loaded_rows(db, &lake, layer, table).await;
        assert_eq!(got.len(), want.len(), "{table}: rows");
        assert_eq!(got, want, "{table}: values after the load into {}", db.describe());
    }
    // The same Delta versions again: nothing is loaded twice.
    assert!(common::written(&w.run("rds", "r1")).values().all(|n| *n == 0));
    assert!(common::written(&w.run("write_to_rds_rs", "r1")).values().all(|n| *n == 0));
    assert_eq!(count(&internal_db, "users_data").await, rds["users_data"]);
    // A new version replaces the table whole: rebuild gold for another day and load again.
    let mut w2 = w;
    w2.logical_date = "2024-06-30".into();
    w2.run("gold_transformation", "r2");
    let again = common::written(&w2.run("write_to_rds_rs", "r2"));
    assert_eq!(again["executive_dashboard_metrics"], 1);
    assert_eq!(count(&warehouse_db, "executive_dashboard_metrics").await, 1);
    let audit = warehouse_db
        .query(&Stmt::new("SELECT count(*) FROM _amali_loads WHERE table_name = 'executive_dashboard_metrics'", vec![]))
        .await
        .unwrap();
    assert_eq!(audit[0][0].as_deref(), Some("2"), "one audit row per version loaded");
}

/// Every row of a loaded table, read back from `db` with the lake table's shape, as text: equal to the lake's rows
/// when every type (decimals, booleans, timestamps, dates, text) survived the load.
async fn loaded_rows(
    db: &Database,
    lake: &amali_jobs::lake::Lake,
    layer: &str,
    table: &str,
) -> (Vec<String>, Vec<String>) {
    let t = lake.open(layer, table).await.unwrap().unwrap();
    let lake_batches = amali_jobs::lake::read_all(&t).await.unwrap();
    let shape = amali_jobs::stages::load::shape_of(table, &lake_batches[0].schema()).unwrap();
    let canonical: Vec<_> = lake_batches
        .iter()
        .map(|b| {
            let schema = std::sync::Arc::new(shape.arrow_schema());
            let cols = b
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| deltalake::arrow::compute::cast(c, f.data_type()).unwrap())
                .collect();
            deltalake::arrow::array::RecordBatch::try_new(schema, cols).unwrap()
        })
        .collect();
    let mut back = db.read(&shape, table, None, 10_000);
    let mut loaded = Vec::new();
    while let Some(b) = back.recv().await {
        loaded.push(b.unwrap());
    }
    (common::rows_text(&canonical, &[]), common::rows_text(&loaded, &[]))
}

#[test]
fn a_wrong_password_is_a_configuration_error_that_names_the_database_not_the_password() {
    // MariaDB answers a wrong password with error 1045 (ER_ACCESS_DENIED_ERROR): rerunning cannot help.
    let w = Workdir::with(
        "mysql://root@127.0.0.1:3306/mysql",
        "sqlite://internal.db",
        "passwords = { app_database = \"env:AMALI_TEST_WRONG_PASSWORD\" }",
    );
    let out =
        w.stage("read_from_app_database", "r1").env("AMALI_TEST_WRONG_PASSWORD", "not-the-password").output().unwrap();
    let summary = common::summary("read_from_app_database", &out, false);
    assert_eq!(summary["error"], "Amali.ConfigError", "{summary}");
    assert_eq!(out.status.code(), Some(78));
    let cause = summary["cause"].as_str().unwrap();
    assert!(cause.contains("127.0.0.1:3306") && cause.contains("1045"), "{cause}");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("not-the-password"), "the password is never printed: {text}");
}

/// Transient errors are recognised by the drivers' codes, one provoked on each engine.
mod transient {
    use amali_jobs::error::from_database;
    use mysql_async::prelude::Queryable;

    use super::{MARIADB, POSTGRES, scratch};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lock_wait_timeout_on_mariadb() {
        // MariaDB error 1205 (ER_LOCK_WAIT_TIMEOUT): the row is held by another transaction for longer than
        // innodb_lock_wait_timeout.
        let url = scratch("mysql", "lockwait").await;
        let db = url.rsplit('/').next().unwrap().to_string();
        let opts = |db: &str| mysql_async::Opts::from_url(&format!("{MARIADB}/{db}")).unwrap();
        let mut holder = mysql_async::Conn::new(opts(&db)).await.unwrap();
        holder.query_drop("CREATE TABLE t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB").await.unwrap();
        holder.query_drop("INSERT INTO t VALUES (1, 0)").await.unwrap();
        holder.query_drop("START TRANSACTION").await.unwrap();
        holder.query_drop("UPDATE t SET v = 1 WHERE id = 1").await.unwrap();
        let mut waiter = mysql_async::Conn::new(opts(&db)).await.unwrap();
        waiter.query_drop("SET SESSION innodb_lock_wait_timeout = 1").await.unwrap();
        let e = waiter.query_drop("UPDATE t SET v = 2 WHERE id = 1").await.unwrap_err();
        let error = from_database("update t", e);
        assert_eq!(error.error_name(), "Amali.TransientError", "{}", error.message);
        assert!(error.message.contains("1205"), "{}", error.message);
        holder.query_drop("ROLLBACK").await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_serialization_failure_on_postgres() {
        // SQLSTATE 40001 (serialization_failure): a REPEATABLE READ transaction updates a row that another
        // transaction changed after it took its snapshot.
        let url = scratch("postgres", "serial").await;
        let schema = url.rsplit("%3D").next().unwrap().to_string();
        let connect = || async {
            let (client, conn) = tokio_postgres::connect(POSTGRES, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            client
        };
        let first = connect().await;
        let second = connect().await;
        let t = format!("{schema}.t");
        first
            .batch_execute(&format!("CREATE TABLE {t} (id INT PRIMARY KEY, v INT); INSERT INTO {t} VALUES (1, 0)"))
            .await
            .unwrap();
        first.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ").await.unwrap();
        first.query(&format!("SELECT v FROM {t} WHERE id = 1"), &[]).await.unwrap();
        second.execute(&format!("UPDATE {t} SET v = 2 WHERE id = 1"), &[]).await.unwrap();
        let e = first.execute(&format!("UPDATE {t} SET v = 1 WHERE id = 1"), &[]).await.unwrap_err();
        let error = from_database("update t", e);
        assert_eq!(error.error_name(), "Amali.TransientError", "{}", error.message);
        assert!(error.message.contains("40001"), "{}", error.message);
        first.batch_execute("ROLLBACK").await.unwrap();
    }

    #[test]
    fn a_busy_sqlite_database() {
        // SQLITE_BUSY: another connection holds the write lock and this one does not wait.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("busy.db");
        let holder = rusqlite::Connection::open(&path).unwrap();
        holder
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
            .unwrap();
        let waiter = rusqlite::Connection::open(&path).unwrap();
        waiter.busy_timeout(std::time::Duration::ZERO).unwrap();
        let e = waiter.execute("INSERT INTO t VALUES (2)", []).unwrap_err();
        let error = from_database("insert into t", e);
        assert_eq!(error.error_name(), "Amali.TransientError", "{}", error.message);
        holder.execute_batch("ROLLBACK").unwrap();
    }
}
