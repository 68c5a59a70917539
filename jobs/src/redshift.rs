//! Loading a gold table into Amazon Redshift from the exact Delta snapshot.
//!
//! A Delta table's directory holds files that are not part of its current version (removed by later commits, or
//! orphaned by a failed write), so `COPY ... FROM 's3://table/'` would load the wrong rows. Instead the load lists
//! the snapshot's active files in a COPY manifest (with each file's `content_length`, which Parquet manifests
//! require), writes it under the table's `_amali_manifests/` (an underscore directory, which Delta readers and
//! VACUUM leave alone), and runs, in one transaction: `COPY ... FORMAT AS PARQUET MANIFEST` into a staging table,
//! the replacement of the live table's rows, and the audit row. Readers see the old rows or the new ones.

use crate::schema::{Shape, Type};

/// One file of a COPY manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// Its `s3://` URL.
    pub url: String,
    /// Its size in bytes.
    pub content_length: u64,
}

/// The files of `table`'s current snapshot (not of its directory), with their sizes.
pub fn snapshot_entries(table: &deltalake::DeltaTable) -> crate::error::Result<Vec<ManifestEntry>> {
    let snapshot = table.snapshot().map_err(|e| crate::lake::from_delta("snapshot", e))?;
    let log_store = table.log_store();
    Ok(snapshot
        .log_data()
        .into_iter()
        .map(|f| ManifestEntry {
            url: log_store.to_uri(&f.object_store_path()),
            content_length: f.size().max(0) as u64,
        })
        .collect())
}

/// A COPY manifest listing exactly `entries`.
pub fn manifest(entries: &[ManifestEntry]) -> String {
    let entries: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| serde_json::json!({"url": e.url, "mandatory": true, "meta": {"content_length": e.content_length}}))
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "entries": entries })).unwrap_or_default()
}

/// A column's Redshift type.
pub fn column_type(ty: Type) -> String {
    match ty {
        Type::BigInt => "BIGINT".into(),
        Type::Int => "INTEGER".into(),
        Type::Bool | Type::Bit => "BOOLEAN".into(),
        Type::Decimal(p, s) => format!("DECIMAL({p},{s})"),
        Type::Double => "DOUBLE PRECISION".into(),
        Type::Varchar(n) => format!("VARCHAR({})", (n as u64 * 4).min(65_535)),
        Type::Text | Type::Enum(_) => "VARCHAR(65535)".into(),
        Type::Date => "DATE".into(),
        Type::DateTime | Type::Timestamp => "TIMESTAMPTZ".into(),
    }
}

fn q(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The statements that load `shape` (the gold table `table`, Delta version `version`) from the manifest at
/// `manifest_url`, with the IAM role Redshift assumes to read S3; they run in one transaction.
pub fn load_statements(
    table: &str,
    shape: &Shape,
    manifest_url: &str,
    iam_role: &str,
    version: i64,
    run_id: &str,
) -> Vec<String> {
    let columns = shape.columns.iter().map(|c| format!("{} {}", q(c.name), column_type(c.ty))).collect::<Vec<_>>();
    let staging = format!("{table}__amali_new");
    vec![
        format!("CREATE TABLE IF NOT EXISTS {} (\n    {}\n)", q(table), columns.join(",\n    ")),
        format!(
            "CREATE TABLE IF NOT EXISTS {} (table_name VARCHAR(128), delta_version BIGINT, rows_loaded BIGINT, \
             run_id VARCHAR(128), loaded_at TIMESTAMP)",
            q(crate::stages::load::AUDIT)
        ),
        format!("CREATE TEMP TABLE {} (LIKE {})", q(&staging), q(table)),
        format!(
            "COPY {} FROM {} IAM_ROLE {} FORMAT AS PARQUET MANIFEST",
            q(&staging),
            literal(manifest_url),
            literal(iam_role)
        ),
        format!("DELETE FROM {}", q(table)),
        format!("INSERT INTO {} SELECT * FROM {}", q(table), q(&staging)),
        format!(
            "INSERT INTO {} (table_name, delta_version, rows_loaded, run_id, loaded_at) SELECT {}, {version}, count(*), {}, GETDATE() FROM {}",
            q(crate::stages::load::AUDIT),
            literal(table),
            literal(run_id),
            q(&staging)
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_list_files_with_their_lengths() {
        let m = manifest(&[ManifestEntry { url: "s3://b/t/part-0.parquet".into(), content_length: 42 }]);
        let v: serde_json::Value = serde_json::from_str(&m).unwrap();
        assert_eq!(v["entries"][0]["meta"]["content_length"], 42);
        assert_eq!(v["entries"][0]["mandatory"], true);
    }
}
