#!/usr/bin/env bash
# Ingestion against the raw read floor of each engine, side by side.
#
#   bash bench/ingest_vs_floor.sh            # datagen scale 1 (3M order_items), MariaDB and PostgreSQL
#   SCALE=0.1 TABLE=orders bash bench/ingest_vs_floor.sh
#
# For each engine it generates the app database once (amali datagen, kept between runs), then times:
#   floor   the engine's own client dumping the table: mysql -e 'SELECT * FROM t' > /dev/null,
#           psql -c 'COPY t TO STDOUT' > /dev/null
#   read    read_from_app_database: app table -> landing table (same engine), bulk load, one transaction
#   ingest  ingestion_from_rds: landing table -> bronze Delta table (parquet), commit, drain
# and prints seconds, floor/stage ratios (the target: >= 0.5) and each stage's peak RSS (target: < 1 GiB,
# bounded by --batch-rows, not by the table). The machine is shared: run it twice and trust the ratios.
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

printf '\n%-10s %-12s %9s %9s %7s %9s %7s %10s %10s\n' engine table rows floor_s read_s ratio ingest_s ratio read_MiB ingest_MiB
for engine in mariadb postgres; do
  if [ "$engine" = mariadb ]; then
    prepare_mariadb
    rows="$("${MYSQL[@]}" -N -e "SELECT count(*) FROM amali_bench_app_$tag.$TABLE")"
    read -r floor _ < <(measure "${MYSQL[@]}" "amali_bench_app_$tag" -e "SELECT * FROM $TABLE")
    config "mysql://root@127.0.0.1:3306/amali_bench_app_$tag" "mysql://root@127.0.0.1:3306/amali_bench_landing"
  else
    prepare_postgres
    rows="$("${PSQL[@]}" -d "amali_bench_app_$tag" -tAc "SELECT count(*) FROM $TABLE")"
    read -r floor _ < <(measure "${PSQL[@]}" -d "amali_bench_app_$tag" -c "COPY $TABLE TO STDOUT")
    config "postgres://postgres@127.0.0.1:5432/amali_bench_app_$tag" "postgres://postgres@127.0.0.1:5432/amali_bench_landing"
  fi
  rm -rf "$WORK/lake"
  run="bench-$engine-$(date +%s)"
  read -r read_s read_kb < <(stage read_from_app_database "$run")
  read -r ingest_s ingest_kb < <(stage ingestion_from_rds "$run")
  awk -v e="$engine" -v t="$TABLE" -v n="$rows" -v f="$floor" -v r="$read_s" -v i="$ingest_s" -v rk="$read_kb" -v ik="$ingest_kb" \
    'BEGIN { printf "%-10s %-12s %9d %9.2f %9.2f %7.2f %9.2f %7.2f %10.0f %10.0f\n", e, t, n, f, r, f / r, i, f / i, rk / 1024, ik / 1024 }'
done
echo
echo "ratio = floor seconds / stage seconds (>= 0.5 means the stage is at least half as fast as the engine's own dump)"
