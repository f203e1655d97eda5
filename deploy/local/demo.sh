#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, and run `composerp demo`
# (a local Kafka-protocol broker, the topics, generated retail data, read back from the broker).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/bootstrap.sh
. deploy/local/env.sh
cargo build -q -p composerp
exec "$CARGO_TARGET_DIR/debug/composerp" demo --state-dir "${COMPOSERP_STATE_DIR:-$CARGO_TARGET_DIR/demo-state}" "$@"
