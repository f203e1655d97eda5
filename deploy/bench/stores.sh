#!/usr/bin/env bash
# Reproduces the state store comparison of BENCHMARKS.md: redb, fjall and RocksDB under the
# engine's write pattern, 1,000,000 states, three runs each (deploy/bench/stores/src/main.rs).
# A crate of its own, so RocksDB's C++ build (bindgen needs libclang) stays out of the project's
# builds; it is built once into ~/.cache/composerp/stores-target (about 15 minutes on 2 cores).
# STORES_STATES and STORES_RUNS change the size; the stores go under COMPOSERP_STATE_DIR if set.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! dpkg -s libclang-dev >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libclang-dev >/dev/null
fi
export CARGO_TARGET_DIR="${COMPOSERP_STORES_TARGET:-$HOME/.cache/composerp/stores-target}"
cargo run --release --quiet --manifest-path deploy/bench/stores/Cargo.toml
