//! PostgreSQL: binary `COPY ... TO STDOUT` to read and binary `COPY ... FROM STDIN` to write, so rows cross the wire
//! in PostgreSQL's own binary format with no text parsing; values are decoded and encoded here by the column's type
//! (`numeric` exactly, as base-10000 digits; dates and timestamps from PostgreSQL's 2000-01-01 epoch).

use bytes::{BufMut, Bytes, BytesMut};
use deltalake::arrow::array::RecordBatch;
use futures::{SinkExt, StreamExt, pin_mut};
use tokio_postgres::types::{ToSql, Type as PgType};
use tokio_postgres::{Client, NoTls};

use super::value::{Cell, Values, format_timestamp};
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

/// Encodes an unscaled decimal at `scale` as PostgreSQL's binary `numeric` (base-10000 digits around the decimal
/// point, leading and trailing zero digits dropped), without allocating.
pub fn encode_numeric(unscaled: i128, scale: i8, out: &mut BytesMut) {
    let dscale = scale.max(0) as usize;
    // decimal digits of the magnitude, least significant first; d[dscale] is the units digit
    let mut d = [0u8; 48];
    let mut n = 0;
    let mut mag = unscaled.unsigned_abs();
    while mag > 0 {
        d[n] = (mag % 10) as u8;
        mag /= 10;
        n += 1;
    }
    let digit = |exp: isize| -> u16 {
        let i = exp + dscale as isize;
        if i >= 0 && (i as usize) < n { d[i as usize] as u16 } else { 0 }
    };
    let group = |lowest_exp: isize| -> u16 { (0..4).rev().fold(0, |acc, k| acc * 10 + digit(lowest_exp + k)) };
    let int_groups = n.saturating_sub(dscale).div_ceil(4) as isize;
    let frac_groups = dscale.div_ceil(4) as isize;
    let mut groups = [0u16; 24];
    let mut len = 0;
    for g in (0..int_groups).rev() {
        groups[len] = group(4 * g);
        len += 1;
    }
    for f in 1..=frac_groups {
        groups[len] = group(-4 * f);
        len += 1;
    }
    let mut weight = int_groups - 1;
    let mut first = 0;
    while first < len && groups[first] == 0 {
        first += 1;
        weight -= 1;
    }
    while len > first && groups[len - 1] == 0 {
        len -= 1;
    }
    if first == len {
        weight = 0;
    }
    out.put_u16((len - first) as u16);
    out.put_i16(weight as i16);
    out.put_u16(if unscaled < 0 { 0x4000 } else { 0 });
    out.put_u16(dscale as u16);
    for g in &groups[first..len] {
        out.put_u16(*g);
    }
}

/// Decodes one binary value of a column of type `ty`; text is borrowed from the row.
fn decode(raw: &[u8], ty: Type) -> std::result::Result<Cell<'_>, String> {
    Ok(match ty {
        Type::BigInt => Cell::Int(i64::from_be_bytes(be(raw)?)),
        Type::Int => Cell::Int(i32::from_be_bytes(be(raw)?) as i64),
        Type::Bool | Type::Bit => Cell::Bool(raw.first().copied().unwrap_or(0) != 0),
        Type::Decimal(_, s) => Cell::Decimal(decode_numeric(raw, s)?),
        Type::Double => Cell::Float(f64::from_be_bytes(be(raw)?)),
        Type::Varchar(_) | Type::Text | Type::Enum(_) => {
            Cell::Str(std::str::from_utf8(raw).map_err(|_| "text that is not UTF-8")?)
        }
        Type::Date => Cell::Date(i32::from_be_bytes(be(raw)?).saturating_add(PG_EPOCH_DAYS)),
        Type::DateTime | Type::Timestamp => Cell::Micros(i64::from_be_bytes(be(raw)?).saturating_add(PG_EPOCH_MICROS)),
    })
}

/// The start of a binary `COPY` stream: the signature, no flags, no header extension.
const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The end of a binary `COPY` stream.
const COPY_TRAILER: i16 = -1;

