"""Pages: Jinja2 templates from this package, autoescaped, rendered with the panel's context."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse

from service.admin.session import Session

TEMPLATES = Path(__file__).parent / "templates"

NAVIGATION = (
    ("/admin", "Overview"),
    ("/admin/practices", "Practices"),
    ("/admin/config", "Config"),
    ("/admin/users", "Users"),
    ("/admin/events", "Events"),
    ("/admin/status", "Status"),
    ("/admin/audit", "Audit"),
)


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _json(value: Any, indent: bool = True) -> str:
    option = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS if indent else orjson.OPT_SORT_KEYS
    return orjson.dumps(value, option=option).decode()


def _erased(counts: Mapping[str, Any]) -> str:
    """An erasure's rows per table (the audit row's `before`) in words."""
    parts = []
    for key, one, many in (("practiceStates", "practice state", "practice states"),
                           ("events", "event", "events")):
        number = counts.get(key) or 0
        if number:
            parts.append(f"{number} {one if number == 1 else many}")
    if counts.get("userRows"):
        parts.append("the user row")
    if not parts:
        return "nothing (nothing was stored)"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if days or hours:
        parts.append(f"{hours} h")
    if days or hours or minutes:
        parts.append(f"{minutes} min")
    parts.append(f"{seconds} s")
    return " ".join(parts)


environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["when"] = _when
environment.filters["json"] = _json
environment.filters["duration"] = _duration
environment.filters["erased"] = _erased
environment.filters["path"] = lambda value: quote(str(value), safe="")
environment.globals["navigation"] = NAVIGATION


def query(**params: Any) -> str:
    """A query string of the non-empty parameters (for pagination and filter links)."""
    return urlencode({name: value for name, value in params.items() if value not in ("", None)})


environment.globals["query"] = query


def render(
    request: Request, template: str, *, status: int = 200, title: str, **context: Any
) -> HTMLResponse:
    session: Session | None = getattr(request.state, "session", None)
    outgoing = getattr(request.state, "session_out", None)
    if isinstance(outgoing, Session):
        session = outgoing
    body = environment.get_template(template).render(
        request_path=request.url.path,
        session=session,
        title=title,
        **context,
    )
    return HTMLResponse(body, status_code=status)
