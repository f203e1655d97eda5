#!/usr/bin/env bash
# Reproduces the "Forecasting" figures of BENCHMARKS.md: `app/benches/forecast.rs` (auto over
# the seven models on N series x 365 days, the processors' end-of-day run on N item-locations
# with the ledger streaming beside it, state per item-location, backfill from Parquet) and the
# statsforecast peer on the same series (deploy/bench/forecast_peer.py, in a venv made outside the
# tree), run by run, A B A B; medians of RUNS runs (default 3). FORECAST_SERIES sets N (100,000).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/composerp/target}"
N="${FORECAST_SERIES:-100000}"
RUNS="${RUNS:-3}"
VENV="${COMPOSERP_BENCH_VENV:-$HOME/.cache/composerp/venv-forecast}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import statsforecast" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q statsforecast==2.1.1
fi
cargo bench -q -p composerp --bench forecast --no-run 2>/dev/null
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
for _ in $(seq "$RUNS"); do
  FORECAST_SERIES="$N" FORECAST_OUT="$OUT" cargo bench -q -p composerp --bench forecast 2>/dev/null \
    | grep '^{' >> "$OUT/rust.jsonl"
  "$VENV/bin/python" deploy/bench/forecast_peer.py "$OUT" "$N" >> "$OUT/peer.jsonl"
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
out = sys.argv[1]
rust = [json.loads(l) for l in open(f"{out}/rust.jsonl")]
peer = [json.loads(l) for l in open(f"{out}/peer.jsonl")]
med = lambda k, rows=rust: statistics.median(r[k] for r in rows)
n = rust[0]["series"]
ours, theirs = med("models_auto_secs"), med("peer_auto_secs", peer)
print(f"runs: {len(rust)}, series: {n:,} x {rust[0]['days']} days (medians)")
print("| measure | value |")
print("|---|---:|")
print(f"| auto over 7 models, horizon 28, 95 % interval, one thread | {ours:.2f} s ({med('models_auto_us_per_series'):.1f} us/series) |")
print(f"| statsforecast 2.1.1, same models and selection, same series | {theirs:.2f} s |")
print(f"| ratio (statsforecast / Composerp) | {theirs / ours:.1f}x |")
print(f"| largest relative difference of six shared models' forecasts | {max(p['peer_max_rel_diff'] for p in peer):.1e} |")
print(f"| end of day: forecasting processor, {med('eod_forecasts'):,.0f} item-locations | {med('eod_secs'):.2f} s |")
print(f"| end of day: demand-features processor | {med('features_eod_secs'):.2f} s |")
print(f"| backfill seeding the same histories into forecasting | {med('seed_secs'):.2f} s |")
print(f"| ledger sale lines/s on another thread, before the end of day | {med('ledger_lines_per_sec_quiet'):,.0f} |")
print(f"| ledger sale lines/s during the end of day | {med('ledger_lines_per_sec_during_eod'):,.0f} |")
print(f"| demand-features sale lines/s on a third thread, before the end of day | {med('features_lines_per_sec_quiet'):,.0f} |")
print(f"| demand-features sale lines/s during the end of day | {med('features_lines_per_sec_during_eod'):,.0f} |")
fs, ds = rust[-1]["forecasting_state_bytes_median_max"], rust[-1]["features_state_bytes_median_max"]
print(f"| state per item-location at 182 days, forecasting (median / max) | {fs[0]:.0f} / {fs[1]} bytes |")
print(f"| state per item-location at 182 days, demand-features (median / max) | {ds[0]:.0f} / {ds[1]} bytes |")
print(f"| backfill: {rust[0]['backfill_sale_lines']:,} sale lines, Parquet to seeded state | {med('backfill_lines_per_sec'):,.0f} lines/s ({med('backfill_secs'):.2f} s) |")
PY
