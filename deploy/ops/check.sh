#!/usr/bin/env bash
# Checks the monitoring files: the alert rules parse (`promtool check rules`) and pass their unit
# tests (`promtool test rules`); every dashboard query parses as PromQL; every Composerp metric
# the rules and the dashboard name is one the code emits. promtool comes from Debian's
# prometheus package, installed if missing; without it the PromQL checks are skipped, loudly.
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd ../.. && pwd)"

# Metric names must exist in the code (histograms add _bucket, _sum, _count).
missing=0
for m in $(grep -ohE 'composerp_[a-z_]+' alerts.yml dashboard.json | sed -E 's/_(bucket|sum|count)$//' | sort -u); do
    if ! grep -rqF "\"$m\"" "$root"/processors "$root"/sinks "$root"/api "$root"/kafka "$root"/app/src; then
        echo "ops: $m is not a metric the code emits" >&2
        missing=1
    fi
done
[ "$missing" = 0 ] || exit 1
python3 -c 'import json, sys; d = json.load(open("dashboard.json")); assert d["panels"], "no panels"'

if ! command -v promtool >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1; } \
            || true
    fi
fi
if ! command -v promtool >/dev/null; then
    echo "ops: SKIPPED the PromQL checks: promtool is not installed and Debian's prometheus package could not be installed"
    exit 0
fi
promtool check rules alerts.yml
promtool test rules alerts.test.yml
# The dashboard's queries, as recording rules, so promtool parses each ($__rate_interval is
# Grafana's; any duration parses the same).
queries="$(mktemp)"
trap 'rm -f "$queries"' EXIT
python3 - "$queries" <<'PY'
import json, sys
d = json.load(open("dashboard.json"))
with open(sys.argv[1], "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for p in d["panels"]:
        for t in p["targets"]:
            expr = t["expr"].replace("$__rate_interval", "5m")
            out.write(f"      - record: dashboard:panel_{p['id']}_{t['refId']}\n        expr: {json.dumps(expr)}\n")
PY
promtool check rules "$queries" >/dev/null
echo "ops: alert rules, their unit tests and $(grep -c '"expr"' dashboard.json) dashboard queries pass"
