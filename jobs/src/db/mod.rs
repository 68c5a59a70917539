//! Database connectors: rows move as Arrow record batches in both directions, typed by [`crate::schema`].
//!
//! A [`Database`] is where a URL points (`sqlite://PATH`, `mysql://USER@HOST:PORT/DB`, `postgres://USER@HOST/DB`)
//! plus its password. Each operation opens its own connection, so a read can stream into a write on another
//! database at the same time: [`Database::read`] returns a channel of batches filled by a background task, and
//! [`Database::write`] drains such a channel into one table inside one transaction, with statements before and
//! after it in the same transaction (the landing table's run rows and its watermark commit together or not at all).
//! Memory is bounded by the batch size and the channel's depth, never by the table.
//!
//! Bulk paths: `LOAD DATA LOCAL INFILE` fed from a stream (MySQL/MariaDB), binary `COPY` in and out
//! (PostgreSQL), prepared inserts in one transaction (SQLite).

pub mod error;
pub mod mysql;
pub mod postgres;
pub mod sqlite;
pub mod value;

use std::path::{Path, PathBuf};

use deltalake::arrow::array::RecordBatch;
use tokio::sync::mpsc;

use crate::error::{Result, StageError};
use crate::schema::{Engine, Shape, quote};
use crate::secret::Secret;

/// Batches in flight between a reader and a writer.
const CHANNEL_DEPTH: usize = 2;

/// A stream of batches from a reader; an `Err` ends it.
pub type Batches = mpsc::Receiver<Result<RecordBatch>>;

/// The sending half of [`Batches`].
pub type BatchSender = mpsc::Sender<Result<RecordBatch>>;

/// A channel for batches, with the depth every connector uses.
pub fn channel() -> (BatchSender, Batches) {
    mpsc::channel(CHANNEL_DEPTH)
}

/// A parameter of a [`Stmt`].
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// SQL NULL.
    Null,
    /// An integer (`bigint` columns).
    Int(i64),
    /// Text (`text`/`varchar` columns).
    Text(String),
}

impl From<&str> for Param {
    fn from(s: &str) -> Self {
        Param::Text(s.to_string())
    }
}

impl From<String> for Param {
    fn from(s: String) -> Self {
        Param::Text(s)
    }
}

impl From<i64> for Param {
    fn from(i: i64) -> Self {
        Param::Int(i)
    }
}

impl From<Option<String>> for Param {
    fn from(s: Option<String>) -> Self {
        s.map_or(Param::Null, Param::Text)
    }
}

/// A statement with `?` placeholders (rewritten to `$1, $2, ...` for PostgreSQL).
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    /// The SQL.
    pub sql: String,
    /// Its parameters, in order.
    pub params: Vec<Param>,
}

impl Stmt {
    /// A statement with parameters.
    pub fn new(sql: impl Into<String>, params: Vec<Param>) -> Self {
        Stmt { sql: sql.into(), params }
    }

    /// The SQL with PostgreSQL's numbered placeholders.
    pub fn numbered(&self) -> String {
        let mut out = String::with_capacity(self.sql.len() + 8);
        let mut n = 0;
        let mut in_string = false;
        for c in self.sql.chars() {
            match c {
                '\'' => {
                    in_string = !in_string;
                    out.push(c);
                }
                '?' if !in_string => {
                    n += 1;
                    out.push_str(&format!("${n}"));
                }
                _ => out.push(c),
            }
        }
        out
    }
}

/// Where a database URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A MySQL or MariaDB server; the URL without a password.
    MySql(String),
    /// A PostgreSQL server (or Redshift); the URL without a password.
    Postgres(String),
}

impl Target {
    /// Parses a database URL; relative SQLite paths are relative to `workdir`. A URL holding a password is
    /// refused: passwords come from the configuration's `passwords` references, never from a URL or an argument.
    pub fn parse(url: &str, workdir: &Path) -> Result<Target> {
        let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or_default();
        let rest = url.split_once("://").map(|(_, r)| r).unwrap_or_default();
        let authority = rest.split('/').next().unwrap_or_default();
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && userinfo.contains(':')
        {
            return Err(StageError::config(format!(
                "the database URL for {} holds a password; remove it and set a `passwords` reference (env:NAME) in amali.toml",
                url.split('@').next_back().unwrap_or_default()
            )));
        }
        match scheme {
            "sqlite" => {
                let path = PathBuf::from(rest);
                Ok(Target::Sqlite(if path.is_absolute() { path } else { workdir.join(path) }))
            }
            "mysql" | "mariadb" => Ok(Target::MySql(format!("mysql://{rest}"))),
            "postgres" | "postgresql" | "redshift" => Ok(Target::Postgres(format!("postgres://{rest}"))),
            _ => Err(StageError::config(format!(
                "{url:?} is not a database URL: use sqlite://PATH, mysql://USER@HOST:PORT/DB or postgres://USER@HOST:PORT/DB"
            ))),
        }
    }

    /// The engine behind the URL.
    pub fn engine(&self) -> Engine {
        match self {
            Target::Sqlite(_) => Engine::Sqlite,
            Target::MySql(_) => Engine::MySql,
            Target::Postgres(_) => Engine::Postgres,
        }
    }
}