/// Appends one cell in binary `COPY`'s tuple format: its length, then its value in the column type's binary form.
fn encode(cell: Option<Cell<'_>>, ty: Type, out: &mut BytesMut) -> std::result::Result<(), String> {
    let Some(cell) = cell else {
        out.put_i32(-1);
        return Ok(());
    };
    match (cell, ty) {
        (Cell::Int(i), Type::BigInt) => {
            out.put_i32(8);
            out.put_i64(i);
        }
        (Cell::Int(i), Type::Int) => {
            out.put_i32(4);
            out.put_i32(i32::try_from(i).map_err(|_| format!("{i} does not fit an int"))?);
        }
        (Cell::Bool(b), _) => {
            out.put_i32(1);
            out.put_u8(b as u8);
        }
        (Cell::Decimal(d), Type::Decimal(_, s)) => {
            let at = out.len();
            out.put_i32(0);
            encode_numeric(d, s, out);
            let len = (out.len() - at - 4) as i32;
            out[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        (Cell::Float(f), _) => {
            out.put_i32(8);
            out.put_f64(f);
        }
        (Cell::Str(s), _) => {
            out.put_i32(i32::try_from(s.len()).map_err(|_| "text longer than 2 GiB".to_string())?);
            out.put_slice(s.as_bytes());
        }
        (Cell::Date(d), _) => {
            out.put_i32(4);
            out.put_i32(d - PG_EPOCH_DAYS);
        }
        (Cell::Micros(m), _) => {
            out.put_i32(8);
            out.put_i64(m - PG_EPOCH_MICROS);
        }
        (v, ty) => return Err(format!("{v:?} does not fit {ty:?}")),
    }
    Ok(())
}

/// Appends every row of `batch` in binary `COPY`'s tuple format.
fn encode_batch(shape: &Shape, batch: &RecordBatch, out: &mut BytesMut) -> std::result::Result<(), String> {
    let values = Values::of_batch(batch, &shape.columns)?;
    let fields = i16::try_from(shape.columns.len()).map_err(|_| "more than 32767 columns".to_string())?;
    for row in 0..batch.num_rows() {
        out.put_i16(fields);
        for (v, c) in values.iter().zip(&shape.columns) {
            encode(v.get(row), c.ty, out).map_err(|e| format!("{} (row {}): {e}", c.name, row + 1))?;
        }
    }
    Ok(())
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
    let stream = client.copy_out(&sql).await.map_err(|e| from_database(&format!("read {from}"), e))?;
    pin_mut!(stream);
    let mut feed = BatchFeed::new(shape, batch_rows, tx);
    let mut splitter = CopyRows::new(shape.columns.len());
    let mut starts = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| from_database(&format!("read {from}"), e))?;
        let data = splitter.push(chunk, &mut starts).map_err(|e| StageError::internal(format!("read {from}: {e}")))?;
        for &start in &starts {
            let mut p = start + 2;
            for (i, c) in shape.columns.iter().enumerate() {
                let len = i32::from_be_bytes([data[p], data[p + 1], data[p + 2], data[p + 3]]);
                p += 4;
                let raw = (len >= 0).then(|| {
                    let raw = &data[p..p + len as usize];
                    p += len as usize;
                    raw
                });
                raw.map(|raw| decode(raw, c.ty))
                    .transpose()
                    .and_then(|cell| feed.append(i, cell))
                    .map_err(|e| StageError::data(format!("{from}.{} (row {}): {e}", c.name, feed.rows() + 1)))?;
            }
            feed.end_row().await?;
        }
    }
    if !splitter.ended() {
        return Err(StageError::transient(format!("read {from}: the server ended the copy before its last row")));
    }
    feed.finish().await
}

/// Splits a binary `COPY ... TO STDOUT` stream into rows as its messages arrive. PostgreSQL sends one row per
/// message, but the protocol does not promise it: a row split over messages waits for its rest, a message holding
/// many rows gives them all.
struct CopyRows {
    fields: usize,
    /// The start of a row (or of the header) whose rest has not arrived.
    carry: BytesMut,
    header: bool,
    ended: bool,
}

impl CopyRows {
    fn new(fields: usize) -> Self {
        CopyRows { fields, carry: BytesMut::new(), header: false, ended: false }
    }

    /// Whether the stream's trailer has arrived.
    fn ended(&self) -> bool {
        self.ended
    }

