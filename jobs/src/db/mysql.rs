//! MySQL and MariaDB: rows read over the binary protocol (typed values, no text round trip for numbers and dates),
//! written with `LOAD DATA LOCAL INFILE` fed from a stream of tab-separated lines, so nothing touches the disk and
//! memory stays bounded by the batch size.
//!
//! Sessions run in UTC (`time_zone = '+00:00'`) so `timestamp` columns mean what they say, with `utf8mb4`.
//! `LOAD DATA LOCAL` turns data errors into warnings; a load that raised any warning, or loaded fewer rows than it
//! was sent, is rolled back with the server's first warnings in the message.

use bytes::Bytes;
use deltalake::arrow::array::RecordBatch;
use futures::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Params, Row, Value};

use super::value::{Cell, Scalar, Values, days_from_civil, parse_decimal, write_text};
use super::{BatchFeed, BatchSender, Batches, Filter, Param, Stmt};
use crate::error::{Result, StageError, from_database};
use crate::schema::{Engine, Shape, Type, quote};
use crate::secret::Secret;

fn q(name: &str) -> String {
    quote(Engine::MySql, name)
}

/// Connects and prepares the session.
pub async fn connect(url: &str, password: Option<&Secret>) -> Result<Conn> {
    let opts = Opts::from_url(url).map_err(|e| StageError::config(format!("{url}: {e}")))?;
    let opts = OptsBuilder::from_opts(opts).pass(password.map(|p| p.expose().to_string())).prefer_socket(false);
    let mut conn = Conn::new(opts).await.map_err(|e| from_database(&format!("connect to {url}"), e))?;
    conn.query_drop("SET time_zone = '+00:00', NAMES utf8mb4")
        .await
        .map_err(|e| from_database("set the session time zone", e))?;
    Ok(conn)
}

fn value(p: &Param) -> Value {
    match p {
        Param::Null => Value::NULL,
        Param::Int(i) => Value::Int(*i),
        Param::Text(t) => Value::Bytes(t.clone().into_bytes()),
    }
}

fn params(stmt: &Stmt) -> Params {
    if stmt.params.is_empty() { Params::Empty } else { Params::Positional(stmt.params.iter().map(value).collect()) }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(f) => Some(f.to_string()),
        Value::Date(y, mo, d, h, mi, s, us) => Some(format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")),
        Value::Time(neg, d, h, mi, s, us) => {
            Some(format!("{}{}:{mi:02}:{s:02}.{us:06}", if *neg { "-" } else { "" }, *d * 24 + *h as u32))
        }
    }
}

/// Runs a query; values as text.
pub async fn query(url: &str, password: Option<&Secret>, stmt: &Stmt) -> Result<Vec<Vec<Option<String>>>> {
    let mut conn = connect(url, password).await?;
    let rows: Vec<Row> = conn.exec(&stmt.sql, params(stmt)).await.map_err(|e| from_database("query", e))?;
    Ok(rows.into_iter().map(|r| r.unwrap().iter().map(text).collect()).collect())
}

/// Reads a value of the binary protocol as a value of `ty`.
fn scalar(v: Value, ty: Type) -> std::result::Result<Option<Scalar>, String> {
    Ok(Some(match (v, ty) {
        (Value::NULL, _) => return Ok(None),
        (Value::Int(i), Type::BigInt | Type::Int) => Scalar::Int(i),
        (Value::UInt(u), Type::BigInt | Type::Int) => {
            Scalar::Int(i64::try_from(u).map_err(|_| format!("{u} does not fit a signed bigint"))?)
        }
        (Value::Int(i), Type::Bool | Type::Bit) => Scalar::Bool(i != 0),
        (Value::UInt(u), Type::Bool | Type::Bit) => Scalar::Bool(u != 0),
        (Value::Bytes(b), Type::Bit) => Scalar::Bool(b.iter().any(|x| *x != 0)),
        (Value::Double(f), Type::Double) => Scalar::Float(f),
        (Value::Float(f), Type::Double) => Scalar::Float(f as f64),
        (Value::Int(i), Type::Double) => Scalar::Float(i as f64),
        (Value::Date(y, mo, d, h, mi, s, us), Type::Date | Type::DateTime | Type::Timestamp) => {
            let text = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}");
            if y == 0 {
                return Err(format!("{text} is MySQL's zero date, which is not a date"));
            }
            Scalar::parse(ty, &text)?
        }
        (Value::Bytes(b), ty) => {
            let text = String::from_utf8(b).map_err(|_| "text that is not UTF-8".to_string())?;
            Scalar::parse(ty, &text)?
        }
        (other, ty) => Scalar::parse(ty, &text(&other).unwrap_or_default())?,
    }))
}

fn select_sql(shape: &Shape, from: &str, filter: Option<&Filter>) -> String {
    let filter = filter.map(|f| format!(" WHERE {}", f.clause(Engine::MySql, shape))).unwrap_or_default();
    format!("SELECT {} FROM {}{filter}", shape.column_list(Engine::MySql), q(from))
}

