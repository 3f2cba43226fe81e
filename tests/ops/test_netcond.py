"""The conditioner measured from the outside: latency, bandwidth, loss and resets through the proxy.

Every measurement runs against a local echo server on loopback (whose own RTT is well under a
millisecond) and is kept short. Loss and reset runs are seeded, so they are reproducible.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from ops.netcond import Conditioner, Direction, Profile, ProfileError, get_profile
from ops.netcond.bucket import TokenBucket

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass  # a reset from the proxy, or the test's loop shutting down
    finally:
        writer.close()


@dataclass
class Arrivals:
    """When the server saw bytes arrive (for uplink bandwidth)."""

    stamps: list[tuple[float, int]] = field(default_factory=list)


def _source_and_sink(arrivals: Arrivals) -> Handler:
    """`GET n\\n` -> n bytes back; `PUT n\\n` + n bytes -> `ok` once all arrived."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = (await reader.readline()).decode().split()
        verb, size = line[0], int(line[1])
        if verb == "GET":
            writer.write(b"x" * size)
        else:
            received = 0
            while received < size:
                chunk = await reader.read(65536)
                arrivals.stamps.append((time.perf_counter(), len(chunk)))
                received += len(chunk)
            writer.write(b"ok")
        await writer.drain()
        writer.close()

    return handle


async def _serve(handler: Handler) -> asyncio.Server:
    return await asyncio.start_server(handler, "127.0.0.1", 0)


def _port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


async def _ping_rtts(port: int, count: int) -> list[float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rtts = []
    for _ in range(count):
        start = time.perf_counter()
        writer.write(b"ping")
        await writer.drain()
        assert await reader.readexactly(4) == b"ping"
        rtts.append((time.perf_counter() - start) * 1000)
    writer.close()
    return rtts


def _symmetric(delay_ms: float = 0, **extra: float) -> Profile:
    direction = Direction(delay_ms=delay_ms, **extra)
    return Profile(name="custom", description="test", uplink=direction, downlink=direction)


@pytest.mark.parametrize("name", ["lte", "3g"])
def test_added_round_trip_time_matches_the_preset(name: str) -> None:
    profile = get_profile(name)

    async def scenario() -> tuple[float, float]:
        server = await _serve(_echo)
        async with server:
            direct = statistics.median(await _ping_rtts(_port(server), 5))
            async with Conditioner(("127.0.0.1", _port(server)), profile) as proxy:
                shaped = statistics.median(await _ping_rtts(proxy.port, 5))
        return direct, shaped

    direct, shaped = asyncio.run(scenario())
    added = shaped - direct
    assert added == pytest.approx(profile.added_rtt_ms, abs=15), (direct, shaped)


def test_jitter_spreads_delays_around_the_mean() -> None:
    profile = Profile(
        name="jittery",
        description="test",
        uplink=Direction(delay_ms=40, jitter_ms=30),
        downlink=Direction(),
    )

    async def scenario() -> list[float]:
        server = await _serve(_echo)
        async with server, Conditioner(("127.0.0.1", _port(server)), profile, seed=7) as proxy:
            return await _ping_rtts(proxy.port, 25)

    rtts = asyncio.run(scenario())
    assert min(rtts) >= 9  # 40 - 30, less timer slack
    assert max(rtts) <= 130  # 40 + 30, plus generous scheduling slack on a shared machine
    assert statistics.mean(rtts) == pytest.approx(40, abs=10)
    # uniform on [-30, 30] has a standard deviation of 17 ms; no jitter would give ~0
    assert statistics.stdev(rtts) > 8


def test_downlink_bandwidth_matches_the_3g_preset() -> None:
    profile = get_profile("3g")
    size = 100_000  # ~1 s at 780 kbps

    async def scenario() -> tuple[float, int]:
        server = await _serve(_source_and_sink(Arrivals()))
        async with server, Conditioner(("127.0.0.1", _port(server)), profile) as proxy:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(f"GET {size}\n".encode())
            first = await reader.read(65536)
            started = time.perf_counter()
            rest = len(first)
            while chunk := await reader.read(65536):
                rest += len(chunk)
            elapsed = time.perf_counter() - started
            writer.close()
            assert rest == size
            return elapsed, size - len(first)

    elapsed, measured_bytes = asyncio.run(scenario())
    bits_per_second = measured_bytes * 8 / elapsed
    assert bits_per_second == pytest.approx(profile.downlink.bandwidth_bps, rel=0.15)


def test_uplink_bandwidth_matches_the_3g_preset() -> None:
    profile = get_profile("3g")
    size = 40_000  # ~1 s at 330 kbps
    arrivals = Arrivals()

    async def scenario() -> None:
        server = await _serve(_source_and_sink(arrivals))
        async with server, Conditioner(("127.0.0.1", _port(server)), profile) as proxy:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(f"PUT {size}\n".encode() + b"y" * size)
            await writer.drain()
            assert await reader.read() == b"ok"
            writer.close()

    asyncio.run(scenario())
    (first_at, first_size), (last_at, _) = arrivals.stamps[0], arrivals.stamps[-1]
    bits_per_second = (sum(n for _, n in arrivals.stamps) - first_size) * 8 / (last_at - first_at)
    assert bits_per_second == pytest.approx(profile.uplink.bandwidth_bps, rel=0.15)


def test_loss_stalls_segments_at_the_configured_rate() -> None:
    loss, stall_ms, pings = 0.25, 60.0, 120
    profile = Profile(
        name="lossy",
        description="test",
        uplink=Direction(loss=loss, loss_stall_ms=stall_ms),
        downlink=Direction(),
    )

    async def scenario() -> tuple[list[float], int]:
        server = await _serve(_echo)
        async with server, Conditioner(("127.0.0.1", _port(server)), profile, seed=11) as proxy:
            rtts = await _ping_rtts(proxy.port, pings)
            return rtts, proxy.stats.uplink.stalls

    rtts, stalls = asyncio.run(scenario())
    stalled = [rtt for rtt in rtts if rtt >= stall_ms * 0.9]
    assert len(stalled) / pings == pytest.approx(loss, abs=0.1)
    assert abs(len(stalled) - stalls) <= 3  # what the client felt is what the proxy did
    assert statistics.median(rtts) < stall_ms / 2  # unstalled segments are not delayed


def test_resets_happen_at_the_configured_rate() -> None:
    reset, attempts = 0.2, 150
    profile = Profile(
        name="flaky", description="test", uplink=Direction(reset=reset), downlink=Direction()
    )

    async def one(port: int) -> bool:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"ping")
            await writer.drain()
            return await reader.read(4) != b"ping"
        except ConnectionError:
            return True
        finally:
            writer.close()

    async def scenario() -> tuple[int, int]:
        server = await _serve(_echo)
        async with server, Conditioner(("127.0.0.1", _port(server)), profile, seed=3) as proxy:
            outcomes = [await one(proxy.port) for _ in range(attempts)]
            return sum(outcomes), proxy.stats.uplink.resets

    failed, resets = asyncio.run(scenario())
    assert failed / attempts == pytest.approx(reset, abs=0.08)
    assert failed == resets


