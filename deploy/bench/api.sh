#!/usr/bin/env bash
# Latency of the positions endpoints with 1,000,000 positions under a fixed-rate loopback load
# (BENCHMARKS.md, "API"). Installs oha once into ~/.cache/composerp/oha. BENCH_RATE (default
# 2000 requests/s), BENCH_SECONDS (default 20), BENCH_PGBOUNCER_POOL, BENCH_PGBOUNCER_SETTINGS
# (see api/benches/positions.rs); DATABASE_URL names the Postgres server.
set -euo pipefail
cd "$(dirname "$0")/../.."
. deploy/local/env.sh
OHA_ROOT="${COMPOSERP_CACHE:-$HOME/.cache/composerp}/oha"
if [ ! -x "$OHA_ROOT/bin/oha" ]; then
  CARGO_TARGET_DIR="$OHA_ROOT-build" cargo install oha --version 1.16.0 --locked --root "$OHA_ROOT" --quiet
  rm -rf "$OHA_ROOT-build"
fi
OHA="$OHA_ROOT/bin/oha" cargo bench -q -p composerp-api --bench positions