/// Streams `from`'s rows into `tx` in batches of `batch_rows`.
pub async fn read(
    url: &str,
    password: Option<&Secret>,
    shape: &Shape,
    from: &str,
    filter: Option<&Filter>,
    batch_rows: usize,
    tx: &BatchSender,
) -> Result<u64> {
    let mut conn = connect(url, password).await?;
    let sql = select_sql(shape, from, filter);
    let mut stream =
        conn.exec_stream::<Row, _, _>(sql, ()).await.map_err(|e| from_database(&format!("read {from}"), e))?;
    let mut feed = BatchFeed::new(shape, batch_rows, tx);
    while let Some(row) = stream.next().await {
        let row = row.map_err(|e| from_database(&format!("read {from}"), e))?;
        for (i, (v, c)) in row.unwrap_raw().iter().zip(&shape.columns).enumerate() {
            let v = v.as_ref().unwrap_or(&Value::NULL);
            append(&mut feed, i, v, c.ty)
                .map_err(|e| StageError::data(format!("{from}.{} (row {}): {e}", c.name, feed.rows() + 1)))?;
        }
        feed.end_row().await?;
    }
    feed.finish().await
}

/// Adds a value of the binary protocol to the row being read as a value of `ty`: numbers and dates as they come,
/// text borrowed; anything else through [`scalar`].
fn append(feed: &mut BatchFeed<'_>, col: usize, v: &Value, ty: Type) -> std::result::Result<(), String> {
    let cell = match (v, ty) {
        (Value::NULL, _) => None,
        (Value::Int(i), Type::BigInt | Type::Int) => Some(Cell::Int(*i)),
        (Value::Int(i), Type::Bool | Type::Bit) => Some(Cell::Bool(*i != 0)),
        (Value::Double(f), Type::Double) => Some(Cell::Float(*f)),
        (Value::Date(y, mo, d, h, mi, s, us), Type::Date | Type::DateTime | Type::Timestamp) if *y != 0 => {
            let days = days_from_civil(*y as i32, *mo as u32, *d as u32)
                .ok_or_else(|| format!("{y:04}-{mo:02}-{d:02} is not a date"))?;
            Some(if ty == Type::Date {
                Cell::Date(days)
            } else {
                let secs = days as i64 * 86_400 + *h as i64 * 3600 + *mi as i64 * 60 + *s as i64;
                Cell::Micros(secs * 1_000_000 + *us as i64)
            })
        }
        (Value::Bytes(b), Type::Varchar(_) | Type::Text) => {
            Some(Cell::Str(std::str::from_utf8(b).map_err(|_| "text that is not UTF-8".to_string())?))
        }
        (Value::Bytes(b), Type::Decimal(p, s)) => Some(Cell::Decimal(parse_decimal(
            std::str::from_utf8(b).map_err(|_| "a decimal that is not text".to_string())?,
            p,
            s,
        )?)),
        (other, ty) => return feed.append(col, scalar(other.clone(), ty)?.as_ref().map(Scalar::as_cell)),
    };
    feed.append(col, cell)
}

/// Appends a value to a `LOAD DATA` line, escaped (`\N` is NULL; backslash, tab, newline are escaped).
fn push_field(line: &mut Vec<u8>, value: Option<Cell<'_>>, ty: Type) {
    match value {
        None => line.extend_from_slice(b"\\N"),
        Some(Cell::Str(s)) => {
            for b in s.bytes() {
                match b {
                    b'\\' => line.extend_from_slice(b"\\\\"),
                    b'\t' => line.extend_from_slice(b"\\t"),
                    b'\n' => line.extend_from_slice(b"\\n"),
                    b'\r' => line.extend_from_slice(b"\\r"),
                    0 => line.extend_from_slice(b"\\0"),
                    b => line.push(b),
                }
            }
        }
        Some(cell) => write_text(line, cell, ty),
    }
}

/// One batch as `LOAD DATA` lines, straight from its Arrow arrays.
fn tsv(shape: &Shape, batch: &RecordBatch) -> std::result::Result<Bytes, String> {
    let values = Values::of_batch(batch, &shape.columns)?;
    let mut out = Vec::with_capacity(batch.num_rows() * shape.columns.len() * 8);
    for row in 0..batch.num_rows() {
        for (i, (v, c)) in values.iter().zip(&shape.columns).enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            push_field(&mut out, v.get(row), c.ty);
        }
        out.push(b'\n');
    }
    Ok(Bytes::from(out))
}

