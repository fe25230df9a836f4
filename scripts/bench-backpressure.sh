#!/usr/bin/env bash
# Slow-client benchmark: many concurrent streams whose clients read slowly, through the gateway
# with `slow_client = "coalesce"` and then `"block"`, measured in the same run.
#
#   scripts/bench-backpressure.sh
#
# Reports, per policy: gateway resident memory per open stream (from /proc/PID/status, peak
# during the run minus idle), CPU time per relayed provider event (from /proc/PID/stat), events
# the gateway merged, and whether every stream completed. The gateway is pinned to core 0; the
# provider and the slow clients to core 1.
# The slow clients are raw sockets with a 4 KiB receive buffer reading READ_BYTES at a time with
# PAUSE_MS between reads (scripts/slow_clients.py), so backpressure reaches the gateway quickly.
# Knobs: STREAMS (default 2000), TOKENS (400), ITL_MS (2), READ_BYTES (512), PAUSE_MS (20).
set -euo pipefail
cd "$(dirname "$0")/.."

STREAMS=${STREAMS:-2000}
TOKENS=${TOKENS:-400}
ITL_MS=${ITL_MS:-2}
READ_BYTES=${READ_BYTES:-512}
PAUSE_MS=${PAUSE_MS:-20}
MOCK_PORT=19110 GW_PORT=19111

cargo build --release -q
BIN=$PWD/target/release/sluice
WORK=$(mktemp -d)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 did not open" >&2; exit 1; }

taskset -c 1 "$BIN" mock-upstream --listen 127.0.0.1:$MOCK_PORT --ttft 0ms --itl ${ITL_MS}ms --tokens "$TOKENS" \
  2>"$WORK/mock.log" & pids+=($!)
wait_port $MOCK_PORT

echo "== $STREAMS streams x $TOKENS tokens ($ITL_MS ms apart); clients read $READ_BYTES bytes every $PAUSE_MS ms"
for policy in coalesce block; do
  cat >"$WORK/$policy.toml" <<TOML
ledger = "sqlite://$WORK/ledger.db"
[providers.up]
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
[routes]
"mock" = ["up"]
[stream]
slow_client = "$policy"
slow_client_timeout = "120s"
# Bound what the kernel holds per client, so the backlog reaches the relay's queue.
send_buffer = "16KiB"
TOML
  RUST_LOG=sluice::request=info taskset -c 0 "$BIN" serve --config "$WORK/$policy.toml" --listen 127.0.0.1:$GW_PORT \
    2>"$WORK/$policy.log" &
  gw=$!
  wait_port $GW_PORT
  taskset -c 1 "$BIN" bench --base-url http://127.0.0.1:$GW_PORT/v1 --model mock --requests 50 --concurrency 10 --json >/dev/null
  idle=$(awk '/^VmRSS/ {print $2}' "/proc/$gw/status")
  t0=$(awk '{print $14 + $15}' "/proc/$gw/stat")
  taskset -c 1 python3 scripts/slow_clients.py 127.0.0.1 $GW_PORT "$STREAMS" "$READ_BYTES" "$PAUSE_MS" "$TOKENS" "$ITL_MS" \
    >"$WORK/$policy.json" &
  bench=$!
  peak=$idle
  while kill -0 $bench 2>/dev/null; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$gw/status"); [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 0.2
  done
  wait $bench
  t1=$(awk '{print $14 + $15}' "/proc/$gw/stat")
  python3 - "$WORK/$policy.json" "$WORK/$policy.log" "$policy" "$idle" "$peak" "$t0" "$t1" "$(getconf CLK_TCK)" "$STREAMS" "$TOKENS" <<'PY'
import json, re, sys
report = json.load(open(sys.argv[1]))
log = open(sys.argv[2]).read()
policy, idle, peak, t0, t1, hz, n = sys.argv[3], *map(int, sys.argv[4:10])
coalesced = sum(int(m) for m in re.findall(r"coalesced=(\d+)", log))
high = max([int(m) for m in re.findall(r"queue_high_water=(\d+)", log)] or [0])
events = n * (int(sys.argv[10]) + 2)  # content chunks + role and finish chunks
cpu = (t1 - t0) / hz
print(f"  {policy:8} RSS {idle} -> peak {peak} KiB = {(peak - idle) / n:.1f} KiB/stream; "
      f"CPU {cpu:.2f} s = {cpu / events * 1e6:.2f} us/event; merged {coalesced} of {events} events; "
      f"queue high-water {high}; completed {report['completed']}/{report['streams']} in {report['seconds']} s")
PY
  kill $gw; wait $gw 2>/dev/null || true
done
