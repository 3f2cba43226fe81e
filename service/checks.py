"""Dependency checks for the heartbeat: shared, bounded, and never cancelled half-way.

A check runs as one background task at a time, which every concurrent caller joins, and its
answer is reused for `ttl` seconds. A caller waits at most `wait_seconds` and then reports
"timed out", but the probe itself is left to finish (its own connect/statement timeouts
bound it): cancelling a database call half-way would leave its connection mid-protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

# Only for a probe that ignores its own timeouts (a hung store client): cancel it eventually.
PROBE_BACKSTOP_SECONDS = 30.0


class SharedCheck:
    def __init__(
        self, probe: Callable[[], Awaitable[None]], *, ttl: float, wait_seconds: float
    ) -> None:
        self._probe = probe
        self._ttl = ttl
        self._wait_seconds = wait_seconds
        self._inflight: asyncio.Task[dict[str, Any]] | None = None
        self._result: dict[str, Any] | None = None
        self._expires = 0.0

    async def _run(self) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(PROBE_BACKSTOP_SECONDS):
                await self._probe()
        except TimeoutError:
            return {"status": "fail", "latencyMs": None, "error": "timed out"}
        except Exception as error:
            return {"status": "fail", "latencyMs": None, "error": type(error).__name__}
        return {"status": "ok", "latencyMs": round((time.perf_counter() - started) * 1000, 2)}

    async def result(self) -> dict[str, Any]:
        if self._result is not None and time.monotonic() < self._expires:
            return self._result
        if self._inflight is None:
            self._inflight = asyncio.get_running_loop().create_task(self._run())
            self._inflight.add_done_callback(self._finished)
        try:
            # shield: a caller giving up must not cancel the probe the others are waiting on.
            return await asyncio.wait_for(asyncio.shield(self._inflight), self._wait_seconds)
        except TimeoutError:
            return {"status": "fail", "latencyMs": None, "error": "timed out"}

    def _finished(self, task: asyncio.Task[dict[str, Any]]) -> None:
        self._inflight = None
        if not task.cancelled() and task.exception() is None:
            self._result = task.result()
            self._expires = time.monotonic() + self._ttl

    async def close(self) -> None:
        task = self._inflight
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
