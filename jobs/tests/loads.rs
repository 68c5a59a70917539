//! The loads (`rds`, `write_to_rds_rs`) killed at any point: every target table holds the old data or the new, whole,
//! never a mix or nothing; the rerun completes, and loading the same versions again changes nothing.

mod common;

use std::time::Instant;

use common::{Workdir, sample_data};

/// Every table of a SQLite database as sorted text rows.
fn snapshot(db: &std::path::Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let c = rusqlite::Connection::open(db).unwrap();
    let names: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_amali%' ESCAPE '\\'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    names
        .into_iter()
        .map(|n| {
            let mut s = c.prepare(&format!("SELECT * FROM \"{n}\"")).unwrap();
            let cols = s.column_count();
            let mut rows: Vec<String> = s
                .query_map([], |r| {
                    Ok((0..cols).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect::<Vec<_>>().join("|"))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            rows.sort();
            (n, rows)
        })
        .collect()
}

/// A copy of a work directory (databases, lake, configuration), on the same logical date.
fn copy_of(w: &Workdir) -> Workdir {
    let mut c = Workdir::sqlite();
    copy_dir(w.path(), c.path());
    c.logical_date = w.logical_date.clone();
    c
}

#[test]
fn a_load_killed_anywhere_leaves_old_or_new_tables_whole() {
    let mut w = Workdir::sqlite();
    amali_jobs::fixtures::seed_sqlite(&sample_data(), &w.path().join("app.db")).unwrap();
    for stage in ["read_from_app_database", "ingestion_from_rds", "silver_transformation", "gold_transformation"] {
        w.run(stage, "r1");
    }
    w.run("write_to_rds_rs", "r1");
    let old = snapshot(&w.path().join("warehouse.db"));
    // A new version of the gold tables: another logical date changes executive_dashboard_metrics and dim_date.
    w.logical_date = "2025-06-30".into();
    w.run("gold_transformation", "r2");
    let (new, took) = {
        let c = copy_of(&w);
        let started = Instant::now();
        c.run("write_to_rds_rs", "r2");
        (snapshot(&c.path().join("warehouse.db")), started.elapsed())
    };
    assert_ne!(old["executive_dashboard_metrics"], new["executive_dashboard_metrics"], "the new version differs");
    for fraction in [0.05, 0.2, 0.4, 0.6, 0.8, 0.95] {
        let c = copy_of(&w);
        let mut child = c
            .stage("write_to_rds_rs", "r2")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(took.mul_f64(fraction));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let after_kill = snapshot(&c.path().join("warehouse.db"));
        for (table, rows) in after_kill.iter().filter(|(t, _)| !t.contains("__amali_")) {
            assert!(
                *rows == old[table] || *rows == new[table],
                "{table} after a kill at {fraction} of the load: neither the old data nor the new"
            );
        }
        for table in old.keys() {
            assert!(after_kill.contains_key(table), "{table} vanished after a kill at {fraction} of the load");
        }
        c.run("write_to_rds_rs", "r2");
        let done = snapshot(&c.path().join("warehouse.db"));
        for (table, rows) in &new {
            assert_eq!(&done[table], rows, "{table} after the rerun");
        }
        // Loading the same versions again changes nothing.
        c.run("write_to_rds_rs", "r2");
        assert_eq!(snapshot(&c.path().join("warehouse.db")), done);
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
