#!/usr/bin/env bash
# Reproduces the "ledger on one core" figures of BENCHMARKS.md: criterion medians of 20,000
# three-line receipts (60,000 sale lines) through decode, the ledger, output encoding and the
# fjall store, in one batch of all 20,000 records (as the engine batches them) and of 4,000, with a plain
# Avro decode of the same receipts measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/composerp/target}"
cargo bench -p composerp-ledger --bench driver -- --warm-up-time 3 --measurement-time 20 >/dev/null
dir="$CARGO_TARGET_DIR/criterion/ledger_one_core"
median() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['median']['point_estimate'])" "$dir/$1/new/estimates.json"; }
python3 - "$(median sale_lines_batches_of_20000)" "$(median sale_lines_batches_of_4000)" "$(median decode_only_baseline)" <<'PY'
import sys
big, small, decode = map(float, sys.argv[1:])
lines = 60_000
print("| 20,000 receipts, 60,000 sale lines | median ms | sale lines/s | share of decode-only rate |")
print("|---|---:|---:|---:|")
print(f"| batches of 20,000 records | {big/1e6:,.1f} | {lines/(big/1e9):,.0f} | {decode/big:.2f} |")
print(f"| batches of 4,000 records | {small/1e6:,.1f} | {lines/(small/1e9):,.0f} | {decode/small:.2f} |")
print(f"| Avro decode only (reference) | {decode/1e6:,.1f} | {lines/(decode/1e9):,.0f} | 1.00 |")
PY