fn load_sql(shape: &Shape, name: &str) -> String {
    let mut targets = Vec::new();
    let mut sets = Vec::new();
    for (i, c) in shape.columns.iter().enumerate() {
        if c.ty == Type::Bit {
            // A bit column takes a number, not the character '1'.
            targets.push(format!("@v{i}"));
            sets.push(format!("{} = CAST(@v{i} AS UNSIGNED)", q(c.name)));
        } else {
            targets.push(q(c.name));
        }
    }
    let set = if sets.is_empty() { String::new() } else { format!(" SET {}", sets.join(", ")) };
    format!(
        "LOAD DATA LOCAL INFILE 'amali-stream' INTO TABLE {} CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' \
         ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({}){set}",
        q(name),
        targets.join(", ")
    )
}

async fn run(conn: &mut Conn, statements: &[Stmt]) -> Result<()> {
    for s in statements {
        conn.exec_drop(&s.sql, params(s)).await.map_err(|e| {
            from_database(&format!("run {}", s.sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ")), e)
        })?;
    }
    Ok(())
}

/// `before`, the batches into `into` via `LOAD DATA LOCAL INFILE`, `after`, in one transaction.
pub async fn write(
    url: &str,
    password: Option<&Secret>,
    into: Option<&(Shape, String)>,
    before: &[Stmt],
    batches: Batches,
    after: &[Stmt],
) -> Result<u64> {
    let mut conn = connect(url, password).await?;
    // DDL commits implicitly in MySQL: it runs, in order, before the transaction starts.
    let is_ddl = |s: &Stmt| {
        let head = s.sql.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        matches!(head.as_str(), "CREATE" | "DROP" | "ALTER" | "TRUNCATE" | "RENAME")
    };
    let (ddl, before): (Vec<Stmt>, Vec<Stmt>) = before.iter().cloned().partition(is_ddl);
    run(&mut conn, &ddl).await?;
    conn.query_drop("START TRANSACTION").await.map_err(|e| from_database("begin", e))?;
    let result = async {
        run(&mut conn, &before).await?;
        let mut loaded = 0;
        if let Some((shape, name)) = into {
            // Batches become tab-separated lines in a task of their own; the server pulls them through the
            // handler's stream while the LOAD DATA statement runs.
            let (bytes_tx, bytes_rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(2);
            let shape2 = shape.clone();
            let name2 = name.clone();
            let mut batches = batches;
            let encoder = tokio::spawn(async move {
                let mut sent = 0u64;
                while let Some(batch) = batches.recv().await {
                    match batch {
                        Ok(batch) => {
                            sent += batch.num_rows() as u64;
                            let lines = match tsv(&shape2, &batch) {
                                Ok(lines) => lines,
                                Err(e) => {
                                    let e = StageError::data(format!("load {name2}: {e}"));
                                    let _ = bytes_tx.send(Err(std::io::Error::other(e.message.clone()))).await;
                                    return Err(e);
                                }
                            };
                            if bytes_tx.send(Ok(lines)).await.is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            let _ = bytes_tx.send(Err(std::io::Error::other(e.message.clone()))).await;
                            return Err(e);
                        }
                    }
                }
                Ok(sent)
            });
            conn.set_infile_handler(async move {
                let stream =
                    futures::stream::unfold(bytes_rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
                Ok(stream.boxed())
            });
            let load = conn.query_drop(load_sql(shape, name)).await;
            let sent = encoder.await.map_err(|e| StageError::internal(format!("the load encoder failed: {e}")))??;
            load.map_err(|e| from_database(&format!("load {name}"), e))?;
            loaded = conn.affected_rows();
            let warnings = conn.get_warnings();
            if warnings > 0 || loaded != sent {
                let shown: Vec<Row> = conn.query("SHOW WARNINGS LIMIT 3").await.unwrap_or_default();
                let text: Vec<String> = shown
                    .into_iter()
                    .map(|r| r.unwrap().iter().filter_map(text).collect::<Vec<_>>().join(" "))
                    .collect();
                return Err(StageError::data(format!(
                    "load {name}: {sent} rows sent, {loaded} loaded, {warnings} warnings: {}",
                    text.join("; ")
                )));
            }
        }
        run(&mut conn, after).await?;
        Ok(loaded)
    }
    .await;
    match result {
        Ok(n) => {
            conn.query_drop("COMMIT").await.map_err(|e| from_database("commit", e))?;
            Ok(n)
        }
        Err(e) => {
            let _ = conn.query_drop("ROLLBACK").await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_escaped() {
        let mut line = Vec::new();
        push_field(&mut line, Some(Cell::Str("a\tb\\c\nd")), Type::Text);
        line.push(b'|');
        push_field(&mut line, None, Type::Text);
        line.push(b'|');
        push_field(&mut line, Some(Cell::Decimal(-5)), Type::Decimal(10, 2));
        line.push(b'|');
        push_field(&mut line, Some(Cell::Micros(1_708_000_000_123_456)), Type::DateTime);
        line.push(b'|');
        push_field(&mut line, Some(Cell::Float(0.1)), Type::Double);
        assert_eq!(String::from_utf8(line).unwrap(), "a\\tb\\\\c\\nd|\\N|-0.05|2024-02-15 12:26:40.123456|0.1");
    }
}
