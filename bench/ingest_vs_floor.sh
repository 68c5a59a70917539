#!/usr/bin/env bash
# Ingestion against each engine's own tools doing the same work, side by side.
#
#   bash bench/ingest_vs_floor.sh            # datagen scale 1 (3M order_items), MariaDB and PostgreSQL
#   SCALE=0.1 TABLE=orders bash bench/ingest_vs_floor.sh
#
# For each engine it generates the app database once (amali datagen, kept between runs), then times:
#   dump    the engine's own client dumping the landing table that ingestion_from_rds then reads (the app's
#           columns plus the run id, sequence and time), in the state the stage finds it (read once before, so
#           neither pays for setting PostgreSQL's hint bits on the freshly loaded rows): mariadb -e 'SELECT * FROM
#           t' > /dev/null, psql -c 'COPY t TO STDOUT' > /dev/null       (the floor of ingestion_from_rds)
#           The dump of the app table is printed beside it (app_s): the landing table is wider, so slower to read.
#   copy    the engine's own copy pipe into a table shaped and indexed like the landing table (same columns plus
#           the run id, sequence and time): psql's binary `COPY (SELECT ...) TO STDOUT` piped into `COPY ... FROM
#           STDIN`; mariadb's batch output (`-N -B`) piped into `LOAD DATA LOCAL INFILE` (the floor of
#           read_from_app_database, which does exactly that work)
#   read    read_from_app_database: app table -> landing table (same engine), bulk load, one transaction
#   ingest  ingestion_from_rds: landing table -> bronze Delta table (parquet), commit, drain
# and prints seconds, floor/stage ratios (issue 21's target: >= 0.8 for both stages) and each stage's peak RSS
# (bounded by --batch-rows, not by the table). The machine is shared: run it twice and trust the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE="${SCALE:-1}"
TABLE="${TABLE:-order_items}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/amali-target}"
PROFILE=bench
BIN="$CARGO_TARGET_DIR/release"   # the bench profile builds into release/
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "building the stage binaries (profile $PROFILE) ..." >&2
cargo build --quiet --profile "$PROFILE" -p amali-jobs --bins

MYSQL=(mariadb -h 127.0.0.1 -u root)
PSQL=(psql -h 127.0.0.1 -U postgres -X -q)
export PGOPTIONS="-c client_min_messages=warning"
tag="$(echo "$SCALE" | tr . _)"

prepare_mariadb() {
  "${MYSQL[@]}" -e "CREATE DATABASE IF NOT EXISTS amali_bench_app_$tag; DROP DATABASE IF EXISTS amali_bench_landing; CREATE DATABASE amali_bench_landing"
  if ! "${MYSQL[@]}" -N -e "SELECT count(*) FROM amali_bench_app_$tag.$TABLE" >/dev/null 2>&1; then
    echo "generating scale $SCALE into MariaDB ..." >&2
    AMALI_LOG=warn "$BIN/amali_data" datagen --target "mysql://root@127.0.0.1:3306/amali_bench_app_$tag" --scale "$SCALE" >/dev/null
  fi
}

prepare_postgres() {
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS amali_bench_landing" -c "CREATE DATABASE amali_bench_landing"
  if ! "${PSQL[@]}" -d postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'amali_bench_app_$tag'" | grep -q 1; then
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE amali_bench_app_$tag"
  fi
  if ! "${PSQL[@]}" -d "amali_bench_app_$tag" -c "SELECT 1 FROM $TABLE LIMIT 1" >/dev/null 2>&1; then
    echo "generating scale $SCALE into PostgreSQL ..." >&2
    AMALI_LOG=warn "$BIN/amali_data" datagen --target "postgres://postgres@127.0.0.1:5432/amali_bench_app_$tag" --scale "$SCALE" >/dev/null
  fi
}

