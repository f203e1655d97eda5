# Shared by the local scripts: build output lives outside the work tree and is reused.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/composerp/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
