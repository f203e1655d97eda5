#!/usr/bin/env bash
# End to end, this checkout against an earlier commit, run by run: A B A B … on fresh brokers,
# the same harness (app/benches/pipeline.rs) timing both `composerp` binaries, so the
# machine's drift hits both alike. Prints each run's line and the median ratio of each build.
#
#   bash deploy/bench/pairs.sh BASE_REV [PAIRS]     (PAIRS: 5 by default)
#
# BASE_REV is built in a temporary worktree with a target directory of its own
# ($CARGO_TARGET_DIR-base, kept for the next comparison): cargo names a workspace crate's
# artifacts by its path inside the workspace, so a second checkout sharing the target directory
# can leave its build to be taken as this checkout's.
set -euo pipefail
cd "$(dirname "$0")/../.."
base="${1:?usage: pairs.sh BASE_REV [PAIRS]}"
pairs="${2:-5}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/composerp/target}"
bash deploy/local/bootstrap.sh >/dev/null
work="$(mktemp -d)"
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

git worktree add --detach -q "$work/base" "$base"
(cd "$work/base" && CARGO_TARGET_DIR="$CARGO_TARGET_DIR-base" cargo build -q --release -p composerp)
cp "$CARGO_TARGET_DIR-base/release/composerp" "$work/composerp-base"
cargo build -q --release -p composerp
cp "$CARGO_TARGET_DIR/release/composerp" "$work/composerp-head"
bench="$(cargo bench -p composerp --bench pipeline --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p')"

for ((i = 1; i <= pairs; i++)); do
  for build in base head; do
    line="$(PIPELINE_BIN="$work/composerp-$build" PIPELINE_RUNS=1 PIPELINE_NO_RESTORE=1 \
      "$bench" --bench 2>&1 >/dev/null | grep '^run 0:')"
    echo "pair $i $build: ${line#run 0: }"
    echo "$build ${line}" >>"$work/runs"
  done
done
for build in base head; do
  grep "^$build " "$work/runs" | sed -E 's/.*ratio ([0-9.]+);.*/\1/' | sort -n |
    awk -v b="$build" '{ v[NR] = $1 } END { printf "%s: median ratio to raw consume %.2f over %d runs\n", b, v[int((NR + 1) / 2)], NR }'
done
