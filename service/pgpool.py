"""A small asyncpg connection pool for the request path's single-statement calls.

asyncpg's own pool is general: every acquire runs under `wait_for` (a timeout object and a
timer), every release runs in a new task under `asyncio.shield` with another timeout, and each
checkout builds a connection proxy and arms an inactivity timer. Under load that costs more
CPU than the statement itself. This pool serves connections that only ever run one
autocommit statement at a time, so it needs none of that: an idle connection is handed out
without awaiting anything, and a released one goes straight to the next waiter.

It keeps what the service relies on: connections open lazily (the service starts while the
database is down), waiting for a connection and opening one are bounded by timeouts, a
connection that failed in any way other than a clean server-side error is terminated rather
than reused (so the pool recovers by itself after an outage), and connections idle for longer
than `max_idle_seconds` are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable

import asyncpg

CLOSE_TIMEOUT_SECONDS = 5.0

Connect = Callable[[], Awaitable[asyncpg.Connection]]


class PoolClosed(asyncpg.InterfaceError):  # type: ignore[misc]
    """The pool was closed (the service is shutting down)."""


def _expire(waiter: asyncio.Future[asyncpg.Connection | None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("timed out waiting for a database connection"))


class LeanPool:
    def __init__(
        self,
        connect: Connect,
        *,
        max_size: int,
        acquire_timeout: float,
        max_idle_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1, got {max_size}")
        self._connect = connect
        self.max_size = max_size
        self._acquire_timeout = acquire_timeout
        self._max_idle = max_idle_seconds
        self._clock = clock
        # Idle connections with the time they were released; the newest at the right end.
        self._idle: deque[tuple[asyncpg.Connection, float]] = deque()
        # Callers waiting for a connection. A waiter's future gets a connection, or None when
        # a slot freed up and the waiter should open a connection itself.
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._size = 0  # connections open or being opened
        self._closed = False

    @property
    def size(self) -> int:
        return self._size

    @property
    def idle(self) -> int:
        return len(self._idle)

    def busy(self) -> bool:
        """True when an acquire would have to wait for a connection to be released."""
        return not self._idle and self._size >= self.max_size

    async def acquire(self) -> asyncpg.Connection:
        if self._closed:
            raise PoolClosed("the connection pool is closed")
        idle = self._idle
        while idle:
            connection = idle.pop()[0]
            if not connection.is_closed():
                return connection
            self._size -= 1
        if self._size < self.max_size:
            return await self._open()
        return await self._wait()

    async def _open(self) -> asyncpg.Connection:
        self._size += 1
        try:
            async with asyncio.timeout(self._acquire_timeout):
                return await self._connect()
        except BaseException:
            self._size -= 1
            self._free_slot()
            raise

    async def _wait(self) -> asyncpg.Connection:
        # A timer that fails the future, rather than asyncio.timeout(): this is the common
        # path when every connection is busy, and a timeout context costs several times more.
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[asyncpg.Connection | None] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(self._acquire_timeout, _expire, waiter)
        try:
            connection = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed a connection (or a slot) just as the caller was cancelled: pass it on.
                handed = waiter.result()
                if handed is None:
                    self._free_slot()
                else:
                    self.release(handed)
            else:
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise
        finally:
            timer.cancel()
        if connection is None:
            if self._closed:
                raise PoolClosed("the connection pool is closed")
            return await self._open()
        return connection

    def release(self, connection: asyncpg.Connection, *, reusable: bool = True) -> None:
        """Give a connection back; `reusable=False` terminates it (its state is unknown)."""
        if not reusable or self._closed or connection.is_closed():
            connection.terminate()
            self._size -= 1
            self._free_slot()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        now = self._clock()
        idle = self._idle
        idle.append((connection, now))
        if now - idle[0][1] > self._max_idle:
            stale = idle.popleft()[0]
            stale.terminate()
            self._size -= 1

    def _free_slot(self) -> None:
        """A connection went away: let one waiter open a new one."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        idle, self._idle = self._idle, deque()
        for connection, _ in idle:
            self._size -= 1
            try:
                await asyncio.wait_for(connection.close(), CLOSE_TIMEOUT_SECONDS)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                connection.terminate()
