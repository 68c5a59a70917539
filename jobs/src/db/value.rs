//! One cell, typed by its column: parsed from text (CSV, SQLite), collected into Arrow arrays, and read back out.
//!
//! Parsing is strict where a lax parse would change data: decimals keep their exact digits (a value with more
//! decimals than the column's scale is an error, not a rounding), booleans accept `1/0`, `true/false` in any case
//! and MySQL's `b'1'`, timestamps accept a space or `T`, fractions up to microseconds, and `Z` or an offset.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use deltalake::arrow::array::{
    Array, ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int32Builder, Int64Builder,
    RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use deltalake::arrow::array::{
    BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};

use deltalake::arrow::compute::{CastOptions, cast_with_options};
use deltalake::arrow::datatypes::{Schema, SchemaRef};

use crate::schema::{Column, Type};

/// A typed cell value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// `bigint`, `int`.
    Int(i64),
    /// `tinyint(1)`, `bit(1)`.
    Bool(bool),
    /// `decimal`: the unscaled value at the column's scale.
    Decimal(i128),
    /// `double`.
    Float(f64),
    /// Text types and enums.
    Str(String),
    /// `date`: days since 1970-01-01.
    Date(i32),
    /// `datetime`, `timestamp`: microseconds since the epoch, UTC.
    Micros(i64),
}

/// A cell borrowed from where a reader found it (a row of the wire protocol, a batch's array): what the bulk paths
/// move, so text is never copied into a `String` on its way between a database and a batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// `bigint`, `int`.
    Int(i64),
    /// `tinyint(1)`, `bit(1)`.
    Bool(bool),
    /// `decimal`: the unscaled value at the column's scale.
    Decimal(i128),
    /// `double`.
    Float(f64),
    /// Text types and enums.
    Str(&'a str),
    /// `date`: days since 1970-01-01.
    Date(i32),
    /// `datetime`, `timestamp`: microseconds since the epoch, UTC.
    Micros(i64),
}

const EPOCH_DAY: i32 = 719_163; // days from 0001-01-01 (CE) to 1970-01-01

/// Parses an exact decimal into its unscaled value at `scale`.
pub fn parse_decimal(text: &str, precision: u8, scale: i8) -> Result<i128, String> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(format!("{text:?} is not a decimal number"));
    }
    let scale = scale.max(0) as usize;
    let frac_trimmed = frac_part.trim_end_matches('0');
    if frac_trimmed.len() > scale {
        return Err(format!("{text:?} has more than {scale} decimals"));
    }
    let mut unscaled: i128 = 0;
    for b in int_part.bytes().chain(frac_part.bytes().chain(std::iter::repeat(b'0')).take(scale)) {
        unscaled = unscaled
            .checked_mul(10)
            .and_then(|v| v.checked_add((b - b'0') as i128))
            .ok_or_else(|| format!("{text:?} is too large"))?;
    }
    let max_digits = precision as u32;
    if unscaled >= 10i128.pow(max_digits) {
        return Err(format!("{text:?} does not fit decimal({precision},{scale})"));
    }
    Ok(if negative { -unscaled } else { unscaled })
}

/// Formats an unscaled decimal with `scale` decimals.
pub fn format_decimal(unscaled: i128, scale: i8) -> String {
    let scale = scale.max(0) as usize;
    let sign = if unscaled < 0 { "-" } else { "" };
    let digits = unscaled.unsigned_abs().to_string();
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (i, f) = padded.split_at(padded.len() - scale);
    format!("{sign}{i}.{f}")
}

/// Parses a boolean as MySQL exports and the fixtures spell them.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" | "b'1'" | "\u{1}" => Ok(true),
        "0" | "false" | "f" | "no" | "b'0'" | "\u{0}" => Ok(false),
        _ => Err(format!("{text:?} is not a boolean")),
    }
}

