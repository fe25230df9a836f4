#!/usr/bin/env bash
# End-to-end relay benchmark: the simulated provider measured directly, through the gateway,
# and through nginx (proxy_buffering off) as the yardstick, all in the same run.
#
#   scripts/bench-relay.sh            # needs nginx (Debian: apt-get install nginx-light) and python3
#   BASELINE_BIN=/path/to/old/sluice scripts/bench-relay.sh   # also an earlier build, same run
#
# The gateway and nginx are pinned to core 0, the provider and the load to core 1, so the
# figures mean something on a 2-core machine. Reports:
#   1. TTFT overhead (p50/p99) over direct, at 1 and 100 concurrent streams;
#   2. CPU time per relayed chunk (from /proc/PID/stat), gateway vs nginx;
#   3. resident memory per open stream (from /proc/PID/status), gateway vs nginx.
# With BASELINE_BIN, a second gateway from that binary (same config, same core) is measured
# beside this build's in every section, so a change is compared before/after in one run.
# Environment knobs: TTFT_REQS (default 400), TTFT_CONC ("1 100"), CPU_TOKENS (500),
# CPU_STREAMS (40), CPU_ROUNDS (5), OPEN_STREAMS (1000).
set -euo pipefail
cd "$(dirname "$0")/.."

TTFT_REQS=${TTFT_REQS:-400}
CPU_TOKENS=${CPU_TOKENS:-500}
CPU_STREAMS=${CPU_STREAMS:-40}
CPU_ROUNDS=${CPU_ROUNDS:-5}
OPEN_STREAMS=${OPEN_STREAMS:-1000}
TTFT_CONC=${TTFT_CONC:-1 100}
BASELINE_BIN=${BASELINE_BIN:-}
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

taskset -c 1 "$BIN" mock-upstream --listen 127.0.0.1:$MOCK_PORT --ttft 0ms --itl 0ms --tokens 20 \
  2>"$WORK/mock.log" & pids+=($!)
cat >"$WORK/sluice.toml" <<TOML
ledger = "sqlite://$WORK/ledger.db"
[providers.up]
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
[routes]
"mock" = ["up"]
[stream]
slow_client = "block"
TOML
RUST_LOG=warn taskset -c 0 "$BIN" serve --config "$WORK/sluice.toml" --listen 127.0.0.1:$GW_PORT \
  2>"$WORK/gateway.log" & pids+=($!)
GW_PID=$!
TARGETS="GATEWAY"
if [ -n "$BASELINE_BIN" ]; then
  sed "s|ledger.db|ledger-base.db|" "$WORK/sluice.toml" >"$WORK/sluice-base.toml"
  RUST_LOG=warn taskset -c 0 "$BASELINE_BIN" serve --config "$WORK/sluice-base.toml" \
    --listen 127.0.0.1:$BASE_PORT 2>"$WORK/baseline.log" & pids+=($!)
  BASE_PID=$!
  TARGETS="GATEWAY BASELINE"
fi
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx;
  fastcgi_temp_path $WORK/nginx; uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  upstream mock { server 127.0.0.1:$MOCK_PORT; keepalive 256; }
  server {
    listen 127.0.0.1:$NGX_PORT;
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

echo "== warm-up"
for target in $TARGETS NGINX; do
  bench --base-url "${!target}" --requests 200 --concurrency 20 >/dev/null
done

echo "== 1. TTFT overhead over direct (provider ttft 0, 20 tokens, $TTFT_REQS requests, interleaved)"
for c in $TTFT_CONC; do
  for target in $TARGETS NGINX; do
    bench --base-url "$DIRECT" --compare "${!target}" --requests "$TTFT_REQS" --concurrency "$c" >"$WORK/ttft-$target-$c.json"
    python3 - "$WORK/ttft-$target-$c.json" "$target" "$c" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); a, b = d["a"], d["b"]
print(f"  c={sys.argv[3]:>3} {sys.argv[2].lower():8} ttft p50 {a['ttft']['p50_ms']:.3f} -> {b['ttft']['p50_ms']:.3f} ms"
      f" (+{(b['ttft']['p50_ms']-a['ttft']['p50_ms'])*1000:.0f} us), p99 {a['ttft']['p99_ms']:.3f} -> {b['ttft']['p99_ms']:.3f} ms"
      f" (+{(b['ttft']['p99_ms']-a['ttft']['p99_ms'])*1000:.0f} us); throughput x{b['tokens_per_s']/a['tokens_per_s']:.2f};"
      f" errors {sum(a['errors'].values())}/{sum(b['errors'].values())}")
