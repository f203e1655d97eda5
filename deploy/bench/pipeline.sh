#!/usr/bin/env bash
# Reproduces the broker figures of BENCHMARKS.md: the ledger end to end against the local
# broker's raw consume rate (three runs, fresh broker each, medians), then the restore of
# 1,000,000 item-location states from the changelog and the peak RSS of that process.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/composerp/target}"
bash deploy/local/bootstrap.sh >/dev/null
cargo bench -p composerp --bench pipeline
