"""The peers of silver_transformation + gold_transformation: the same SQL on the same bronze files, run by DuckDB
or by PySpark in local mode (the engine of the Glue jobs amali replaces). bench/transform_vs_peers.sh runs it.

    python bench/peers.py files LAKE > files.json                  # the active parquet files of each bronze table
    python bench/peers.py duckdb|spark FILES SQL MODELS DATE OUT   # run it (timed from outside)

SQL is the output of `silver_transformation --print-sql` (one {"table", "sql"} object per line: the conformed
tables over `bronze_<table>`, then the silver data products); MODELS is jobs/models/gold. Each table is
materialised and written to OUT as parquet, as amali writes each table to the lake; a statement an engine cannot
run stops the benchmark (no engine skips work). Dialect: DuckDB runs the SQL as it is; Spark gets `"identifiers"`
as backticks, `unnest(generate_series(...))` as `explode(sequence(...))`, `array_to_string` as `array_join` and
`date_part('epoch', x)` as `unix_micros(x) / 1e6`, nothing else.
"""

import glob
import json
import os
import re
import sys


def active_files(lake):
    from deltalake import DeltaTable

    out = {}
    for path in sorted(glob.glob(os.path.join(lake, "bronze", "*", "_delta_log"))):
        table = os.path.basename(os.path.dirname(path))
        files = DeltaTable(os.path.dirname(path)).file_uris()
        if files:
            out[table] = [f.removeprefix("file://") for f in files]
    return out


def statements(sql_file, models_dir, logical_date):
    with open(sql_file) as f:
        for line in f:
            if line.strip():
                item = json.loads(line)
                yield item["table"], item["sql"]
    for path in sorted(glob.glob(os.path.join(models_dir, "*.sql"))):
        name = os.path.basename(path)[: -len(".sql")]
        with open(path) as f:
            yield name, f.read().replace("{{logical_date}}", logical_date)


def run_duckdb(files, stmts, out):
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 2")
    for table, paths in files.items():
        con.execute(f'CREATE VIEW "bronze_{table}" AS SELECT * FROM read_parquet({paths!r})')
    for table, sql in stmts:
        try:
            con.execute(f'CREATE TABLE "{table}" AS {sql}')
        except duckdb.Error as e:
            sys.exit(f"duckdb cannot run {table}: {e}")
        con.execute(f"COPY \"{table}\" TO '{os.path.join(out, table)}.parquet' (FORMAT parquet)")


def spark_dialect(sql):
    sql = re.sub(r'"([A-Za-z_][A-Za-z0-9_]*)"', r"`\1`", sql)
    sql = re.sub(r"unnest\(generate_series\(", "explode(sequence(", sql)
    sql = sql.replace("array_to_string(", "array_join(")
    sql = re.sub(r"date_part\('epoch', ([A-Za-z_.]+)\)", r"(unix_micros(\1) / 1000000.0)", sql)
    return sql.replace("INTERVAL '1 day'", "INTERVAL 1 DAY")


def run_spark(files, stmts, out):
    from pyspark.sql import SparkSession
    from pyspark.sql.utils import AnalysisException

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("amali-bench")
        .config("spark.driver.memory", "4g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    for table, paths in files.items():
        spark.read.parquet(*paths).createOrReplaceTempView(f"bronze_{table}")
    for table, sql in stmts:
        try:
            df = spark.sql(spark_dialect(sql))
        except AnalysisException as e:
            spark.stop()
            sys.exit(f"spark cannot run {table}: {e}".splitlines()[0])
        path = os.path.join(out, table)
        df.write.mode("overwrite").parquet(path)
        spark.read.parquet(path).createOrReplaceTempView(table)
    gateway = spark.sparkContext._gateway
    spark.stop()
    # Reap the JVM so that its CPU time and memory are counted with ours: it exits when its stdin closes.
    proc = getattr(gateway, "proc", None)
    gateway.shutdown()
    if proc is not None:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait()


def main(argv):
    if argv[1:2] == ["files"]:
        json.dump(active_files(argv[2]), sys.stdout)
        return
    engine, files_json, sql_file, models_dir, logical_date, out = argv[1:7]
    with open(files_json) as f:
        files = json.load(f)
    os.makedirs(out, exist_ok=True)
    stmts = list(statements(sql_file, models_dir, logical_date))
    {"duckdb": run_duckdb, "spark": run_spark}[engine](files, stmts, out)


if __name__ == "__main__":
    main(sys.argv)
