//! The latest version of each row: per key, the row that sorts first by an ordering (silver keeps, per primary
//! key, the bronze row with the newest `updated_at`, then the newest ingestion and extraction time).
//!
//! One hash pass over the rows in hand instead of a window function: `row_number() OVER (PARTITION BY key ORDER BY
//! ...)` sorts every row with all its columns, while most keys have one version, so here each row is hashed once,
//! the orderings are encoded only when some key was seen twice (and compared only for such keys), and the rows are
//! copied only when some key had several versions.

use std::hash::Hash;

use deltalake::arrow::array::{Array, Int64Array, RecordBatch};
use deltalake::arrow::compute::{SortOptions, interleave_record_batch};
use deltalake::arrow::row::{RowConverter, Rows, SortField};
// DataFusion's own map (hashbrown with foldhash): std's SipHash was 1% of silver's CPU here (perf, scale 1).
use deltalake::datafusion::common::HashMap;
use deltalake::datafusion::common::hash_map::Entry;

use crate::error::{Result, StageError};

/// Rows per output batch when the rows had to be picked out.
const BATCH_ROWS: usize = 8192;

/// Keeps, of the rows of `batches` that share the values of the `key` columns, the one that sorts first by the
/// `order` columns (each with its direction and NULL placement); NULL keys are equal to each other, as in SQL's
/// `PARTITION BY`. Rows that tie on the ordering keep the first one read. The rows kept stay in input order; when
/// every key is unique the batches come back as they are.
pub fn latest_per_key(
    batches: Vec<RecordBatch>,
    key: &[&str],
    order: &[(&str, SortOptions)],
) -> Result<Vec<RecordBatch>> {
    let Some(first) = batches.first() else { return Ok(batches) };
    let schema = first.schema();
    let index = |name: &str| {
        schema.index_of(name).map_err(|_| StageError::internal(format!("latest per key: no column {name}")))
    };
    let key_columns: Vec<usize> = key.iter().map(|k| index(k)).collect::<Result<_>>()?;
    let order_columns: Vec<(usize, SortOptions)> =
        order.iter().map(|(c, o)| Ok((index(c)?, *o))).collect::<Result<_>>()?;
    let encode = |columns: Vec<(usize, SortOptions)>| -> Result<Vec<Rows>> {
        let fields = columns.iter().map(|(i, o)| SortField::new_with_options(schema.field(*i).data_type().clone(), *o));
        let converter = RowConverter::new(fields.collect()).map_err(|e| StageError::internal(e.to_string()))?;
        batches
            .iter()
            .map(|b| {
                let arrays: Vec<_> = columns.iter().map(|(i, _)| b.column(*i).clone()).collect();
                converter.convert_columns(&arrays).map_err(|e| StageError::internal(e.to_string()))
            })
            .collect()
    };
    // A key of one 64-bit integer column (most primary keys) is hashed as the number; any other as its row encoding.
    let ids: Option<Vec<&Int64Array>> = match key_columns[..] {
        [k] => batches.iter().map(|b| b.column(k).as_any().downcast_ref::<Int64Array>()).collect(),
        _ => None,
    };
    let picked = match ids {
        Some(ids) => {
            let key_of = |b: usize, r: usize| ids[b].is_valid(r).then(|| ids[b].value(r));
            pick(&batches, key_of, || encode(order_columns.clone()))?
        }
        None => {
            let keys = encode(key_columns.iter().map(|i| (*i, SortOptions::default())).collect())?;
            pick(&batches, |b, r| keys[b].row(r).data(), || encode(order_columns.clone()))?
        }
    };
    let Some(mut picked) = picked else { return Ok(batches) };
    picked.sort_unstable();
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    picked
        .chunks(BATCH_ROWS)
        .map(|chunk| interleave_record_batch(&refs, chunk).map_err(|e| StageError::internal(e.to_string())))
        .collect()
}