/// A database: where it is and how to log in. Operations open their own connections.
#[derive(Debug, Clone)]
pub struct Database {
    target: Target,
    password: Option<Secret>,
}

/// How a [`Filter`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `column >= value`.
    AtLeast,
    /// `column <= value`.
    AtMost,
}

/// Which rows [`Database::read`] returns: those whose `column` compares with `value` (a literal amali produced
/// from a value it read, never user text), and, with `or_null`, those where it is NULL.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The column.
    pub column: &'static str,
    /// The comparison.
    pub cmp: Cmp,
    /// The value, as text the engine compares with the column.
    pub value: String,
    /// Whether rows with a NULL in the column match too (a nullable watermark must not hide rows).
    pub or_null: bool,
}

impl Filter {
    /// The condition in `engine`'s SQL, for a table shaped like `shape`.
    pub fn clause(&self, engine: Engine, shape: &Shape) -> String {
        let col = quote(engine, self.column);
        let literal = format!("'{}'", self.value.replace('\'', "''"));
        let literal = match (engine, shape.column(self.column)) {
            (Engine::Postgres, Some(c)) => format!("CAST({literal} AS {})", c.ty.sql(engine)),
            _ => literal,
        };
        let op = match self.cmp {
            Cmp::AtLeast => ">=",
            Cmp::AtMost => "<=",
        };
        if self.or_null { format!("({col} {op} {literal} OR {col} IS NULL)") } else { format!("{col} {op} {literal}") }
    }
}

impl Database {
    /// A database at `target`, logging in with `password` where the engine needs one.
    pub fn new(target: Target, password: Option<Secret>) -> Self {
        Database { target, password }
    }

    /// Opens a database URL (see [`Target::parse`]).
    pub fn open(url: &str, workdir: &Path, password: Option<Secret>) -> Result<Self> {
        Ok(Database::new(Target::parse(url, workdir)?, password))
    }

    /// Its engine.
    pub fn engine(&self) -> Engine {
        self.target.engine()
    }

    /// Where it is, for messages (never with a password).
    pub fn describe(&self) -> String {
        match &self.target {
            Target::Sqlite(p) => format!("sqlite://{}", p.display()),
            Target::MySql(u) | Target::Postgres(u) => u.clone(),
        }
    }

    /// A `?` placeholder for an integer where the engine cannot infer the type (PostgreSQL types an untyped
    /// parameter as text, MySQL casts to SIGNED).
    pub fn int_placeholder(&self) -> &'static str {
        match self.engine() {
            Engine::MySql => "CAST(? AS SIGNED)",
            Engine::Postgres => "CAST(? AS BIGINT)",
            Engine::Sqlite => "?",
        }
    }

    /// `name` quoted for this engine.
    pub fn quote(&self, name: &str) -> String {
        quote(self.engine(), name)
    }

    /// Whether a table named `name` exists.
    pub async fn has_table(&self, name: &str) -> Result<bool> {
        let sql = match self.engine() {
            Engine::Sqlite => "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
            Engine::MySql => {
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
            }
            Engine::Postgres => {
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"
            }
        };
        let rows = self.query(&Stmt::new(sql, vec![name.into()])).await?;
        Ok(rows.first().and_then(|r| r.first()).cloned().flatten().and_then(|n| n.parse::<i64>().ok()).unwrap_or(0) > 0)
    }

    /// Creates `name` with `shape`'s columns unless it exists.
    pub async fn create_table(&self, shape: &Shape, name: &str) -> Result<()> {
        self.execute(&[Stmt::new(shape.create_sql(self.engine(), name), vec![])]).await
    }

    /// Runs statements in one transaction.
    pub async fn execute(&self, statements: &[Stmt]) -> Result<()> {
        let (_tx, rx) = channel();
        drop(_tx);
        self.write(None, statements, rx, &[]).await.map(|_| ())
    }

    /// Runs a query and returns its rows, each value as text (NULL as `None`): for small metadata queries.
    pub async fn query(&self, stmt: &Stmt) -> Result<Vec<Vec<Option<String>>>> {
        match &self.target {
            Target::Sqlite(path) => {
                let path = path.clone();
                let stmt = stmt.clone();
                blocking(move || sqlite::Sqlite::open(&path)?.query(&stmt)).await
            }
            Target::MySql(url) => mysql::query(url, self.password.as_ref(), stmt).await,
            Target::Postgres(url) => postgres::query(url, self.password.as_ref(), stmt).await,
        }
    }

    /// Streams the rows of table `from` (shaped like `shape`) matching `filter`, in batches of `batch_rows`.
    /// The read runs in the background; an error arrives as the channel's last item.
    pub fn read(&self, shape: &Shape, from: &str, filter: Option<Filter>, batch_rows: usize) -> Batches {
        let (tx, rx) = channel();
        let shape = shape.clone();
        let from = from.to_string();
        let password = self.password.clone();
        let target = self.target.clone();
        tokio::spawn(async move {
            let result = match target {
                Target::Sqlite(path) => {
                    let tx2 = tx.clone();
                    blocking(move || {
                        sqlite::Sqlite::open(&path)?.read_shape(&shape, &from, filter.as_ref(), batch_rows, |b| {
                            tx2.blocking_send(Ok(b)).map_err(|_| StageError::internal("the batch reader was dropped"))
                        })
                    })
                    .await
                }
                Target::MySql(url) => {
                    mysql::read(&url, password.as_ref(), &shape, &from, filter.as_ref(), batch_rows, &tx).await
                }
                Target::Postgres(url) => {
                    postgres::read(&url, password.as_ref(), &shape, &from, filter.as_ref(), batch_rows, &tx).await
                }
            };
            if let Err(e) = result {
                let _ = tx.send(Err(e)).await;
            }
        });
        rx
    }

    /// In one transaction: runs `before`, bulk-loads every batch of `batches` into `into` (table name and shape;
    /// `None` loads nothing), then runs `after`, and commits. Any error, including one arriving from the reader
    /// feeding `batches`, rolls everything back. Returns the rows loaded.
    pub async fn write(
        &self,
        into: Option<(&Shape, &str)>,
        before: &[Stmt],
        batches: Batches,
        after: &[Stmt],
    ) -> Result<u64> {
        let into = into.map(|(s, n)| (s.clone(), n.to_string()));
        match &self.target {
            Target::Sqlite(path) => {
                let path = path.clone();
                let (before, after) = (before.to_vec(), after.to_vec());
                blocking(move || sqlite::Sqlite::open(&path)?.write(into.as_ref(), &before, batches, &after)).await
            }
            Target::MySql(url) => {
                mysql::write(url, self.password.as_ref(), into.as_ref(), before, batches, after).await
            }
            Target::Postgres(url) => {
                postgres::write(url, self.password.as_ref(), into.as_ref(), before, batches, after).await
            }
        }
    }
}

