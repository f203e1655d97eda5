#!/usr/bin/env bash
# The Postgres sink's write path against a plain COPY of the same rows, in the same run
# (BENCHMARKS.md, "Sink"). BENCH_ROWS rows per table per run (default 200,000), BENCH_RUNS runs
# (default 5), BENCH_VERSIONS consecutive versions per position (default 1); DATABASE_URL names
# the server (a fresh database is created and dropped).
set -euo pipefail
cd "$(dirname "$0")/../.."
. deploy/local/env.sh
cargo bench -q -p composerp-sinks --bench write
