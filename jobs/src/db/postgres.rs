//! PostgreSQL: binary `COPY ... TO STDOUT` to read and binary `COPY ... FROM STDIN` to write, so rows cross the wire
//! in PostgreSQL's own binary format with no text parsing; values are decoded and encoded here by the column's type
//! (`numeric` exactly, as base-10000 digits; dates and timestamps from PostgreSQL's 2000-01-01 epoch).

use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use deltalake::arrow::array::RecordBatch;
use futures::{StreamExt, pin_mut};
use tokio_postgres::binary_copy::{BinaryCopyInWriter, BinaryCopyOutStream};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type as PgType, to_sql_checked};
use tokio_postgres::{Client, NoTls};

use super::value::{Scalar, format_timestamp, scalar_at};
use super::{BatchFeed, BatchSender, Batches, Filter, Param, Stmt};
use crate::error::{Result, StageError, from_database};
use crate::schema::{Engine, Shape, Type, quote};
use crate::secret::Secret;

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

fn q(name: &str) -> String {
    quote(Engine::Postgres, name)
}

/// Connects (without TLS: the server is on a private network or this machine) and drives the connection in the
/// background.
pub async fn connect(url: &str, password: Option<&Secret>) -> Result<Client> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| StageError::config(format!("{url}: {e}")))?;
    if let Some(p) = password {
        config.password(p.expose());
    }
    let options = match config.get_options() {
        Some(o) => format!("{o} -c TimeZone=UTC"),
        None => "-c TimeZone=UTC".to_string(),
    };
    config.options(&options);
    let (client, connection) =
        config.connect(NoTls).await.map_err(|e| from_database(&format!("connect to {url}"), e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "postgres connection closed");
        }
    });
    Ok(client)
}

fn pg_type(ty: Type) -> PgType {
    match ty {
        Type::BigInt => PgType::INT8,
        Type::Int => PgType::INT4,
        Type::Bool | Type::Bit => PgType::BOOL,
        Type::Decimal(..) => PgType::NUMERIC,
        Type::Double => PgType::FLOAT8,
        Type::Varchar(_) => PgType::VARCHAR,
        Type::Text | Type::Enum(_) => PgType::TEXT,
        Type::Date => PgType::DATE,
        Type::DateTime => PgType::TIMESTAMP,
        Type::Timestamp => PgType::TIMESTAMPTZ,
    }
}

/// A value in PostgreSQL's binary format, of any type: decoded by [`decode`] with the column's type.
struct Raw<'a>(&'a [u8]);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &PgType, raw: &'a [u8]) -> std::result::Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(Raw(raw))
    }
    fn accepts(_: &PgType) -> bool {
        true
    }
}

fn be<const N: usize>(raw: &[u8]) -> std::result::Result<[u8; N], String> {
    raw.try_into().map_err(|_| format!("{} bytes where {N} were expected", raw.len()))
}

/// Decodes PostgreSQL's binary `numeric` into an unscaled value at `scale`.
pub fn decode_numeric(raw: &[u8], scale: i8) -> std::result::Result<i128, String> {
    if raw.len() < 8 {
        return Err("a truncated numeric".into());
    }
    let word = |i: usize| u16::from_be_bytes([raw[i], raw[i + 1]]);
    let (ndigits, weight, sign) = (word(0) as usize, word(2) as i16 as i32, word(4));
    if sign == 0xC000 {
        return Err("NaN is not a decimal".into());
    }
    if raw.len() < 8 + 2 * ndigits {
        return Err("a truncated numeric".into());
    }
    let mut acc: i128 = 0;
    for i in 0..ndigits {
        acc = acc.checked_mul(10_000).and_then(|a| a.checked_add(word(8 + 2 * i) as i128)).ok_or("too large")?;
    }
    // acc * 10000^(weight - ndigits + 1), scaled by 10^scale.
    let exp10 = 4 * (weight - ndigits as i32 + 1) + scale.max(0) as i32;
    let value = if exp10 >= 0 {
        acc.checked_mul(10i128.checked_pow(exp10 as u32).ok_or("too large")?).ok_or("too large")?
    } else {
        let div = 10i128.checked_pow((-exp10) as u32).ok_or("too small")?;
        if acc % div != 0 {
            return Err(format!("more decimals than the column's {scale}"));
        }
        acc / div
    };
    Ok(if sign == 0x4000 { -value } else { value })
}

/// Encodes an unscaled decimal at `scale` as PostgreSQL's binary `numeric`.
pub fn encode_numeric(unscaled: i128, scale: i8, out: &mut BytesMut) {
    let scale = scale.max(0) as usize;
    let digits = unscaled.unsigned_abs().to_string();
    let digits = format!("{digits:0>width$}", width = scale + 1);
    let (int_part, frac_part) = digits.split_at(digits.len() - scale);
    let int_pad = (4 - int_part.len() % 4) % 4;
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let padded = format!("{}{int_part}{frac_part}{}", "0".repeat(int_pad), "0".repeat(frac_pad));
    let mut groups: Vec<u16> =
        padded.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap().parse().unwrap()).collect();
    let mut weight = ((int_part.len() + int_pad) / 4) as i32 - 1;
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    out.put_u16(groups.len() as u16);
    out.put_i16(weight as i16);
    out.put_u16(if unscaled < 0 { 0x4000 } else { 0 });
    out.put_u16(scale as u16);
    for g in groups {
        out.put_u16(g);
    }
}