    /// Takes the next message. Returns the bytes that hold the whole rows now available, with the offset of each
    /// row in `starts` (cleared first); each row is a field count, then a length and value per field.
    fn push(&mut self, chunk: Bytes, starts: &mut Vec<usize>) -> std::result::Result<Bytes, String> {
        starts.clear();
        if self.ended {
            return Ok(Bytes::new());
        }
        let data = if self.carry.is_empty() {
            chunk
        } else {
            self.carry.extend_from_slice(&chunk);
            self.carry.split().freeze()
        };
        let mut pos = 0;
        if !self.header {
            match copy_header_len(&data)? {
                Some(n) => {
                    pos = n;
                    self.header = true;
                }
                None => {
                    self.carry.extend_from_slice(&data);
                    return Ok(Bytes::new());
                }
            }
        }
        loop {
            match next_row(&data, pos, self.fields)? {
                NextRow::Partial => break,
                NextRow::Trailer => {
                    self.ended = true;
                    pos = data.len();
                    break;
                }
                NextRow::Row(end) => {
                    starts.push(pos);
                    pos = end;
                }
            }
        }
        self.carry.extend_from_slice(&data[pos..]);
        Ok(data)
    }
}

/// The length of a binary `COPY` stream's header at the start of `data` (`None`: not all of it is there yet).
fn copy_header_len(data: &[u8]) -> std::result::Result<Option<usize>, String> {
    const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
    if data.len() < SIGNATURE.len() + 8 {
        return Ok(None);
    }
    if !data.starts_with(SIGNATURE) {
        return Err("the server's COPY stream is not in binary format".into());
    }
    let flags = u32::from_be_bytes(data[11..15].try_into().expect("4 bytes"));
    if flags & (1 << 16) != 0 {
        return Err("the server's COPY stream carries OIDs".into());
    }
    let extension = u32::from_be_bytes(data[15..19].try_into().expect("4 bytes")) as usize;
    Ok((data.len() >= 19 + extension).then_some(19 + extension))
}

/// What the bytes of a binary `COPY` stream at a position hold.
enum NextRow {
    /// A whole row, ending at this offset.
    Row(usize),
    /// The stream's trailer.
    Trailer,
    /// The start of a row whose rest has not arrived.
    Partial,
}

