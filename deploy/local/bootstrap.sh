#!/usr/bin/env bash
# Installs what a fresh machine needs to build, test and demo Composerp, and nothing twice:
# Debian packages for the native build (librdkafka links OpenSSL and zlib) and for validating
# docker-compose.yml without a Docker engine, and the Tansu broker (a Kafka-protocol broker in
# Rust) built once into ~/.cache/composerp, outside the work tree.
set -euo pipefail

CACHE="${COMPOSERP_CACHE:-$HOME/.cache/composerp}"
TANSU_VERSION=0.6.0
TANSU="${COMPOSERP_TANSU:-$CACHE/tansu-$TANSU_VERSION/bin/tansu}"

need=()
for pkg in pkg-config libssl-dev zlib1g-dev make g++ docker-compose python3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -x "$TANSU" ]; then
  echo "bootstrap: building Tansu $TANSU_VERSION once into $CACHE (about 20 minutes on 2 cores)"
  mkdir -p "$CACHE"
  CARGO_TARGET_DIR="$CACHE/tansu-build" cargo install tansu --version "$TANSU_VERSION" --locked \
    --features dynostore --root "$CACHE/tansu-$TANSU_VERSION" --quiet
  rm -rf "$CACHE/tansu-build"
fi
echo "bootstrap: ready (Tansu at $TANSU)"
