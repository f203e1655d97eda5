#!/usr/bin/env bash
# Reproduces the "Replenishment on one core" figures of BENCHMARKS.md: 300,000 InventoryUpdated
# records (three per item-location, 100,000 item-locations) through decode, the master-data
# tables, the (s,Q), (s,S) and min/max policies, the encoding of every trigger and the changed
# states' serialization at each batch's close (processors/replenishment/benches/evaluate.rs), in
# batches of 1,000 and of 50,000 records, with a plain Avro decode of the same records measured
# in the same round; medians of ROUNDS rounds (default 7), each from the same warmed-up state.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/composerp/target}"
ROUNDS="${ROUNDS:-7}"
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT
cargo bench -q -p composerp-replenishment --bench evaluate --no-run 2>/dev/null
REPLENISHMENT_ROUNDS="$ROUNDS" cargo bench -q -p composerp-replenishment --bench evaluate 2>/dev/null \
  | grep '^{' > "$OUT"
python3 - "$OUT" <<'PY'
import datetime, json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
mix, rounds = rows[0], rows[1:]
n = mix["updates"]
med = lambda k: statistics.median(r[k] for r in rounds)
decode = med("decode_secs")
print(f"rounds: {len(rounds)}, {mix['item_locations']:,} item-locations, {n:,} stock updates (medians)")
print(f"mix: {mix['orders'] / n:.1%} of updates ORDER, {mix['suppressed'] / n:.1%} suppressed by an open order, "
      f"{1 - (mix['orders'] + mix['suppressed']) / n:.1%} publish nothing; ORDERs by policy {mix['orders_by_policy']}")
print("| 300,000 stock updates | median s | item-locations/s | share of decode-only rate | of it in batch closes |")
print("|---|---:|---:|---:|---:|")
for b in (1_000, 50_000):
    s = med(f"secs_{b}")
    print(f"| batches of {b:,} records | {s:.2f} | {n / s:,.0f} | {decode / s:.2f} | {med(f'close_secs_{b}') / s:.0%} |")
print(f"| Avro decode only (reference) | {decode:.2f} | {n / decode:,.0f} | 1.00 | |")
best = n / med("secs_1000")
print(f"| Replenishment on one core | ≥ 300,000 item-locations/s | **{best:,.0f}** (batches of 1,000) | {datetime.date.today()} |")
PY
