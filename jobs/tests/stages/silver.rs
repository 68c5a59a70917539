//! `silver_transformation`: bronze merged into current-state silver tables, with the data-quality rules of the
//! configuration applied (one failing case per rule kind), the reconciliation invariant, reruns, updates.

use crate::common;
use crate::common::{Workdir, sample_data, table_rows};
use amali_jobs::db::sqlite::Sqlite;
use amali_jobs::schema;
use serde_json::Value;

fn tables(summary: &Value) -> Vec<Value> {
    summary["tables"].as_array().unwrap().clone()
}

/// Every conformed table (one per source table; the data products are built by models) reconciles.
fn reconciles(summary: &Value) {
    for t in tables(summary).into_iter().filter(|t| schema::table(t["table"].as_str().unwrap()).is_some()) {
        assert_eq!(
            t["rows_read"].as_u64().unwrap(),
            t["rows_written"].as_u64().unwrap() + t["rows_quarantined"].as_u64().unwrap(),
            "rows in = rows out + quarantined: {t}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_data_reaches_silver_reconciled_and_reruns_change_nothing() {
    let w = Workdir::sqlite();
    amali_jobs::fixtures::seed_sqlite(&sample_data(), &w.path().join("app.db")).unwrap();
    w.run("read_from_app_database", "r1");
    w.run("ingestion_from_rds", "r1");
    let silver = w.run("silver_transformation", "r1");
    reconciles(&silver);
    let lake = w.lake();
    for t in tables(&silver) {
        let name = t["table"].as_str().unwrap();
        let rows = table_rows(&lake, "silver", name, &[]).await;
        assert_eq!(rows.len() as u64, t["rows_written"].as_u64().unwrap(), "{name}: silver rows");
    }
    let before = table_rows(&lake, "silver", "users", &[]).await;
    let again = w.run("silver_transformation", "r2");
    assert!(tables(&again).iter().all(|t| t["rows_written"] == 0), "a rerun writes nothing: {again}");
    assert_eq!(table_rows(&lake, "silver", "users", &[]).await, before);
}

/// A work directory whose app database holds only `users` and `orders`, with the given rows, and `rules`.
fn crafted(rules: &str, users: &[&str], orders: &[&str]) -> Workdir {
    let w = Workdir::with(
        "sqlite://app.db",
        "sqlite://internal.db",
        &format!("\n[env.test.data.extract]\ntables = [\"users\", \"orders\"]\n\n{rules}"),
    );
    let mut db = Sqlite::open(&w.path().join("app.db")).unwrap();
    for t in ["users", "orders"] {
        db.create_table(schema::table(t).unwrap(), t).unwrap();
    }
    let conn = db.connection();
    for u in users {
        conn.execute(
            &format!(
                "INSERT INTO users (id, email, phone_number, gender, password, full_name, role, created_at, updated_at) VALUES ({u})"
            ),
            [],
        )
        .unwrap();
    }
    for o in orders {
        conn.execute(&format!("INSERT INTO orders (id, user_id, order_date, total_amount, status) VALUES ({o})"), [])
            .unwrap();
    }
    w
}

const USERS: &[&str] = &[
    "1, ' Ama@Example.com ', '+233', 'F', 'x', 'Ama', 'CUSTOMER', '2024-01-01 00:00:00', '2024-01-02 00:00:00'",
    "2, 'kofi@example.com', NULL, 'M', 'x', 'Kofi', 'CUSTOMER', '2024-01-01 00:00:00', '2024-01-02 00:00:00'",
    "3, 'ama@example.com', '+234', 'unknown', 'x', 'Ama Two', 'VENDOR', '2024-01-01 00:00:00', '2023-12-01 00:00:00'",
    "4, 'yaw@example.com', '+235', 'M', 'x', 'Yaw', 'CUSTOMER', '2024-01-01 00:00:00', '2024-01-02 00:00:00'",
];
const ORDERS: &[&str] = &[
    "10, 4, '2024-02-01 00:00:00', 20.5, 'DELIVERED'",
    "11, 99, '2024-02-01 00:00:00', 5, 'PENDING'",
    "12, 2, '2024-02-02 00:00:00', -3, 'REJECTED'",
    "13, 4, '2024-02-03 00:00:00', 1e20, 'PENDING'",
];

const RULES: &str = r#"
[[quality.users]]
rule = "not_null"
columns = ["phone_number"]
action = "quarantine"

[[quality.users]]
rule = "unique"
columns = ["email"]
action = "quarantine"

[[quality.users]]
rule = "accepted_values"
column = "gender"
values = ["F", "M"]
action = "quarantine"

[[quality.users]]
rule = "sql"
name = "updated_after_created"
predicate = "updated_at >= created_at"
action = "warn"

[[quality.orders]]
rule = "relationships"
column = "user_id"
to = "users.id"
action = "quarantine"

[[quality.orders]]
rule = "range"
column = "total_amount"
min = 0
action = "quarantine"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_kind_quarantines_the_rows_that_break_it() {
    let w = crafted(RULES, USERS, ORDERS);
    w.run("read_from_app_database", "r1");
    w.run("ingestion_from_rds", "r1");
    let silver = w.run("silver_transformation", "r1");
    reconciles(&silver);
    let lake = w.lake();
    let quarantine = table_rows(&lake, "silver", "_quarantine", &["quarantined_at", "row", "reason"]).await;
    let has = |rule: &str, key: &str| quarantine.iter().any(|r| r.contains(&format!("|{rule}|{key}|")));
    // users: 2 has no phone; 1 and 3 share an email once conformed (trimmed, lower-cased); 3's gender is unknown.
    assert!(has("users.not_null.phone_number", "2"), "{quarantine:#?}");
    assert!(has("users.unique.email", "1") && has("users.unique.email", "3"), "{quarantine:#?}");
    assert!(has("users.accepted_values.gender", "3"), "{quarantine:#?}");
    // orders: 11's user does not exist; 12's amount is negative (and its user 2 was quarantined, so it has no user in
    // silver either: relationships are checked against silver's rows).
    assert!(has("orders.relationships.user_id", "11"), "{quarantine:#?}");
    assert!(has("orders.range.total_amount", "12"), "{quarantine:#?}");
    // 13's total (1e20, a double) does not fit the money decimal: built in, always quarantined, never rounded.
    assert!(has("orders.money.total_amount", "13"), "{quarantine:#?}");
    assert!(!quarantine.iter().any(|r| r.contains("|10|")), "order 10 is clean");
    let users = table_rows(&lake, "silver", "users", &["_ingested_at", "_silver_run_id"]).await;
    assert_eq!(users.len(), 1, "only user 4 broke no quarantine rule: {users:?}");
    let orders = table_rows(&lake, "silver", "orders", &["_ingested_at", "_silver_run_id"]).await;
    assert_eq!(orders.len(), 1);
    // Money is an exact decimal in silver: 20.5 (a double in the app) is 20.50.
    assert!(orders[0].contains("|20.50|"), "{orders:?}");
    // The warn rule counts (user 3 was updated before it was created) without setting the row aside.
    let users_summary = tables(&silver).into_iter().find(|t| t["table"] == "users").unwrap();
    assert!(users_summary["note"].as_str().unwrap_or_default().contains("users.sql.updated_after_created: 1"));
}

/// A table too large for the memory limit streams its first load (`AMALI_SILVER_STREAMING=always` makes every
/// table do so): the same silver rows and the same quarantine as the path that holds a small table in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_first_load_gives_what_one_held_in_memory_gives() {
    let mut seen = Vec::new();
    for streamed in [false, true] {
        let w = crafted(RULES, USERS, ORDERS);
        w.run("read_from_app_database", "r1");
        w.run("ingestion_from_rds", "r1");
        let mut stage = w.stage("silver_transformation", "r1");
        if streamed {
            stage.env("AMALI_SILVER_STREAMING", "always");
        }
        let out = stage.output().unwrap();
        assert!(out.status.success(), "streamed: {streamed}: {}", String::from_utf8_lossy(&out.stderr));
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        reconciles(&summary);
        let lake = w.lake();
        let mut tables = Vec::new();
        for t in ["users", "orders"] {
            tables.push(table_rows(&lake, "silver", t, &["_ingested_at", "_silver_run_id"]).await);
        }
        // The row's JSON holds its ingestion time, which differs between the two work directories.
        tables.push(table_rows(&lake, "silver", "_quarantine", &["quarantined_at", "run_id", "row"]).await);
        seen.push(tables);
    }
    assert!(!seen[0][2].is_empty(), "the crafted rows quarantine some");
    assert_eq!(seen[0], seen[1]);
}

/// The crafted app database under `rules`, landed and ingested, then `silver_transformation` expected to fail: the
/// work directory, the stage's process output and its summary.
fn silver_with(rules: &str) -> (Workdir, std::process::Output, Value) {
    let w = crafted(rules, USERS, ORDERS);
    w.run("read_from_app_database", "r1");
    w.run("ingestion_from_rds", "r1");
    let out = w.stage("silver_transformation", "r1").output().unwrap();
    let summary = common::summary("silver_transformation", &out, false);
    (w, out, summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fail_rule_fails_the_table_before_anything_is_written() {
    let rules = r#"
[[quality.orders]]
rule = "range"
column = "total_amount"
min = 0
action = "fail"
"#;
    let (w, out, summary) = silver_with(rules);
    assert_eq!(out.status.code(), Some(65), "a data failure exits 65");
    assert_eq!(summary["error"], "Amali.DataError");
    assert!(summary["cause"].as_str().unwrap().contains("orders.range.total_amount"), "{summary}");
    assert!(w.lake().open("silver", "orders").await.unwrap().is_none(), "nothing written for orders");
    assert_eq!(table_rows(&w.lake(), "silver", "users", &[]).await.len(), 4, "the other table went on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sql_rule_that_is_not_valid_sql_is_a_configuration_error_naming_the_rule() {
    // A typo in the user's predicate (`total_amont`): the configuration is wrong, not amali, and rerunning
    // cannot help, so it is Amali.ConfigError (exit 78) naming the rule, and nothing is written for the table.
    let rules = r#"
[[quality.orders]]
rule = "sql"
name = "positive_total"
predicate = "total_amont >= 0"
action = "quarantine"
"#;
    let (w, out, summary) = silver_with(rules);
    assert_eq!(summary["error"], "Amali.ConfigError", "{summary}");
    assert_eq!(out.status.code(), Some(78));
    let cause = summary["cause"].as_str().unwrap();
    assert!(cause.contains("orders.sql.positive_total") && cause.contains("total_amont"), "{cause}");
    assert!(w.lake().open("silver", "orders").await.unwrap().is_none(), "nothing written for orders");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_replaces_the_row_and_nothing_multiplies() {
    let w = crafted("", USERS, ORDERS);
    w.run("read_from_app_database", "r1");
    w.run("ingestion_from_rds", "r1");
    w.run("silver_transformation", "r1");
    let conn = rusqlite::Connection::open(w.path().join("app.db")).unwrap();
    conn.execute("UPDATE users SET full_name = 'Kofi Mensah', updated_at = '2024-03-01 00:00:00' WHERE id = 2", [])
        .unwrap();
    w.run("read_from_app_database", "r2");
    w.run("ingestion_from_rds", "r2");
    let silver = w.run("silver_transformation", "r2");
    reconciles(&silver);
    let users = table_rows(&w.lake(), "silver", "users", &["_ingested_at", "_silver_run_id"]).await;
    assert_eq!(users.len(), 4, "{users:#?}");
    assert!(users.iter().any(|r| r.starts_with("2|") && r.contains("Kofi Mensah")), "{users:#?}");
    assert!(!users.iter().any(|r| r.contains("|Kofi|")), "the old version is gone: {users:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_ingested_again_unchanged_keep_their_version_and_a_changed_one_is_replaced() {
    let w = crafted("", USERS, ORDERS);
    for stage in ["read_from_app_database", "ingestion_from_rds", "silver_transformation"] {
        w.run(stage, "r1");
    }
    let before = table_rows(&w.lake(), "silver", "users", &[]).await;
    // Every user ingested again (an extraction's overlap), user 2 with a new name.
    let renamed = |c: &str| {
        Some(if c == "full_name" {
            "CASE WHEN id = 2 THEN 'Kofi Mensah' ELSE full_name END AS full_name".to_string()
        } else {
            c.to_string()
        })
    };
    rewrite_bronze_users(&w, renamed, "", "", false).await;
    let silver = w.run("silver_transformation", "r2");
    reconciles(&silver);
    let after = table_rows(&w.lake(), "silver", "users", &[]).await;
    assert_eq!(after.len(), before.len(), "{after:#?}");
    let (kept, replaced): (Vec<_>, Vec<_>) = after.iter().partition(|r| before.contains(r));
    assert_eq!(kept.len(), before.len() - 1, "unchanged rows keep their ingestion time and run id: {after:#?}");
    assert!(replaced[0].starts_with("2|") && replaced[0].contains("Kofi Mensah"), "{replaced:?}");
    assert!(replaced[0].contains("r2"), "the changed row is stamped with this run: {replaced:?}");
}

/// Rewrites bronze `users` with its current rows (those `filter` keeps), each column given by `column` (None drops
/// it), `extra` columns added, and `_ingested_at` now, so that silver sees them as new. `replace` overwrites the
/// table with the new schema (a column dropped or retyped); otherwise the rows are appended and the schema grows.
async fn rewrite_bronze_users(
    w: &Workdir,
    column: impl Fn(&str) -> Option<String>,
    extra: &str,
    filter: &str,
    replace: bool,
) {
    use deltalake::datafusion::prelude::SessionContext;
    use deltalake::operations::write::SchemaMode;
    use deltalake::protocol::SaveMode;
    let table = w.lake().open("bronze", "users").await.unwrap().unwrap();
    let ctx = SessionContext::new();
    ctx.register_table("t", table.table_provider().await.unwrap()).unwrap();
    let now = "arrow_cast(arrow_cast(now(), 'Timestamp(Microsecond, None)'), 'Timestamp(Microsecond, Some(\"UTC\"))')";
    let mut select: Vec<String> = table
        .snapshot()
        .unwrap()
        .schema()
        .fields()
        .map(|f| f.name().clone())
        .filter_map(|c| if c == "_ingested_at" { Some(format!("{now} AS _ingested_at")) } else { column(&c) })
        .collect();
    select.extend(extra.split(',').map(str::trim).filter(|e| !e.is_empty()).map(String::from));
    let sql = format!("SELECT {} FROM t {filter}", select.join(", "));
    let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
    let (save, schema) =
        if replace { (SaveMode::Overwrite, SchemaMode::Overwrite) } else { (SaveMode::Append, SchemaMode::Merge) };
    table.write(batches).with_save_mode(save).with_schema_mode(schema).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_added_to_bronze_evolves_silver() {
    let w = crafted("", USERS, ORDERS);
    for stage in ["read_from_app_database", "ingestion_from_rds", "silver_transformation"] {
        w.run(stage, "r1");
    }
    rewrite_bronze_users(&w, |c| Some(c.to_string()), "' gold ' AS loyalty_tier", "WHERE id = 1", false).await;
    let silver = w.run("silver_transformation", "r2");
    reconciles(&silver);
    let users = table_rows(&w.lake(), "silver", "users", &["_ingested_at", "_silver_run_id"]).await;
    assert_eq!(users.len(), 4, "{users:#?}");
    let t = w.lake().open("silver", "users").await.unwrap().unwrap();
    let schema = t.snapshot().unwrap().schema();
    assert!(schema.field("loyalty_tier").is_some(), "silver users gained the column");
    assert!(users.iter().any(|r| r.starts_with("1|") && r.ends_with("|gold")), "trimmed, on user 1: {users:#?}");
    assert_eq!(users.iter().filter(|r| r.ends_with('|')).count(), 3, "empty for the others: {users:#?}");
}

/// How a test rewrites one bronze column (None drops it).
type Change = dyn Fn(&str) -> Option<String>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_removed_or_retyped_in_bronze_fails_naming_it_before_writing() {
    let drop_phone = |c: &str| (c != "phone_number").then(|| c.to_string());
    let retype_name = |c: &str| {
        Some(if c == "full_name" { "CAST(length(full_name) AS BIGINT) AS full_name".into() } else { c.to_string() })
    };
    let cases: [(&str, &Change); 2] = [("phone_number", &drop_phone), ("full_name", &retype_name)];
    for (column, change) in cases {
        let w = crafted("", USERS, ORDERS);
        for stage in ["read_from_app_database", "ingestion_from_rds", "silver_transformation"] {
            w.run(stage, "r1");
        }
        let before = w.lake().open("silver", "users").await.unwrap().unwrap().version();
        rewrite_bronze_users(&w, change, "", "", true).await;
        let out = w.stage("silver_transformation", "r2").output().unwrap();
        let summary = common::summary("silver_transformation", &out, false);
        assert_eq!(summary["status"], "FAILED", "{summary}");
        let cause = summary["cause"].as_str().unwrap_or_default();
        assert!(cause.contains(column) && cause.contains("schema drift"), "names {column}: {cause}");
        let after = w.lake().open("silver", "users").await.unwrap().unwrap().version();
        assert_eq!(before, after, "nothing written to silver users");
    }
}

/// A memory limit too small for the stage's queries fails it as a configuration error that names the limit and the
/// setting, with nothing merged, instead of growing until the kernel kills it (issue 21: memory bounded by the
/// configuration). 64 KiB holds no hash join of the sample data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_limit_too_small_is_a_configuration_error_naming_it() {
    let w = Workdir::with("sqlite://app.db", "sqlite://internal.db", "memory_limit = \"64KiB\"");
    amali_jobs::fixtures::seed_sqlite(&sample_data(), &w.path().join("app.db")).unwrap();
    w.run("read_from_app_database", "r1");
    w.run("ingestion_from_rds", "r1");
    let out = w.stage("silver_transformation", "r1").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "Amali.ConfigError's exit code: {stderr}");
    assert!(stderr.contains("Amali.ConfigError"), "{stderr}");
    assert!(stderr.contains("64.0 KiB ([env.test.data] memory_limit)"), "names the limit and the setting: {stderr}");
    // On call, the limit is raised for one run from the command line, over the configuration.
    let out = w.stage("silver_transformation", "r1").args(["--memory-limit", "1GiB"]).output().unwrap();
    assert!(out.status.success(), "--memory-limit wins: {}", String::from_utf8_lossy(&out.stderr));
}
