"""Optional Datadog APM tracing through ddtrace.

ddtrace is not a dependency of the service: the image installs it only when the stack ships to
Datadog. Nothing here imports it unless tracing is switched on, and a missing ddtrace is a
warning, never a crash. `current_trace_ids()` gives the ids to put on log lines so Datadog can
join logs and traces; it returns nothing while tracing is off.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)

_TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
_LOW_64_BITS = (1 << 64) - 1

_tracer: Any | None = None


def tracing_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for traces (`DD_TRACE_ENABLED=true`, as the stack sets it)."""
    env = os.environ if environ is None else environ
    return env.get("DD_TRACE_ENABLED", "").strip().lower() in _TRUE_VALUES


def configure_tracing(enabled: bool) -> bool:
    """Start ddtrace's automatic instrumentation when `enabled`; returns whether tracing is on.

    Call it once, before the Starlette app and the database engine are built, so the patched
    libraries are the ones the app uses.
    """
    global _tracer
    if not enabled:
        _tracer = None
        return False
    # Our JSON handler on the root logger already carries ddtrace's own log lines; its default
    # stream handler would print each of them a second time, as plain text.
    os.environ.setdefault("DD_TRACE_LOG_STREAM_HANDLER", "false")
    try:
        # ddtrace.auto patches every supported library (starlette, sqlalchemy, asyncpg,
        # botocore, httpx) and reads DD_SERVICE/DD_ENV/DD_VERSION/DD_AGENT_HOST itself.
        importlib.import_module("ddtrace.auto")
        ddtrace = importlib.import_module("ddtrace")
    except ImportError:
        logger.warning(
            "tracing requested (DD_TRACE_ENABLED) but ddtrace is not installed; continuing "
            "without traces"
        )
        _tracer = None
        return False
    _tracer = ddtrace.tracer
    return True


def current_trace_ids() -> dict[str, str]:
    """`dd.trace_id`/`dd.span_id` of the active span for log correlation, or `{}`."""
    tracer = _tracer
    if tracer is None:
        return {}
    span = tracer.current_span()
    if span is None:
        return {}
    # Datadog joins logs to traces on the low 64 bits, in decimal, whatever the id width.
    return {
        "dd.trace_id": str(span.trace_id & _LOW_64_BITS),
        "dd.span_id": str(span.span_id),
    }
