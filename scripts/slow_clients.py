#!/usr/bin/env python3
"""Slow SSE clients for scripts/bench-backpressure.sh: N concurrent raw-socket streams, each
with a small receive buffer, reading a few hundred bytes at a time with a pause between reads.

usage: slow_clients.py HOST PORT STREAMS READ_BYTES PAUSE_MS TOKENS ITL_MS
Prints one JSON object: streams completed (saw [DONE]), failed, bytes read, seconds.
"""
import asyncio
import json
import socket
import sys
import time


async def one(host, port, read_bytes, pause, tokens, itl):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (host, port))
    body = json.dumps({"model": "mock", "messages": [{"role": "user", "content": "go"}], "stream": True})
    req = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
           f"x-mock-tokens: {tokens}\r\nx-mock-itl-ms: {itl}\r\n"
           f"content-length: {len(body)}\r\nconnection: close\r\n\r\n{body}").encode()
    await loop.sock_sendall(sock, req)
    tail = b""
    total = 0
    while True:
        data = await loop.sock_recv(sock, read_bytes)
        if not data:
            break
        total += len(data)
        tail = (tail + data)[-64:]
        if tail.endswith(b"0\r\n\r\n"):
            break
        await asyncio.sleep(pause)
    sock.close()
    return b"[DONE]" in tail, total


async def main():
    host, port, n, read_bytes, pause_ms, tokens, itl = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:8])
    start = time.monotonic()
    results = await asyncio.gather(
        *(one(host, port, read_bytes, pause_ms / 1000, tokens, itl) for _ in range(n)),
        return_exceptions=True,
    )
    done = sum(1 for r in results if not isinstance(r, BaseException) and r[0])
    print(json.dumps({
        "streams": n,
        "completed": done,
        "failed": n - done,
        "bytes": sum(r[1] for r in results if not isinstance(r, BaseException)),
        "seconds": round(time.monotonic() - start, 2),
    }))


asyncio.run(main())
