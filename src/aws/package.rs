//! Lambda deployment packages: a stage binary zipped as `bootstrap` for the `provided.al2023` runtime.
//!
//! The zip is deterministic (one entry, fixed timestamp and permissions), so the same binary always gives the same
//! bytes and the same `CodeSha256`: a deploy compares that hash with the function's and uploads nothing when they
//! match.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use anyhow::bail;
use base64::Engine;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::stage::SERVES_LAMBDA;

/// A zipped Lambda function.
#[derive(Debug, Clone)]
pub struct LambdaZip {
    /// The zip's bytes.
    pub bytes: Vec<u8>,
    /// Base64 of the zip's SHA-256: what Lambda reports as `CodeSha256`.
    pub sha256: String,
    /// The binary it was made from.
    pub source: PathBuf,
}

/// Zips `binary` as `bootstrap`.
pub fn lambda_zip(binary: &Path) -> anyhow::Result<LambdaZip> {
    let code = std::fs::read(binary).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {} ({e}): build the stage binaries for Lambda first \
             (cargo build --profile dist -p amali-jobs --features aws --target x86_64-unknown-linux-musl) and pass --artifacts DIR",
            binary.display()
        )
    })?;
    if code.is_empty() {
        bail!("{} is empty: it is not a stage binary", binary.display());
    }
    let marker = SERVES_LAMBDA.as_bytes();
    if !code.windows(marker.len()).any(|w| w == marker) {
        bail!(
            "{} cannot serve Lambda invocations (it was built without AWS support, as the local build is): build \
             the stages with `cargo build --profile dist -p amali-jobs --features aws --target \
             x86_64-unknown-linux-musl` and pass --artifacts DIR",
            binary.display()
        );
    }
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::DEFAULT)
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options)?;
    zip.write_all(&code)?;
    let bytes = zip.finish()?.into_inner();
    let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes));
    Ok(LambdaZip { bytes, sha256, source: binary.to_path_buf() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_binary_gives_the_same_zip() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("pause_clusters");
        std::fs::write(&bin, format!("\x7fELF not really {SERVES_LAMBDA}")).unwrap();
        let a = lambda_zip(&bin).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let b = lambda_zip(&bin).unwrap();
        assert_eq!(a.sha256, b.sha256);
        std::fs::write(&bin, format!("\x7fELF another {SERVES_LAMBDA}")).unwrap();
        assert_ne!(lambda_zip(&bin).unwrap().sha256, a.sha256);
        let mut archive = zip::ZipArchive::new(Cursor::new(a.bytes)).unwrap();
        let entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
    }

    #[test]
    fn a_missing_binary_says_how_to_build_it() {
        let err = lambda_zip(Path::new("/nonexistent/pause_clusters")).unwrap_err().to_string();
        assert!(err.contains("--artifacts"), "{err}");
    }

    #[test]
    fn a_binary_of_the_local_build_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("pause_clusters");
        std::fs::write(&bin, b"\x7fELF built without the aws feature").unwrap();
        let err = lambda_zip(&bin).unwrap_err().to_string();
        assert!(err.contains("cannot serve Lambda") && err.contains("--features aws"), "{err}");
    }
}
