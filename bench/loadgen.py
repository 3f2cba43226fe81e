"""A closed-loop HTTP/1.1 keep-alive load generator on raw asyncio sockets.

The fallback when `wrk` is not installed: cheaper than any HTTP client library (no parsing
beyond the status line and Content-Length), so the client takes as little CPU from the
server under test as Python allows. Each connection sends its next request as soon as the
previous answer is read, like wrk. Same request sequence as bench/load.lua.

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


class RequestMaker:
    def __init__(self, mode: str, host: str, users: list[tuple[str, str]], practices: int) -> None:
        self.mode = mode
        self.host = host
        self.users = users
        self.practices = practices
        self.start_us = int(time.time() * 1_000_000)
        self.counter = 0

    def next(self) -> bytes:
        if self.mode != "map":
            return f"GET /heartbeat HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode()
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


async def _connection(
    host: str, port: int, maker: RequestMaker, deadline: float, totals: Totals
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(maker.next())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            totals.latencies_us.append((time.perf_counter() - started) * 1_000_000)
            totals.requests += 1
            if status != 200:
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
    users: list[tuple[str, str]], practices: int,
) -> dict[str, float]:
    maker = RequestMaker(mode, f"{host}:{port}", users, practices)
    totals = Totals()
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(_connection(host, port, maker, deadline, totals) for _ in range(connections))
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
    parser.add_argument("--mode", choices=["map", "heartbeat"], required=True)
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--users-file", type=Path)
    parser.add_argument("--practices", type=int, default=1)
    args = parser.parse_args()
    users: list[tuple[str, str]] = []
    if args.users_file:
        for line in args.users_file.read_text().splitlines():
            user, token = line.split()
            users.append((user, token))
    work = run(args.host, args.port, args.mode, args.connections, args.duration, users,
               args.practices)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(work)
    else:
        result = uvloop.run(work)
    print("BENCH_RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
