//! The upsert's rewrite of the files holding changed or deleted rows, without a sort of the table's rows.
//!
//! A held file's rows were written in key order, and a changed row keeps its key, so the file's new content is its
//! rows read in order, the replaced and deleted ones left out, merged with its changed rows sorted by key (a few):
//! one pass over the file, no hash join of the file's rows and no sort of them (with the copies of every column a
//! sort makes), which was a seventh of the +1 % run's CPU in the tables whose updates touch every file. Files are
//! rewritten one after the other in key order, each with the new rows (keys the table does not hold) up to its
//! largest key merged in, and the other new rows follow, sorted: the files written cover the key ranges of the ones
//! they replace. A file that was not in key order (a first load writes its partitions' batches as they come) is
//! sorted when it is first rewritten. A file is held in memory while it is rewritten: at most about [`FILE_BYTES`]
//! of Parquet, the size the writers aim at.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use deltalake::DeltaTable;
use deltalake::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use deltalake::arrow::compute::{SortOptions, cast, interleave_record_batch};
use deltalake::arrow::datatypes::{DataType, Schema, SchemaRef};
use deltalake::arrow::row::{RowConverter, Rows, SortField};
use deltalake::datafusion::prelude::SessionContext;
use deltalake::kernel::Action;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};

use super::{FILE_BYTES, from_delta};
use crate::error::{Result, StageError, df_err};

fn internal(e: impl std::fmt::Display) -> StageError {
    StageError::internal(format!("the upsert's rewrite: {e}"))
}

/// The upsert's rows to write, as [`super::Upsert`]'s join leaves them: the source's columns, then the file holding
/// the row's key (NULL: a new key) and whether the row deletes its key.
pub(super) struct Upserts<'a> {
    /// The batches.
    pub batches: &'a [RecordBatch],
    /// The key columns.
    pub keys: &'a [String],
}

/// Rewrites `files` of `table` (each holding a row of `upserts`) and appends the new rows: the `Add` actions of the
/// files written (see the module docs).
pub(super) async fn rewrite(
    ctx: &SessionContext,
    table: &DeltaTable,
    upserts: Upserts<'_>,
    files: &BTreeSet<String>,
) -> Result<Vec<Action>> {
    let mut writer = RecordBatchWriter::for_table(table)
        .map_err(|e| from_delta("open writer", e))?
        .with_writer_properties(super::writer_properties())
        .with_target_file_size(FILE_BYTES);
    let schema = writer.arrow_schema();
    let keys = KeyCodec::new(&schema, upserts.keys)?;
    // Each upsert row's key, file and action.
    let mut replaced: BTreeMap<String, HashSet<Vec<u8>>> = BTreeMap::new();
    let mut changed: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    let mut inserted: Vec<(usize, usize)> = Vec::new();
    let mut written: Vec<RecordBatch> = Vec::with_capacity(upserts.batches.len());
    let mut batch_keys: Vec<Rows> = Vec::with_capacity(upserts.batches.len());
    for (b, batch) in upserts.batches.iter().enumerate() {
        let n = batch.num_columns();
        // delta-rs gives the file as a dictionary of strings: read as plain text (a no-op if it already is).
        let file = cast(batch.column(n - 2), &DataType::Utf8).map_err(internal)?;
        let file = file.as_string_opt::<i32>().ok_or_else(|| internal("the file column"))?;
        let deleting = batch.column(n - 1).as_boolean_opt().ok_or_else(|| internal("the deletion column"))?;
        let rows = conform(batch, &schema)?;
        let encoded = keys.encode(&rows)?;
        for i in 0..batch.num_rows() {
            let delete = deleting.is_valid(i) && deleting.value(i);
            if file.is_null(i) {
                if !delete {
                    inserted.push((b, i));
                }
                continue;
            }
            let f = file.value(i);
            replaced.entry(f.to_string()).or_default().insert(encoded.row(i).as_ref().to_vec());
            if !delete {
                changed.entry(f.to_string()).or_default().push((b, i));
            }
        }
        written.push(rows);
        batch_keys.push(encoded);
    }
    if replaced.len() != files.len() {
        return Err(internal(format!("{} files hold changes, {} were found", replaced.len(), files.len())));
    }
    // Files are rewritten in the order of the first key each holds a change for.
    let mut order: Vec<(&String, &Vec<u8>)> =
        replaced.iter().filter_map(|(file, keys)| Some((file, keys.iter().min()?))).collect();
    order.sort_by(|a, b| a.1.cmp(b.1));
    let sorted = |mut at: Vec<(usize, usize)>| -> Result<RecordBatch> {
        at.sort_by(|x, y| batch_keys[x.0].row(x.1).cmp(&batch_keys[y.0].row(y.1)));
        let refs: Vec<&RecordBatch> = written.iter().collect();
        interleave_record_batch(&refs, &at).map_err(internal)
    };
    // New keys go with the file whose range holds them (keys up to its largest), the rest after the last file.
    inserted.sort_by(|x, y| batch_keys[x.0].row(x.1).cmp(&batch_keys[y.0].row(y.1)));
    let mut inserted = inserted.into_iter().peekable();
    for (file, _) in order {
        let held = read_file(ctx, table, file, &schema).await?;
        let held = deltalake::arrow::compute::concat_batches(&schema, &held).map_err(internal)?;
        let held_keys = keys.encode(&held)?;
        let gone = &replaced[file];
        let kept: Vec<usize> = (0..held.num_rows()).filter(|i| !gone.contains(held_keys.row(*i).as_ref())).collect();
        let largest = (0..held.num_rows()).map(|i| held_keys.row(i)).max();
        let mut extra = changed.remove(file.as_str()).unwrap_or_default();
        while let Some(next) = inserted.peek()
            && largest.is_some_and(|l| batch_keys[next.0].row(next.1).as_ref() <= l.as_ref())
        {
            extra.extend(inserted.next());
        }
        let extra = sorted(extra)?;
        let rows = merge(&held, &held_keys, &kept, &extra, &keys.encode(&extra)?)?;
        writer.write(rows).await.map_err(|e| from_delta("write", e))?;
    }
    let rest: Vec<(usize, usize)> = inserted.collect();
    if !rest.is_empty() {
        writer.write(sorted(rest)?).await.map_err(|e| from_delta("write", e))?;
    }
    let adds = writer.flush().await.map_err(|e| from_delta("write", e))?;
    Ok(adds.into_iter().map(Action::Add).collect())
}

