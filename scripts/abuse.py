#!/usr/bin/env python3
"""Hostile and careless clients for scripts/soak-edge.sh, all at once for DURATION seconds
against a gateway at HOST:PORT: heads sent a byte at a time, idle sockets, bodies that stall,
malformed and non-JSON posts, streams dropped mid-way, a mass hang-up of 1,000 streams every
minute, and requests asking the simulated provider for more than it allows.

usage: abuse.py HOST PORT DURATION
Prints one JSON object with what was sent; `billable` counts the requests whose head reached
`/v1/chat/completions` (each must have exactly one ledger row).
"""
import asyncio
import json
import socket
import sys
import time

HOST, PORT, DURATION = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
counts = {"billable": 0, "slow_heads": 0, "idle": 0, "stalled_bodies": 0, "bad_json": 0,
          "not_json": 0, "hangups": 0, "mass_hangups": 0, "over_caps": 0, "errors": 0}
END = time.monotonic() + DURATION
BODY = json.dumps({"model": "mock", "messages": [{"role": "user", "content": "abuse"}],
                   "stream": True})


async def connect():
    return await asyncio.open_connection(HOST, PORT)


def head(body, ctype="application/json", extra=""):
    return (f"POST /v1/chat/completions HTTP/1.1\r\nhost: {HOST}\r\ncontent-type: {ctype}\r\n"
            f"{extra}content-length: {len(body)}\r\n\r\n").encode() + body.encode()


async def request_and_close(data, wait=None, key="errors"):
    try:
        r, w = await connect()
        w.write(data)
        await w.drain()
        if wait is None:
            await asyncio.wait_for(r.read(), 30)
        else:
            await asyncio.sleep(wait)
        w.close()
        counts[key] += 1
        counts["billable"] += 1
    except Exception:
        counts["errors"] += 1


async def every(period, make):
    while time.monotonic() < END:
        asyncio.create_task(make())
        await asyncio.sleep(period)


async def slow_head():
    try:
        r, w = await connect()
        counts["slow_heads"] += 1
        for b in b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-slow: yes":
            if time.monotonic() > END:
                break
            w.write(bytes([b]))
            await w.drain()
            await asyncio.sleep(5)
        w.close()
    except Exception:
        pass


async def idle_socket():
    try:
        r, w = await connect()
        counts["idle"] += 1
        await asyncio.wait_for(r.read(), max(0.1, END - time.monotonic()))
        w.close()
    except Exception:
        pass


async def stalled_body():
    # A complete head promising a megabyte, a few bytes of it, then nothing: 408.
    data = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: {HOST}\r\ncontent-type: application/json\r\n"
            f"content-length: 1000000\r\n\r\n{{\"model\":").encode()
    await request_and_close(data, key="stalled_bodies")


async def mass_hangup():
    async def one():
        try:
            r, w = await connect()
            w.write(head(BODY, extra="x-mock-itl-ms: 50\r\nx-mock-tokens: 200\r\n"))
            await w.drain()
            await asyncio.sleep(0.5)
            w.transport.abort()
            counts["mass_hangups"] += 1
            counts["billable"] += 1
        except Exception:
            counts["errors"] += 1
    await asyncio.gather(*(one() for _ in range(1000)))


async def main():
    tasks = [asyncio.create_task(slow_head()) for _ in range(100)]
    tasks += [asyncio.create_task(idle_socket()) for _ in range(200)]
    tasks += [
        asyncio.create_task(every(2.0, stalled_body)),
        asyncio.create_task(every(0.05, lambda: request_and_close(head("{not json"), key="bad_json"))),
        asyncio.create_task(every(0.2, lambda: request_and_close(head(BODY, "text/plain"), key="not_json"))),
        asyncio.create_task(every(0.1, lambda: request_and_close(
            head(BODY, extra="x-mock-itl-ms: 20\r\nx-mock-tokens: 100\r\n"), wait=0.1, key="hangups"))),
        asyncio.create_task(every(0.5, lambda: request_and_close(
            head(BODY, extra="x-mock-tokens: 100000000\r\n"), key="over_caps"))),
        asyncio.create_task(every(60.0, mass_hangup)),
    ]
    await asyncio.sleep(DURATION)
    await asyncio.sleep(5)  # the last requests finish
    for t in tasks:
        t.cancel()
    print(json.dumps(counts))

asyncio.run(main())