def test_unreachable_target_closes_the_client_instead_of_hanging() -> None:
    async def scenario() -> bytes:
        closed = await _serve(_echo)
        port = _port(closed)
        closed.close()
        await closed.wait_closed()
        async with Conditioner(("127.0.0.1", port), get_profile("wifi")) as proxy:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            try:
                return await asyncio.wait_for(reader.read(), 2)
            except ConnectionError:
                return b""
            finally:
                writer.close()

    assert asyncio.run(scenario()) == b""


def test_token_bucket_schedules_at_the_rate_after_the_burst() -> None:
    bucket = TokenBucket(rate=1000, burst=100)
    assert bucket.reserve(100, now=0.0) == 0.0  # the burst goes at once
    assert bucket.reserve(500, now=0.0) == pytest.approx(0.5)  # then 1000 B/s
    assert bucket.reserve(500, now=0.0) == pytest.approx(1.0)  # queued behind the first
    assert bucket.reserve(10, now=5.0) == 5.0  # idle time refilled the burst


def test_profiles_reject_bad_values_and_unknown_names() -> None:
    assert get_profile("4G") is get_profile("lte")
    with pytest.raises(ProfileError, match="unknown network profile"):
        get_profile("5g")
    with pytest.raises(ProfileError, match="probability"):
        Direction(loss=1.5)
    with pytest.raises(ProfileError, match="bandwidth"):
        Direction(bandwidth_bps=0)


def test_cli_proxies_with_a_preset_and_rejects_bad_input() -> None:
    async def scenario() -> None:
        server = await _serve(_echo)
        async with server:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "ops.netcond",
                "--target",
                f"127.0.0.1:{_port(server)}",
                "--profile",
                "wifi",
                stdout=asyncio.subprocess.PIPE,
            )
            try:
                assert proc.stdout is not None
                banner = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
                port = int(banner.split()[3].rsplit(":", 1)[1])
                assert "wifi" in (await proc.stdout.readline()).decode()
                assert len(await _ping_rtts(port, 3)) == 3
            finally:
                proc.terminate()
                await proc.wait()
            assert proc.returncode == 0

    asyncio.run(scenario())
    bad = subprocess.run(
        [sys.executable, "-m", "ops.netcond", "--target", "127.0.0.1:1", "--profile", "5g"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2
    assert "unknown network profile '5g'" in bad.stderr
    bad_target = subprocess.run(
        [sys.executable, "-m", "ops.netcond", "--target", "nowhere"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad_target.returncode == 2
    assert "expected HOST:PORT" in bad_target.stderr