/// Decodes one binary value of a column of type `ty`.
fn decode(raw: &[u8], ty: Type) -> std::result::Result<Scalar, String> {
    Ok(match ty {
        Type::BigInt => Scalar::Int(i64::from_be_bytes(be(raw)?)),
        Type::Int => Scalar::Int(i32::from_be_bytes(be(raw)?) as i64),
        Type::Bool | Type::Bit => Scalar::Bool(raw.first().copied().unwrap_or(0) != 0),
        Type::Decimal(_, s) => Scalar::Decimal(decode_numeric(raw, s)?),
        Type::Double => Scalar::Float(f64::from_be_bytes(be(raw)?)),
        Type::Varchar(_) | Type::Text | Type::Enum(_) => {
            Scalar::Str(std::str::from_utf8(raw).map_err(|_| "text that is not UTF-8")?.to_string())
        }
        Type::Date => Scalar::Date(i32::from_be_bytes(be(raw)?).saturating_add(PG_EPOCH_DAYS)),
        Type::DateTime | Type::Timestamp => {
            Scalar::Micros(i64::from_be_bytes(be(raw)?).saturating_add(PG_EPOCH_MICROS))
        }
    })
}

/// A value to write with its column type, encoded in PostgreSQL's binary format.
#[derive(Debug)]
struct Cell(Option<Scalar>, Type);

impl ToSql for Cell {
    fn to_sql(&self, _: &PgType, out: &mut BytesMut) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        let Some(v) = &self.0 else { return Ok(IsNull::Yes) };
        match (v, self.1) {
            (Scalar::Int(i), Type::BigInt) => out.put_i64(*i),
            (Scalar::Int(i), Type::Int) => out.put_i32(i32::try_from(*i)?),
            (Scalar::Bool(b), _) => out.put_u8(*b as u8),
            (Scalar::Decimal(d), Type::Decimal(_, s)) => encode_numeric(*d, s, out),
            (Scalar::Float(f), _) => out.put_f64(*f),
            (Scalar::Str(s), _) => out.put_slice(s.as_bytes()),
            (Scalar::Date(d), _) => out.put_i32(d - PG_EPOCH_DAYS),
            (Scalar::Micros(m), _) => out.put_i64(m - PG_EPOCH_MICROS),
            (v, ty) => return Err(format!("{v:?} does not fit {ty:?}").into()),
        }
        Ok(IsNull::No)
    }
    fn accepts(_: &PgType) -> bool {
        true
    }
    to_sql_checked!();
}

/// A statement's parameter, typed for PostgreSQL.
fn param(p: &Param) -> Box<dyn ToSql + Sync + Send> {
    match p {
        Param::Null => Box::new(None::<String>),
        Param::Int(i) => Box::new(*i),
        Param::Text(t) => Box::new(t.clone()),
    }
}

/// Runs a query; values as text (numbers and booleans are formatted here; other columns must be text).
pub async fn query(url: &str, password: Option<&Secret>, stmt: &Stmt) -> Result<Vec<Vec<Option<String>>>> {
    let client = connect(url, password).await?;
    let params: Vec<Box<dyn ToSql + Sync + Send>> = stmt.params.iter().map(param).collect();
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    let sql = stmt.numbered();
    let rows = client.query(&sql, &refs).await.map_err(|e| from_database("query", e))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut values = Vec::with_capacity(row.len());
        for (i, col) in row.columns().iter().enumerate() {
            let v = match *col.type_() {
                PgType::INT8 => row.try_get::<_, Option<i64>>(i).ok().flatten().map(|v| v.to_string()),
                PgType::INT4 => row.try_get::<_, Option<i32>>(i).ok().flatten().map(|v| v.to_string()),
                PgType::INT2 => row.try_get::<_, Option<i16>>(i).ok().flatten().map(|v| v.to_string()),
                PgType::BOOL => row.try_get::<_, Option<bool>>(i).ok().flatten().map(|v| v.to_string()),
                PgType::FLOAT8 => row.try_get::<_, Option<f64>>(i).ok().flatten().map(|v| v.to_string()),
                PgType::TIMESTAMP => row
                    .try_get::<_, Option<chrono::NaiveDateTime>>(i)
                    .ok()
                    .flatten()
                    .map(|v| format_timestamp(v.and_utc().timestamp_micros())),
                PgType::TIMESTAMPTZ => row
                    .try_get::<_, Option<chrono::DateTime<chrono::Utc>>>(i)
                    .ok()
                    .flatten()
                    .map(|v| format_timestamp(v.timestamp_micros())),
                PgType::DATE => row.try_get::<_, Option<chrono::NaiveDate>>(i).ok().flatten().map(|v| v.to_string()),
                _ => row.try_get::<_, Option<String>>(i).map_err(|e| {
                    StageError::internal(format!("query: column {} is {}, not text: {e}", col.name(), col.type_()))
                })?,
            };
            values.push(v);
        }
        out.push(values);
    }
    Ok(out)
}

