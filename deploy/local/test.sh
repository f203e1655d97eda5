#!/usr/bin/env bash
# Every test: unit and integration tests (each starts its own Tansu broker on a free port),
# the schema compatibility check, and validation of docker-compose.yml.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/bootstrap.sh
. deploy/local/env.sh
cargo test --workspace --no-fail-fast
cargo run -q -p composerp -- schemas check --dir avro-schemas
docker-compose -f docker-compose.yml config -q
echo "docker-compose.yml: valid"
