"""Reads every Delta table under a lake directory with the Python `deltalake` package and with Polars, and prints
{layer/table: {"deltalake": rows, "polars": rows, "columns": [...]}} as JSON. Used by the jobs crate's tests to
prove the lake is readable by the tools analysts use."""

import json
import pathlib
import sys

import deltalake
import polars as pl

root = pathlib.Path(sys.argv[1])
out = {}
for log in sorted(root.glob("*/*/_delta_log")):
    table = log.parent
    key = f"{table.parent.name}/{table.name}"
    dt = deltalake.DeltaTable(str(table))
    arrow = dt.to_pyarrow_table()
    frame = pl.read_delta(str(table))
    out[key] = {"deltalake": arrow.num_rows, "polars": frame.height, "columns": frame.columns}
print(json.dumps(out))