/// Streams `from`'s rows into `tx` in batches of `batch_rows`, over binary `COPY ... TO STDOUT`.
pub async fn read(
    url: &str,
    password: Option<&Secret>,
    shape: &Shape,
    from: &str,
    filter: Option<&Filter>,
    batch_rows: usize,
    tx: &BatchSender,
) -> Result<u64> {
    let client = connect(url, password).await?;
    let filter = filter.map(|f| format!(" WHERE {}", f.clause(Engine::Postgres, shape))).unwrap_or_default();
    let sql = format!(
        "COPY (SELECT {} FROM {}{filter}) TO STDOUT (FORMAT binary)",
        shape.column_list(Engine::Postgres),
        q(from)
    );
    let types: Vec<PgType> = shape.columns.iter().map(|c| pg_type(c.ty)).collect();
    let stream = client.copy_out(&sql).await.map_err(|e| from_database(&format!("read {from}"), e))?;
    let rows = BinaryCopyOutStream::new(stream, &types);
    pin_mut!(rows);
    let mut feed = BatchFeed::new(shape, batch_rows, tx);
    let mut values = Vec::with_capacity(shape.columns.len());
    while let Some(row) = rows.next().await {
        let row = row.map_err(|e| from_database(&format!("read {from}"), e))?;
        values.clear();
        for (i, c) in shape.columns.iter().enumerate() {
            let raw = row.try_get::<Option<Raw<'_>>>(i).map_err(|e| from_database(&format!("read {from}"), e))?;
            values.push(match raw {
                None => None,
                Some(Raw(bytes)) => Some(
                    decode(bytes, c.ty)
                        .map_err(|e| StageError::data(format!("{from}.{} (row {}): {e}", c.name, feed.rows() + 1)))?,
                ),
            });
        }
        feed.push(&values).await?;
    }
    feed.finish().await
}

async fn run(client: &tokio_postgres::Transaction<'_>, statements: &[Stmt]) -> Result<()> {
    for s in statements {
        let params: Vec<Box<dyn ToSql + Sync + Send>> = s.params.iter().map(param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
        client.execute(&s.numbered(), &refs).await.map_err(|e| {
            from_database(&format!("run {}", s.sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ")), e)
        })?;
    }
    Ok(())
}

async fn copy_in(tx: &tokio_postgres::Transaction<'_>, shape: &Shape, name: &str, mut batches: Batches) -> Result<u64> {
    let sql = format!("COPY {} ({}) FROM STDIN (FORMAT binary)", q(name), shape.column_list(Engine::Postgres));
    let sink = tx.copy_in(&sql).await.map_err(|e| from_database(&format!("load {name}"), e))?;
    let types: Vec<PgType> = shape.columns.iter().map(|c| pg_type(c.ty)).collect();
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    while let Some(batch) = batches.recv().await {
        let batch: RecordBatch = batch?;
        for row in 0..batch.num_rows() {
            let cells: Vec<Cell> = shape
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| Cell(scalar_at(batch.column(i).as_ref(), row, c.ty), c.ty))
                .collect();
            let refs: Vec<&(dyn ToSql + Sync)> = cells.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
            writer.as_mut().write(&refs).await.map_err(|e| from_database(&format!("load {name}"), e))?;
        }
    }
    writer.finish().await.map_err(|e| from_database(&format!("load {name}"), e))
}

/// `before`, the batches into `into` via binary `COPY FROM STDIN`, `after`, in one transaction.
pub async fn write(
    url: &str,
    password: Option<&Secret>,
    into: Option<&(Shape, String)>,
    before: &[Stmt],
    batches: Batches,
    after: &[Stmt],
) -> Result<u64> {
    let mut client = connect(url, password).await?;
    let tx = client.transaction().await.map_err(|e| from_database("begin", e))?;
    run(&tx, before).await?;
    let n = match into {
        Some((shape, name)) => copy_in(&tx, shape, name, batches).await?,
        None => 0,
    };
    run(&tx, after).await?;
    tx.commit().await.map_err(|e| from_database("commit", e))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerics_round_trip() {
        for (v, s) in [(0i128, 2i8), (2599, 2), (-5, 2), (123_456_789_012, 2), (10_000, 0), (1, 4), (-99_990_000, 4)] {
            let mut buf = BytesMut::new();
            encode_numeric(v, s, &mut buf);
            assert_eq!(decode_numeric(&buf, s).unwrap(), v, "{v} at scale {s}");
        }
        // 12.5 as PostgreSQL sends it (ndigits 2, weight 0, dscale 1): [12, 5000], read at scale 2
        let raw = [0, 2, 0, 0, 0, 0, 0, 1, 0, 12, 0x13, 0x88];
        assert_eq!(decode_numeric(&raw, 2).unwrap(), 1250);
        assert!(decode_numeric(&raw, 0).is_err());
    }
}