config() { # app-url landing-url
  cat > "$WORK/amali.toml" <<TOML
[pipeline]
name = "bench"
comment = "bench"

[env.bench]
region = "us-east-1"
account = "000000000000"
state_machine = "bench"
execution_timeout_seconds = 3600
runner = "lambda"
pause_function = "pause"
topics = { success = "ok", failure = "failed" }

[env.bench.data]
app_database = "$1"
landing_database = "$2"
internal_database = "sqlite://internal.db"
warehouse = "sqlite://warehouse.db"
lake = "lake"

[env.bench.data.extract.table.$TABLE]
full_refresh = true
TOML
}

# seconds and peak RSS (KiB) of a command, its output discarded
measure() {
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >/dev/null 2>"$WORK/stderr" || { cat "$WORK/stderr" >&2; return 1; }
  cat "$WORK/time"
}

stage() { # name run-id
  measure "$BIN/$1" --env bench --config "$WORK/amali.toml" --workdir "$WORK" --run-id "$2" --tables "$TABLE"
}

# seconds of a shell pipeline (the engines' own copy pipe)
measure_pipe() {
  /usr/bin/time -f "%e" -o "$WORK/time" bash -c "set -o pipefail; $1" >/dev/null 2>"$WORK/stderr" || { cat "$WORK/stderr" >&2; return 1; }
  cat "$WORK/time"
}

EXTRA="'_run_id', '_extract_seq', '_extracted_at'"

# The copy floor on MariaDB: the app table's rows through the client's batch output into LOAD DATA, into a copy of
# the landing table (its indexes included). Batch output prints NULL as the word NULL: nullable columns are read
# into variables and turned back into NULL, as LOAD DATA's documentation shows.
copy_floor_mariadb() {
  local landing=amali_bench_landing select=() targets=() sets=()
  "${MYSQL[@]}" "$landing" -e "DROP TABLE IF EXISTS floor_copy; CREATE TABLE floor_copy LIKE \`$TABLE\`"
  while IFS=$'\t' read -r name nullable; do
    select+=("$name")
    if [ "$nullable" = YES ]; then
      targets+=("@v_$name")
      sets+=("$name = NULLIF(@v_$name, 'NULL')")
    else
      targets+=("$name")
    fi
  done < <("${MYSQL[@]}" -N -e "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = '$landing' AND table_name = '$TABLE' AND column_name NOT IN ($EXTRA) ORDER BY ordinal_position")
  # (the app schema's names are plain identifiers: no quoting inside the pipeline's double quotes)
  local set=""
  [ "${#sets[@]}" -gt 0 ] && set=" SET $(IFS=,; echo "${sets[*]}")"
  local cols targ
  cols="$(IFS=,; echo "${select[*]}")"
  targ="$(IFS=,; echo "${targets[*]}")"
  measure_pipe "mariadb -h 127.0.0.1 -u root -N -B amali_bench_app_$tag -e \"SELECT $cols, 'floor', 1, NOW(6) FROM $TABLE\" \
    | mariadb -h 127.0.0.1 -u root --local-infile=1 $landing -e \"LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE floor_copy ($targ, _run_id, _extract_seq, _extracted_at)$set; SHOW WARNINGS LIMIT 1\""
  local copied
  copied="$("${MYSQL[@]}" -N "$landing" -e "SELECT count(*) FROM floor_copy")"
  [ "$copied" = "$rows" ] || { echo "the MariaDB copy floor copied $copied rows of $rows" >&2; return 1; }
  "${MYSQL[@]}" "$landing" -e "DROP TABLE floor_copy"
}

