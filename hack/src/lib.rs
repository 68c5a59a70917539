//! Nothing to read here: this crate exists for its `Cargo.toml`. It depends on every third-party crate that the
//! CLI (`amali`) and the stages (`amali-jobs`) both build, with the union of the features either asks for, so that
//! `cargo build -p amali-jobs` after `cargo run` (what `amali run --local` does on a first run) reuses the crates the
//! CLI's build compiled instead of compiling them again with other features. `cargo hakari generate` keeps it up to
//! date; `.ci/test` checks that it is.
