#!/usr/bin/env bash
# The relay against nginx (proxy_buffering off) in one run, the simulated provider as upstream:
#
#   1. one stream, 64 tokens, provider at full speed: TTFT added over calling it directly (p50);
#   2. 50 streams at once, 64 tokens: TTFT added (p99);
#   3. 200 streams at once, 256 tokens, for DURATION: CPU per relayed chunk, chunks per second;
#   4. OPEN streams held open at once, a token every 200 ms: resident memory per open stream (when
#      the most are open at once), failures. A proxy holds two sockets per stream: 10,000 streams need a limit on open
#      files above 20,000 (`ulimit -Hn`); under a lower one the last few fail in every proxy.
#
#   scripts/bench-relay.sh                       # needs nginx (apt-get install nginx-light), python3
#   BASELINE_BIN=/path/to/old/sluice scripts/bench-relay.sh   # an earlier build too, same run
#   POLICY=block scripts/bench-relay.sh          # the gateway with slow_client = "block"
#   LEDGER=none scripts/bench-relay.sh           # the gateway with no ledger
#
# The gateway(s) and nginx are pinned to core 0, the provider and the load to core 1; the gateway
# runs its default config (slow_client = "coalesce") with a SQLite ledger unless told otherwise.
# Every stream asks for usage. Knobs: TTFT_REQS (400), OPEN (10000), DURATION (10s), and RUNS, the
# runs to make (default "ttft cpu open").
set -euo pipefail
cd "$(dirname "$0")/.."

TTFT_REQS=${TTFT_REQS:-400}
OPEN=${OPEN:-10000}
DURATION=${DURATION:-10s}
POLICY=${POLICY:-coalesce}
LEDGER=${LEDGER:-sqlite}
BASELINE_BIN=${BASELINE_BIN:-}
RUNS=${RUNS:-ttft cpu open}
wants() { [[ " $RUNS " == *" $1 "* ]]; }
MOCK_PORT=19100 GW_PORT=19101 NGX_PORT=19102 BASE_PORT=19103

command -v nginx >/dev/null || { echo "nginx is needed: apt-get install nginx-light" >&2; exit 2; }
cargo build --release -q
BIN=$PWD/target/release/sluice
WORK=$(mktemp -d)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 did not open" >&2; exit 1; }

taskset -c 1 "$BIN" mock-upstream --listen 127.0.0.1:$MOCK_PORT --ttft 0ms --itl 0ms --tokens 64 \
  2>"$WORK/mock.log" & pids+=($!)
ledger_line="ledger = \"sqlite://$WORK/LEDGER.db\""
[ "$LEDGER" = none ] && ledger_line='ledger = "none"'
cat >"$WORK/sluice.toml" <<TOML
$ledger_line
[providers.up]
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
[routes]
"mock" = ["up"]
[stream]
slow_client = "$POLICY"
TOML
gw_config() { sed "s|LEDGER|$1|" "$WORK/sluice.toml" >"$WORK/$1.toml"; echo "$WORK/$1.toml"; }
RUST_LOG=warn taskset -c 0 "$BIN" serve --config "$(gw_config gateway)" --listen 127.0.0.1:$GW_PORT \
  2>"$WORK/gateway.log" & pids+=($!)
GW_PID=$!
TARGETS="GATEWAY"
if [ -n "$BASELINE_BIN" ]; then
  RUST_LOG=warn taskset -c 0 "$BASELINE_BIN" serve --config "$(gw_config baseline)" \
    --listen 127.0.0.1:$BASE_PORT 2>"$WORK/baseline.log" & pids+=($!)
  BASE_PID=$!
  TARGETS="GATEWAY BASELINE"
fi
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx.conf" <<NGX
worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 65536; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx;
  fastcgi_temp_path $WORK/nginx; uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  upstream mock { server 127.0.0.1:$MOCK_PORT; keepalive 256; }
  server {
    listen 127.0.0.1:$NGX_PORT backlog=65535;
    tcp_nodelay on;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGX
taskset -c 0 nginx -c "$WORK/nginx.conf" & pids+=($!)
NGX_MASTER=$!
wait_port $MOCK_PORT; wait_port $GW_PORT; wait_port $NGX_PORT
[ -n "$BASELINE_BIN" ] && wait_port $BASE_PORT
NGX_PID=$(pgrep -P "$NGX_MASTER" nginx | head -1)

DIRECT=http://127.0.0.1:$MOCK_PORT/v1 GATEWAY=http://127.0.0.1:$GW_PORT/v1 NGINX=http://127.0.0.1:$NGX_PORT/v1
BASELINE=http://127.0.0.1:$BASE_PORT/v1
pid_of() { case $1 in GATEWAY) echo "$GW_PID" ;; BASELINE) echo "$BASE_PID" ;; NGINX) echo "$NGX_PID" ;; esac; }
bench() { taskset -c 1 "$BIN" bench --model mock --json "$@"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
RESULTS=$WORK/results.txt
result() { echo "$*" >>"$RESULTS"; }
: >"$RESULTS"

echo "== warm-up"
for target in $TARGETS NGINX; do
  bench --base-url "${!target}" --requests 300 --concurrency 20 >/dev/null
done

wants ttft && echo "== 1, 2. TTFT added over direct (provider at full speed, 64 tokens, interleaved with direct)"
wants ttft && for c in 1 50 1 50 1 50; do
  for target in $TARGETS NGINX; do
    reqs=$TTFT_REQS; [ "$c" = 50 ] && reqs=$((TTFT_REQS * 5))
    bench --base-url "$DIRECT" --compare "${!target}" --requests "$reqs" --concurrency "$c" >"$WORK/ttft.json"
    python3 - "$WORK/ttft.json" "$target" "$c" >>"$RESULTS" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); a, b = d["a"], d["b"]
