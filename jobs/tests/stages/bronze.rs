//! The first two stages end to end on SQLite: the sample data lands in bronze once, with nothing sensitive, and
//! survives reruns, late rows and being killed at any point.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[cfg(feature = "aws")]
use crate::common::invoke_lambda;
use crate::common::{Workdir, bronze, sample_data, written};
use amali_jobs::fixtures;

fn seeded() -> (Workdir, BTreeMap<String, u64>) {
    let w = Workdir::sqlite();
    let report = fixtures::seed_sqlite(&sample_data(), &w.path().join("app.db")).unwrap();
    let mut loaded = BTreeMap::new();
    for f in &report.files {
        *loaded.entry(f.table.clone()).or_insert(0) += f.loaded;
    }
    (w, loaded)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_data_lands_in_bronze_once_without_passwords() {
    let (w, loaded) = seeded();
    let landed = written(&w.run("read_from_app_database", "run-1"));
    let ingested = written(&w.run("ingestion_from_rds", "run-1"));
    for (table, n) in &loaded {
        assert_eq!(landed.get(table), Some(n), "{table}: landed rows = valid rows of the CSV");
        assert_eq!(ingested.get(table), Some(n), "{table}: bronze rows = valid rows of the CSV");
    }
    let lake = w.lake();
    let before = bronze(&lake).await;
    for (table, n) in &loaded {
        assert_eq!(before[table].len() as u64, *n, "{table}: rows in the bronze table");
    }
    for t in amali_jobs::schema::TABLES {
        let table = lake.open("bronze", t.name).await.unwrap().expect("every table has a bronze table");
        let schema = table.snapshot().unwrap().schema();
        for field in schema.fields() {
            assert_ne!(field.name().to_lowercase(), "password", "{} carries a password column", t.name);
        }
    }
    // Rerunning the same run writes nothing anywhere.
    let again = w.run("read_from_app_database", "run-1");
    assert!(written(&again).values().all(|n| *n == 0), "{again}");
    let again = w.run("ingestion_from_rds", "run-1");
    assert!(written(&again).values().all(|n| *n == 0), "{again}");
    assert_eq!(bronze(&lake).await, before);
    // The audit table has one row per table and extraction.
    let audit = lake.open("audit", "ingestion").await.unwrap().unwrap();
    let rows = amali_jobs::lake::read_all(&audit).await.unwrap();
    assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), amali_jobs::schema::TABLES.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_committed_late_are_picked_up_by_the_next_run() {
    let (w, _) = seeded();
    w.run("read_from_app_database", "run-1");
    w.run("ingestion_from_rds", "run-1");
    let app = rusqlite::Connection::open(w.path().join("app.db")).unwrap();
    let high: String = app.query_row("SELECT max(updated_at) FROM users", [], |r| r.get(0)).unwrap();
    let late = amali_jobs::db::value::format_timestamp(
        amali_jobs::db::value::parse_timestamp(&high).unwrap() - 300 * 1_000_000,
    );
    // A row whose transaction began before run 1's read and committed after it: older than the high watermark.
    app.execute(
        "INSERT INTO users (id, email, full_name, password, role, is_verified, created_at, updated_at) \
         SELECT 999001, 'late@example.com', 'Late Commit', 'x', role, 1, ?1, ?1 FROM users LIMIT 1",
        [&late],
    )
    .unwrap();
    w.run("read_from_app_database", "run-2");
    let ingested = written(&w.run("ingestion_from_rds", "run-2"));
    assert!(ingested["users"] >= 1, "the late row is ingested: {ingested:?}");
    let users = &bronze(&w.lake()).await["users"];
    assert_eq!(users.iter().filter(|r| r.starts_with("999001|")).count(), 1, "the late user is in bronze once");
}

/// Kills a stage at `after`, then reruns it to completion.
fn kill_then_rerun(w: &Workdir, stage: &str, run_id: &str, after: Duration) {
    let mut child =
        w.stage(stage, run_id).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    std::thread::sleep(after);
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    w.run(stage, run_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_killed_at_any_point_then_rerun_gives_the_clean_result() {
    let (clean, _) = seeded();
    let t = Instant::now();
    clean.run("read_from_app_database", "run-1");
    let extract_time = t.elapsed();
    let t = Instant::now();
    clean.run("ingestion_from_rds", "run-1");
    let ingest_time = t.elapsed();
    let expected = bronze(&clean.lake()).await;

    // Kill points spread over each stage's run time (a fixed, seeded spread keeps the test reproducible).
    let fractions = [0.05, 0.3, 0.55, 0.8, 0.97];
    for (i, f) in fractions.iter().enumerate() {
        let (w, _) = seeded();
        let extract_kill = extract_time.mul_f64(*f);
        let ingest_kill = ingest_time.mul_f64(fractions[(i + 2) % fractions.len()]);
        kill_then_rerun(&w, "read_from_app_database", "run-1", extract_kill);
        kill_then_rerun(&w, "ingestion_from_rds", "run-1", ingest_kill);
        let got = bronze(&w.lake()).await;
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "kill at {extract_kill:?}/{ingest_kill:?}"
        );
        for (table, rows) in &expected {
            assert_eq!(
                &got[table], rows,
                "{table} after kills at {extract_kill:?} (read) and {ingest_kill:?} (ingest)"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bronze_is_readable_by_python_deltalake_and_polars() {
    let (w, loaded) = seeded();
    w.run("read_from_app_database", "run-1");
    w.run("ingestion_from_rds", "run-1");
    let python = std::env::var("AMALI_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/read_lake.py");
    let out =
        std::process::Command::new(&python).arg(&script).arg(w.path().join("lake")).output().unwrap_or_else(|e| {
            panic!(
                "cannot run {python} ({e}); set AMALI_PYTHON to a Python with deltalake and polars (bash .ci/test does)"
            )
        });
    assert!(
        out.status.success(),
        "{python} could not read the lake (pip install deltalake polars, or set AMALI_PYTHON):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tables: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (table, n) in &loaded {
        let t = &tables[format!("bronze/{table}")];
        assert_eq!(t["deltalake"].as_u64(), Some(*n), "{table} read by deltalake");
        assert_eq!(t["polars"].as_u64(), Some(*n), "{table} read by polars");
        assert!(t["columns"].as_array().unwrap().iter().all(|c| c != "password"), "{table}");
    }
}

/// A stage binary is also its Lambda function: with the runtime API set it serves invocations, answering the run
/// summary, or failing with the stage's error name as the Lambda error type.
#[cfg(feature = "aws")]
#[test]
fn a_stage_binary_serves_lambda_invocations() {
    let (w, loaded) = seeded();
    let config = w.path().join("amali.toml");
    let vars =
        [("AMALI_CONFIG", config.as_os_str()), ("AMALI_ENV", "test".as_ref()), ("AMALI_WORKDIR", w.path().as_os_str())];
    let binary = env!("CARGO_BIN_EXE_read_from_app_database");
    let payload =
        serde_json::json!({"stage": "read_from_app_database", "run_id": "run-1", "logical_date": "2024-03-01"});
    let (response, path) = invoke_lambda(binary, &vars, &payload.to_string());
    assert!(path.ends_with("/response"), "{path}: {response}");
    let summary: serde_json::Value = serde_json::from_str(&response).unwrap();
    assert_eq!(summary["status"], "SUCCEEDED", "{summary}");
    assert_eq!(summary["run_id"], "run-1");
    let landed = written(&summary);
    for (table, n) in &loaded {
        assert_eq!(landed.get(table), Some(n), "{table}: the invocation copied every valid row");
    }
    let (error, path) = invoke_lambda(binary, &vars, &serde_json::json!({"logical_date": "2024-03-01"}).to_string());
    assert!(path.ends_with("/error"), "{path}: {error}");
    let error: serde_json::Value = serde_json::from_str(&error).unwrap();
    assert_eq!(error["errorType"], "Amali.ConfigError", "{error}");
}

/// The local build (no `aws` feature) has no Lambda runtime: run by Lambda, a stage says so and fails as a
/// configuration error, naming the build that can serve, instead of running as a process with no arguments.
#[cfg(not(feature = "aws"))]
#[test]
fn a_local_build_says_it_cannot_serve_lambda() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_read_from_app_database"))
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(amali_core::stage::StageErrorKind::Config.exit_code() as i32), "{stderr}");
    assert!(stderr.contains("Amali.ConfigError") && stderr.contains("--features aws"), "{stderr}");
}