/// The rows of one file of `table`, in the file's order, as `schema` types them.
async fn read_file(
    ctx: &SessionContext,
    table: &DeltaTable,
    file: &str,
    schema: &SchemaRef,
) -> Result<Vec<RecordBatch>> {
    // One partition: with more, the plan deals the file's batches out round robin and their order is lost.
    let mut state = ctx.state();
    state.config_mut().options_mut().execution.target_partitions = 1;
    let single = SessionContext::new_with_state(state);
    let provider = super::scan(table, &single).with_file_paths([file.to_string()]).await.map_err(df_err("scan"))?;
    let batches = single.read_table(provider).map_err(df_err("scan"))?.collect().await.map_err(df_err("scan"))?;
    batches.iter().filter(|b| b.num_rows() > 0).map(|b| conform(b, schema)).collect()
}

/// `batch`'s columns of `schema`, by name, cast to their types there.
fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| {
            let c = batch.column_by_name(f.name()).ok_or_else(|| internal(format!("no column {}", f.name())))?;
            if c.data_type() == f.data_type() { Ok(c.clone()) } else { cast(c, f.data_type()).map_err(internal) }
        })
        .collect::<Result<_>>()?;
    RecordBatch::try_new(schema.clone(), columns).map_err(internal)
}

/// The rows `kept` of `held` (in their order) and `extra` (sorted) merged by key into one batch; `held_keys` and
/// `extra_keys` are their keys ([`KeyCodec`]).
fn merge(
    held: &RecordBatch,
    held_keys: &Rows,
    kept: &[usize],
    extra: &RecordBatch,
    extra_keys: &Rows,
) -> Result<RecordBatch> {
    let key = |(side, i): (usize, usize)| if side == 0 { held_keys.row(i) } else { extra_keys.row(i) };
    let mut at: Vec<(usize, usize)> = Vec::with_capacity(kept.len() + extra.num_rows());
    if kept.windows(2).any(|w| held_keys.row(w[0]) > held_keys.row(w[1])) {
        // A file that was not in key order (a first load streams its partitions' batches as they come) is sorted
        // once, here: rewritten, it is in key order, and its next rewrite merges.
        at.extend(kept.iter().map(|i| (0, *i)).chain((0..extra.num_rows()).map(|j| (1, j))));
        at.sort_by(|x, y| key(*x).cmp(&key(*y)));
    } else {
        let (mut i, mut j) = (0, 0);
        while i < kept.len() || j < extra.num_rows() {
            if j == extra.num_rows() || (i < kept.len() && key((0, kept[i])) <= key((1, j))) {
                at.push((0, kept[i]));
                i += 1;
            } else {
                at.push((1, j));
                j += 1;
            }
        }
    }
    interleave_record_batch(&[held, extra], &at).map_err(internal)
}

/// Keys as byte strings that compare as the keys sort (ascending, NULL last), by Arrow's row format.
struct KeyCodec {
    converter: RowConverter,
    columns: Vec<usize>,
}

impl KeyCodec {
    fn new(schema: &Schema, keys: &[String]) -> Result<Self> {
        let columns: Vec<usize> = keys.iter().map(|k| schema.index_of(k).map_err(internal)).collect::<Result<_>>()?;
        let order = SortOptions { descending: false, nulls_first: false };
        let fields = columns.iter().map(|c| SortField::new_with_options(schema.field(*c).data_type().clone(), order));
        Ok(KeyCodec { converter: RowConverter::new(fields.collect()).map_err(internal)?, columns })
    }

    fn encode(&self, batch: &RecordBatch) -> Result<Rows> {
        let columns: Vec<ArrayRef> = self.columns.iter().map(|c| batch.column(*c).clone()).collect();
        self.converter.convert_columns(&columns).map_err(internal)
    }
}
