//! Fixtures shared by the integration tests, named in one place.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The original AmaliMart project's files, vendored with their license (`tests/fixtures/amalimart`).
pub fn amalimart() -> PathBuf {
    root().join("tests/fixtures/amalimart")
}

/// The state machine the original project deployed.
pub fn original_definition() -> PathBuf {
    amalimart().join("original-state-machine.asl.json")
}

/// The round-trip corpus: every `tests/fixtures/asl/*.asl.json`, plus the original AmaliMart definition.
pub fn corpus() -> Vec<PathBuf> {
    let dir = root().join("tests/fixtures/asl");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".asl.json"))
        .collect();
    files.sort();
    files.push(original_definition());
    files
}

/// The rendered definitions committed in `asl/`.
pub fn rendered() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("asl"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".asl.json"))
        .collect();
    files.sort();
    files
}

/// Reads a file or panics with its name.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