PY
  done
done

echo "== 1b. Throughput (20 streams x 2000 tokens, provider as fast as it can)"
for target in DIRECT $TARGETS NGINX; do
  bench --base-url "${!target}" --requests 60 --concurrency 20 --header "x-mock-tokens: 2000" >"$WORK/tput-$target.json"
done
python3 - "$WORK" DIRECT $TARGETS NGINX <<'PY'
import json, sys
t = {k: json.load(open(f"{sys.argv[1]}/tput-{k}.json"))["report"]["tokens_per_s"] for k in sys.argv[2:]}
print("  tokens/s: " + ", ".join(f"{k.lower()} {v:.0f} (x{v/t['DIRECT']:.2f})" for k, v in t.items()))
PY

echo "== 2. CPU per relayed chunk ($CPU_STREAMS streams x $CPU_TOKENS tokens, 1 ms apart; median of $CPU_ROUNDS alternating rounds)"
HZ=$(getconf CLK_TCK)
for round in $(seq "$CPU_ROUNDS"); do
  for target in $TARGETS NGINX; do
    pid=$(pid_of $target)
    before=$(cpu_ticks "$pid")
    bench --base-url "${!target}" --requests $((CPU_STREAMS * 3)) --concurrency "$CPU_STREAMS" \
      --header "x-mock-tokens: $CPU_TOKENS" --header "x-mock-itl-ms: 1" >"$WORK/cpu.json"
    after=$(cpu_ticks "$pid")
    python3 - "$WORK/cpu.json" "$target" "$before" "$after" "$HZ" >>"$WORK/cpu.txt" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["report"]
ticks = int(sys.argv[4]) - int(sys.argv[3]); hz = int(sys.argv[5])
chunks = r["completion_tokens"] + 2 * r["ok"]  # content chunks + role and finish chunks
print(sys.argv[2], ticks / hz / chunks * 1e6, r["ok"], r["requests"])
PY
  done
done
python3 - "$WORK/cpu.txt" $TARGETS NGINX <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {}
for target in sys.argv[2:]:
    v = [float(r[1]) for r in rows if r[0] == target]
    med[target] = statistics.median(v)
    print(f"  {target.lower():8} {med[target]:.2f} us/chunk (rounds: {', '.join(f'{x:.2f}' for x in v)})")
for target in sys.argv[2:-1]:
    print(f"  ratio {target.lower()}/nginx: {med[target]/med['NGINX']:.2f}x")
PY

echo "== 3. Memory per open stream ($OPEN_STREAMS streams held open)"
for target in $TARGETS NGINX; do
  pid=$(pid_of $target)
  idle=$(rss_kib "$pid")
  bench --base-url "${!target}" --requests "$OPEN_STREAMS" --concurrency "$OPEN_STREAMS" \
    --header "x-mock-tokens: 40" --header "x-mock-itl-ms: 150" >"$WORK/mem-$target.json" &
  bpid=$!
  sleep 3.5
  busy=$(rss_kib "$pid")
  wait $bpid
  python3 - "$WORK/mem-$target.json" "$target" "$idle" "$busy" "$OPEN_STREAMS" <<'PY' | tee -a "$WORK/mem.txt"
import json, sys
r = json.load(open(sys.argv[1]))["report"]
idle, busy, n = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(f"  {sys.argv[2].lower():8} RSS {idle} -> {busy} KiB = {(busy-idle)/n:.1f} KiB/stream; ok {r['ok']}")
PY
done
python3 - "$WORK/mem.txt" $TARGETS NGINX <<'PY'
import re, sys
v = [float(re.search(r"= (-?[0-9.]+) KiB", l).group(1)) for l in open(sys.argv[1])]
names = sys.argv[2:]
for name, x in zip(names[:-1], v[:-1]):
    print(f"  ratio {name.lower()}/nginx: {x/v[-1]:.2f}x")
PY
