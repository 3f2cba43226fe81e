"""The data-at-scale parts of the benchmark (bench/run.py): a database seeded in SQL, erasure
of users with much stored, an export's memory, and `maintain` dropping a month under writes.

Not a test: figures depend on the machine.
"""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from service.maintain import maintain
from service.partitions import Month
from service.settings import load_settings
from tests.support.seed import EVENT_DAYS, PRACTICES, STATES_PER_USER, Seeded, seed

ROOT = Path(__file__).resolve().parents[1]
HEAVY_EVENTS = 1000
HEAVY_STATES = 50
HEAVY_BATCH = 10  # events per POST /events, as the app sends them
HEAVY_DAYS = 180
EXPORT_EVENTS = 100_000


def settings_for(database_url: str, workdir: Path) -> Any:
    return load_settings({"DATABASE_URL": database_url, "DATA_DIR": str(workdir / "data")})


def seed_rows(database_url: str, workdir: Path, rows: int) -> tuple[Seeded, float]:
    """N map rows and 2N events, in SQL; returns the seed and the seconds it took."""
    started = time.perf_counter()
    seeded = asyncio.run(
        seed(settings_for(database_url, workdir), database_url, states=rows, events=2 * rows)
    )
    return seeded, time.perf_counter() - started


async def _seed_heavy(database_url: str, heavy: int, export_events: int) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "INSERT INTO users SELECT 'heavy-user-' || n, now(), now() "
            f"FROM generate_series(1, {heavy}) AS n"
        )
        # Laid out as the service writes them, not user by user: a user's states are written
        # one at a time among everyone else's, and their events arrive in batches of
        # HEAVY_BATCH among other users' batches over HEAVY_DAYS, so an erasure touches a page
        # per state and per batch, across several monthly partitions.
        await connection.execute(
            "INSERT INTO practice_states SELECT 'heavy-user-' || u, 'seed-practice-' || p, "
            "'completed', 1.0, '{}', now(), now() "
            f"FROM generate_series(1, {HEAVY_STATES}) AS p, generate_series(1, {heavy}) AS u "
            "ORDER BY p, u"
        )
        batches = HEAVY_EVENTS // HEAVY_BATCH
        await connection.execute(
            "INSERT INTO events (user_id, name, occurred_at, received_at, properties) "
            "SELECT 'heavy-user-' || u, 'heavy', at, at, jsonb_build_object('n', k) FROM ("
            f" SELECT u, b, k, now() - (b * {heavy} + u) * $1::interval AS at"
            f" FROM generate_series(1, {batches}) AS b, generate_series(1, {heavy}) AS u,"
            f"      generate_series(1, {HEAVY_BATCH}) AS k) AS spread "
            "ORDER BY b DESC, u, k",
            timedelta(days=HEAVY_DAYS) / (batches * heavy),
        )
        await connection.execute(
            "INSERT INTO events (user_id, name, occurred_at, received_at, properties) "
            "SELECT 'export-user', 'export.tick', now() - n * interval '1 second', "
            "now() - n * interval '1 second', jsonb_build_object('n', n, 'screen', 'home') "
            f"FROM generate_series(1, {export_events}) AS n"
        )
        # A production database of this size is not freshly loaded: autovacuum has long been
        # over its rows and checkpoints have written them. Without this, the first minutes of
        # measurement share the disk with the vacuum of every loaded row and the checkpoint of
        # the whole load.
        await connection.execute("VACUUM (ANALYZE)")
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()
    assert HEAVY_STATES <= PRACTICES


ERASED_EVENTS_PER_USER = 2 * STATES_PER_USER  # the seed's shape: N map rows, 2N events


async def _seed_erasable(database_url: str, prefix: str, count: int) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            f"INSERT INTO users SELECT '{prefix}' || n, now() - interval '300 days', now() "
            f"FROM generate_series(1, {count}) AS n"
        )
        await connection.execute(
            f"INSERT INTO practice_states SELECT '{prefix}' || u, 'seed-practice-' || p, "
            "'in_progress', 0.5, '{}', now() - interval '1 day', now() - interval '1 day' "
            f"FROM generate_series(1, {count}) AS u, generate_series(1, {STATES_PER_USER}) AS p"
        )
        # Spread over the retained days, so each erasure reaches into many partitions.
        await connection.execute(
            "INSERT INTO events (user_id, name, occurred_at, received_at, properties) "
            f"SELECT '{prefix}' || u, 'seed.event', at, at, jsonb_build_object('k', k) FROM ("
            f" SELECT u, k, now() - ((u * 7 + k * 19) % {EVENT_DAYS - 1}) * interval '1 day'"
            "   AS at"
            f" FROM generate_series(1, {count}) AS u,"
            f"      generate_series(1, {ERASED_EVENTS_PER_USER}) AS k) AS spread"
        )
    finally:
        await connection.close()


