#!/usr/bin/env bash
# What keys and limits add to a request, end to end, in one run: the same gateway build three
# times over the same simulated provider — no keys (auth and limits off), a key with RPM, TPM
# and a budget counted in memory, and the same key counted in Redis on loopback — measured
# interleaved (`sluice bench --compare`), one request in flight, so the difference in TTFT is
# what auth + admission + settlement cost.
#
#   scripts/bench-limits.sh            # needs redis-server and python3
#
# Gateways pinned to core 0, provider, Redis and load to core 1. Knobs: REQS (default 2000).
set -euo pipefail
cd "$(dirname "$0")/.."

REQS=${REQS:-2000}
MOCK_PORT=19200 OFF_PORT=19201 MEM_PORT=19202 REDIS_GW_PORT=19203 REDIS_PORT=19210

cargo build --release -q
BIN=$PWD/target/release/sluice
WORK=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 200); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 did not open" >&2; exit 1; }

taskset -c 1 "$BIN" mock-upstream --listen 127.0.0.1:$MOCK_PORT --ttft 0ms --itl 0ms --tokens 20 \
  2>"$WORK/mock.log" & pids+=($!)
taskset -c 1 redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" --appendonly no \
  >"$WORK/redis.log" 2>&1 & pids+=($!)

config() { # name, extra lines
  cat >"$WORK/$1.toml" <<TOML
ledger = "sqlite://$WORK/$1.db"
$2
[providers.up]
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
[providers.up.prices]
"mock" = { input = 0.27, output = 0.42 }
[routes]
"mock" = ["up"]
TOML
}
config off ""
config mem ""
config redis "redis = \"redis://127.0.0.1:$REDIS_PORT\""
limits=(--rpm 1000000 --tpm 1000000000 --budget-usd 1000000)
KEY_MEM=$("$BIN" keys create --config "$WORK/mem.toml" --name bench "${limits[@]}" --json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
KEY_REDIS=$("$BIN" keys create --config "$WORK/redis.toml" --name bench "${limits[@]}" --json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
for g in off:$OFF_PORT mem:$MEM_PORT redis:$REDIS_GW_PORT; do
  name=${g%%:*} port=${g##*:}
  RUST_LOG=warn taskset -c 0 "$BIN" serve --config "$WORK/$name.toml" --listen 127.0.0.1:$port \
    2>"$WORK/$name.log" & pids+=($!)
done
wait_port $MOCK_PORT; wait_port $REDIS_PORT; wait_port $OFF_PORT; wait_port $MEM_PORT; wait_port $REDIS_GW_PORT

OFF=http://127.0.0.1:$OFF_PORT/v1 MEM=http://127.0.0.1:$MEM_PORT/v1 REDIS=http://127.0.0.1:$REDIS_GW_PORT/v1
bench() { taskset -c 1 "$BIN" bench --model mock --json "$@"; }

echo "== warm-up"
bench --base-url "$OFF" --requests 300 --concurrency 4 >/dev/null
bench --base-url "$MEM" --api-key "$KEY_MEM" --requests 300 --concurrency 4 >/dev/null
bench --base-url "$REDIS" --api-key "$KEY_REDIS" --requests 300 --concurrency 4 >/dev/null

echo "== added TTFT of auth + limits ($REQS requests, one in flight, interleaved with the same gateway without keys)"
# `--compare` sends the same key to both gateways; the one without keys ignores it.
bench --base-url "$OFF" --compare "$MEM" --api-key "$KEY_MEM" --requests "$REQS" --concurrency 1 >"$WORK/mem.json"
bench --base-url "$OFF" --compare "$REDIS" --api-key "$KEY_REDIS" --requests "$REQS" --concurrency 1 >"$WORK/redis.json"
python3 - "$WORK" <<'PY'
import json, sys
for name in ("mem", "redis"):
    d = json.load(open(f"{sys.argv[1]}/{name}.json")); a, b = d["a"], d["b"]
    label = {"mem": "limits in memory", "redis": "limits in Redis"}[name]
    errors = sum(a["errors"].values()) + sum(b["errors"].values())
    print(f"  {label:17} ttft p50 {a['ttft']['p50_ms']:.3f} -> {b['ttft']['p50_ms']:.3f} ms "
          f"(+{(b['ttft']['p50_ms']-a['ttft']['p50_ms'])*1000:.0f} us), p99 {a['ttft']['p99_ms']:.3f} -> "
          f"{b['ttft']['p99_ms']:.3f} ms (+{(b['ttft']['p99_ms']-a['ttft']['p99_ms'])*1000:.0f} us); errors {errors}")
PY

echo "== limiter alone (criterion: one admission and its settlement, memory vs Redis)"
echo "   cargo bench -p sluice-limit --bench admit"
