//! Key ranges: the literals a scan prunes files, row groups and pages with when it only needs the rows of some
//! keys (an upsert's source keys, a model's affected keys, a rule's referenced parents).
//!
//! One range from the smallest key to the largest reads every file in between: an incremental run's keys are
//! mostly new ones, in the newest file, plus a few old ones spread over the table, so the one range spans the whole
//! table. Integer keys are therefore clustered: the range is split at the widest gaps between neighbouring keys,
//! those wide enough to hold a page of rows, and the scan's filter is the disjunction of the clusters' ranges. The
//! rows of a range that are not among the keys are the caller's to drop (a join or an `IN` on the keys follows).

use deltalake::arrow::array::AsArray;
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::{DataType, Int64Type};
use deltalake::datafusion::common::ScalarValue;
use deltalake::datafusion::logical_expr::{Expr, or};
use deltalake::datafusion::prelude::{DataFrame, SessionContext, ident, lit};

use crate::error::{Result, StageError, df_err};

/// At most this many ranges: each is two comparisons for every row the scan reads.
const MAX_RANGES: usize = 32;
/// A gap narrower than this many key values is not worth a split: a data page holds up to 20,000 rows (parquet's
/// default row limit per page), and a table's integer keys are dense, so a narrower gap rarely spans a whole page.
const MIN_GAP: i128 = 8_192;
/// Above this many keys (a first load's), sorting them costs more than clustering saves: one range.
const MAX_CLUSTERED_KEYS: usize = 1 << 20;

/// The ranges that hold a set of keys, in ascending order and disjoint (see the module docs), and whether NULL is
/// among the keys.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRanges {
    ranges: Vec<(ScalarValue, ScalarValue)>,
    nulls: bool,
}

impl KeyRanges {
    /// The smallest and the largest key (`None`: NULL is the only key).
    pub fn bounds(&self) -> Option<(&ScalarValue, &ScalarValue)> {
        Some((&self.ranges.first()?.0, &self.ranges.last()?.1))
    }

    /// The ranges, lowest first.
    pub fn ranges(&self) -> &[(ScalarValue, ScalarValue)] {
        &self.ranges
    }

    /// `column` in one of the ranges (or NULL, when NULL is a key), as a filter of literals.
    pub fn filter(&self, column: &str) -> Expr {
        let nulls = self.nulls.then(|| ident(column).is_null());
        self.ranges
            .iter()
            .map(|(lo, hi)| ident(column).between(lit(lo.clone()), lit(hi.clone())))
            .chain(nulls)
            .reduce(or)
            .unwrap_or_else(|| lit(false))
    }
}

/// The ranges of the non-null values of `column` in `relation`, integer keys clustered, any other type as one range
/// from the smallest to the largest value; with `nulls`, NULL is a key too (an aggregate's NULL group). `None` when
/// there is no key.
pub async fn key_ranges(ctx: &SessionContext, relation: &str, column: &str, nulls: bool) -> Result<Option<KeyRanges>> {
    let keys =
        |ranges: Vec<(ScalarValue, ScalarValue)>| (!ranges.is_empty() || nulls).then_some(KeyRanges { ranges, nulls });
    let query = ctx
        .sql(&format!("SELECT {column} FROM {relation} WHERE {column} IS NOT NULL"))
        .await
        .map_err(df_err("key range"))?;
    let data_type = query.schema().field(0).data_type().clone();
    if !data_type.is_integer() {
        return Ok(keys(min_max(ctx, relation, column).await?.into_iter().collect()));
    }
    let batches = query.collect().await.map_err(df_err("key range"))?;
    let mut values = Vec::with_capacity(batches.iter().map(|b| b.num_rows()).sum());
    for batch in &batches {
        let column = cast(batch.column(0), &DataType::Int64).map_err(|e| StageError::internal(e.to_string()))?;
        values.extend(column.as_primitive::<Int64Type>().iter().flatten());
    }
    let count = values.len();
    let clusters = clusters(values);
    if clusters.is_empty() {
        return Ok(keys(Vec::new()));
    }
    let covered: i128 = clusters.iter().map(|(lo, hi)| *hi as i128 - *lo as i128 + 1).sum();
    let span = clusters[clusters.len() - 1].1 as i128 - clusters[0].0 as i128 + 1;
    tracing::debug!(relation, column, keys = count, ranges = clusters.len(), covered = %format!("{:.3}", covered as f64 / span as f64), "key ranges");
    let typed = |v: i64| ScalarValue::Int64(Some(v)).cast_to(&data_type).map_err(df_err("key range"));
    let ranges = clusters.into_iter().map(|(lo, hi)| Ok((typed(lo)?, typed(hi)?))).collect::<Result<Vec<_>>>()?;
    Ok(keys(ranges))
}

/// The ranges of `keys`, split at the widest gaps of at least [`MIN_GAP`] (at most [`MAX_RANGES`] ranges).
fn clusters(mut keys: Vec<i64>) -> Vec<(i64, i64)> {
    if keys.len() > MAX_CLUSTERED_KEYS {
        // A first load's keys: one range, without sorting them.
        let (Some(lo), Some(hi)) = (keys.iter().min(), keys.iter().max()) else { return Vec::new() };
        return vec![(*lo, *hi)];
    }
    keys.sort_unstable();
    keys.dedup();
    let (Some(&lo), Some(&hi)) = (keys.first(), keys.last()) else { return Vec::new() };
    // The gaps worth a split, widest first; ties by position so the result does not depend on the sort.
    let mut gaps: Vec<(i128, usize)> = keys
        .windows(2)
        .enumerate()
        .map(|(i, w)| (w[1] as i128 - w[0] as i128, i))
        .filter(|(gap, _)| *gap >= MIN_GAP)
        .collect();
    gaps.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut splits: Vec<usize> = gaps.into_iter().take(MAX_RANGES - 1).map(|(_, i)| i).collect();
    splits.sort_unstable();
    let mut ranges = Vec::with_capacity(splits.len() + 1);
    let mut start = 0;
    for i in splits {
        ranges.push((keys[start], keys[i]));
        start = i + 1;
    }
    ranges.push((keys[start], hi));
    debug_assert_eq!(ranges[0].0, lo);
    ranges
}

