"""Overview, status and audit: how the service is doing and what the panel changed."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from service import __version__
from service.admin import data
from service.admin.forms import page_number
from service.admin.panel import Panel, page, panel_of
from service.admin.render import render
from service.db import is_unavailable
from service.migrate import head_revision

QUERY_WAIT_SECONDS = 2.0


def _check(name: str, result: dict[str, Any]) -> dict[str, Any]:
    healthy = result.get("status") == "ok"
    latency = result.get("latencyMs")
    return {
        "name": name,
        "healthy": healthy,
        "words": "OK" if healthy else "Failing",
        "latency": f"{latency:.1f} ms" if healthy and latency is not None else "no answer",
        "detail": "" if healthy else str(result.get("error") or "unknown error"),
    }


async def checks(panel: Panel) -> list[dict[str, Any]]:
    database, storage = await asyncio.gather(
        panel.services.database_check.result(), panel.services.storage_check.result()
    )
    return [_check("Database", database), _check("Storage", storage)]


async def _bounded(panel: Panel, query: Any) -> Any:
    """A read that gives up quietly when the database is down: the page still answers."""
    try:
        async with asyncio.timeout(QUERY_WAIT_SECONDS):
            async with panel.services.autocommit.connect() as connection:
                return await query(connection)
    except TimeoutError:
        return None
    except Exception as error:
        if is_unavailable(error):
            return None
        raise


async def overview(request: Request) -> Response:
    panel = panel_of(request)
    status = await checks(panel)
    counts = await _bounded(panel, data.counts) if status[0]["healthy"] else None
    return render(request, "overview.html", title="Overview", counts=counts, checks=status)


async def status_view(request: Request) -> Response:
    panel = panel_of(request)
    status = await checks(panel)
    revision = (
        await _bounded(panel, data.migration_revision) if status[0]["healthy"] else None
    )
    return render(
        request,
        "status.html",
        title="Status",
        checks=status,
        version=__version__,
        revision=revision,
        head=head_revision(),
        environment=panel.environment,
        uptime=time.monotonic() - panel.services.started_at,
        links=sorted(panel.settings.links.items()),
    )


async def audit_view(request: Request) -> Response:
    number = page_number(request)
    async with panel_of(request).services.autocommit.connect() as connection:
        result = await data.paginate(connection, data.audit_list(), number)
    return render(request, "audit.html", title="Audit", page=result)


ROUTES = [
    ("/admin", page(overview), ["GET"]),
    ("/admin/status", page(status_view), ["GET"]),
    ("/admin/audit", page(audit_view), ["GET"]),
]