/// Rows collected into batches of a fixed size, each sent down a channel as it fills: what the async readers share.
pub struct BatchFeed<'a> {
    builder: value::RowsBuilder,
    batch_rows: usize,
    tx: &'a BatchSender,
    total: u64,
}

impl<'a> BatchFeed<'a> {
    /// A feed of `shape`'s rows into `tx`, `batch_rows` at a time.
    pub fn new(shape: &Shape, batch_rows: usize, tx: &'a BatchSender) -> Self {
        BatchFeed { builder: value::RowsBuilder::with_capacity(&shape.columns, batch_rows), batch_rows, tx, total: 0 }
    }

    /// Rows taken so far (the next row's number is this plus one).
    pub fn rows(&self) -> u64 {
        self.total
    }

    /// Adds the value of column `col` to the row being read (see [`value::RowsBuilder::append`]); the error says
    /// why the value does not fit.
    pub fn append(&mut self, col: usize, value: Option<value::Cell<'_>>) -> std::result::Result<(), String> {
        self.builder.append(col, value)
    }

    /// Ends the row being read; sends the batch when it is full.
    pub async fn end_row(&mut self) -> Result<()> {
        self.builder.end_row();
        self.total += 1;
        if self.builder.len() >= self.batch_rows {
            self.send().await?;
        }
        Ok(())
    }

    async fn send(&mut self) -> Result<()> {
        let batch = self.builder.finish();
        self.tx.send(Ok(batch)).await.map_err(|_| StageError::internal("the batch reader was dropped"))
    }

    /// Sends what is left; returns the rows taken.
    pub async fn finish(mut self) -> Result<u64> {
        if !self.builder.is_empty() {
            self.send().await?;
        }
        Ok(self.total)
    }
}

/// Runs blocking database work (SQLite) off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StageError::internal(format!("a database task panicked: {e}")))?
}

/// A channel that yields the given batches, for writing batches already in memory.
pub fn batches_of(batches: Vec<RecordBatch>) -> Batches {
    let (tx, rx) = mpsc::channel(batches.len().max(1));
    for b in batches {
        let _ = tx.try_send(Ok(b));
    }
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let wd = Path::new("/w");
        assert_eq!(Target::parse("sqlite://app.db", wd).unwrap(), Target::Sqlite("/w/app.db".into()));
        assert_eq!(Target::parse("sqlite:///tmp/a.db", wd).unwrap(), Target::Sqlite("/tmp/a.db".into()));
        assert_eq!(
            Target::parse("mariadb://root@127.0.0.1:3306/app", wd).unwrap(),
            Target::MySql("mysql://root@127.0.0.1:3306/app".into())
        );
        let err = Target::parse("mysql://root:hunter2@db:3306/app", wd).unwrap_err().to_string();
        assert!(err.contains("password") && !err.contains("hunter2"), "{err}");
        assert!(Target::parse("oracle://x", wd).is_err());
    }

    #[test]
    fn placeholders_are_numbered_outside_strings() {
        let s = Stmt::new("SELECT '?' FROM t WHERE a = ? AND b = ?", vec![]);
        assert_eq!(s.numbered(), "SELECT '?' FROM t WHERE a = $1 AND b = $2");
    }
}
