#!/usr/bin/env bash
# What serving the inbound APIs costs the gateway, against chat completions in the same run:
# `sluice bench` streams the same answers from the simulated provider through the gateway as
# chat completions (the baseline), as Responses and Messages translated through chat
# completions (an OpenAI-compatible provider), and as Responses and Messages passed through
# (a provider with `responses = true`, and an Anthropic one). CONC streams at once of TOKENS
# tokens each at full speed for DURATION, per case in turn, ROUNDS times interleaved.
# Reported: the gateway's CPU time per output token and per request (median of the rounds), and
# each case's ratio to chat completions.
#
#   scripts/bench-inbound.sh         # knobs: CONC (50), TOKENS (256), DURATION (10s), ROUNDS (3)
#
# The gateway is pinned to core 0, the provider and the load to core 1.
set -euo pipefail
cd "$(dirname "$0")/.."

CONC=${CONC:-50}
TOKENS=${TOKENS:-256}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
MOCK_PORT=19210 GW_PORT=19211

cargo build --release -q
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/sluice
WORK=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 did not open" >&2; exit 1; }

taskset -c 1 "$BIN" mock-upstream --listen 127.0.0.1:$MOCK_PORT --ttft 0ms --itl 0ms \
  2>"$WORK/mock.log" & pids+=($!)
cat >"$WORK/sluice.toml" <<TOML
ledger = "sqlite://$WORK/ledger.db"
[providers.chat]
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
[providers.responses]
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
responses = true
[providers.anthropic]
kind = "anthropic"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
api_key = "bench"
[routes]
"translated" = [{ provider = "chat", model = "m" }]
"responses" = [{ provider = "responses", model = "m" }]
"anthropic" = [{ provider = "anthropic", model = "m" }]
TOML
RUST_LOG=warn taskset -c 0 "$BIN" serve --config "$WORK/sluice.toml" --listen 127.0.0.1:$GW_PORT \
  2>"$WORK/gateway.log" & pids+=($!)
GW_PID=$!
wait_port $MOCK_PORT
wait_port $GW_PORT

# name, --api, --model
CASES="chat:chat:translated responses-translated:responses:translated messages-translated:messages:translated responses-passthrough:responses:responses messages-passthrough:messages:anthropic"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
bench() {
  taskset -c 1 "$BIN" bench --base-url "http://127.0.0.1:$GW_PORT/v1" --json \
    --header "x-mock-tokens: $TOKENS" --max-tokens "$TOKENS" "$@"
}
RESULTS=$WORK/results
: >"$RESULTS"
for case in $CASES; do
  IFS=: read -r name api model <<<"$case"
  bench --api "$api" --model "$model" --requests 200 --concurrency "$CONC" >/dev/null # warm up
done
for round in $(seq "$ROUNDS"); do
  for case in $CASES; do
    IFS=: read -r name api model <<<"$case"
    before=$(cpu_ticks $GW_PID)
    bench --api "$api" --model "$model" --duration "$DURATION" --concurrency "$CONC" >"$WORK/run.json"
    after=$(cpu_ticks $GW_PID)
    python3 - "$WORK/run.json" "$name" "$before" "$after" "$(getconf CLK_TCK)" >>"$RESULTS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["report"]
ticks = int(sys.argv[4]) - int(sys.argv[3]); hz = int(sys.argv[5])
cpu_us = ticks / hz * 1e6
errors = sum(r["errors"].values())
print(sys.argv[2], cpu_us / max(r["completion_tokens"], 1), cpu_us / max(r["ok"], 1), r["ok"], errors)
PY
  done
done

python3 - "$RESULTS" "$CONC" "$TOKENS" "$DURATION" "$ROUNDS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
per = {}
for name, tok, req, ok, err in rows:
    d = per.setdefault(name, {"tok": [], "req": [], "ok": 0, "err": 0})
    d["tok"].append(float(tok)); d["req"].append(float(req))
    d["ok"] += int(ok); d["err"] += int(err)
base = statistics.median(per["chat"]["tok"])
print(f"{sys.argv[2]} streams x {sys.argv[3]} tokens for {sys.argv[4]}, {sys.argv[5]} rounds (medians)")
print(f"{'client API':<22} {'CPU/token (us)':>15} {'CPU/request (us)':>17} {'vs chat':>8} {'requests':>9} {'errors':>7}")
for name in per:
    d = per[name]
    tok = statistics.median(d["tok"]); req = statistics.median(d["req"])
    print(f"{name:<22} {tok:>15.2f} {req:>17.0f} {tok / base:>7.2f}x {d['ok']:>9} {d['err']:>7}")
PY
