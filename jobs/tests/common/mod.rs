//! Helpers shared by the jobs crate's integration tests: a work directory with its own amali.toml, the stage
//! binaries run as processes, and the lake read back as sorted text rows.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use amali_jobs::lake::Lake;
use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::util::display::array_value_to_string;
use serde_json::Value;

/// The sample data shipped with the crate.
pub fn sample_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-data")
}

/// A work directory with an amali.toml whose `test` environment uses the given database URLs.
pub struct Workdir {
    pub dir: tempfile::TempDir,
    /// The logical date the stages get.
    pub logical_date: String,
}

impl Workdir {
    /// SQLite everywhere (the local defaults).
    pub fn sqlite() -> Self {
        Self::with("sqlite://app.db", "sqlite://internal.db", "")
    }

    /// Given app and landing databases; `extra` is appended to the data table.
    pub fn with(app: &str, landing: &str, extra: &str) -> Self {
        Self::custom([app, landing, "sqlite://internal.db", "sqlite://warehouse.db"], extra)
    }

    /// Given app, landing, internal and warehouse databases; `extra` is appended to the data table.
    pub fn custom([app, landing, internal, warehouse]: [&str; 4], extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            r#"[pipeline]
name = "test"
comment = "test"

[env.test]
region = "us-east-1"
account = "000000000000"
state_machine = "test"
execution_timeout_seconds = 3600
runner = "lambda"
pause_function = "pause"
topics = {{ success = "ok", failure = "failed" }}

[env.test.data]
app_database = "{app}"
landing_database = "{landing}"
internal_database = "{internal}"
warehouse = "{warehouse}"
lake = "lake"
{extra}
"#
        );
        std::fs::write(dir.path().join("amali.toml"), config).unwrap();
        Workdir { dir, logical_date: "2024-03-01".into() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The command for a stage binary with this work directory's configuration.
    pub fn stage(&self, stage: &str, run_id: &str) -> Command {
        let exe = match stage {
            "read_from_app_database" => env!("CARGO_BIN_EXE_read_from_app_database"),
            "ingestion_from_rds" => env!("CARGO_BIN_EXE_ingestion_from_rds"),
            "silver_transformation" => env!("CARGO_BIN_EXE_silver_transformation"),
            "gold_transformation" => env!("CARGO_BIN_EXE_gold_transformation"),
            "rds" => env!("CARGO_BIN_EXE_rds"),
            "write_to_rds_rs" => env!("CARGO_BIN_EXE_write_to_rds_rs"),
            other => panic!("no binary for {other}"),
        };
        let mut c = Command::new(exe);
        c.args(["--env", "test", "--run-id", run_id, "--logical-date", &self.logical_date])
            .arg("--config")
            .arg(self.path().join("amali.toml"))
            .arg("--workdir")
            .arg(self.path())
            .env("AMALI_LOG", "warn");
        c
    }

    /// Runs a stage to success and returns its summary.
    pub fn run(&self, stage: &str, run_id: &str) -> Value {
        let out = self.stage(stage, run_id).output().unwrap();
        summary(stage, &out, true)
    }

    pub fn lake(&self) -> Lake {
        Lake::new(self.path().join("lake").display().to_string())
    }
}

/// A stage's summary from its output, checking its status.
pub fn summary(stage: &str, out: &Output, must_succeed: bool) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if must_succeed {
        assert!(out.status.success(), "{stage} failed ({:?}):\n{stderr}\n{stdout}", out.status.code());
    }
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{stage} printed no summary ({e}):\n{stdout}\n{stderr}"))
}

/// Rows written per table in a summary.
pub fn written(summary: &Value) -> BTreeMap<String, u64> {
    summary["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["table"].as_str().unwrap().to_string(), t["rows_written"].as_u64().unwrap()))
        .collect()
}

/// Rows of a batch list as text, columns in `skip` left out, sorted.
pub fn rows_text(batches: &[RecordBatch], skip: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let schema = b.schema();
        let keep: Vec<usize> =
            (0..b.num_columns()).filter(|i| !skip.contains(&schema.field(*i).name().as_str())).collect();
        for row in 0..b.num_rows() {
            let cells: Vec<String> =
                keep.iter().map(|i| array_value_to_string(b.column(*i), row).unwrap_or_default()).collect();
            out.push(cells.join("|"));
        }
    }
    out.sort();
    out
}

/// A lake table as sorted text rows, `skip` columns left out (empty when the table does not exist).
pub async fn table_rows(lake: &Lake, layer: &str, table: &str, skip: &[&str]) -> Vec<String> {
    match lake.open(layer, table).await.unwrap() {
        Some(t) => rows_text(&amali_jobs::lake::read_all(&t).await.unwrap(), skip),
        None => Vec::new(),
    }
}

/// Every bronze table as sorted text rows (ingestion times left out, since they differ between runs).
pub async fn bronze(lake: &Lake) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for t in amali_jobs::schema::TABLES {
        if let Some(table) = lake.open("bronze", t.name).await.unwrap() {
            let batches = amali_jobs::lake::read_all(&table).await.unwrap();
            out.insert(t.name.to_string(), rows_text(&batches, &["_ingested_at", "_ingest_date", "_extracted_at"]));
        }
    }
    out
}

/// A moto_server (the AWS API emulator) on a free port, stopped when dropped.
pub struct Moto(pub Child, pub u16);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn http(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

pub fn moto() -> Moto {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("moto_server")
        .args(["-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server (pip install 'moto[server]') is needed for the S3 tests");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let created = http(port, "PUT /lake HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assert!(created.starts_with("HTTP/1.1 200"), "create the bucket: {created}");
    Moto(child, port)
}

/// Runs a stage binary as a Lambda for one invocation with `payload` and the environment variables `vars`, serving
/// the Lambda runtime API on loopback; returns the body the function posted and the path it posted it to
/// (`.../response` or `.../error`).
pub fn invoke_lambda(binary: &str, vars: &[(&str, &std::ffi::OsStr)], payload: &str) -> (String, String) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api = listener.local_addr().unwrap().to_string();
    let mut child = std::process::Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "pause")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .envs(vars.iter().copied())
        .env("AMALI_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    // Never wait forever: a function that dies or stalls fails the test with what it said.
    listener.set_nonblocking(true).unwrap();
    let started = Instant::now();
    let mut posted = None;
    loop {
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("{binary} exited ({status}) before posting a result");
                }
                if started.elapsed() > Duration::from_secs(180) {
                    let _ = child.kill();
                    panic!("{binary} posted no result within 180 s");
                }
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(e) => panic!("the stand-in runtime API failed: {e}"),
        };
        // Each connection serves one request and is closed (`Connection: close`, so the runtime's client does not
        // try to reuse it).
        stream.set_nonblocking(false).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header.trim().is_empty() {
                break;
            }
            if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_string();
        if path.ends_with("/invocation/next") {
            if posted.is_some() {
                break; // the second poll: the invocation is over
            }
            let headers = format!(
                "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: req-1\r\nLambda-Runtime-Deadline-Ms: {}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:pause\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() + 60_000),
                payload.len()
            );
            stream.write_all(headers.as_bytes()).unwrap();
            stream.write_all(payload.as_bytes()).unwrap();
        } else {
            stream.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
            posted = Some((String::from_utf8_lossy(&body).to_string(), path));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    posted.expect("the function posted a result")
}