def seed_erasable_users(database_url: str, prefix: str, count: int) -> None:
    """`count` users shaped like the seed's (STATES_PER_USER map rows and twice as many events
    each), for one run of DELETE /me: every size erases the same number of the same users, so
    the p99s compare like for like."""
    asyncio.run(_seed_erasable(database_url, prefix, count))


def vacuum(database_url: str) -> None:
    """What autovacuum would do after a run of erasures, done before the next scenario: at a
    small --rows the erased rows are a large share of the tables, and an autovacuum landing
    in a later measurement would be counted against it."""
    _query(database_url, "VACUUM (ANALYZE)", value=False)


def settle(database_url: str) -> None:
    """Rows just seeded as a production database holds rows stored long ago: vacuumed (hint
    bits and visibility map set) and written out, so neither is counted against the requests
    measured next."""
    vacuum(database_url)
    checkpoint(database_url)


def checkpoint(database_url: str) -> None:
    """Write every dirty buffer now: when several clusters are measured in turn (bench/run.py
    --rows A,B), one that just ran its step must not write them during another's."""
    _query(database_url, "CHECKPOINT", value=False)


def seed_heavy_users(database_url: str, heavy: int, export_events: int) -> None:
    asyncio.run(_seed_heavy(database_url, heavy, export_events))


def _query(database_url: str, query: str, *, value: bool = True) -> Any:
    """One statement on a connection of its own; its single value, or None for a command."""

    async def run() -> Any:
        connection = await asyncpg.connect(database_url)
        try:
            if value:
                return await connection.fetchval(query)
            await connection.execute(query)
            return None
        finally:
            await connection.close()

    return asyncio.run(run())


def database_size_mb(database_url: str) -> float:
    return float(_query(database_url, "SELECT pg_database_size(current_database())")) / 2**20


def wal_position(database_url: str) -> int:
    """Bytes of WAL written since the cluster began: the difference of two is what ran between."""
    return int(_query(database_url, "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')"))


@functools.cache
def _checkpoints_statement(database_url: str) -> str:
    """PostgreSQL 17 moved the checkpoint counters to pg_stat_checkpointer."""
    version = int(_query(database_url, "SELECT current_setting('server_version_num')"))
    return ("SELECT num_timed + num_requested FROM pg_stat_checkpointer" if version >= 170000
            else "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")


def checkpoints_begun(database_url: str) -> int:
    """Checkpoints (timed and requested) the cluster has begun since its statistics were reset:
    one beginning during a run writes the buffers it dirtied, beside its commits' fsyncs."""
    return int(_query(database_url, _checkpoints_statement(database_url)))


def time_maintain(env: Mapping[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "service", "maintain"], cwd=ROOT, env=dict(env),
        capture_output=True, text=True, timeout=3600, check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        raise RuntimeError(f"maintain failed:\n{completed.stderr}")
    return time.perf_counter() - started, completed.stdout


# --- who waits for a lock ----------------------------------------------------------------


class LockWaits:
    """Samples pg_stat_activity every few ms while in use: how often any session of the
    database was waiting for a lock (an advisory user lock included), and the most at once.
    Zero means nothing beside the measured work was ever blocked by it."""

    def __init__(self, database_url: str, interval: float = 0.005) -> None:
        self._url = database_url
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.samples = 0
        self.samples_waiting = 0
        self.most_waiting = 0
        self.error: str | None = None

    async def _run(self) -> None:
        try:
            connection = await asyncpg.connect(self._url)
        except (OSError, asyncpg.PostgresError) as error:
            self.error = f"{type(error).__name__}: {error}"
            return
        try:
            while not self._stop.is_set():
                waiting = await connection.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
                self.samples += 1
                if waiting:
                    self.samples_waiting += 1
                    self.most_waiting = max(self.most_waiting, int(waiting))
                await asyncio.sleep(self._interval)
        finally:
            await connection.close()

    def __enter__(self) -> LockWaits:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def as_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "samples_waiting": self.samples_waiting,
                "most_waiting": self.most_waiting, "error": self.error}  # fmt: skip


