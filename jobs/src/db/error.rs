//! A database driver's error, kept whole: its code decides whether the failure is transient (the state machine
//! retries it), a configuration error (a wrong password, a database that does not exist) or a data error, and the
//! driver's error stays in the source chain for the log.
//!
//! Codes, from each engine's reference:
//! - MySQL/MariaDB server errors: 1205 lock wait timeout, 1213 deadlock, 1040 too many connections, 1053 server
//!   shutdown, 1927 connection killed are transient; 1044/1045 access denied, 1049 unknown database and 1698
//!   access denied (socket auth) are configuration errors. A broken connection (I/O, "connection closed") is
//!   transient.
//! - PostgreSQL SQLSTATE: class 08 (connection exception), 40001 serialization failure, 40P01 deadlock, 53300 too
//!   many connections, 55P03 lock not available, 57P01/57P02/57P03 (shutdown, cannot connect now) are transient;
//!   class 28 (invalid authorization, e.g. 28P01 wrong password) and 3D000 (no such database) are configuration
//!   errors. An error without SQLSTATE on a closed connection is transient.
//! - SQLite result codes: SQLITE_BUSY and SQLITE_LOCKED are transient; SQLITE_CANTOPEN and SQLITE_AUTH are
//!   configuration errors.

use std::error::Error as _;

use amali_core::stage::StageErrorKind;

/// An error of one of the database drivers.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// MySQL or MariaDB.
    #[error("{}", mysql_text(.0))]
    MySql(#[from] mysql_async::Error),
    /// PostgreSQL (and Redshift).
    #[error("{}", postgres_text(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// SQLite.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The connection's I/O.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl DbError {
    /// What kind of stage failure this is, from the driver's code.
    pub fn kind(&self) -> StageErrorKind {
        use StageErrorKind::{Config, Data, Transient};
        match self {
            DbError::MySql(e) => match e {
                mysql_async::Error::Server(s) => match s.code {
                    1205 | 1213 | 1040 | 1053 | 1927 => Transient,
                    1044 | 1045 | 1049 | 1698 => Config,
                    _ => Data,
                },
                mysql_async::Error::Io(_) => Transient,
                mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => Transient,
                mysql_async::Error::Url(_) => Config,
                _ => Data,
            },
            DbError::Postgres(e) => match e.code().map(|c| c.code()) {
                Some(code) if code.starts_with("08") => Transient,
                Some("40001" | "40P01" | "53300" | "55P03" | "57P01" | "57P02" | "57P03") => Transient,
                Some(code) if code.starts_with("28") || code == "3D000" => Config,
                Some(_) => Data,
                None if e.is_closed() || e.source().is_some_and(|s| s.is::<std::io::Error>()) => Transient,
                None => Data,
            },
            DbError::Sqlite(e) => match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => Transient,
                Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::AuthorizationForStatementDenied) => Config,
                _ => Data,
            },
            DbError::Io(_) => Transient,
        }
    }
}

/// A MySQL error with its code (the driver's Display wraps the server's message in quotes and a prefix).
fn mysql_text(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Server(s) => format!("{} ({}, SQLSTATE {})", s.message, s.code, s.state),
        other => other.to_string(),
    }
}

/// A PostgreSQL error with its server message (tokio-postgres's Display alone says only "db error").
fn postgres_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => match e.source() {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes_decide_the_kind() {
        let busy = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY), None);
        assert_eq!(DbError::from(busy).kind(), StageErrorKind::Transient);
        let syntax = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR), None);
        assert_eq!(DbError::from(syntax).kind(), StageErrorKind::Data);
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(DbError::from(refused).kind(), StageErrorKind::Transient);
    }

    #[test]
    fn mysql_codes_decide_the_kind() {
        let server = |code| {
            DbError::from(mysql_async::Error::Server(mysql_async::ServerError {
                code,
                message: "m".into(),
                state: "HY000".into(),
            }))
        };
        assert_eq!(server(1205).kind(), StageErrorKind::Transient);
        assert_eq!(server(1213).kind(), StageErrorKind::Transient);
        assert_eq!(server(1045).kind(), StageErrorKind::Config);
        assert_eq!(server(1146).kind(), StageErrorKind::Data);
        assert_eq!(server(1045).to_string(), "m (1045, SQLSTATE HY000)");
    }
}
