//! The loads (`rds`, `write_to_rds_rs`) killed at any point: every target table holds the old data or the new, whole,
//! never a mix or nothing; the rerun completes, and loading the same versions again changes nothing.

use std::time::Instant;

use crate::common::{Workdir, sample_data};

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

/// Loads with `stage` into `db`, makes a new version with `renew`, then kills the new load at spread points: every
/// table of `db` holds the old data or the new, whole; the rerun gives the new; loading again changes nothing.
fn kill_during(stage: &str, db: &str, renew: impl Fn(&mut Workdir)) {
    let mut w = Workdir::sqlite();
    amali_jobs::fixtures::seed_sqlite(&sample_data(), &w.path().join("app.db")).unwrap();
    for s in ["read_from_app_database", "ingestion_from_rds", "silver_transformation", "gold_transformation"] {
        w.run(s, "r1");
    }
    w.run(stage, "r1");
    let old = snapshot(&w.path().join(db));
    renew(&mut w);
    let (new, took) = {
        let c = copy_of(&w);
        let started = Instant::now();
        c.run(stage, "r2");
        (snapshot(&c.path().join(db)), started.elapsed())
    };
    assert_ne!(old, new, "the new version differs");
    for fraction in [0.05, 0.2, 0.4, 0.6, 0.8, 0.95] {
        let c = copy_of(&w);
        let mut child = c
            .stage(stage, "r2")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(took.mul_f64(fraction));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let after_kill = snapshot(&c.path().join(db));
        for (table, rows) in after_kill.iter().filter(|(t, _)| !t.contains("__amali_") && old.contains_key(*t)) {
            assert!(
                *rows == old[table] || *rows == new[table],
                "{stage}: {table} after a kill at {fraction} of the load: neither the old data nor the new"
            );
        }
        for table in old.keys() {
            assert!(after_kill.contains_key(table), "{stage}: {table} vanished after a kill at {fraction} of the load");
        }
        c.run(stage, "r2");
        let done = snapshot(&c.path().join(db));
        for (table, rows) in &new {
            assert_eq!(&done[table], rows, "{stage}: {table} after the rerun");
        }
        c.run(stage, "r2");
        assert_eq!(snapshot(&c.path().join(db)), done, "{stage}: loading the same versions again changes nothing");
    }
}

#[test]
fn write_to_rds_rs_killed_anywhere_leaves_old_or_new_tables_whole() {
    kill_during("write_to_rds_rs", "warehouse.db", |w| {
        // Another logical date changes executive_dashboard_metrics and dim_date.
        w.logical_date = "2025-06-30".into();
        w.run("gold_transformation", "r2");
    });
}

#[test]
fn rds_killed_anywhere_leaves_old_or_new_tables_whole() {
    kill_during("rds", "internal.db", |w| {
        // A user renamed in the app database reaches users_data in a new silver version.
        let app = rusqlite::Connection::open(w.path().join("app.db")).unwrap();
        app.execute("UPDATE users SET full_name = 'Renamed', updated_at = '2030-01-01 00:00:00' WHERE id = 1", [])
            .unwrap();
        for s in ["read_from_app_database", "ingestion_from_rds", "silver_transformation"] {
            w.run(s, "r2");
        }
    });
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
