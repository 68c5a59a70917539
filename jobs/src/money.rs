//! Money is exact from silver on. The app database keeps some amounts as `double` (`orders.total_amount`); a float
//! sum over them changes its last digits with the order the rows are added in, so the same data gave
//! `11896.659999999998` in one run and `11896.66` in the next. Silver conforms every money column to
//! `Decimal128(MONEY_PRECISION, MONEY_SCALE)`, and everything built on silver (gold, the loads) sums decimals.
//!
//! The conversion reads the number the app wrote, not the binary fraction that stores it: the double's shortest
//! round-trip text (`11896.66`, as Rust, Java's `BigDecimal.valueOf` and Python's `repr` print it), rounded to the
//! scale half-even (`0.125` -> `0.12`, `0.135` -> `0.14`). A value that is not a number, infinite, or too large for
//! the precision does not fit: silver quarantines its row (the `money_fits` check) instead of guessing.

use deltalake::arrow::array::{Array, ArrayRef, Decimal128Array, Float64Array};
use deltalake::arrow::datatypes::DataType;
use std::sync::Arc;

/// Digits of a conformed money column: up to 9,999,999,999,999,999.99.
pub const MONEY_PRECISION: u8 = 18;
/// Decimal places of a conformed money column (cents).
pub const MONEY_SCALE: i8 = 2;

/// The Arrow type of a conformed money column.
pub fn money_type() -> DataType {
    DataType::Decimal128(MONEY_PRECISION, MONEY_SCALE)
}

/// `value` in cents, rounded half-even from its shortest decimal text; `None` when it does not fit.
pub fn to_cents(value: f64) -> Option<i128> {
    if !value.is_finite() {
        return None;
    }
    let scaled = value * 100.0;
    let fraction = (scaled - scaled.trunc()).abs();
    // Away from a tie, the nearest whole number of cents is the same for the binary value and for its shortest
    // text (they differ by less than an ulp of `value`, times 100 here); only near a tie does the text decide.
    let margin = scaled.abs() * 1e-13 + 1e-9;
    let cents = if (fraction - 0.5).abs() > margin { Some(scaled.round() as i128) } else { from_text(value) }?;
    (cents.unsigned_abs() < 10u128.pow(u32::from(MONEY_PRECISION))).then_some(cents)
}

/// The cents of `value`'s shortest round-trip text, rounded half-even (Rust prints floats without an exponent).
fn from_text(value: f64) -> Option<i128> {
    let text = format!("{value}");
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let mut kept: i128 = 0;
    for d in whole.bytes().chain(fraction.bytes().chain(std::iter::repeat(b'0')).take(2)) {
        kept = kept.checked_mul(10)?.checked_add(i128::from(d - b'0'))?;
    }
    let rest = fraction.get(2..).unwrap_or("").trim_end_matches('0');
    let up = match rest.as_bytes().first() {
        None => false,
        Some(&d) if d > b'5' => true,
        Some(&d) if d < b'5' => false,
        // Exactly half (a 5 and nothing after it): to the even neighbour.
        Some(_) if rest.len() == 1 => kept % 2 == 1,
        Some(_) => true,
    };
    let cents = kept + i128::from(up);
    Some(if negative { -cents } else { cents })
}

/// A Float64 column conformed to money; values that do not fit are null (a row with one is quarantined first).
pub fn conform(column: &ArrayRef) -> ArrayRef {
    let floats = column.as_any().downcast_ref::<Float64Array>().expect("a money column of bronze is Float64");
    let cents: Decimal128Array = floats.iter().map(|v| v.and_then(to_cents)).collect();
    Arc::new(cents.with_precision_and_scale(MONEY_PRECISION, MONEY_SCALE).expect("a valid decimal type"))
}

/// The rows of a Float64 column whose value is present and does not fit a money column.
pub fn misfits(column: &ArrayRef) -> Vec<usize> {
    let floats = column.as_any().downcast_ref::<Float64Array>().expect("a money column of bronze is Float64");
    (0..floats.len()).filter(|&i| floats.is_valid(i) && to_cents(floats.value(i)).is_none()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_the_app_wrote_not_its_binary_fraction() {
        // 11896.66 is stored as 11896.659999999998: its cents are 1189666.
        assert_eq!(to_cents(11896.66), Some(1_189_666));
        assert_eq!(to_cents(0.1 + 0.2), Some(30));
        assert_eq!(to_cents(-19.99), Some(-1999));
        assert_eq!(to_cents(0.0), Some(0));
        assert_eq!(to_cents(1e15), Some(100_000_000_000_000_000));
    }

    #[test]
    fn ties_go_to_the_even_cent() {
        // Half-even on the written number: 0.125 -> 0.12, 0.135 -> 0.14, 2.675 -> 2.68 (its binary value is
        // 2.67499999..., which rounding the binary fraction would take to 2.67).
        assert_eq!(to_cents(0.125), Some(12));
        assert_eq!(to_cents(0.135), Some(14));
        assert_eq!(to_cents(2.675), Some(268));
        assert_eq!(to_cents(-0.125), Some(-12));
        assert_eq!(to_cents(1.005), Some(100));
        assert_eq!(to_cents(1.015), Some(102));
        assert_eq!(to_cents(0.1251), Some(13));
    }

    #[test]
    fn what_does_not_fit_is_none() {
        assert_eq!(to_cents(f64::NAN), None);
        assert_eq!(to_cents(f64::INFINITY), None);
        assert_eq!(to_cents(1e16), None);
        assert_eq!(to_cents(-1e17), None);
        assert_eq!(to_cents(9_999_999_999_999_999.0), None);
    }

    #[test]
    fn the_fast_path_agrees_with_the_text() {
        // Deterministic pseudo-random amounts with up to four decimals, over many magnitudes.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 10_000_000_000) as f64;
            let places = [1.0, 10.0, 100.0, 1000.0, 10_000.0][(x >> 40) as usize % 5];
            let value = digits / places * if x & 1 == 0 { 1.0 } else { -1.0 };
            assert_eq!(to_cents(value), from_text(value), "{value}");
        }
    }

    #[test]
    fn a_column_conforms_with_nulls_kept_and_misfits_found() {
        let column: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.5), None, Some(f64::NAN), Some(2.675)]));
        let money = conform(&column);
        let money = money.as_any().downcast_ref::<Decimal128Array>().unwrap();
        assert_eq!(money.data_type(), &money_type());
        assert_eq!(money.iter().collect::<Vec<_>>(), vec![Some(150), None, None, Some(268)]);
        assert_eq!(misfits(&column), vec![2]);
    }
}