/// Parses a date (`YYYY-MM-DD`, or the date part of a timestamp).
pub fn parse_date(text: &str) -> Result<i32, String> {
    let t = text.trim();
    let d = NaiveDate::parse_from_str(t.get(..10).unwrap_or(t), "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date"))?;
    Ok(chrono::Datelike::num_days_from_ce(&d) - EPOCH_DAY)
}

/// Parses a timestamp into microseconds since the epoch, UTC.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc).timestamp_micros());
    }
    let t = t.trim_end_matches('Z').trim_end_matches(" UTC");
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(dt.and_utc().timestamp_micros());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|dt| dt.and_utc().timestamp_micros()).unwrap_or_default());
    }
    Err(format!("{text:?} is not a timestamp"))
}

/// Formats microseconds since the epoch as `YYYY-MM-DD HH:MM:SS.ffffff` (UTC), as MySQL prints them.
pub fn format_timestamp(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S%.6f").to_string())
        .unwrap_or_else(|| micros.to_string())
}

/// Formats days since the epoch as `YYYY-MM-DD`.
pub fn format_date(days: i32) -> String {
    NaiveDate::from_num_days_from_ce_opt(days + EPOCH_DAY).map(|d| d.to_string()).unwrap_or_else(|| days.to_string())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`), for dates the wire
/// protocols give as parts. `None` for a month or day out of range.
pub fn days_from_civil(year: i32, month: u32, day: u32) -> Option<i32> {
    if !(1..=12).contains(&month) || day == 0 || day > 31 {
        return None;
    }
    let days_in_month = match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day > days_in_month {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month as i32 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// (year, month, day) of days since 1970-01-01: the inverse of [`days_from_civil`].
fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + (month <= 2) as i32, month, day)
}

fn push_digits(out: &mut Vec<u8>, value: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut v = value;
    for slot in buf[..width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&buf[..width]);
}

/// Appends `YYYY-MM-DD`, as [`format_date`] writes it, without allocating (years 0 to 9999; others as
/// [`format_date`] gives them).
pub fn write_date(out: &mut Vec<u8>, days: i32) {
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        out.extend_from_slice(format_date(days).as_bytes());
        return;
    }
    push_digits(out, y as u32, 4);
    out.push(b'-');
    push_digits(out, m, 2);
    out.push(b'-');
    push_digits(out, d, 2);
}

/// Appends `YYYY-MM-DD HH:MM:SS.ffffff`, as [`format_timestamp`] writes it, without allocating.
pub fn write_timestamp(out: &mut Vec<u8>, micros: i64) {
    let days = micros.div_euclid(86_400_000_000);
    let Ok(days) = i32::try_from(days) else {
        out.extend_from_slice(format_timestamp(micros).as_bytes());
        return;
    };
    let in_day = micros.rem_euclid(86_400_000_000);
    write_date(out, days);
    let secs = (in_day / 1_000_000) as u32;
    out.push(b' ');
    push_digits(out, secs / 3600, 2);
    out.push(b':');
    push_digits(out, secs / 60 % 60, 2);
    out.push(b':');
    push_digits(out, secs % 60, 2);
    out.push(b'.');
    push_digits(out, (in_day % 1_000_000) as u32, 6);
}

/// Appends an unscaled decimal with `scale` decimals, as [`format_decimal`] writes it, without allocating.
pub fn write_decimal(out: &mut Vec<u8>, unscaled: i128, scale: i8) {
    let scale = scale.max(0) as usize;
    if unscaled < 0 {
        out.push(b'-');
    }
    let mut v = unscaled.unsigned_abs();
    let mut digits = [0u8; 40];
    let mut n = 0;
    while v > 0 || n <= scale {
        digits[n] = b'0' + (v % 10) as u8;
        v /= 10;
        n += 1;
    }
    for i in (0..n).rev() {
        out.push(digits[i]);
        if i == scale && scale > 0 {
            out.push(b'.');
        }
    }
}

/// Appends a cell as text, unescaped (text as it is, booleans as 1/0, decimals with the column's scale, dates and
/// timestamps as [`write_date`] and [`write_timestamp`], doubles as the shortest text that reads back the same).
pub fn write_text(out: &mut Vec<u8>, cell: Cell<'_>, ty: Type) {
    use std::io::Write;
    match cell {
        Cell::Str(s) => out.extend_from_slice(s.as_bytes()),
        Cell::Decimal(v) => write_decimal(out, v, if let Type::Decimal(_, s) = ty { s } else { 0 }),
        Cell::Date(d) => write_date(out, d),
        Cell::Micros(m) => write_timestamp(out, m),
        Cell::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
        Cell::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Cell::Bool(b) => out.push(if b { b'1' } else { b'0' }),
    }
}

impl Scalar {
    /// The value as a borrowed [`Cell`].
    pub fn as_cell(&self) -> Cell<'_> {
        match self {
            Scalar::Int(v) => Cell::Int(*v),
            Scalar::Bool(v) => Cell::Bool(*v),
            Scalar::Decimal(v) => Cell::Decimal(*v),
            Scalar::Float(v) => Cell::Float(*v),
            Scalar::Str(v) => Cell::Str(v),
            Scalar::Date(v) => Cell::Date(*v),
            Scalar::Micros(v) => Cell::Micros(*v),
        }
    }

    /// Parses `text` as a value of `ty`.
    pub fn parse(ty: Type, text: &str) -> Result<Scalar, String> {
        Ok(match ty {
            Type::BigInt | Type::Int => {
                let t = text.trim();
                let v: i64 = t
                    .parse()
                    .or_else(|_| {
                        t.parse::<f64>()
                            .ok()
                            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                            .map(|f| f as i64)
                            .ok_or(())
                    })
                    .map_err(|_| format!("{text:?} is not an integer"))?;
                if ty == Type::Int && i32::try_from(v).is_err() {
                    return Err(format!("{text:?} does not fit an int"));
                }
                Scalar::Int(v)
            }
            Type::Bool | Type::Bit => Scalar::Bool(parse_bool(text)?),
            Type::Decimal(p, s) => Scalar::Decimal(parse_decimal(text, p, s)?),
            Type::Double => Scalar::Float(text.trim().parse().map_err(|_| format!("{text:?} is not a number"))?),
            Type::Varchar(n) => {
                if text.chars().count() > n as usize {
                    return Err(format!(
                        "{:?}... is longer than {n} characters",
                        text.chars().take(20).collect::<String>()
                    ));
                }
                Scalar::Str(text.to_string())
            }
            Type::Text => Scalar::Str(text.to_string()),
            Type::Enum(values) => {
                if !values.contains(&text) {
                    return Err(format!("{text:?} is not one of {}", values.join(", ")));
                }
                Scalar::Str(text.to_string())
            }
            Type::Date => Scalar::Date(parse_date(text)?),
            Type::DateTime | Type::Timestamp => Scalar::Micros(parse_timestamp(text)?),
        })
    }

    /// The value as text, the way it round-trips through [`Scalar::parse`].
    pub fn to_text(&self, ty: Type) -> String {
        match (self, ty) {
            (Scalar::Int(v), _) => v.to_string(),
            (Scalar::Bool(b), _) => if *b { "1" } else { "0" }.to_string(),
            (Scalar::Decimal(v), Type::Decimal(_, s)) => format_decimal(*v, s),
            (Scalar::Decimal(v), _) => v.to_string(),
            (Scalar::Float(f), _) => f.to_string(),
            (Scalar::Str(s), _) => s.clone(),
            (Scalar::Date(d), _) => format_date(*d),
            (Scalar::Micros(m), _) => format_timestamp(*m),
        }
    }
}

/// Collects typed rows into a [`RecordBatch`] with a table's Arrow schema.
pub struct RowsBuilder {
    shape: Vec<Column>,
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    rows: usize,
    /// Rows a batch is allocated for (0: grown as needed).
    capacity: usize,
    /// Per column, the text bytes of the last batch (the next one's first allocation).
    text_bytes: Vec<usize>,
}

fn fresh_builders(shape: &[Column], rows: usize, text_bytes: &[usize]) -> Vec<ColumnBuilder> {
    shape
        .iter()
        .zip(text_bytes)
        .map(|(c, bytes)| match c.ty {
            Type::BigInt => ColumnBuilder::Int64(Int64Builder::with_capacity(rows)),
            Type::Int => ColumnBuilder::Int32(Int32Builder::with_capacity(rows)),
            Type::Bool | Type::Bit => ColumnBuilder::Bool(BooleanBuilder::with_capacity(rows)),
            Type::Decimal(p, s) => ColumnBuilder::Decimal(
                Decimal128Builder::with_capacity(rows).with_precision_and_scale(p, s).expect("valid decimal type"),
            ),
            Type::Double => ColumnBuilder::Float(Float64Builder::with_capacity(rows)),
            Type::Varchar(_) | Type::Text | Type::Enum(_) => {
                ColumnBuilder::Str(StringBuilder::with_capacity(rows, *bytes))
            }
            Type::Date => ColumnBuilder::Date(Date32Builder::with_capacity(rows)),
            Type::DateTime | Type::Timestamp => {
                ColumnBuilder::Micros(TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"))
            }
        })
        .collect()
}

enum ColumnBuilder {
    Int64(Int64Builder),
    Int32(Int32Builder),
    Bool(BooleanBuilder),
    Decimal(Decimal128Builder),
    Float(Float64Builder),
    Str(StringBuilder),
    Date(Date32Builder),
    Micros(TimestampMicrosecondBuilder),
}

impl RowsBuilder {
    /// A builder for `columns` (a table's, or a [`crate::schema::Shape`]'s).
    pub fn new(columns: &[Column]) -> Self {
        Self::with_capacity(columns, 0)
    }

    /// A builder for batches of about `rows` rows: each batch's buffers are allocated at that size once, rather
    /// than grown (and copied) as rows arrive; text buffers start at the size the last batch needed.
    pub fn with_capacity(columns: &[Column], rows: usize) -> Self {
        let shape = columns.to_vec();
        // Nullability is not enforced by the batch's schema: dirty source rows are carried as they are and judged
        // downstream (silver), where they are quarantined rather than lost.
        let schema = Arc::new(Schema::new(shape.iter().map(|c| c.field().with_nullable(true)).collect::<Vec<_>>()));
        let text_bytes = vec![0; shape.len()];
        let columns = fresh_builders(&shape, rows, &text_bytes);
        RowsBuilder { shape, schema, columns, rows: 0, capacity: rows, text_bytes }
    }

    /// Rows collected so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when no row was collected.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Adds one row (one value per column, in order; `None` is NULL). Values must match their column's type.
    pub fn push(&mut self, row: &[Option<Scalar>]) -> Result<(), String> {
        if row.len() != self.columns.len() {
            return Err(format!("{} values for {} columns", row.len(), self.columns.len()));
        }
        for (i, value) in row.iter().enumerate() {
            self.append(i, value.as_ref().map(Scalar::as_cell))?;
        }
        self.end_row();
        Ok(())
    }

    /// Adds the value of column `col` to the row being built (`None` is NULL); [`RowsBuilder::end_row`] ends the
    /// row once every column has its value. A value that does not fit the column is an error, after which the
    /// builder holds a partial row and must be dropped.
    pub fn append(&mut self, col: usize, value: Option<Cell<'_>>) -> Result<(), String> {
        let Some(builder) = self.columns.get_mut(col) else {
            return Err(format!("column {col} of {}", self.shape.len()));
        };
        match (builder, value) {
            (ColumnBuilder::Int64(b), Some(Cell::Int(v))) => b.append_value(v),
            (ColumnBuilder::Int32(b), Some(Cell::Int(v))) => b.append_value(
                i32::try_from(v).map_err(|_| format!("{}: {v} does not fit an int", self.shape[col].name))?,
            ),
            (ColumnBuilder::Bool(b), Some(Cell::Bool(v))) => b.append_value(v),
            (ColumnBuilder::Decimal(b), Some(Cell::Decimal(v))) => b.append_value(v),
            (ColumnBuilder::Float(b), Some(Cell::Float(v))) => b.append_value(v),
            (ColumnBuilder::Str(b), Some(Cell::Str(v))) => b.append_value(v),
            (ColumnBuilder::Date(b), Some(Cell::Date(v))) => b.append_value(v),
            (ColumnBuilder::Micros(b), Some(Cell::Micros(v))) => b.append_value(v),
            (ColumnBuilder::Int64(b), None) => b.append_null(),
            (ColumnBuilder::Int32(b), None) => b.append_null(),
            (ColumnBuilder::Bool(b), None) => b.append_null(),
            (ColumnBuilder::Decimal(b), None) => b.append_null(),
            (ColumnBuilder::Float(b), None) => b.append_null(),
            (ColumnBuilder::Str(b), None) => b.append_null(),
            (ColumnBuilder::Date(b), None) => b.append_null(),
            (ColumnBuilder::Micros(b), None) => b.append_null(),
            (_, Some(v)) => {
                let column = &self.shape[col];
                return Err(format!("{}: {v:?} does not fit {:?}", column.name, column.ty));
            }
        }
        Ok(())
    }

    /// Ends the row whose values [`RowsBuilder::append`] added.
    pub fn end_row(&mut self) {
        self.rows += 1;
    }

    /// The batch of everything collected; the builder is empty again afterwards.
    pub fn finish(&mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    ColumnBuilder::Int64(b) => Arc::new(b.finish()),
                    ColumnBuilder::Int32(b) => Arc::new(b.finish()),
                    ColumnBuilder::Bool(b) => Arc::new(b.finish()),
                    ColumnBuilder::Decimal(b) => Arc::new(b.finish()),
                    ColumnBuilder::Float(b) => Arc::new(b.finish()),
                    ColumnBuilder::Str(b) => Arc::new(b.finish()),
                    ColumnBuilder::Date(b) => Arc::new(b.finish()),
                    ColumnBuilder::Micros(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.rows = 0;
        if self.capacity > 0 {
            for (bytes, array) in self.text_bytes.iter_mut().zip(&arrays) {
                if let Some(text) = array.as_any().downcast_ref::<StringArray>() {
                    *bytes = text.values().len();
                }
            }
            self.columns = fresh_builders(&self.shape, self.capacity, &self.text_bytes);
        }
        RecordBatch::try_new(self.schema.clone(), arrays).expect("the builders follow the table's schema")
    }
}

/// The value at `row` of `array`, for a column of type `ty`.
pub fn scalar_at(array: &dyn Array, row: usize, ty: Type) -> Option<Scalar> {
    if array.is_null(row) {
        return None;
    }
    let any = array.as_any();
    Some(match ty {
        Type::BigInt => Scalar::Int(any.downcast_ref::<Int64Array>()?.value(row)),
        Type::Int => Scalar::Int(any.downcast_ref::<Int32Array>()?.value(row) as i64),
        Type::Bool | Type::Bit => Scalar::Bool(any.downcast_ref::<BooleanArray>()?.value(row)),
        Type::Decimal(..) => Scalar::Decimal(any.downcast_ref::<Decimal128Array>()?.value(row)),
        Type::Double => Scalar::Float(any.downcast_ref::<Float64Array>()?.value(row)),
        Type::Varchar(_) | Type::Text | Type::Enum(_) => {
            Scalar::Str(any.downcast_ref::<StringArray>()?.value(row).to_string())
        }
        Type::Date => Scalar::Date(any.downcast_ref::<Date32Array>()?.value(row)),
        Type::DateTime | Type::Timestamp => Scalar::Micros(any.downcast_ref::<TimestampMicrosecondArray>()?.value(row)),
    })
}

/// A batch's column, downcast once to the array its column type is stored in, so the bulk writers read cells
/// without a lookup per cell. A column of another Arrow type (a string view, a decimal of another scale) is cast
/// first; a value the cast cannot carry is an error, never a NULL.
#[derive(Debug)]
pub enum Values {
    /// `bigint`.
    Int64(Int64Array),
    /// `int`.
    Int32(Int32Array),
    /// `tinyint(1)`, `bit(1)`.
    Bool(BooleanArray),
    /// `decimal`.
    Decimal(Decimal128Array),
    /// `double`.
    Float(Float64Array),
    /// Text types and enums.
    Str(StringArray),
    /// `date`.
    Date(Date32Array),
    /// `datetime`, `timestamp`.
    Micros(TimestampMicrosecondArray),
}

impl Values {
    /// `array` as the values of a column of type `ty`.
    pub fn of(array: &ArrayRef, column: &Column) -> Result<Values, String> {
        let target = column.field();
        let array = if array.data_type() == target.data_type() {
            array.clone()
        } else {
            let options = CastOptions { safe: false, ..Default::default() };
            cast_with_options(array, target.data_type(), &options).map_err(|e| {
                format!("{}: a {} column cannot be written as {:?}: {e}", column.name, array.data_type(), column.ty)
            })?
        };
        let any = array.as_any();
        let wrong = || format!("{}: {} is not {:?}", column.name, array.data_type(), column.ty);
        Ok(match column.ty {
            Type::BigInt => Values::Int64(any.downcast_ref::<Int64Array>().ok_or_else(wrong)?.clone()),
            Type::Int => Values::Int32(any.downcast_ref::<Int32Array>().ok_or_else(wrong)?.clone()),
            Type::Bool | Type::Bit => Values::Bool(any.downcast_ref::<BooleanArray>().ok_or_else(wrong)?.clone()),
            Type::Decimal(..) => Values::Decimal(any.downcast_ref::<Decimal128Array>().ok_or_else(wrong)?.clone()),
            Type::Double => Values::Float(any.downcast_ref::<Float64Array>().ok_or_else(wrong)?.clone()),
            Type::Varchar(_) | Type::Text | Type::Enum(_) => {
                Values::Str(any.downcast_ref::<StringArray>().ok_or_else(wrong)?.clone())
            }
            Type::Date => Values::Date(any.downcast_ref::<Date32Array>().ok_or_else(wrong)?.clone()),
            Type::DateTime | Type::Timestamp => {
                Values::Micros(any.downcast_ref::<TimestampMicrosecondArray>().ok_or_else(wrong)?.clone())
            }
        })
    }

    /// Every column of `batch`, typed by `columns` (in order).
    pub fn of_batch(batch: &RecordBatch, columns: &[Column]) -> Result<Vec<Values>, String> {
        if batch.num_columns() != columns.len() {
            return Err(format!("a batch of {} columns for {} columns", batch.num_columns(), columns.len()));
        }
        batch.columns().iter().zip(columns).map(|(a, c)| Values::of(a, c)).collect()
    }

    /// The cell at `row`; `None` is NULL.
    #[inline]
    pub fn get(&self, row: usize) -> Option<Cell<'_>> {
        macro_rules! cell {
            ($a:expr, $variant:ident, $map:expr) => {
                if $a.is_null(row) { None } else { Some(Cell::$variant($map($a.value(row)))) }
            };
        }
        match self {
            Values::Int64(a) => cell!(a, Int, |v| v),
            Values::Int32(a) => cell!(a, Int, |v: i32| v as i64),
            Values::Bool(a) => cell!(a, Bool, |v| v),
            Values::Decimal(a) => cell!(a, Decimal, |v| v),
            Values::Float(a) => cell!(a, Float, |v| v),
            Values::Str(a) => cell!(a, Str, |v| v),
            Values::Date(a) => cell!(a, Date, |v| v),
            Values::Micros(a) => cell!(a, Micros, |v| v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("25.99", 10, 2).unwrap(), 2599);
        assert_eq!(parse_decimal("-0.5", 10, 2).unwrap(), -50);
        assert_eq!(parse_decimal("848.060", 10, 2).unwrap(), 84806);
        assert!(parse_decimal("1.234", 10, 2).is_err());
        assert!(parse_decimal("123456789012", 10, 2).is_err());
        assert!(parse_decimal("1e3", 10, 2).is_err());
        assert_eq!(format_decimal(-5, 2), "-0.05");
        assert_eq!(format_decimal(84806, 2), "848.06");
    }

    #[test]
    fn the_allocation_free_writers_agree_with_the_formatters() {
        let mut out = Vec::new();
        for micros in [0, -1, 1_708_000_000_123_456, 253_402_300_799_999_999, -62_135_596_800_000_000] {
            out.clear();
            write_timestamp(&mut out, micros);
            assert_eq!(String::from_utf8(out.clone()).unwrap(), format_timestamp(micros), "{micros}");
        }
        for days in [-719_528, -1, 0, 11_016, 19_782, 2_932_896] {
            out.clear();
            write_date(&mut out, days);
            assert_eq!(String::from_utf8(out.clone()).unwrap(), format_date(days), "{days}");
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), Some(days));
        }
        assert_eq!(days_from_civil(2023, 2, 29), None);
        assert_eq!(days_from_civil(2024, 2, 29), Some(parse_date("2024-02-29").unwrap()));
        for (v, s) in [(0i128, 2i8), (5, 2), (-5, 2), (84_806, 2), (-123_456, 0), (1, 4), (i128::MAX, 2)] {
            out.clear();
            write_decimal(&mut out, v, s);
            assert_eq!(String::from_utf8(out.clone()).unwrap(), format_decimal(v, s), "{v} at {s}");
        }
    }

    #[test]
    fn values_cast_what_they_can_and_refuse_what_they_cannot() {
        use deltalake::arrow::array::StringViewArray;
        let text = Column { name: "name", ty: Type::Text, nullable: true, default: None, auto_increment: false };
        let view: ArrayRef = Arc::new(StringViewArray::from(vec![Some("a"), None]));
        let values = Values::of(&view, &text).unwrap();
        assert_eq!((values.get(0), values.get(1)), (Some(Cell::Str("a")), None));
        let int = Column { name: "n", ty: Type::Int, nullable: true, default: None, auto_increment: false };
        let wide: ArrayRef = Arc::new(Int64Array::from(vec![1, 1 << 40]));
        assert!(Values::of(&wide, &int).unwrap_err().contains("n:"), "an int that does not fit is refused");
    }

    #[test]
    fn timestamps_and_booleans() {
        let m = parse_timestamp("2024-02-15 07:05:47.631980").unwrap();
        assert_eq!(format_timestamp(m), "2024-02-15 07:05:47.631980");
        assert_eq!(parse_timestamp("2024-02-15T07:05:47Z").unwrap(), parse_timestamp("2024-02-15 07:05:47").unwrap());
        assert_eq!(
            parse_timestamp("2024-02-15T08:05:47+01:00").unwrap(),
            parse_timestamp("2024-02-15 07:05:47").unwrap()
        );
        assert_eq!(format_date(parse_date("2024-02-29").unwrap()), "2024-02-29");
        assert!(parse_bool("True").unwrap() && !parse_bool("false").unwrap());
        assert!(parse_bool("maybe").is_err());
        assert!(Scalar::parse(Type::Enum(&["A", "B"]), "C").is_err());
    }
}