def merge_lock_waits(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Several rounds' LockWaits.as_dict() as one: samples add up, the most at once is the
    largest, the first sampling error is kept."""
    errors = [r["error"] for r in rounds if r["error"]]
    return {"samples": sum(r["samples"] for r in rounds),
            "samples_waiting": sum(r["samples_waiting"] for r in rounds),
            "most_waiting": max((r["most_waiting"] for r in rounds), default=0),
            "error": errors[0] if errors else None}  # fmt: skip


# --- export memory -------------------------------------------------------------------------


def rss_by_pid(server: psutil.Process) -> dict[int, int]:
    out: dict[int, int] = {}
    for process in server.children(recursive=True) or [server]:
        try:
            out[process.pid] = process.memory_info().rss
        except psutil.Error:
            pass
    return out


def export_memory_growth(server: psutil.Process, port: int, token: str) -> dict[str, float]:
    """Peak RSS growth of the worker that serves one export of EXPORT_EVENTS events."""
    import urllib.request

    before = rss_by_pid(server)
    peak = dict(before)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for pid, rss in rss_by_pid(server).items():
                peak[pid] = max(peak.get(pid, 0), rss)
            stop.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/me/export", headers={"Authorization": f"Bearer {token}"}
    )
    size = 0
    with urllib.request.urlopen(request, timeout=600) as reply:
        while chunk := reply.read(1 << 16):
            size += len(chunk)
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    growth = max(peak[pid] - before.get(pid, peak[pid]) for pid in peak)
    return {"export_bytes_mb": size / 2**20, "export_seconds": seconds,
            "rss_growth_mb": growth / 2**20}  # fmt: skip


# --- maintain dropping a month under writes -------------------------------------------------


async def _seed_expired_month(database_url: str, workdir: Path, rows: int) -> str:
    """A month past retention holding `rows` events (what a month of the dataset holds)."""
    month = Month.of(datetime.now(UTC) - timedelta(days=EVENT_DAYS + 60))
    await maintain(settings_for(database_url, workdir), now=month.start)
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "INSERT INTO events (user_id, name, occurred_at, received_at, properties) "
            "SELECT 'seed-user-' || (n % 1000 + 1), 'old', $1::timestamptz + n * $2::interval, "
            "$1::timestamptz + n * $2::interval, '{}' "
            f"FROM generate_series(0, {rows - 1}) AS n",
            month.start, (month.end - month.start) / max(rows, 1),
        )  # fmt: skip
    finally:
        await connection.close()
    return month.name


async def _probe_writes(database_url: str, stop: asyncio.Event) -> list[float]:
    """Single-row event inserts back to back, each one's latency in ms: what a writer sees."""
    connection = await asyncpg.connect(database_url)
    latencies: list[float] = []
    try:
        while not stop.is_set():
            started = time.perf_counter()
            await connection.execute(
                "INSERT INTO events (user_id, name, occurred_at, received_at, properties) "
                "VALUES ('probe', 'probe', now(), now(), '{}')"
            )
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.002)
    finally:
        await connection.close()
    return latencies


async def _maintain_under_writes(
    database_url: str, env: Mapping[str, str]
) -> tuple[float, str, list[float], list[float]]:
    stop = asyncio.Event()
    probe = asyncio.create_task(_probe_writes(database_url, stop))
    await asyncio.sleep(1.0)
    stop.set()
    baseline = await probe
    stop = asyncio.Event()
    probe = asyncio.create_task(_probe_writes(database_url, stop))
    await asyncio.sleep(0.2)
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "maintain", cwd=ROOT, env=dict(env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    seconds = time.perf_counter() - started
    await asyncio.sleep(0.2)
    stop.set()
    during = await probe
    if process.returncode != 0:
        raise RuntimeError(f"maintain failed:\n{err.decode()}")
    return seconds, out.decode(), baseline, during


def maintain_drops_a_month(
    database_url: str, workdir: Path, env: Mapping[str, str], rows: int
) -> dict[str, Any]:
    partition = asyncio.run(_seed_expired_month(database_url, workdir, rows))
    seconds, output, baseline, during = asyncio.run(_maintain_under_writes(database_url, env))
    if f"dropped partition {partition}" not in output:
        raise RuntimeError(f"maintain did not drop {partition}:\n{output}")
    return {
        "partition": partition,
        "rows": rows,
        "maintain_seconds": seconds,
        "writer_max_ms_before": max(baseline, default=0.0),
        "writer_max_ms_during": max(during, default=0.0),
        "writer_inserts_during": len(during),
        "output": output.strip().splitlines(),
    }


def cpu_note() -> str:
    return (f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} at the end "
            "(the benchmark's own server, PostgreSQL and load generator included)")  # fmt: skip


# --- the disk under the database -------------------------------------------------------------

SYNC_STALL_MS = 20.0


def disk_sync_latency(directory: Path, seconds: float = 10.0) -> dict[str, float]:
    """8 kB written and fdatasync'd back to back in `directory` (the cluster's filesystem), as
    a commit does: every durable write waits for one of these, so a stall here is a stall for
    every write in flight. Printed beside the results to tell the machine's tail from the
    service's."""
    path = directory / "sync-probe"
    block = b"\0" * 8192
    latencies: list[float] = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.write(fd, block * 256)
        os.fsync(fd)
        deadline = time.monotonic() + seconds
        offset = 0
        while time.monotonic() < deadline:
            os.pwrite(fd, block, offset)
            offset = (offset + len(block)) % (len(block) * 256)
            started = time.perf_counter()
            os.fdatasync(fd)
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    latencies.sort()
    count = len(latencies)
    return {
        "seconds": seconds,
        "syncs": float(count),
        "p50_ms": latencies[count // 2],
        "p99_ms": latencies[min(count - 1, int(count * 0.99))],
        "max_ms": latencies[-1],
        "stalls": float(sum(latency > SYNC_STALL_MS for latency in latencies)),
    }