/// The smallest and largest value of `column` in `relation` (`None` when it has no value).
async fn min_max(ctx: &SessionContext, relation: &str, column: &str) -> Result<Option<(ScalarValue, ScalarValue)>> {
    let sql = format!("SELECT min({column}), max({column}) FROM {relation}");
    let batches = ctx.sql(&sql).await.map_err(df_err("key range"))?.collect().await.map_err(df_err("key range"))?;
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else { return Ok(None) };
    let lo = ScalarValue::try_from_array(b.column(0), 0).map_err(df_err("key range"))?;
    let hi = ScalarValue::try_from_array(b.column(1), 0).map_err(df_err("key range"))?;
    Ok((!lo.is_null() && !hi.is_null()).then_some((lo, hi)))
}

/// `df`'s rows whose `column` lies in one of `ranges` (all of them without ranges). A filter of literals, which the
/// Delta scan turns into file, row group and page skipping.
pub fn within(df: DataFrame, column: &str, ranges: &Option<KeyRanges>) -> Result<DataFrame> {
    match ranges {
        Some(ranges) => df.filter(ranges.filter(column)).map_err(df_err("key range")),
        None => Ok(df),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn new_keys_and_a_few_old_ones_are_clustered_apart() {
        // 10,000 new keys at the end of a million, and three old ones spread over the table.
        let mut keys: Vec<i64> = (1_000_001..=1_010_000).collect();
        keys.extend([17, 400_000, 400_003, 812_345]);
        keys.reverse();
        assert_eq!(clusters(keys), vec![(17, 17), (400_000, 400_003), (812_345, 812_345), (1_000_001, 1_010_000)]);
    }

    #[test]
    fn dense_keys_stay_one_range_and_many_gaps_keep_the_widest() {
        assert_eq!(clusters((1..=50_000).step_by(3).collect()), vec![(1, 49_999)]);
        assert_eq!(clusters(vec![]), Vec::<(i64, i64)>::new());
        let many: Vec<i64> = (0..=MAX_CLUSTERED_KEYS as i64).rev().map(|k| k * 100_000).collect();
        assert_eq!(clusters(many), vec![(0, MAX_CLUSTERED_KEYS as i64 * 100_000)]);
        // 100 keys 10,000 apart, with one gap wider than the rest: at most MAX_RANGES ranges, the wide gap among
        // the splits, every key inside a range.
        let mut keys: Vec<i64> = (0..100).map(|i| i * 10_000).collect();
        keys.push(5_000_000);
        let ranges = clusters(keys.clone());
        assert_eq!(ranges.len(), MAX_RANGES);
        assert!(ranges.windows(2).any(|w| w[0].1 == 990_000 && w[1].0 == 5_000_000));
        assert!(keys.iter().all(|k| ranges.iter().any(|(lo, hi)| lo <= k && k <= hi)));
        assert!(ranges.windows(2).all(|w| w[0].1 < w[1].0));
    }

    #[tokio::test]
    async fn the_filter_keeps_the_keys_ranges_and_null_and_skips_the_gaps() {
        use deltalake::arrow::array::{Int32Array, RecordBatch};
        use deltalake::arrow::datatypes::{Field, Schema};
        let ctx = SessionContext::new();
        let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int32, true)]));
        let batch = |values: Vec<Option<i32>>| {
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int32Array::from(values))]).unwrap()
        };
        ctx.register_batch("keys", batch(vec![Some(2), None, Some(1), Some(100_000)])).unwrap();
        let ranges = key_ranges(&ctx, "keys", "k", true).await.unwrap().unwrap();
        assert_eq!(
            ranges.ranges(),
            &[
                (ScalarValue::Int32(Some(1)), ScalarValue::Int32(Some(2))),
                (ScalarValue::Int32(Some(100_000)), ScalarValue::Int32(Some(100_000)))
            ]
        );
        let rows =
            ctx.read_batch(batch(vec![Some(1), Some(3), Some(50_000), None, Some(100_000), Some(100_001)])).unwrap();
        let kept = within(rows, "k", &Some(ranges)).unwrap().collect().await.unwrap();
        let kept: Vec<Option<i32>> = kept
            .iter()
            .flat_map(|b| {
                b.column(0).as_primitive::<deltalake::arrow::datatypes::Int32Type>().iter().collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(kept, vec![Some(1), None, Some(100_000)]);
        // Without NULL among the keys, and with no key at all.
        let plain = key_ranges(&ctx, "keys", "k", false).await.unwrap().unwrap();
        assert_eq!(plain.bounds(), Some((&ScalarValue::Int32(Some(1)), &ScalarValue::Int32(Some(100_000)))));
        ctx.register_batch("none", batch(vec![None])).unwrap();
        assert_eq!(key_ranges(&ctx, "none", "k", false).await.unwrap(), None);
        assert_eq!(key_ranges(&ctx, "none", "k", true).await.unwrap().unwrap().bounds(), None);
    }
}
