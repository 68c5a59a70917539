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

impl Scalar {
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
        let shape = columns.to_vec();
        // Nullability is not enforced by the batch's schema: dirty source rows are carried as they are and judged
        // downstream (silver), where they are quarantined rather than lost.
        let schema = Arc::new(Schema::new(shape.iter().map(|c| c.field().with_nullable(true)).collect::<Vec<_>>()));
        let columns = columns
            .iter()
            .map(|c| match c.ty {
                Type::BigInt => ColumnBuilder::Int64(Int64Builder::new()),
                Type::Int => ColumnBuilder::Int32(Int32Builder::new()),
                Type::Bool | Type::Bit => ColumnBuilder::Bool(BooleanBuilder::new()),
                Type::Decimal(p, s) => ColumnBuilder::Decimal(
                    Decimal128Builder::new().with_precision_and_scale(p, s).expect("valid decimal type"),
                ),
                Type::Double => ColumnBuilder::Float(Float64Builder::new()),
                Type::Varchar(_) | Type::Text | Type::Enum(_) => ColumnBuilder::Str(StringBuilder::new()),
                Type::Date => ColumnBuilder::Date(Date32Builder::new()),
                Type::DateTime | Type::Timestamp => {
                    ColumnBuilder::Micros(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
                }
            })
            .collect();
        RowsBuilder { shape, schema, columns, rows: 0 }
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
        for ((builder, value), column) in self.columns.iter_mut().zip(row).zip(&self.shape) {
            match (builder, value) {
                (ColumnBuilder::Int64(b), Some(Scalar::Int(v))) => b.append_value(*v),
                (ColumnBuilder::Int32(b), Some(Scalar::Int(v))) => b.append_value(*v as i32),
                (ColumnBuilder::Bool(b), Some(Scalar::Bool(v))) => b.append_value(*v),
                (ColumnBuilder::Decimal(b), Some(Scalar::Decimal(v))) => b.append_value(*v),
                (ColumnBuilder::Float(b), Some(Scalar::Float(v))) => b.append_value(*v),
                (ColumnBuilder::Str(b), Some(Scalar::Str(v))) => b.append_value(v),
                (ColumnBuilder::Date(b), Some(Scalar::Date(v))) => b.append_value(*v),
                (ColumnBuilder::Micros(b), Some(Scalar::Micros(v))) => b.append_value(*v),
                (ColumnBuilder::Int64(b), None) => b.append_null(),
                (ColumnBuilder::Int32(b), None) => b.append_null(),
                (ColumnBuilder::Bool(b), None) => b.append_null(),
                (ColumnBuilder::Decimal(b), None) => b.append_null(),
                (ColumnBuilder::Float(b), None) => b.append_null(),
                (ColumnBuilder::Str(b), None) => b.append_null(),
                (ColumnBuilder::Date(b), None) => b.append_null(),
                (ColumnBuilder::Micros(b), None) => b.append_null(),
                (_, Some(v)) => {
                    return Err(format!("{}: {v:?} does not fit {:?}", column.name, column.ty));
                }
            }
        }
        self.rows += 1;
        Ok(())
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
