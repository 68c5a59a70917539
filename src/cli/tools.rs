//! Finding the stage and data binaries the CLI runs as processes (it never links the data stack).

use std::path::PathBuf;

/// The binary named `name`: next to the running `amali` (a cargo build puts them together), else on `PATH`.
pub fn find_binary(name: &str) -> anyhow::Result<PathBuf> {
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    if let Some(dir) = std::env::current_exe().ok().and_then(|p| p.parent().map(PathBuf::from)) {
        let candidate = dir.join(&file);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(&file);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    anyhow::bail!(
        "cannot find {name} next to amali or on PATH; build the stage binaries with `cargo build --workspace`"
    )
}
