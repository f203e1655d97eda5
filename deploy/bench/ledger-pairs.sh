#!/usr/bin/env bash
# The ledger on one core (deploy/bench/ledger.sh), this checkout against an earlier commit, run
# by run: A B A B …, so the machine's drift hits both alike. Prints each run's sale lines/s (one
# batch of 20,000 receipts) and its share of the decode-only rate measured in the same run, then
# the medians of each build.
#
#   bash deploy/bench/ledger-pairs.sh BASE_REV [PAIRS]     (PAIRS: 4 by default)
#
# BASE_REV's bench is built in a temporary worktree with a target directory of its own
# ($CARGO_TARGET_DIR-base, kept for the next comparison): cargo names a workspace crate's
# artifacts by its path inside the workspace, so a second checkout sharing the target directory
# can leave its build to be taken as this checkout's.
set -euo pipefail
cd "$(dirname "$0")/../.."
base="${1:?usage: ledger-pairs.sh BASE_REV [PAIRS]}"
pairs="${2:-4}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/composerp/target}"
work="$(mktemp -d)"
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

bench_of() { cargo bench -p composerp-ledger --bench driver --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p'; }
git worktree add --detach -q "$work/base" "$base"
cp "$(cd "$work/base" && CARGO_TARGET_DIR="$CARGO_TARGET_DIR-base" bench_of)" "$work/bench-base"
cp "$(bench_of)" "$work/bench-head"

dir="$CARGO_TARGET_DIR/criterion/ledger_one_core"
median() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['median']['point_estimate'])" "$dir/$1/new/estimates.json"; }
for ((i = 1; i <= pairs; i++)); do
  for build in base head; do
    "$work/bench-$build" --bench --warm-up-time 3 --measurement-time 10 >/dev/null 2>&1
    big="$(median sale_lines_batches_of_20000)"
    decode="$(median decode_only_baseline)"
    line="$(python3 -c "import sys;b,d=map(float,sys.argv[1:]);print(f'{60000/(b/1e9):.0f} {d/b:.3f}')" "$big" "$decode")"
    echo "pair $i $build: sale lines/s ${line% *}, share of decode-only ${line#* }"
    echo "$build $line" >>"$work/runs"
  done
done
python3 - "$work/runs" <<'PY'
import statistics, sys
runs = [line.split() for line in open(sys.argv[1])]
for build in ("base", "head"):
    rate = [float(r[1]) for r in runs if r[0] == build]
    share = [float(r[2]) for r in runs if r[0] == build]
    print(f"{build}: median {statistics.median(rate):,.0f} sale lines/s, "
          f"share of decode-only {statistics.median(share):.3f}, over {len(rate)} runs")
PY
