#!/usr/bin/env bash
# One very long stream to a client that reads nothing, against the same stream to a fast client,
# in one run: how long the provider's stream takes to finish through the gateway in each case,
# and what the stalled client's backlog costs the gateway in memory.
#
#   scripts/bench-stalled.sh                 # TOKENS=400000
#
# With `slow_client = "coalesce"` (the default) the gateway keeps reading the provider while the
# client reads nothing, merging queued deltas; merging must cost no more than relaying, so the
# provider finishes as fast as with a fast client, and the backlog holds the text once (no JSON
# tree, no second copy). The stalled client then reads the whole answer and it is checked
# against the provider's text. The gateway is pinned to core 0, provider and clients to core 1.
set -euo pipefail
cd "$(dirname "$0")/.."

TOKENS=${TOKENS:-400000}
MOCK_PORT=19120 GW_PORT=19121

cargo build --release -q
BIN=$PWD/target/release/sluice
WORK=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 did not open" >&2; exit 1; }

taskset -c 1 "$BIN" mock-upstream --listen 127.0.0.1:$MOCK_PORT --ttft 0ms --itl 0ms --tokens "$TOKENS" \
  2>"$WORK/mock.log" & pids+=($!)
cat >"$WORK/sluice.toml" <<TOML
ledger = "sqlite://$WORK/ledger.db"
[providers.up]
kind = "openai"
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
[routes]
"mock" = ["up"]
[stream]
slow_client_timeout = "10m"
TOML
RUST_LOG=warn taskset -c 0 "$BIN" serve --config "$WORK/sluice.toml" --listen 127.0.0.1:$GW_PORT \
  2>"$WORK/gateway.log" & pids+=($!)
GW_PID=$!
wait_port $MOCK_PORT; wait_port $GW_PORT

taskset -c 1 python3 - "$GW_PORT" "$MOCK_PORT" "$GW_PID" <<'PY'
import json, socket, sys, time, urllib.request

gw, mock, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
BODY = json.dumps({"model": "mock", "stream": True,
                   "messages": [{"role": "user", "content": "a long answer please"}]}).encode()

def completed():
    with urllib.request.urlopen(f"http://127.0.0.1:{mock}/stats") as r:
        return json.load(r)["completed"]

def rss_kib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])

def connect():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", gw))
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
              + f"content-length: {len(BODY)}\r\n\r\n".encode() + BODY)
    return s

def read_all(s):
    chunks = []
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        chunks.append(b)
        if b.endswith(b"0\r\n\r\n"):
            break
    return b"".join(chunks)

def text_of(raw):
    head, _, rest = raw.partition(b"\r\n\r\n")
    body, i = bytearray(), 0
    while True:
        j = rest.index(b"\r\n", i)
        n = int(rest[i:j], 16)
        if n == 0:
            break
        body += rest[j + 2:j + 2 + n]
        i = j + 2 + n + 2
    text = []
    for line in body.split(b"\n"):
        if line.startswith(b"data: ") and line != b"data: [DONE]":
            for c in json.loads(line[6:]).get("choices", []):
                text.append((c.get("delta") or {}).get("content") or "")
    return "".join(text)

def run(stalled):
    before = completed()
    rss0 = rss_kib()
    t0 = time.monotonic()
    s = connect()
    raw = b""
    if not stalled:
        raw = read_all(s)
    peak = rss0
    while completed() == before:
        peak = max(peak, rss_kib())
        time.sleep(0.005)
    upstream_s = time.monotonic() - t0
    peak = max(peak, rss_kib())
    if stalled:
        raw = read_all(s)
    s.close()
    return upstream_s, text_of(raw), peak - rss0

fast_s, fast_text, _ = run(False)
stalled_s, stalled_text, backlog_kib = run(True)
fast2_s, _, _ = run(False)
fast = (fast_s + fast2_s) / 2
ok = stalled_text == fast_text and len(fast_text) > 0
print(f"| run | provider stream finished in | gateway RSS growth |")
print(f"|---|---|---|")
print(f"| fast client (mean of 2) | {fast:.2f} s | |")
print(f"| client reading nothing | {stalled_s:.2f} s ({stalled_s / fast:.2f}x) | {backlog_kib / 1024:.1f} MiB for {len(fast_text.encode()) / 1048576:.1f} MiB of text |")
print(f"stalled client's text identical to the fast client's: {ok}")
sys.exit(0 if ok else 1)
PY
