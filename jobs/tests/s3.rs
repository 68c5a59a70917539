//! AWS through moto_server (the AWS API emulator on this machine): the lake on S3, conditional puts included, where
//! the first two stages write bronze exactly as they do to a directory; and passwords from Secrets Manager.
#![cfg(feature = "aws")]

mod common;

use amali_jobs::lake::Lake;
use common::{Workdir, http, moto, sample_data, written};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bronze_on_s3_is_written_once_with_conditional_puts() {
    let s3 = moto();
    let endpoint = format!("http://127.0.0.1:{}", s3.1);
    // SAFETY: this test binary has one test; nothing else reads the environment concurrently.
    for (k, v) in [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ALLOW_HTTP", "true"),
    ] {
        unsafe { std::env::set_var(k, v) };
    }
    let w = Workdir::with("sqlite://app.db", "sqlite://internal.db", "");
    let config = std::fs::read_to_string(w.path().join("amali.toml"))
        .unwrap()
        .replace("lake = \"lake\"", "lake = \"s3://lake/delta\"");
    std::fs::write(w.path().join("amali.toml"), config).unwrap();
    let report = amali_jobs::fixtures::seed_sqlite(&sample_data(), &w.path().join("app.db")).unwrap();
    let loaded: u64 = report.files.iter().filter(|f| f.table == "users").map(|f| f.loaded).sum();
    w.run("read_from_app_database", "r1");
    let ingested = written(&w.run("ingestion_from_rds", "r1"));
    assert_eq!(ingested["users"], loaded);
    let again = written(&w.run("ingestion_from_rds", "r1"));
    assert!(again.values().all(|n| *n == 0));
    let lake = Lake::new("s3://lake/delta");
    let users = lake.open("bronze", "users").await.unwrap().expect("bronze users on S3");
    let rows = amali_jobs::lake::read_all(&users).await.unwrap();
    assert_eq!(rows.iter().map(|b| b.num_rows() as u64).sum::<u64>(), loaded);
    assert!(!w.path().join("lake").exists(), "nothing went to a local directory");

    // A password from Secrets Manager: an RDS-managed secret is JSON with a password field.
    let body = r#"{"Name": "amali/app-db", "SecretString": "{\"username\": \"etl\", \"password\": \"s3cret\"}"}"#;
    let created = http(
        s3.1,
        &format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: secretsmanager.CreateSecret\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/secretsmanager/aws4_request, \
             SignedHeaders=host, Signature=0\r\n\
             Content-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    let arn = created.split("\"ARN\": \"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_else(|| {
        created.split("\"ARN\":\"").nth(1).and_then(|r| r.split('"').next()).expect("CreateSecret returns an ARN")
    });
    let secret = amali_jobs::secret::Secret::resolve(arn).unwrap();
    assert_eq!(secret.expose(), "s3cret");
    assert_eq!(format!("{secret:?}"), "Secret(***)");
    let missing = amali_jobs::secret::Secret::resolve("arn:aws:secretsmanager:us-east-1:123456789012:secret:nope");
    assert!(missing.unwrap_err().to_string().contains("cannot read the secret"));
}