errors = sum(b["errors"].values())
for q in ("p50", "p99"):
    print(f"ttft_{q}_c{sys.argv[3]} {sys.argv[2]} {(b['ttft'][q + '_ms'] - a['ttft'][q + '_ms']) * 1000:.0f} {errors}")
PY
  done
done

wants cpu && echo "== 3. 200 streams at once, 256 tokens at full speed, for $DURATION: CPU per relayed chunk"
wants cpu && for round in 1 2 3; do
  for target in $TARGETS NGINX; do
    pid=$(pid_of $target)
    before=$(cpu_ticks "$pid")
    bench --base-url "${!target}" --duration "$DURATION" --concurrency 200 \
      --header "x-mock-tokens: 256" >"$WORK/sat.json"
    after=$(cpu_ticks "$pid")
    python3 - "$WORK/sat.json" "$target" "$before" "$after" "$(getconf CLK_TCK)" >>"$RESULTS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["report"]
ticks = int(sys.argv[4]) - int(sys.argv[3]); hz = int(sys.argv[5])
# Content chunks, plus the role, finish and usage chunks of each stream.
chunks = r["completion_tokens"] + 3 * r["ok"]
errors = sum(r["errors"].values())
print(f"cpu_per_chunk {sys.argv[2]} {ticks / hz / chunks * 1e6:.2f} {errors}")
print(f"chunks_per_s {sys.argv[2]} {chunks / (r['wall_ms'] / 1000):.0f} {errors}")
PY
  done
done

wants open && echo "== 4. $OPEN streams held open, a token every 200 ms: resident memory per stream"
wants open && for target in $TARGETS NGINX; do
  pid=$(pid_of $target)
  idle=$(rss_kib "$pid")
  bench --base-url "${!target}" --requests "$OPEN" --concurrency "$OPEN" --timeout 120s \
    --header "x-mock-tokens: 40" --header "x-mock-itl-ms: 200" >"$WORK/open.json" &
  bpid=$!
  # Memory when the most streams are open at once (the provider counts them), per open stream.
  most=0 at_most=$idle
  while kill -0 "$bpid" 2>/dev/null; do
    active=$(curl -s "http://127.0.0.1:$MOCK_PORT/stats" | sed -E 's/.*"active":([0-9]+).*/\1/')
    rss=$(rss_kib "$pid")
    if [ "${active:-0}" -gt "$most" ]; then most=$active at_most=$rss; fi
    sleep 0.2
  done
  wait $bpid || true
  python3 - "$WORK/open.json" "$target" "$idle" "$at_most" "$most" <<'PY' >>"$RESULTS"
import json, sys
r = json.load(open(sys.argv[1]))["report"]
idle, rss, most = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
failed = r["requests"] - r["ok"]
print(f"rss_kib_per_stream {sys.argv[2]} {(rss - idle) / max(most, 1):.1f} {failed}")
PY
done

python3 - "$RESULTS" $TARGETS <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
targets = sys.argv[2:] + ["NGINX"]
labels = {
    "ttft_p50_c1": "1 stream: added TTFT p50 (us, median of 3)",
    "ttft_p99_c1": "1 stream: added TTFT p99 (us, median of 3)",
    "ttft_p50_c50": "50 streams: added TTFT p50 (us, median of 3)",
    "ttft_p99_c50": "50 streams: added TTFT p99 (us, median of 3)",
    "cpu_per_chunk": "200 streams: CPU per relayed chunk (us, median of 3)",
    "chunks_per_s": "200 streams: chunks relayed per second (median of 3)",
    "rss_kib_per_stream": "open streams: RSS per stream (KiB)",
}
print()
print("| run | " + " | ".join(t.lower() for t in targets) + " | gateway / nginx | failed ("
      + " / ".join(t.lower() for t in targets) + ") |")
print("|---|" + "---|" * (len(targets) + 2))
for key, label in labels.items():
    if not any(r[0] == key for r in rows):
        continue
    vals, failed = {}, {}
    for t in targets:
        v = [float(r[2]) for r in rows if r[0] == key and r[1] == t]
        failed[t] = sum(int(r[3]) for r in rows if r[0] == key and r[1] == t)
        vals[t] = statistics.median(v) if v else float("nan")
    ratio = vals["GATEWAY"] / vals["NGINX"] if vals["NGINX"] else float("nan")
    print(f"| {label} | " + " | ".join(f"{vals[t]:.1f}" for t in targets) + f" | {ratio:.2f}x | "
          + " / ".join(str(failed[t]) for t in targets) + " |")
PY
