//! The stage binaries and the library they share, against real engines (SQLite, and the MariaDB and PostgreSQL
//! that `bash .ci/test` starts): one test binary for the area, so the data stack is linked once. The tests that
//! point the AWS SDKs at a moto server through the process environment (`s3`, `pause`) are binaries of their own.

#[path = "../common/mod.rs"]
mod common;

mod bronze;
mod datagen;
mod engines;
mod gold;
mod loads;
mod redshift;
mod seed;
mod silver;
