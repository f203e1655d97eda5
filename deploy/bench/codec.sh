#!/usr/bin/env bash
# Reproduces the codec figures of BENCHMARKS.md: criterion medians in ns/record for a 3-line
# SaleCompleted, with apache-avro's generic Value path measured in the same run as reference.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/composerp/target}"
cargo bench -p composerp-events --bench codec -- --warm-up-time 2 --measurement-time 5 >/dev/null
dir="$CARGO_TARGET_DIR/criterion/sale_completed_3_lines"
median() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['median']['point_estimate'])" "$dir/$1/new/estimates.json"; }
python3 - "$(median decode)" "$(median decode_v1_resolved)" "$(median decode_generic_value_baseline)" \
          "$(median encode)" "$(median encode_generic_value_baseline)" "$(median decode_read_deser_baseline)" <<'PY'
import sys
d, r, dg, e, eg, dd = map(float, sys.argv[1:])
print("| SaleCompleted, 3 lines | median ns/record | records/s | vs generic Value path |")
print("|---|---:|---:|---:|")
for name, v, base in [("decode (writer = reader schema)", d, dg), ("decode v1 bytes into v2 type (resolved)", r, dg),
                      ("decode, apache-avro read_deser", dd, dg),
                      ("decode, apache-avro generic Value + from_value", dg, dg), ("encode", e, eg),
                      ("encode, apache-avro to_value + write_value", eg, eg)]:
    print(f"| {name} | {v:,.0f} | {1e9/v:,.0f} | {base/v:.2f}x |")
PY
