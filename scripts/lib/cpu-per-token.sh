# Shared by scripts/bench-native.sh and scripts/bench-inbound.sh (sourced, not run): the
# gateway's CPU time per output token for several cases of the same load, against a baseline
# case in the same run. The simulated provider answers at full speed; the gateway is pinned to
# core 0, the provider and `sluice bench` to core 1.
#
# The sourcing script sets CONC, TOKENS, DURATION, ROUNDS, MOCK_PORT and GW_PORT, writes the
# gateway's providers and routes to "$WORK/providers.toml" after `cpu_setup`, then calls
# `cpu_start` and `cpu_measure BASELINE CASE...` where a case is `name:api:model` (`api` as
# `sluice bench --api` takes it, `model` a route of the gateway).

cpu_setup() {
  cargo build --release -q
  BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/sluice
  WORK=$(mktemp -d)
  pids=()
  trap cpu_cleanup EXIT
}

cpu_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}

cpu_wait_port() {
  for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done
  echo "port $1 did not open" >&2
  exit 1
}

# Starts the simulated provider and the gateway (with "$WORK/providers.toml").
cpu_start() {
  taskset -c 1 "$BIN" mock-upstream --listen 127.0.0.1:"$MOCK_PORT" --ttft 0ms --itl 0ms \
    2>"$WORK/mock.log" & pids+=($!)
  { echo "ledger = \"sqlite://$WORK/ledger.db\""; cat "$WORK/providers.toml"; } >"$WORK/sluice.toml"
  RUST_LOG=warn taskset -c 0 "$BIN" serve --config "$WORK/sluice.toml" --listen 127.0.0.1:"$GW_PORT" \
    2>"$WORK/gateway.log" & pids+=($!)
  GW_PID=$!
  cpu_wait_port "$MOCK_PORT"
  cpu_wait_port "$GW_PORT"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

cpu_bench() {
  taskset -c 1 "$BIN" bench --base-url "http://127.0.0.1:$GW_PORT/v1" --json \
    --header "x-mock-tokens: $TOKENS" --max-tokens "$TOKENS" "$@"
}

# cpu_measure BASELINE CASE...: warms every case up, runs them ROUNDS times interleaved, and
# prints the medians: CPU per output token and per request, the ratio to BASELINE, requests
# and errors.
cpu_measure() {
  local baseline=$1 case name api model before after
  shift
  local results=$WORK/results
  : >"$results"
  for case in "$@"; do
    IFS=: read -r name api model <<<"$case"
    cpu_bench --api "$api" --model "$model" --requests 200 --concurrency "$CONC" >/dev/null
  done
  for _ in $(seq "$ROUNDS"); do
    for case in "$@"; do
      IFS=: read -r name api model <<<"$case"
      before=$(cpu_ticks "$GW_PID")
      cpu_bench --api "$api" --model "$model" --duration "$DURATION" --concurrency "$CONC" \
        >"$WORK/run.json"
      after=$(cpu_ticks "$GW_PID")
      python3 - "$WORK/run.json" "$name" "$before" "$after" "$(getconf CLK_TCK)" >>"$results" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["report"]
ticks = int(sys.argv[4]) - int(sys.argv[3]); hz = int(sys.argv[5])
cpu_us = ticks / hz * 1e6
errors = sum(r["errors"].values())
print(sys.argv[2], cpu_us / max(r["completion_tokens"], 1), cpu_us / max(r["ok"], 1), r["ok"], errors)
PY
    done
  done
  python3 - "$results" "$baseline" "$CONC" "$TOKENS" "$DURATION" "$ROUNDS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
per = {}
for name, tok, req, ok, err in rows:
    d = per.setdefault(name, {"tok": [], "req": [], "ok": 0, "err": 0})
    d["tok"].append(float(tok)); d["req"].append(float(req))
    d["ok"] += int(ok); d["err"] += int(err)
baseline = sys.argv[2]
base = statistics.median(per[baseline]["tok"])
print(f"{sys.argv[3]} streams x {sys.argv[4]} tokens for {sys.argv[5]}, {sys.argv[6]} rounds (medians)")
print(f"{'case':<22} {'CPU/token (us)':>15} {'CPU/request (us)':>17} {'vs ' + baseline:>12} {'requests':>9} {'errors':>7}")
for name, d in per.items():
    tok = statistics.median(d["tok"]); req = statistics.median(d["req"])
    print(f"{name:<22} {tok:>15.2f} {req:>17.0f} {tok / base:>11.2f}x {d['ok']:>9} {d['err']:>7}")
PY
}
