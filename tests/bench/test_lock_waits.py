"""bench/scale.LockWaits sees a session waiting for a lock, and sees none when none waits:
the benchmark's "no lock waits beside erasures" rests on it."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from bench.scale import LockWaits

pytestmark = pytest.mark.postgres


async def _hold_and_wait(url: str, seconds: float) -> None:
    holder, waiter = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        async with holder.transaction():
            await holder.execute("SELECT pg_advisory_xact_lock(4242, 1)")
            blocked = asyncio.create_task(waiter.execute("SELECT pg_advisory_lock(4242, 1)"))
            await asyncio.sleep(seconds)
        await blocked
        await waiter.execute("SELECT pg_advisory_unlock(4242, 1)")
    finally:
        await holder.close()
        await waiter.close()


def test_a_session_waiting_for_a_lock_is_seen(postgres_url: str) -> None:
    with LockWaits(postgres_url) as waits:
        asyncio.run(_hold_and_wait(postgres_url, 0.5))
    assert waits.error is None
    assert waits.samples_waiting > 0 and waits.most_waiting == 1


def test_no_waits_when_nothing_waits(postgres_url: str) -> None:
    with LockWaits(postgres_url) as waits:
        time.sleep(0.3)
    assert waits.error is None and waits.samples > 10
    assert waits.samples_waiting == 0 and waits.most_waiting == 0


def test_rounds_merge_into_one_figure() -> None:
    from bench.scale import merge_lock_waits

    quiet = {"samples": 100, "samples_waiting": 0, "most_waiting": 0, "error": None}
    waited = {"samples": 80, "samples_waiting": 3, "most_waiting": 2, "error": None}
    failed = {"samples": 0, "samples_waiting": 0, "most_waiting": 0, "error": "OSError: gone"}
    assert merge_lock_waits([quiet, waited, failed]) == {
        "samples": 180, "samples_waiting": 3, "most_waiting": 2, "error": "OSError: gone"}
    # One round that waited is enough to fail "no lock waits": it is never averaged away.
    assert merge_lock_waits([quiet, waited, quiet])["samples_waiting"] == 3
