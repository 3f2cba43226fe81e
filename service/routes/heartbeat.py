"""`/heartbeat`: liveness with real dependency checks, answered within 2 s whatever hangs.

Both checks (`service.checks.SharedCheck`, built in `service.app`) run concurrently and
each is awaited for at most 1.5 s. Concurrent heartbeats share one check in flight, and
answers are reused briefly (database 0.25 s, storage 5 s), so a load balancer (or a benchmark)
polling hard does not multiply the work on the dependencies.
"""

from __future__ import annotations

import asyncio
import time

from starlette.responses import Response

from service import __version__, examples
from service.endpoints import Access, Call, Endpoint
from service.jsonresponse import json_response
from service.schemas import Heartbeat

RETRY_AFTER_SECONDS = "5"


async def heartbeat(call: Call) -> Response:
    services = call.services
    database, storage = await asyncio.gather(
        services.database_check.result(), services.storage_check.result()
    )
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
        examples=examples.HEARTBEAT,
    ),
]
