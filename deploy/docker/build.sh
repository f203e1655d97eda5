#!/usr/bin/env bash
# The image's build steps without Docker (CI has no Docker engine): the Dockerfile's toolchain is
# at least the workspace's rust-version, the release build, strip, the stripped binary's size
# under a limit, and that it starts (as an unprivileged user, as in the image).
#   bash deploy/docker/build.sh          everything (a release build: long the first time)
#   bash deploy/docker/build.sh --lint   only the Dockerfile checks (fast; deploy/local/test.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
max_mib="${COMPOSERP_IMAGE_MAX_MIB:-140}"

# rust:X.Y in the Dockerfile against rust-version = "X.Y" in Cargo.toml.
want="$(sed -n 's/^rust-version = "\([0-9.]*\)"/\1/p' Cargo.toml)"
have="$(sed -n 's/^FROM rust:\([0-9.]*\)-.* AS build/\1/p' deploy/docker/Dockerfile)"
if [ -z "$have" ] || [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1)" != "$want" ]; then
    echo "image: the Dockerfile's rust:${have:-?} is older than the workspace's rust-version $want" >&2
    exit 1
fi
grep -q '^USER 10001' deploy/docker/Dockerfile || { echo "image: the runtime stage must not run as root" >&2; exit 1; }
grep -q 'strip --strip-all' deploy/docker/Dockerfile || { echo "image: the binary must be stripped" >&2; exit 1; }
echo "image: Dockerfile ok (rust:$have >= rust-version $want, non-root, stripped)"
[ "${1:-}" = "--lint" ] && exit 0

. deploy/local/env.sh
start=$(date +%s)
cargo build --release --locked -p composerp
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
strip --strip-all -o "$out/composerp" "$CARGO_TARGET_DIR/release/composerp"
chmod 755 "$out" "$out/composerp"
full=$(stat -c %s "$CARGO_TARGET_DIR/release/composerp")
size=$(stat -c %s "$out/composerp")
echo "image: release binary $((full / 1048576)) MiB with line tables, $((size / 1048576)) MiB stripped ($(( $(date +%s) - start )) s to build)"
if [ "$size" -gt $((max_mib * 1048576)) ]; then
    echo "image: the stripped binary is over $max_mib MiB" >&2
    exit 1
fi
# It starts: as the image's unprivileged user when this runs as root, with no network needed.
run=()
if [ "$(id -u)" = 0 ]; then run=(setpriv --reuid=10001 --regid=10001 --clear-groups); fi
"${run[@]}" "$out/composerp" --version
"${run[@]}" "$out/composerp" schemas check >/dev/null
echo "image: the stripped binary starts and checks its schemas"
