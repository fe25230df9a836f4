#!/usr/bin/env bash
# The dashboard's data API on a large ledger, in one run, SQLite and then Postgres (if it
# answers):
#
#   1. fills a ledger with ROWS request rows (1,000,000) spread evenly over the last DAYS days
#      (30), four models, six providers, eight keys, ~3% failures, written directly in
#      transactions of 20,000 rows (the rollups kept as the gateway keeps them);
#   2. starts the gateway on it (release build, display currency JPY) with an admin key, sends
#      a few streamed requests so the live view has data, and times CALLS calls (50) of each
#      data endpoint over one keep-alive connection (the live stream: a new connection per
#      call, timed to its first snapshot), printing p50 and p99 (nearest rank: with 50 calls,
#      p99 is the slowest call) against the budget: every endpoint's p99 under BUDGET_MS
#      (50 ms);
#   3. the same-run baseline: spend today and this month from the rollups against the same
#      sums from the request rows, and the keys' spend this month from the rollups against one
#      row query per key (what `sluice keys list` does), in process, CALLS times each.
#
#   scripts/bench-dashboard.sh                 # Postgres: $SLUICE_TEST_POSTGRES_URL or postgres://postgres@127.0.0.1:5432/test
#   ROWS=100000 scripts/bench-dashboard.sh     # a smaller ledger
#   NO_ANALYZE=1 scripts/bench-dashboard.sh    # Postgres measured right after the bulk load
#
# The live snapshot's spend is read from the ledger at most once a second whatever the number
# of open dashboards, so most of its timed calls reuse the last read; the spend endpoints read
# the rollups on every call.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-1000000}
DAYS=${DAYS:-30}
CALLS=${CALLS:-50}
BUDGET_MS=${BUDGET_MS:-50}
PG=${SLUICE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
SQLITE_PORT=19400 PG_PORT=19401

cargo build --release -q -p sluice
cargo build --release -q -p sluice-ledger --example dashboard_ledger
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
BIN=$TARGET/release/sluice
EX=$TARGET/release/examples/dashboard_ledger
WORK=$(mktemp -d)
SCHEMA="sluice_dash_bench_$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
  psql "$PG" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
wait_port() { for _ in $(seq 200); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 did not open" >&2; exit 1; }

# Times the endpoints of the gateway on port $1 with admin key $2.
time_endpoints() {
  python3 - "$1" "$2" "$CALLS" "$BUDGET_MS" <<'PY'
import http.client, json, math, sys, time
port, token, calls, budget = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
auth = {"Authorization": f"Bearer {token}"}
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

def get(path):
    conn.request("GET", path, headers=auth)
    res = conn.getresponse()
    body = res.read()
    if res.status != 200:
        sys.exit(f"{path}: HTTP {res.status}: {body[:300]!r}")
    return body

def first_snapshot(path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path, headers=auth)
    res = c.getresponse()
    if res.status != 200:
        sys.exit(f"{path}: HTTP {res.status}")
    buf = b""
    while b"\n\n" not in buf:
        buf += res.read1(65536)
    c.close()
    return buf

def timed(name, path, call=get):
    for _ in range(3):
        call(path)
    ms = []
    for _ in range(calls):
        t = time.perf_counter()
        call(path)
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    rank = lambda q: ms[min(calls, max(1, math.ceil(q * calls))) - 1]
    p50, p99 = rank(0.5), rank(0.99)
    verdict = "ok" if p99 < budget else "OVER BUDGET"
    print(f"  {name:34} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   {verdict}")
    return p99 < budget

first_page = json.loads(get("/v1/dashboard/requests?limit=50"))
cursor = first_page["next"]
results = [
    timed("session", "/v1/dashboard/session"),
    timed("spend today", "/v1/dashboard/spend?period=today"),
    timed("spend this month", "/v1/dashboard/spend?period=month"),
    timed("requests, first page (50)", "/v1/dashboard/requests?limit=50"),
    timed("requests, second page (cursor)", f"/v1/dashboard/requests?limit=50&before={cursor}"),
    timed("requests, model + key", "/v1/dashboard/requests?limit=50&model=claude-sonnet-4&key=benchkey0003"),
    timed("requests, a rare status", "/v1/dashboard/requests?limit=50&status=rate_limited"),
    timed("keys (with spend this month)", "/v1/dashboard/keys"),
    timed("live, first snapshot", "/v1/dashboard/live", first_snapshot),
]
print(f"  budget: every p99 under {budget:g} ms: {'met' if all(results) else 'NOT met'}")
PY
}

# Prints the example's baseline line (in file $1) as a table.
show_baseline() {
  python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"  {d['rows']:,} rows, {d['calls']} calls each, in process (p50 / p99 ms):")
for name, v in d["p50_p99_ms"].items():
    (a50, a99), (b50, b99) = v["rollups"], v["rows"]
    print(f"  {name:18} rollups {a50:8.2f} / {a99:8.2f}   rows {b50:8.2f} / {b99:8.2f}"
          f"   rows/rollups x{b50 / max(a50, 1e-3):.0f} at p50")
PY
}

# One backend: fill, serve, time, baseline.
run() {
  local name=$1 url=$2 port=$3
  echo "== $name: fill $ROWS rows over $DAYS days"
  echo -n "  "; "$EX" "$url" fill "$ROWS" "$DAYS"
  if [ "$name" = SQLite ]; then
    echo "  database files: $(du -sh "$WORK"/dash.db* | awk '{print $1}' | paste -sd+ -)"
  elif [ -z "${NO_ANALYZE:-}" ]; then
    # A bulk load outruns autovacuum: without fresh statistics the planner may AND two filter
    # indexes and sort instead of walking one in order (NO_ANALYZE=1 shows it). A ledger that
    # grows as a gateway writes it is analyzed by autovacuum as it goes.
    psql "$url" -qc "ANALYZE" && echo "  ANALYZE after the bulk load"
  fi
  cat >"$WORK/$name.toml" <<TOML
ledger = "$url"
display_currency = "JPY"
[providers.mock]
kind = "mock"
[routes]
"mock" = ["mock"]
TOML
  local token
  token=$("$BIN" keys create --name bench-admin --admin --config "$WORK/$name.toml" | head -1)
  RUST_LOG=warn "$BIN" serve --config "$WORK/$name.toml" --listen 127.0.0.1:"$port" 2>"$WORK/$name.log" & pids+=($!)
  local gw=$!
  wait_port "$port"
  for _ in $(seq 20); do
    curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'content-type: application/json' \
      -d '{"model":"mock","stream":true,"messages":[{"role":"user","content":"hello"}]}' \
      "http://127.0.0.1:$port/v1/chat/completions"
  done
  echo "== $name: the gateway's data endpoints ($CALLS calls each, keep-alive, after 3 warm-up calls)"
  time_endpoints "$port" "$token"
  kill "$gw"; wait "$gw" 2>/dev/null || true
  echo "== $name: baseline, rollups against the rows"
  "$EX" "$url" compare "$CALLS" >"$WORK/$name.baseline.json"
  show_baseline "$WORK/$name.baseline.json"
}

run SQLite "sqlite://$WORK/dash.db" $SQLITE_PORT
if psql "$PG" -qc "CREATE SCHEMA $SCHEMA" >/dev/null 2>&1; then
  run Postgres "$PG?options=-csearch_path%3D$SCHEMA" $PG_PORT
else
  echo "== Postgres at $PG does not answer: not measured"
fi
