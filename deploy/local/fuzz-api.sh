#!/usr/bin/env bash
# Fuzzes the API (reads and writes) from its own OpenAPI document with Schemathesis (PyPI), once
# per role (viewer, planner, admin; ROLES overrides): every check, so a 500, an undocumented
# status or a body outside its schema fails the run. Uses a database of its
# own on the server of DATABASE_URL, seeded with a few rows of two tenants, and a local Tansu
# broker for the writes; both are gone after.
# MAX_EXAMPLES per operation (default 100).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/bootstrap.sh
. deploy/local/env.sh
CACHE="${COMPOSERP_CACHE:-$HOME/.cache/composerp}"
VENV="$CACHE/venv"
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q schemathesis==4.32.5
fi
cargo build -q -p composerp
BIN="$CARGO_TARGET_DIR/debug/composerp"
SERVER="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
DB="composerp_fuzz_$$"
URL="$(python3 -c 'import sys, urllib.parse as u; p = u.urlparse(sys.argv[1]); print(p._replace(path="/" + sys.argv[2]).geturl())' "$SERVER" "$DB")"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
KPORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
TANSU="${COMPOSERP_TANSU:-$CACHE/tansu-0.6.0/bin/tansu}"
api_pid=""
broker_pid=""
cleanup() {
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null || true
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null || true
  psql "$SERVER" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null || true
  [ -n "${WORK:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT
psql "$SERVER" -qc "CREATE DATABASE $DB"
DATABASE_URL="$URL" "$BIN" migrate
psql "$URL" -q <<'SQL'
INSERT INTO inventory.positions
SELECT t, 's' || l, 'i' || i, 1, l * i, 0, 0, 0, 0, 0, l * i, l * i, l * i, 1.5, l * i * 1.5,
       10, false, false, false, gen_random_uuid(), gen_random_uuid(), now()
FROM unnest(ARRAY['fuzz', 'other']) t, generate_series(1, 3) l, generate_series(1, 5) i;
INSERT INTO inventory.transactions
SELECT tenant_id, gen_random_uuid(), location_id, item_id, 'SSLE', 'RECEIPT', gen_random_uuid(), 1,
       'PO-1', 1, on_hand, on_hand, 1.5, 1.5, stock_value, stock_value, false, false, false, false,
       now()
FROM inventory.positions;
INSERT INTO catalog.items
SELECT t, 'i' || i, 'SKU' || i, 'Item ' || i, 'food', 'EACH', 0, 1.5, true, '{"color": "red"}',
       gen_random_uuid(), now()
FROM unnest(ARRAY['fuzz', 'other']) t, generate_series(1, 5) i;
INSERT INTO catalog.locations
SELECT t, 's' || l, 'Store ' || l, 'STORE', 'UTC', true, NULL, gen_random_uuid(), now()
FROM unnest(ARRAY['fuzz', 'other']) t, generate_series(1, 3) l;
INSERT INTO catalog.suppliers VALUES ('fuzz', 'sup1', 'Supplier', 'a@b.example', NULL, 'EUR', true,
       NULL, gen_random_uuid(), now());
SQL
# A broker of its own: writes are published (nothing consumes them here).
RUST_LOG=warn "$TANSU" broker --listener-url "tcp://127.0.0.1:$KPORT" \
  --advertised-listener-url "tcp://127.0.0.1:$KPORT" --storage-engine memory://tansu/ --silent \
  >/dev/null 2>&1 &
broker_pid=$!
export KAFKA_BROKERS="127.0.0.1:$KPORT"
for _ in $(seq 1 50); do
  (echo >"/dev/tcp/127.0.0.1/$KPORT") 2>/dev/null && break
  sleep 0.2
done
"$BIN" topics apply >/dev/null
export COMPOSERP_JWT_HS256_SECRET="fuzz-$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
export DATABASE_URL="$URL"
"$BIN" api serve --listen "127.0.0.1:$PORT" --rate-per-caller 100000 --rate-per-tenant 100000 \
  --failures-per-address 100000 --failures-per-identity 100000 &
api_pid=$!
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
  sleep 0.2
done
# Schemathesis keeps a cache in its working directory: give it one outside the work tree.
WORK="$(mktemp -d)"
ROOT="$PWD"
cd "$WORK"
for role in ${ROLES:-viewer planner admin}; do
  echo "== as $role"
  TOKEN="$("$BIN" --tenant fuzz api token --role "$role")"
  "$VENV/bin/schemathesis" --config-file "$ROOT/deploy/local/schemathesis.toml" \
    run "http://127.0.0.1:$PORT/openapi.json" --checks all --max-examples "${MAX_EXAMPLES:-100}" \
    --header "Authorization: Bearer $TOKEN"
done
