//! SQLite, the embedded default of local runs: tables created from the schema, rows read into Arrow batches and
//! written from them in one transaction per call.

use std::path::Path;

use deltalake::arrow::array::RecordBatch;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, params_from_iter};

use super::value::{Cell, RowsBuilder, Scalar, Values, write_text};
use super::{Batches, Filter, Param, Stmt};
use crate::error::{Result, StageError, from_database};
use crate::schema::{Column, Engine, Shape, Table, Type, quote};

/// An open SQLite database.
pub struct Sqlite {
    conn: Connection,
}

fn q(name: &str) -> String {
    quote(Engine::Sqlite, name)
}

/// Reads a stored value as a value of `ty`.
fn scalar(value: ValueRef<'_>, ty: Type) -> std::result::Result<Option<Scalar>, String> {
    Ok(Some(match (value, ty) {
        (ValueRef::Null, _) => return Ok(None),
        (ValueRef::Integer(i), Type::BigInt | Type::Int) => Scalar::Int(i),
        (ValueRef::Integer(i), Type::Bool | Type::Bit) => Scalar::Bool(i != 0),
        (ValueRef::Integer(i), Type::Double) => Scalar::Float(i as f64),
        (ValueRef::Real(f), Type::Double) => Scalar::Float(f),
        (ValueRef::Integer(i), ty) => Scalar::parse(ty, &i.to_string())?,
        (ValueRef::Real(f), ty) => Scalar::parse(ty, &f.to_string())?,
        (ValueRef::Text(t), ty) => Scalar::parse(ty, &String::from_utf8_lossy(t))?,
        (ValueRef::Blob(b), Type::Bool | Type::Bit) => Scalar::Bool(b.iter().any(|x| *x != 0)),
        (ValueRef::Blob(_), _) => return Err("a binary value where text or a number was expected".into()),
    }))
}

/// How a cell is stored: integers and booleans (0/1) as integers, doubles as reals, decimals, dates and timestamps
/// as text (exact, sortable), as [`Scalar::to_text`] writes them.
pub fn stored(value: Option<Cell<'_>>, ty: Type) -> SqlValue {
    match value {
        None => SqlValue::Null,
        Some(Cell::Int(i)) => SqlValue::Integer(i),
        Some(Cell::Bool(b)) => SqlValue::Integer(b as i64),
        Some(Cell::Float(f)) => SqlValue::Real(f),
        Some(Cell::Str(s)) => SqlValue::Text(s.to_string()),
        Some(cell) => {
            let mut out = Vec::with_capacity(26);
            write_text(&mut out, cell, ty);
            SqlValue::Text(String::from_utf8(out).expect("dates, timestamps and decimals are ASCII"))
        }
    }
}

