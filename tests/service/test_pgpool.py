"""service.pgpool.LeanPool: hand-off, bounds, timeouts, broken and idle connections.

Connections are stand-ins with asyncpg.Connection's `is_closed`/`terminate`/`close`; the
pool is exercised against a real PostgreSQL by every map test (tests/service/test_map*.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from service.pgpool import LeanPool, PoolClosed

pytestmark = pytest.mark.anyio


class FakeConnection:
    def __init__(self, number: int) -> None:
        self.number = number
        self.closed = False
        self.terminated = False

    def is_closed(self) -> bool:
        return self.closed

    def terminate(self) -> None:
        self.closed = self.terminated = True

    async def close(self) -> None:
        self.closed = True


class Opener:
    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.opened: list[FakeConnection] = []
        self.delay = delay
        self.fail = fail

    async def __call__(self) -> FakeConnection:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionRefusedError("database down")
        connection = FakeConnection(len(self.opened))
        self.opened.append(connection)
        return connection


def make_pool(
    opener: Opener,
    *,
    max_size: int = 2,
    acquire_timeout: float = 0.2,
    max_idle_seconds: float = 300.0,
    clock: Callable[[], float] = time.monotonic,
) -> LeanPool:
    return LeanPool(
        opener,  # type: ignore[arg-type]
        max_size=max_size,
        acquire_timeout=acquire_timeout,
        max_idle_seconds=max_idle_seconds,
        clock=clock,
    )


async def test_reuses_a_released_connection_without_opening_another() -> None:
    opener = Opener()
    pool = make_pool(opener)
    first = await pool.acquire()
    pool.release(first)
    assert await pool.acquire() is first
    assert len(opener.opened) == 1 and pool.size == 1


async def test_never_opens_more_than_max_size_and_hands_off_to_a_waiter() -> None:
    opener = Opener()
    pool = make_pool(opener)
    a, b = await pool.acquire(), await pool.acquire()
    waiting = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0.01)
    assert not waiting.done() and len(opener.opened) == 2
    pool.release(a)
    assert await waiting is a
    pool.release(b)
    assert pool.size == 2 and pool.idle == 1


async def test_waiting_is_bounded_by_the_acquire_timeout() -> None:
    pool = make_pool(Opener(), max_size=1, acquire_timeout=0.05)
    held = await pool.acquire()
    with pytest.raises(TimeoutError):
        await pool.acquire()
    # The timed-out waiter is gone: the connection goes back to the idle list.
    pool.release(held)
    assert pool.idle == 1 and await pool.acquire() is held


async def test_a_connect_that_hangs_times_out_and_frees_its_slot() -> None:
    opener = Opener(delay=1.0)
    pool = make_pool(opener, max_size=1, acquire_timeout=0.05)
    with pytest.raises(TimeoutError):
        await pool.acquire()
    assert pool.size == 0


async def test_a_failed_connect_frees_its_slot_and_the_pool_recovers() -> None:
    opener = Opener(fail=True)
    pool = make_pool(opener, max_size=1)
    with pytest.raises(ConnectionRefusedError):
        await pool.acquire()
    assert pool.size == 0
    opener.fail = False
    connection = await pool.acquire()
    assert connection is opener.opened[0]


async def test_an_unusable_connection_is_terminated_and_a_waiter_opens_a_new_one() -> None:
    opener = Opener()
    pool = make_pool(opener, max_size=1)
    broken = await pool.acquire()
    waiting = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0.01)
    pool.release(broken, reusable=False)
    replacement = await waiting
    assert broken.terminated and replacement is not broken and pool.size == 1


async def test_a_connection_closed_while_idle_is_skipped() -> None:
    opener = Opener()
    pool = make_pool(opener)
    dead = await pool.acquire()
    pool.release(dead)
    dead.closed = True  # the server went away
    fresh = await pool.acquire()
    assert fresh is not dead and pool.size == 1


async def test_connections_idle_too_long_are_closed() -> None:
    now = [0.0]
    pool = make_pool(Opener(), max_idle_seconds=10.0, clock=lambda: now[0])
    old, new = await pool.acquire(), await pool.acquire()
    pool.release(old)
    now[0] = 11.0
    pool.release(new)
    assert old.terminated and not new.closed and pool.idle == 1 and pool.size == 1


async def test_close_closes_idle_connections_and_refuses_new_acquires() -> None:
    pool = make_pool(Opener())
    in_use, idle = await pool.acquire(), await pool.acquire()
    pool.release(idle)
    await pool.close()
    assert idle.closed
    with pytest.raises(PoolClosed):
        await pool.acquire()
    pool.release(in_use)
    assert in_use.terminated and pool.size == 0
