#!/usr/bin/env bash
# Soak run: mixed streaming traffic for a while (default 10 minutes) through the gateway, with
# one provider failing 20% of its requests at random (half as a 500, half dropping the
# connection mid-stream). Checks at the end: no stream left open (active streams back to 0),
# no panic in the gateway's log, one ledger row per request sent, and resident memory over time.
#
#   scripts/soak.sh                 # SOAK=10m, FAIL=20
set -euo pipefail
cd "$(dirname "$0")/.."

SOAK=${SOAK:-10m}
FAIL=${FAIL:-20}
FLAKY_PORT=19130 HEALTHY_PORT=19131 GW_PORT=19132

cargo build --release -q
BIN=$PWD/target/release/sluice
WORK=$(mktemp -d)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 did not open" >&2; exit 1; }

taskset -c 1 "$BIN" mock-upstream --listen 127.0.0.1:$FLAKY_PORT --ttft 20ms --itl 5ms --tokens 40 --fail-percent "$FAIL" 2>/dev/null & pids+=($!)
taskset -c 1 "$BIN" mock-upstream --listen 127.0.0.1:$HEALTHY_PORT --ttft 20ms --itl 5ms --tokens 40 2>/dev/null & pids+=($!)
cat >"$WORK/sluice.toml" <<TOML
ledger = "sqlite://$WORK/ledger.db"
[providers.flaky]
kind = "openai"
base_url = "http://127.0.0.1:$FLAKY_PORT/v1"
timeouts = { idle = "2s", first_token = "5s", total = "60s" }
[providers.healthy]
kind = "openai"
base_url = "http://127.0.0.1:$HEALTHY_PORT/v1"
[routes]
"mixed" = [{ provider = "flaky", model = "mock" }, { provider = "healthy", model = "mock" }]
"flaky" = [{ provider = "flaky", model = "mock" }]
[retry]
attempts = 1
backoff = "50ms"
TOML
RUST_LOG=info taskset -c 0 "$BIN" serve --config "$WORK/sluice.toml" --listen 127.0.0.1:$GW_PORT 2>"$WORK/gateway.log" & pids+=($!)
gw=$!
wait_port $FLAKY_PORT; wait_port $HEALTHY_PORT; wait_port $GW_PORT

echo "== soak: $SOAK of streams (model 'mixed': flaky provider with fallback, 30 at a time; model 'flaky': no fallback, 10 at a time); flaky provider fails $FAIL%"
taskset -c 1 "$BIN" bench --base-url http://127.0.0.1:$GW_PORT/v1 --model mixed --duration "$SOAK" --concurrency 30 --json >"$WORK/mixed.json" &
b1=$!
taskset -c 1 "$BIN" bench --base-url http://127.0.0.1:$GW_PORT/v1 --model flaky --duration "$SOAK" --concurrency 10 --json >"$WORK/flaky.json" &
b2=$!
echo "  minute  RSS(KiB)  active streams"
minute=0
while kill -0 $b1 2>/dev/null || kill -0 $b2 2>/dev/null; do
  sleep 30
  minute=$((minute + 1))
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$gw/status")
  active=$(curl -s http://127.0.0.1:$GW_PORT/metrics | awk '/^sluice_active_streams / {print $2}')
  printf "  %5.1f  %8s  %s\n" "$(echo "$minute / 2" | bc -l)" "$rss" "$active"
done
wait $b1 $b2 || true
sleep 2
active=$(curl -s http://127.0.0.1:$GW_PORT/metrics | awk '/^sluice_active_streams / {print $2}')
dropped=$(curl -s http://127.0.0.1:$GW_PORT/metrics | awk '/^sluice_ledger_dropped_rows_total / {print $2}')
rows=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from ledger_requests').fetchone()[0])" "$WORK/ledger.db")
panics=$(grep -c "panicked" "$WORK/gateway.log" || true)
python3 - "$WORK" "$rows" "$active" "$panics" "$dropped" <<'PY'
import json, sys
work, rows, active, panics, dropped = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
total = 0
for model in ("mixed", "flaky"):
    r = json.load(open(f"{work}/{model}.json"))["report"]
    total += r["requests"]
    print(f"  {model:6}: {r['requests']} requests, {r['ok']} ok, errors {r['errors']}, ttft p50 {r['ttft']['p50_ms']:.1f} ms p99 {r['ttft']['p99_ms']:.1f} ms")
print(f"  active streams at the end: {active}; panics in the log: {panics}; ledger rows: {rows} for {total} requests; dropped rows: {dropped}")
PY