impl Sqlite {
    /// Opens (creating if needed) the database at `path`, waiting up to 30 s for locks.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StageError::config(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).map_err(|e| from_database(&format!("open {}", path.display()), e))?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(|e| from_database("set busy timeout", e))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| from_database("enable WAL", e))?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| from_database("set synchronous", e))?;
        Ok(Sqlite { conn })
    }

    /// The connection, for statements this module does not cover.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Creates `name` with `table`'s columns, unless it exists.
    pub fn create_table(&self, table: &Table, name: &str) -> Result<()> {
        self.conn
            .execute_batch(&table.create_sql(Engine::Sqlite, name))
            .map_err(|e| from_database(&format!("create {name}"), e))
    }

    /// Whether a table named `name` exists.
    pub fn has_table(&self, name: &str) -> Result<bool> {
        self.conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n > 0)
            .map_err(|e| from_database("list tables", e))
    }

    /// Rows of `name` (shaped like `table`) matching `filter` (SQL after WHERE, with `?` parameters), in batches of
    /// `batch_rows`, each handed to `sink` as it fills, so memory is bounded by the batch size.
    pub fn read(
        &self,
        table: &'static Table,
        name: &str,
        filter: Option<(&str, Vec<SqlValue>)>,
        batch_rows: usize,
        sink: impl FnMut(RecordBatch) -> Result<()>,
    ) -> Result<u64> {
        self.read_where(&Shape::of(table), name, filter, batch_rows, sink)
    }

    /// Rows of `name` shaped like `shape` matching `filter`, in batches handed to `sink`.
    pub fn read_shape(
        &self,
        shape: &Shape,
        name: &str,
        filter: Option<&Filter>,
        batch_rows: usize,
        sink: impl FnMut(RecordBatch) -> Result<()>,
    ) -> Result<u64> {
        let clause = filter.map(|f| f.clause(Engine::Sqlite, shape));
        self.read_where(shape, name, clause.as_deref().map(|c| (c, Vec::new())), batch_rows, sink)
    }

    fn read_where(
        &self,
        shape: &Shape,
        name: &str,
        filter: Option<(&str, Vec<SqlValue>)>,
        batch_rows: usize,
        mut sink: impl FnMut(RecordBatch) -> Result<()>,
    ) -> Result<u64> {
        let columns = shape.column_list(Engine::Sqlite);
        let (clause, params) = match filter {
            Some((clause, params)) => (format!(" WHERE {clause}"), params),
            None => (String::new(), Vec::new()),
        };
        let order = if shape.primary_key.is_empty() {
            String::new()
        } else {
            format!(" ORDER BY {}", shape.primary_key.iter().map(|c| q(c)).collect::<Vec<_>>().join(", "))
        };
        let sql = format!("SELECT {columns} FROM {}{clause}{order}", q(name));
        let mut stmt = self.conn.prepare(&sql).map_err(|e| from_database(&format!("read {name}"), e))?;
        let mut rows = stmt.query(params_from_iter(params)).map_err(|e| from_database(&format!("read {name}"), e))?;
        let mut builder = RowsBuilder::new(&shape.columns);
        let mut total = 0u64;
        let mut values = Vec::with_capacity(shape.columns.len());
        while let Some(row) = rows.next().map_err(|e| from_database(&format!("read {name}"), e))? {
            values.clear();
            for (i, c) in shape.columns.iter().enumerate() {
                let v = row.get_ref(i).map_err(|e| from_database(&format!("read {name}"), e))?;
                values.push(
                    scalar(v, c.ty)
                        .map_err(|e| StageError::data(format!("{name}.{} (row {}): {e}", c.name, total + 1)))?,
                );
            }
            builder.push(&values).map_err(StageError::internal)?;
            total += 1;
            if builder.len() >= batch_rows {
                sink(builder.finish())?;
            }
        }
        if !builder.is_empty() {
            sink(builder.finish())?;
        }
        Ok(total)
    }

    /// Runs a query; values come back as text.
    pub fn query(&self, stmt: &Stmt) -> Result<Vec<Vec<Option<String>>>> {
        let mut prepared = self.conn.prepare(&stmt.sql).map_err(|e| from_database("query", e))?;
        let n = prepared.column_count();
        let mut rows =
            prepared.query(params_from_iter(stmt.params.iter().map(param))).map_err(|e| from_database("query", e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| from_database("query", e))? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(match row.get_ref(i).map_err(|e| from_database("query", e))? {
                    ValueRef::Null => None,
                    ValueRef::Integer(i) => Some(i.to_string()),
                    ValueRef::Real(f) => Some(f.to_string()),
                    ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
                });
            }
            out.push(values);
        }
        Ok(out)
    }

    /// In one transaction: `before`, every batch received into `into`, `after`; then commit. Blocks on the channel.
    pub fn write(
        &mut self,
        into: Option<&(Shape, String)>,
        before: &[Stmt],
        mut batches: Batches,
        after: &[Stmt],
    ) -> Result<u64> {
        let tx = self.conn.transaction().map_err(|e| from_database("begin", e))?;
        run(&tx, before)?;
        let mut n = 0;
        if let Some((shape, name)) = into {
            while let Some(batch) = batches.blocking_recv() {
                n += insert_in(&tx, &shape.columns, name, &[batch?])?;
            }
        }
        run(&tx, after)?;
        tx.commit().map_err(|e| from_database("commit", e))?;
        Ok(n)
    }

    /// Inserts every row of `batches` into `name` in one transaction: all or nothing.
    pub fn insert(&mut self, table: &Table, name: &str, batches: &[RecordBatch]) -> Result<u64> {
        let tx = self.conn.transaction().map_err(|e| from_database("begin", e))?;
        let n = insert_in(&tx, table.columns, name, batches)?;
        tx.commit().map_err(|e| from_database(&format!("commit {name}"), e))?;
        Ok(n)
    }
}

/// Inserts `batches` into `name` within an open transaction.
pub fn insert_in(tx: &rusqlite::Transaction<'_>, shape: &[Column], name: &str, batches: &[RecordBatch]) -> Result<u64> {
    let columns = shape.iter().map(|c| q(c.name)).collect::<Vec<_>>().join(", ");
    let marks = vec!["?"; shape.len()].join(", ");
    let sql = format!("INSERT INTO {} ({columns}) VALUES ({marks})", q(name));
    let mut stmt = tx.prepare_cached(&sql).map_err(|e| from_database(&format!("insert into {name}"), e))?;
    let mut n = 0u64;
    for batch in batches {
        let columns =
            Values::of_batch(batch, shape).map_err(|e| StageError::data(format!("insert into {name}: {e}")))?;
        for row in 0..batch.num_rows() {
            let values: Vec<SqlValue> = columns.iter().zip(shape).map(|(v, c)| stored(v.get(row), c.ty)).collect();
            stmt.execute(params_from_iter(values)).map_err(|e| from_database(&format!("insert into {name}"), e))?;
            n += 1;
        }
    }
    Ok(n)
}

fn param(p: &Param) -> SqlValue {
    match p {
        Param::Null => SqlValue::Null,
        Param::Int(i) => SqlValue::Integer(*i),
        Param::Text(t) => SqlValue::Text(t.clone()),
    }
}

fn run(tx: &rusqlite::Transaction<'_>, statements: &[Stmt]) -> Result<()> {
    for s in statements {
        tx.execute(&s.sql, params_from_iter(s.params.iter().map(param))).map_err(|e| {
            from_database(&format!("run {}", s.sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ")), e)
        })?;
    }
    Ok(())
}