/// Finds the end of the row at `pos` by walking its field lengths (`fields` of them, as the query selected).
fn next_row(data: &[u8], pos: usize, fields: usize) -> std::result::Result<NextRow, String> {
    let Some(count) = data.get(pos..pos + 2) else { return Ok(NextRow::Partial) };
    let count = i16::from_be_bytes([count[0], count[1]]);
    if count == -1 {
        return Ok(NextRow::Trailer);
    }
    if count as usize != fields {
        return Err(format!("a row of {count} fields where {fields} were selected"));
    }
    let mut p = pos + 2;
    for _ in 0..fields {
        let Some(len) = data.get(p..p + 4) else { return Ok(NextRow::Partial) };
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        p += 4 + len.max(0) as usize;
        if p > data.len() {
            return Ok(NextRow::Partial);
        }
    }
    Ok(NextRow::Row(p))
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

/// Loads `batches` into `name` over binary `COPY FROM STDIN`: each batch is encoded straight from its Arrow arrays
/// into one buffer and sent as one message.
async fn copy_in(tx: &tokio_postgres::Transaction<'_>, shape: &Shape, name: &str, mut batches: Batches) -> Result<u64> {
    let sql = format!("COPY {} ({}) FROM STDIN (FORMAT binary)", q(name), shape.column_list(Engine::Postgres));
    let sink = tx.copy_in::<_, Bytes>(&sql).await.map_err(|e| from_database(&format!("load {name}"), e))?;
    pin_mut!(sink);
    let mut buf = BytesMut::with_capacity(1 << 20);
    buf.put_slice(COPY_HEADER);
    while let Some(batch) = batches.recv().await {
        let batch: RecordBatch = batch?;
        encode_batch(shape, &batch, &mut buf).map_err(|e| StageError::data(format!("load {name}: {e}")))?;
        sink.send(buf.split().freeze()).await.map_err(|e| from_database(&format!("load {name}"), e))?;
    }
    buf.put_i16(COPY_TRAILER);
    sink.send(buf.split().freeze()).await.map_err(|e| from_database(&format!("load {name}"), e))?;
    sink.finish().await.map_err(|e| from_database(&format!("load {name}"), e))
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
    fn copy_streams_split_anywhere_give_the_same_rows() {
        use crate::schema::Column;
        use deltalake::arrow::array::{ArrayRef, Int64Array, StringArray};
        use std::sync::Arc;
        let columns = vec![
            Column { name: "id", ty: Type::BigInt, nullable: false, default: None, auto_increment: false },
            Column { name: "name", ty: Type::Text, nullable: true, default: None, auto_increment: false },
        ];
        let shape = Shape { name: "t", columns: columns.clone(), primary_key: vec!["id"] };
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
            ("name", Arc::new(StringArray::from(vec![Some("Zoë"), None, Some("")])) as ArrayRef),
        ])
        .unwrap();
        let mut stream = BytesMut::new();
        stream.put_slice(COPY_HEADER);
        encode_batch(&shape, &batch, &mut stream).unwrap();
        stream.put_i16(COPY_TRAILER);
        let stream = stream.freeze();
        let read = |data: &Bytes, start: usize| {
            let id = i64::from_be_bytes(data[start + 6..start + 14].try_into().unwrap());
            let len = i32::from_be_bytes(data[start + 14..start + 18].try_into().unwrap());
            let name =
                (len >= 0).then(|| String::from_utf8(data[start + 18..start + 18 + len as usize].to_vec()).unwrap());
            (id, name)
        };
        let want = vec![(1, Some("Zoë".to_string())), (2, None), (3, Some(String::new()))];
        for size in 1..=stream.len() {
            let mut rows = CopyRows::new(2);
            let mut starts = Vec::new();
            let mut got = Vec::new();
            for chunk in stream.chunks(size) {
                let data = rows.push(Bytes::copy_from_slice(chunk), &mut starts).unwrap();
                got.extend(starts.iter().map(|&s| read(&data, s)));
            }
            assert!(rows.ended(), "messages of {size} bytes");
            assert_eq!(got, want, "messages of {size} bytes");
        }
        let mut rows = CopyRows::new(3);
        assert!(rows.push(stream.clone(), &mut Vec::new()).unwrap_err().contains("2 fields where 3"));
        let mut rows = CopyRows::new(2);
        assert!(rows.push(Bytes::from_static(b"id,name\n1,Zo\xc3\xab\n2,\n3,x\n"), &mut Vec::new()).is_err());
    }

    #[test]
    fn numerics_round_trip() {
        for (v, s) in [(0i128, 2i8), (2599, 2), (-5, 2), (123_456_789_012, 2), (10_000, 0), (1, 4), (-99_990_000, 4)] {
            let mut buf = BytesMut::new();
            encode_numeric(v, s, &mut buf);
            assert_eq!(decode_numeric(&buf, s).unwrap(), v, "{v} at scale {s}");
        }
        // PostgreSQL's own form: base-10000 digits, weight of the first, no leading or trailing zero digits
        let encoded = |v: i128, s: i8| {
            let mut buf = BytesMut::new();
            encode_numeric(v, s, &mut buf);
            buf.chunks(2).map(|w| u16::from_be_bytes([w[0], w[1]]) as i32).collect::<Vec<_>>()
        };
        assert_eq!(encoded(1250, 2), [2, 0, 0, 2, 12, 5000]);
        assert_eq!(encoded(-5, 2), [1, 0xFFFF, 0x4000, 2, 500]);
        assert_eq!(encoded(12_345_678_901_234, 2), [4, 2, 0, 2, 1234, 5678, 9012, 3400]);
        assert_eq!(encoded(0, 2), [0, 0, 0, 2]);
        assert_eq!(encoded(100_000_000, 0), [1, 2, 0, 0, 1]);
        // 12.5 as PostgreSQL sends it (ndigits 2, weight 0, dscale 1): [12, 5000], read at scale 2
        let raw = [0, 2, 0, 0, 0, 0, 0, 1, 0, 12, 0x13, 0x88];
        assert_eq!(decode_numeric(&raw, 2).unwrap(), 1250);
        assert!(decode_numeric(&raw, 0).is_err());
    }
}
