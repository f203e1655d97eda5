#!/usr/bin/env bash
# Reproduces the "Replenishment simulation" figures of BENCHMARKS.md.
# 1. Speed: `composerp simulate` of ITEMS (1,000) item-locations x 90 days x 30 replications
#    for one policy on smooth demand, RUNS (3) times; prints the median wall time.
# 2. The table: every policy on smooth and intermittent demand at the 95 % target (and TARGETS,
#    default 0.95), with the chart written to docs/simulation.svg.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/composerp/target}"
ITEMS="${ITEMS:-1000}"
RUNS="${RUNS:-3}"
TARGETS="${TARGETS:-0.95}"
cargo build -q --release -p composerp
BIN="$CARGO_TARGET_DIR/release/composerp"
times=()
for _ in $(seq "$RUNS"); do
  start=$(date +%s.%N)
  "$BIN" simulate --days 90 --replications 30 --items "$ITEMS" --policy sQ --mix smooth >/dev/null
  end=$(date +%s.%N)
  times+=("$(echo "$end - $start" | bc)")
done
printf '%s\n' "${times[@]}" | sort -n | awk -v n="$RUNS" -v items="$ITEMS" \
  '{a[NR]=$1} END {printf "simulate: %d item-locations x 90 days x 30 replications, (s,Q), median of %d: %.1f s\n", items, n, a[int((n+1)/2)]}'
"$BIN" simulate --days 90 --replications 30 --items "$ITEMS" --service-level "$TARGETS" \
  --chart docs/simulation.svg
