"""A closed-loop HTTP/1.1 keep-alive load generator on raw asyncio sockets.

The fallback when `wrk` is not installed: cheaper than any HTTP client library (no parsing
beyond the status line and Content-Length), so the client takes as little CPU from the
server under test as Python allows. Each connection sends its next request as soon as the
previous answer is read, like wrk. Same request sequence as bench/load.lua.

Modes: `map` (POST /map) and `heartbeat` as bench/load.lua; and, for the data-at-scale
scenarios, `map-read` (GET /map), `practices` (GET /practices), `events` (POST /events, a
batch of EVENTS_PER_BATCH), `export` (GET /me/export, read whole, chunked) and `erase`
(DELETE /me: each request erases the next user of the file, once; `--max-requests` stops the
run when they are used up).

`--rate R` makes it open-loop instead: R requests per second in all, each connection sending on
a fixed schedule whether or not the server keeps up, and each latency measured from the moment
its request was due (so a stalled server is charged for the requests it made wait, not only
the one it held). That is how a neighbour's steady traffic is measured beside an erasure.

Run as a separate process: `python bench/loadgen.py --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Totals:
    requests: int = 0
    not_ok: int = 0
    not_applied: int = 0
    socket_errors: int = 0
    latencies_us: list[float] = field(default_factory=list)


MODES = ("map", "heartbeat", "map-read", "practices", "events", "export", "erase")
OK_STATUS = {"events": 202, "erase": 204}
EVENTS_PER_BATCH = 10


class RequestMaker:
    def __init__(self, mode: str, host: str, users: list[tuple[str, str]], practices: int) -> None:
        self.mode = mode
        self.host = host
        self.users = users
        self.practices = practices
        self.start_us = int(time.time() * 1_000_000)
        self.counter = 0
        self.ok_status = OK_STATUS.get(mode, 200)

    def _simple(self, method: str, path: str, body: bytes = b"") -> bytes:
        self.counter += 1
        _, token = self.users[self.counter % len(self.users)]
        if self.mode == "erase":
            _, token = self.users[(self.counter - 1) % len(self.users)]
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {token}\r\n"
        )
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        return (head + "\r\n").encode() + body

    def next(self) -> bytes:
        if self.mode == "heartbeat":
            return f"GET /heartbeat HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode()
        if self.mode == "map-read":
            return self._simple("GET", "/map")
        if self.mode == "practices":
            return self._simple("GET", "/practices")
        if self.mode == "export":
            return self._simple("GET", "/me/export")
        if self.mode == "erase":
            return self._simple("DELETE", "/me")
        if self.mode == "events":
            stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            batch = [{"name": "bench.tick", "occurredAt": stamp, "properties": {"n": k}}
                     for k in range(EVENTS_PER_BATCH)]  # fmt: skip
            return self._simple("POST", "/events", json.dumps({"events": batch}).encode())
        self.counter += 1
        n = self.counter
        user, token = self.users[n % len(self.users)]
        practice = (n // len(self.users)) % self.practices + 1
        stamp = datetime.fromtimestamp((self.start_us + n) / 1_000_000, tz=UTC)
        body = json.dumps(
            {
                "userId": user,
                "practiceData": {
                    "practiceId": f"bench-practice-{practice}",
                    "status": "in_progress",
                    "progress": 0.5,
                    "updatedAt": stamp.isoformat(timespec="microseconds").replace("+00:00", "Z"),
                    "state": {"step": n},
                },
            },
            separators=(",", ":"),
        ).encode()
        head = (
            f"POST /map HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def _connection(
    host: str, port: int, maker: RequestMaker, deadline: float, totals: Totals,
    max_requests: int | None, interval: float | None = None, offset: float = 0.0,
) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    due = time.perf_counter() + offset
    try:
        while time.perf_counter() < deadline:
            if max_requests is not None and maker.counter >= max_requests:
                break
            if interval is None:
                started = time.perf_counter()
            else:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                if max_requests is not None and maker.counter >= max_requests:
                    break
                started, due = due, due + interval
            writer.write(maker.next())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            chunked = False
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
                elif line.lower() == b"transfer-encoding: chunked":
                    chunked = True
            if chunked:
                body = await _chunked(reader)
            else:
                body = await reader.readexactly(length) if length else b""
            totals.latencies_us.append((time.perf_counter() - started) * 1_000_000)
            totals.requests += 1
            if status != maker.ok_status:
                totals.not_ok += 1
            elif maker.mode == "map" and b'"applied":true' not in body:
                totals.not_applied += 1
    except (OSError, asyncio.IncompleteReadError, ValueError):
        totals.socket_errors += 1
    finally:
        writer.close()


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


async def run(
    host: str, port: int, mode: str, connections: int, duration: float,
    users: list[tuple[str, str]], practices: int, max_requests: int | None = None,
    rate: float | None = None,
) -> dict[str, float]:
    maker = RequestMaker(mode, f"{host}:{port}", users, practices)
    totals = Totals()
    started = time.perf_counter()
    deadline = started + duration
    interval = connections / rate if rate else None
    await asyncio.gather(
        *(_connection(host, port, maker, deadline, totals, max_requests, interval,
                      (interval or 0.0) * k / connections)
          for k in range(connections))
    )
    elapsed = time.perf_counter() - started
    latencies = sorted(totals.latencies_us)
    return {
        "requests": totals.requests,
        "duration_us": elapsed * 1_000_000,
        "connect_errors": 0,
        "read_errors": totals.socket_errors,
        "write_errors": 0,
        "status_errors": totals.not_ok,
        "timeouts": 0,
        "not_ok": totals.not_ok,
        "not_applied": totals.not_applied,
        "p50_us": percentile(latencies, 0.50),
        "p95_us": percentile(latencies, 0.95),
        "p99_us": percentile(latencies, 0.99),
        "max_us": latencies[-1] if latencies else 0.0,
        "mean_us": sum(latencies) / len(latencies) if latencies else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--max-requests", type=int, help="stop after this many requests")
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--users-file", type=Path)
    parser.add_argument("--practices", type=int, default=1)
    parser.add_argument("--rate", type=float,
                        help="open loop: requests per second in all (default: closed loop)")
    args = parser.parse_args()
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be positive")
    users: list[tuple[str, str]] = []
    if args.users_file:
        for line in args.users_file.read_text().splitlines():
            user, token = line.split()
            users.append((user, token))
    work = run(args.host, args.port, args.mode, args.connections, args.duration, users,
               args.practices, args.max_requests, args.rate)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(work)
    else:
        result = uvloop.run(work)
    print("BENCH_RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