# The copy floor on PostgreSQL: binary COPY out of the app table piped into binary COPY into a copy of the landing
# table (LIKE ... INCLUDING ALL: its primary key and indexes).
copy_floor_postgres() {
  local landing=amali_bench_landing cols
  "${PSQL[@]}" -d "$landing" -c "DROP TABLE IF EXISTS floor_copy" -c "CREATE TABLE floor_copy (LIKE \"$TABLE\" INCLUDING ALL)"
  cols="$("${PSQL[@]}" -d "$landing" -tAc "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '$TABLE' AND column_name NOT IN ($EXTRA)")"
  measure_pipe "psql -h 127.0.0.1 -U postgres -X -q -d amali_bench_app_$tag -c \"COPY (SELECT $cols, 'floor'::varchar, 1::bigint, now() FROM $TABLE) TO STDOUT (FORMAT binary)\" \
    | psql -h 127.0.0.1 -U postgres -X -q -d $landing -c \"COPY floor_copy ($cols, _run_id, _extract_seq, _extracted_at) FROM STDIN (FORMAT binary)\""
  local copied
  copied="$("${PSQL[@]}" -d "$landing" -tAc "SELECT count(*) FROM floor_copy")"
  [ "$copied" = "$rows" ] || { echo "the PostgreSQL copy floor copied $copied rows of $rows" >&2; return 1; }
  "${PSQL[@]}" -d "$landing" -c "DROP TABLE floor_copy"
}

printf '\n%-10s %-12s %9s %7s %7s %7s %7s %7s %9s %7s %9s %10s\n' engine table rows app_s copy_s read_s ratio dump_s ingest_s ratio read_MiB ingest_MiB
for engine in mariadb postgres; do
  if [ "$engine" = mariadb ]; then
    prepare_mariadb
    rows="$("${MYSQL[@]}" -N -e "SELECT count(*) FROM amali_bench_app_$tag.$TABLE")"
    read -r app _ < <(measure "${MYSQL[@]}" "amali_bench_app_$tag" -e "SELECT * FROM $TABLE")
    config "mysql://root@127.0.0.1:3306/amali_bench_app_$tag" "mysql://root@127.0.0.1:3306/amali_bench_landing"
  else
    prepare_postgres
    rows="$("${PSQL[@]}" -d "amali_bench_app_$tag" -tAc "SELECT count(*) FROM $TABLE")"
    read -r app _ < <(measure "${PSQL[@]}" -d "amali_bench_app_$tag" -c "COPY $TABLE TO STDOUT")
    config "postgres://postgres@127.0.0.1:5432/amali_bench_app_$tag" "postgres://postgres@127.0.0.1:5432/amali_bench_landing"
  fi
  rm -rf "$WORK/lake"
  run="bench-$engine-$(date +%s)"
  read -r read_s read_kb < <(stage read_from_app_database "$run")
  # the landing table now exists: the copy floor loads a twin of it; the landing table is read once (untimed),
  # then dumped (timed), then drained by the stage
  copy="$(copy_floor_$engine)"
  if [ "$engine" = mariadb ]; then
    dump_landing=("${MYSQL[@]}" amali_bench_landing -e "SELECT * FROM $TABLE")
  else
    dump_landing=("${PSQL[@]}" -d amali_bench_landing -c "COPY $TABLE TO STDOUT")
  fi
  measure "${dump_landing[@]}" >/dev/null
  read -r dump _ < <(measure "${dump_landing[@]}")
  read -r ingest_s ingest_kb < <(stage ingestion_from_rds "$run")
  awk -v e="$engine" -v t="$TABLE" -v n="$rows" -v a="$app" -v d="$dump" -v c="$copy" -v r="$read_s" -v i="$ingest_s" -v rk="$read_kb" -v ik="$ingest_kb" \
    'BEGIN { printf "%-10s %-12s %9d %7.2f %7.2f %7.2f %7.2f %7.2f %9.2f %7.2f %9.0f %10.0f\n", e, t, n, a, c, r, c / r, d, i, d / i, rk / 1024, ik / 1024 }'
done
echo
echo "read ratio = copy floor / read_from_app_database; ingest ratio = landing dump / ingestion_from_rds (seconds)."
echo "Issue 21's target: both >= 0.8 on both engines."
