//! Database connectors: rows move as Arrow record batches in both directions, typed by [`crate::schema`].

pub mod sqlite;
pub mod value;
