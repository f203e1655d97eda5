#!/usr/bin/env bash
# Every test: unit and integration tests (each starts its own Tansu broker on a free port),
# the schema compatibility check, validation of docker-compose.yml, of the Kubernetes overlays
# (deploy/k8s/check.sh) and of the alert rules and dashboard (deploy/ops/check.sh). The last line
# sums every cargo test binary's results.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/bootstrap.sh
. deploy/local/env.sh
# Debian packages some checks need beyond bootstrap.sh's: pgbouncer ({api,sinks}/tests/pgbouncer.rs) and
# prometheus (promtool, deploy/ops/check.sh). Installed once; the package postinst scripts start
# no daemon in a container.
need=()
for pkg in pgbouncer prometheus; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || echo "test: could not install ${need[*]}; the PgBouncer test and promtool checks will say so"
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --no-fail-fast 2>&1 | tee "$log" || status=$?
cargo run -q -p composerp -- schemas check --dir avro-schemas
docker-compose -f docker-compose.yml config -q
echo "docker-compose.yml: valid"
bash deploy/k8s/check.sh || status=$?
bash deploy/ops/check.sh || status=$?
bash deploy/docker/build.sh --lint || status=$?
awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