/// The rows to keep, as (batch, row) pairs, or `None` when every key is unique. Each row is hashed once by its key;
/// the orderings are encoded (`orders`) only when some key repeats, and then compared only for the repeated keys, in
/// input order, so that of rows that tie the first one read stays.
fn pick<K: Hash + Eq>(
    batches: &[RecordBatch],
    key_of: impl Fn(usize, usize) -> K,
    orders: impl FnOnce() -> Result<Vec<Rows>>,
) -> Result<Option<Vec<(usize, usize)>>> {
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut best: HashMap<K, (u32, u32)> = HashMap::with_capacity_and_hasher(total, Default::default());
    let mut repeats: Vec<(u32, u32)> = Vec::new();
    for (b, batch) in batches.iter().enumerate() {
        for r in 0..batch.num_rows() {
            match best.entry(key_of(b, r)) {
                Entry::Vacant(v) => {
                    v.insert((b as u32, r as u32));
                }
                Entry::Occupied(_) => repeats.push((b as u32, r as u32)),
            }
        }
    }
    if repeats.is_empty() {
        return Ok(None);
    }
    let orders = orders()?;
    for (b, r) in repeats {
        let Some(held) = best.get_mut(&key_of(b as usize, r as usize)) else { continue };
        let (hb, hr) = *held;
        if orders[b as usize].row(r as usize) < orders[hb as usize].row(hr as usize) {
            *held = (b, r);
        }
    }
    Ok(Some(best.into_values().map(|(b, r)| (b as usize, r as usize)).collect()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use deltalake::arrow::array::{Array, Int64Array, StringArray};
    use deltalake::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(ids: Vec<Option<i64>>, at: Vec<Option<i64>>, tag: Vec<&str>) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("at", DataType::Int64, true),
            Field::new("tag", DataType::Utf8, false),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![Arc::new(Int64Array::from(ids)), Arc::new(Int64Array::from(at)), Arc::new(StringArray::from(tag))],
        )
        .unwrap()
    }

    fn tags(batches: &[RecordBatch]) -> Vec<String> {
        batches
            .iter()
            .flat_map(|b| {
                let a = b.column(2).as_any().downcast_ref::<StringArray>().unwrap();
                (0..a.len()).map(|i| a.value(i).to_string()).collect::<Vec<_>>()
            })
            .collect()
    }

    const NEWEST_NULLS_LAST: SortOptions = SortOptions { descending: true, nulls_first: false };

    #[test]
    fn keeps_the_newest_version_of_each_key_across_batches_in_input_order() {
        let batches = vec![
            batch(vec![Some(1), Some(2), Some(3)], vec![Some(10), Some(10), None], vec!["1a", "2a", "3a"]),
            batch(vec![Some(2), Some(1), Some(3)], vec![Some(20), Some(5), Some(1)], vec!["2b", "1b", "3b"]),
        ];
        let out = latest_per_key(batches, &["id"], &[("at", NEWEST_NULLS_LAST)]).unwrap();
        // 1: 10 beats 5; 2: 20 beats 10; 3: a value beats NULL (NULLS LAST).
        assert_eq!(tags(&out), ["1a", "2b", "3b"]);
    }

    #[test]
    fn unique_keys_come_back_untouched_and_ties_keep_the_first_row() {
        let unique = vec![batch(vec![Some(1), Some(2)], vec![Some(1), Some(1)], vec!["a", "b"])];
        let out = latest_per_key(unique.clone(), &["id"], &[("at", NEWEST_NULLS_LAST)]).unwrap();
        assert_eq!(out, unique);
        let tied = vec![batch(
            vec![Some(7), Some(7), None, None],
            vec![Some(1), Some(1), None, None],
            vec!["first", "second", "n1", "n2"],
        )];
        let out = latest_per_key(tied, &["id"], &[("at", NEWEST_NULLS_LAST)]).unwrap();
        assert_eq!(tags(&out), ["first", "n1"], "NULL keys are one key, as in PARTITION BY");
    }

    #[test]
    fn a_composite_key_and_a_second_ordering_column() {
        let schema = Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Utf8, false),
            Field::new("at", DataType::Int64, true),
        ]);
        let rows = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(vec![1, 1, 1, 1])),
                Arc::new(StringArray::from(vec!["x", "y", "x", "y"])),
                Arc::new(Int64Array::from(vec![Some(3), Some(1), Some(3), Some(2)])),
            ],
        )
        .unwrap();
        let desc = SortOptions { descending: true, nulls_first: false };
        let out = latest_per_key(vec![rows], &["a", "b"], &[("at", desc)]).unwrap();
        let at: Vec<i64> = out
            .iter()
            .flat_map(|b| b.column(2).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec())
            .collect();
        assert_eq!(at, [3, 2], "(1, x) keeps its first row of the tie at 3, (1, y) the 2");
        assert!(latest_per_key(Vec::new(), &["a"], &[]).unwrap().is_empty());
    }

    #[test]
    fn a_number_key_picks_what_the_row_encoded_key_picks() {
        // The same rows keyed by an Int64 column (hashed as numbers) and by the same values as strings (row-encoded):
        // repeated keys, NULL keys and ties on the ordering, over several batches.
        let (mut ids, mut at) = (Vec::new(), Vec::new());
        for i in 0..600i64 {
            ids.push((i % 7 != 0).then_some((i * 37) % 101));
            at.push((i % 5 != 0).then_some((i * 13) % 17));
        }
        let tag: Vec<String> = (0..600).map(|i| format!("r{i}")).collect();
        let numbers: Vec<RecordBatch> = (0..3)
            .map(|c| {
                let part = c * 200..(c + 1) * 200;
                let tags: Vec<&str> = tag[part.clone()].iter().map(String::as_str).collect();
                batch(ids[part.clone()].to_vec(), at[part].to_vec(), tags)
            })
            .collect();
        let strings: Vec<RecordBatch> = numbers
            .iter()
            .map(|b| {
                let text = deltalake::arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
                let schema = Schema::new(vec![
                    Field::new("id", DataType::Utf8, true),
                    Field::new("at", DataType::Int64, true),
                    Field::new("tag", DataType::Utf8, false),
                ]);
                RecordBatch::try_new(Arc::new(schema), vec![text, b.column(1).clone(), b.column(2).clone()]).unwrap()
            })
            .collect();
        let by_number = latest_per_key(numbers, &["id"], &[("at", NEWEST_NULLS_LAST)]).unwrap();
        let by_row = latest_per_key(strings, &["id"], &[("at", NEWEST_NULLS_LAST)]).unwrap();
        assert_eq!(tags(&by_number), tags(&by_row));
        assert_eq!(tags(&by_number).len(), 102, "101 distinct keys and NULL");
    }
}
