"""`/heartbeat`: liveness with real dependency checks, answered within 2 s whatever hangs.

Both checks run concurrently under a deadline. Concurrent heartbeats share one check in
flight, and the storage answer is reused for a few seconds, so a load balancer (or a
benchmark) polling hard does not multiply the work on the dependencies.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from service import __version__
from service.endpoints import Access, Call, Endpoint
from service.jsonresponse import json_response
from service.schemas import Heartbeat

CHECK_TIMEOUT_SECONDS = 1.5
RETRY_AFTER_SECONDS = "5"


class SharedCheck:
    """Runs `probe` at most once at a time and reuses its result for `ttl` seconds."""

    def __init__(self, probe: Callable[[], Awaitable[None]], ttl: float) -> None:
        self._probe = probe
        self._ttl = ttl
        self._inflight: asyncio.Task[dict[str, Any]] | None = None
        self._result: dict[str, Any] | None = None
        self._expires = 0.0

    async def _run(self) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                await self._probe()
        except TimeoutError:
            return {"status": "fail", "latencyMs": None, "error": "timed out"}
        except Exception as error:
            return {"status": "fail", "latencyMs": None, "error": type(error).__name__}
        return {"status": "ok", "latencyMs": round((time.perf_counter() - started) * 1000, 2)}

    async def result(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._result is not None and now < self._expires:
            return self._result
        if self._inflight is None:
            self._inflight = asyncio.get_running_loop().create_task(self._run())
            self._inflight.add_done_callback(self._finished)
        # shield: one impatient caller going away must not cancel the others' check.
        return await asyncio.shield(self._inflight)

    def _finished(self, task: asyncio.Task[dict[str, Any]]) -> None:
        self._inflight = None
        if not task.cancelled() and task.exception() is None:
            self._result = task.result()
            self._expires = time.monotonic() + self._ttl


def heartbeat_checks(call: Call) -> tuple[SharedCheck, SharedCheck]:
    state = call.request.app.state
    checks: tuple[SharedCheck, SharedCheck] | None = getattr(state, "heartbeat_checks", None)
    if checks is None:
        services = call.services

        async def database() -> None:
            # The pool that serves the map: the check sees what the hot path would see.
            await services.map_store.ping()

        checks = (SharedCheck(database, ttl=0.0), SharedCheck(services.storage.check, ttl=5.0))
        state.heartbeat_checks = checks
    return checks


async def heartbeat(call: Call) -> Response:
    database_check, storage_check = heartbeat_checks(call)
    database, storage = await asyncio.gather(database_check.result(), storage_check.result())
    healthy = database["status"] == "ok" and storage["status"] == "ok"
    body = {
        "status": "ok" if healthy else "fail",
        "version": __version__,
        "uptimeSeconds": round(time.monotonic() - call.services.started_at, 3),
        "checks": {"database": database, "storage": storage},
    }
    headers = {"Cache-Control": "no-store"}
    if not healthy:
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    return json_response(body, status_code=200 if healthy else 503, headers=headers)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/heartbeat",
        heartbeat,
        summary="Liveness and dependency checks (503 when one fails; answers within 2 s)",
        access=Access.PUBLIC,
        status=200,
        response=Heartbeat,
        tag="operations",
        extra_responses={503: Heartbeat},
        rate_limited=False,
    ),
]
