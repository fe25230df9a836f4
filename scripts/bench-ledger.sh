#!/usr/bin/env bash
# Ledger benchmark, in one run:
#   1. rows per second the batching writer sustains into SQLite and into Postgres;
#   2. the relay with the ledger on (SQLite) versus off, under the same load in alternating
#      rounds: TTFT p50/p99, requests per second, gateway CPU per request, and whether every
#      request got its row.
#
#   scripts/bench-ledger.sh            # Postgres: $SLUICE_TEST_POSTGRES_URL or postgres://postgres@127.0.0.1:5432/test
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${SLUICE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
ROWS=${ROWS:-200000}
REQS=${REQS:-4000}
MOCK_PORT=19120 ON_PORT=19121 OFF_PORT=19122

cargo build --release -q
cargo build --release -q -p sluice-ledger --example writer_throughput
BIN=$PWD/target/release/sluice
EX=$PWD/target/release/examples/writer_throughput
WORK=$(mktemp -d)
SCHEMA="sluice_bench_$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
  psql "$PG" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 did not open" >&2; exit 1; }

echo "== 1. Writer throughput ($ROWS rows from 8 tasks)"
echo -n "  "; "$EX" "sqlite://$WORK/w.db" "$ROWS"
psql "$PG" -qc "CREATE SCHEMA $SCHEMA" >/dev/null
echo -n "  "; "$EX" "$PG?options=-csearch_path%3D$SCHEMA" "$ROWS"

echo "== 2. Relay with the ledger on (SQLite) vs off ($REQS streamed requests of 10 tokens, 20 at a time; alternating rounds)"
# Rounds alternate rather than interleave: two gateways sharing core 0 at once would measure
# each other's scheduling, not the ledger.
taskset -c 1 "$BIN" mock-upstream --listen 127.0.0.1:$MOCK_PORT --ttft 0ms --itl 0ms --tokens 10 2>/dev/null & pids+=($!)
for mode in on off; do
  port=$ON_PORT; ledger="sqlite://$WORK/gw.db"
  [ $mode = off ] && { port=$OFF_PORT; ledger=none; }
  cat >"$WORK/$mode.toml" <<TOML
ledger = "$ledger"
[providers.up]
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
[routes]
"mock" = ["up"]
TOML
  RUST_LOG=warn taskset -c 0 "$BIN" serve --config "$WORK/$mode.toml" --listen 127.0.0.1:$port 2>"$WORK/$mode.log" & pids+=($!)
  eval "PID_$mode=$!"
done
wait_port $MOCK_PORT; wait_port $ON_PORT; wait_port $OFF_PORT
# The ledger gateway builds its tokenizer tables in the background at start: let it finish.
sleep 5
for round in 1 2 3; do
  for mode in off on; do
    port=$ON_PORT; [ $mode = off ] && port=$OFF_PORT
    eval "pid=\$PID_$mode"
    t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    taskset -c 1 "$BIN" bench --base-url http://127.0.0.1:$port/v1 --model mock --requests "$REQS" --concurrency 20 --json >"$WORK/$mode-$round.json"
    t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    echo "$mode $round $((t1 - t0))" >>"$WORK/cpu.txt"
  done
done
sleep 0.5
rows=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from ledger_requests').fetchone()[0])" "$WORK/gw.db")
python3 - "$WORK" "$rows" "$REQS" "$(getconf CLK_TCK)" <<'PY'
import json, statistics, sys
work, rows, reqs, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
cpu = {}
for line in open(f"{work}/cpu.txt"):
    mode, _, ticks = line.split()
    cpu.setdefault(mode, []).append(int(ticks) / hz / reqs * 1e6)
for mode in ("off", "on"):
    r = [json.load(open(f"{work}/{mode}-{i}.json"))["report"] for i in (1, 2, 3)]
    p50 = statistics.median(x["ttft"]["p50_ms"] for x in r)
    p99 = statistics.median(x["ttft"]["p99_ms"] for x in r)
    rps = statistics.median(x["ok"] / (x["wall_ms"] / 1000) for x in r)
    print(f"  ledger {mode:3}: ttft p50 {p50:.3f} ms, p99 {p99:.3f} ms; {rps:.0f} requests/s; "
          f"gateway CPU {statistics.median(cpu[mode]):.0f} us/request (median of 3 rounds)")
print(f"  rows in the ledger: {rows} for {3 * reqs} measured requests (warm-up none)")
PY
