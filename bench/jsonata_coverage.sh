#!/usr/bin/env bash
# How much of the JSONata reference test suite the interpreter's JSONata engine (the jsonata-rs crate) covers.
# jsonata-rs ships the reference suite (tests/testsuite/groups) and lists the cases it does not pass yet
# (tests/testsuite/skip); this counts both from the exact crate version in Cargo.lock, per group.
# Usage: bash bench/jsonata_coverage.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(cargo metadata --format-version 1 --locked 2>/dev/null |
  python3 -c 'import json,sys; m=json.load(sys.stdin); print(next(p["manifest_path"] for p in m["packages"] if p["name"]=="jsonata-rs").rsplit("/",1)[0])')
suite="$dir/tests/testsuite"
passing=$(find "$suite/groups" -name '*.json' | wc -l)
skipped=$(find "$suite/skip" -name '*.json' | wc -l)
total=$((passing + skipped))
echo "jsonata-rs $(basename "$dir" | sed 's/jsonata-rs-//'): $passing of $total reference cases pass ($((100 * passing / total))%); $skipped are not supported yet."
echo
echo "Not supported, by group (cases):"
find "$suite/skip" -name '*.json' | sed "s|$suite/skip/||" | cut -d/ -f1 | sort | uniq -c | sort -rn | awk '{printf "  %-32s %s\n", $2, $1}'
