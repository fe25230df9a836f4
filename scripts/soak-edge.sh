#!/usr/bin/env bash
# Soak of the gateway's edges: normal streaming traffic (30 streams at a time, a provider that
# fails 10% of its requests, with fallback) while scripts/abuse.py attacks it the whole time:
# heads a byte at a time, idle sockets, stalled bodies, malformed and non-JSON posts, streams
# dropped mid-way, 1,000 streams hung up at once every minute, requests over the simulated
# provider's caps. Checks at the end: resident memory over time, no stream left open, no panic,
# and every request whose head reached the gateway has exactly one ledger row.
#
#   SOAK=10m scripts/soak-edge.sh        # needs python3
set -euo pipefail
cd "$(dirname "$0")/.."

SOAK=${SOAK:-10m}
FLAKY_PORT=19140 HEALTHY_PORT=19141 GW_PORT=19142
secs=$(python3 -c "import re,sys; t=sys.argv[1]; m={'s':1,'m':60,'h':3600}; print(sum(int(n)*m[u] for n,u in re.findall(r'(\d+)([smh])', t)))" "$SOAK")

cargo build --release -q
BIN=$PWD/target/release/sluice
WORK=$(mktemp -d)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 did not open" >&2; exit 1; }

taskset -c 1 "$BIN" mock-upstream --listen 127.0.0.1:$FLAKY_PORT --ttft 20ms --itl 5ms --tokens 40 --fail-percent 10 2>/dev/null & pids+=($!)
taskset -c 1 "$BIN" mock-upstream --listen 127.0.0.1:$HEALTHY_PORT --ttft 20ms --itl 5ms --tokens 40 2>/dev/null & pids+=($!)
cat >"$WORK/sluice.toml" <<TOML
ledger = "sqlite://$WORK/ledger.db"
[server]
header_timeout = "3s"
body_timeout = "3s"
idle_timeout = "10s"
[providers.flaky]
kind = "openai"
base_url = "http://127.0.0.1:$FLAKY_PORT/v1"
timeouts = { idle = "2s", first_token = "5s", total = "60s" }
[providers.healthy]
kind = "openai"
base_url = "http://127.0.0.1:$HEALTHY_PORT/v1"
[routes]
"mock" = [{ provider = "flaky", model = "mock" }, { provider = "healthy", model = "mock" }]
[retry]
attempts = 1
backoff = "50ms"
TOML
RUST_LOG=info taskset -c 0 "$BIN" serve --config "$WORK/sluice.toml" --listen 127.0.0.1:$GW_PORT 2>"$WORK/gateway.log" & pids+=($!)
gw=$!
wait_port $FLAKY_PORT; wait_port $HEALTHY_PORT; wait_port $GW_PORT

echo "== soak of the edges: $SOAK of normal streams (30 at a time) under attack"
taskset -c 1 "$BIN" bench --base-url http://127.0.0.1:$GW_PORT/v1 --model mock --duration "$SOAK" --concurrency 30 --json >"$WORK/normal.json" &
b1=$!
taskset -c 1 python3 scripts/abuse.py 127.0.0.1 $GW_PORT "$secs" >"$WORK/abuse.json" &
b2=$!
echo "  minute  RSS(KiB)  open fds  active streams"
half=0
while kill -0 $b1 2>/dev/null || kill -0 $b2 2>/dev/null; do
  sleep 30
  half=$((half + 1))
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$gw/status")
  fds=$(ls "/proc/$gw/fd" | wc -l)
  active=$(curl -s --max-time 5 http://127.0.0.1:$GW_PORT/metrics | awk '/^sluice_active_streams / {print $2}')
  printf "  %5.1f  %8s  %8s  %s\n" "$(echo "$half / 2" | bc -l)" "$rss" "$fds" "$active"
done
wait $b1 $b2 || true
sleep 3
active=$(curl -s http://127.0.0.1:$GW_PORT/metrics | awk '/^sluice_active_streams / {print $2}')
dropped=$(curl -s http://127.0.0.1:$GW_PORT/metrics | awk '/^sluice_ledger_dropped_rows_total / {print $2}')
rows=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from ledger_requests').fetchone()[0])" "$WORK/ledger.db")
panics=$(grep -c "panicked" "$WORK/gateway.log" || true)
python3 - "$WORK" "$rows" "$active" "$panics" "$dropped" <<'PY'
import json, sys
work, rows, active, panics, dropped = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
r = json.load(open(f"{work}/normal.json"))["report"]
a = json.load(open(f"{work}/abuse.json"))
print(f"  normal: {r['requests']} requests, {r['ok']} ok, errors {r['errors']}, ttft p50 {r['ttft']['p50_ms']:.1f} ms p99 {r['ttft']['p99_ms']:.1f} ms")
print(f"  abuse: {json.dumps(a)}")
expected = r["requests"] + a["billable"]
print(f"  active streams at the end: {active}; panics: {panics}; dropped rows: {dropped}")
print(f"  ledger rows: {rows} for {expected} requests that reached the gateway ({rows - expected:+d})")
PY
