"""Structured logs: one JSON object per line on stdout.

No stack traces: a record's exception is reduced to its type, because tracebacks and exception
messages carry SQL, request data and sometimes secrets. The request id (and Datadog trace ids
when tracing is on) ride along on every line logged while a request is being answered.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import orjson

from service.tracing import current_trace_ids

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)

_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "fields",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line; `extra={"fields": {...}}` adds structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        line.update(current_trace_ids())
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                line.setdefault(key, value)
        if record.exc_info and record.exc_info[0] is not None:
            line["error_type"] = record.exc_info[0].__qualname__
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str) -> None:
    """Route every logger (ours, uvicorn's, SQLAlchemy's) through one JSON handler on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # uvicorn's access log would duplicate ours, without request ids.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def _write_stdout(data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(sys.stdout.fileno(), view)
        view = view[written:]


_second_text: tuple[int, str] = (-1, "")


def utc_now_text() -> str:
    """`2026-01-01T00:00:00.123Z`; the part up to the second is formatted once per second."""
    global _second_text
    now = time.time()
    second = int(now)
    if _second_text[0] != second:
        _second_text = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_second_text[1]}.{int((now - second) * 1000):03d}Z"


_FIXED_FIELDS = {"level": "info", "logger": "service.access", "message": "request"}
_FIXED_KEYS = frozenset({"ts", *_FIXED_FIELDS})
_ACCESS_PREFIX = b'{"ts":"'
_ACCESS_MIDDLE = orjson.dumps(_FIXED_FIELDS).replace(b"{", b'",', 1)[:-1] + b","


class AccessLog:
    """The per-request log line, written cheaply: rendered with orjson, buffered, and
    written to stdout in one system call every `flush_interval` seconds (or 64 KiB).

    Same shape as the JSON lines of `JsonFormatter` (`ts`, `level`, `logger`, `message`),
    without the logging machinery's per-record cost on the request path.
    """

    def __init__(
        self,
        sink: Callable[[bytes], None] = _write_stdout,
        *,
        enabled: bool = True,
        flush_interval: float = 0.05,
        max_buffer: int = 64 * 1024,
    ) -> None:
        self.sink = sink
        self.enabled = enabled
        self._flush_interval = flush_interval
        self._max_buffer = max_buffer
        self._lines: list[bytes] = []
        self._size = 0
        self._flush_scheduled = False

    def write(self, fields: dict[str, object]) -> None:
        if not self.enabled:
            return
        # The fixed keys are pre-rendered; orjson renders the rest and the two are joined at
        # the brace, giving exactly the bytes of one orjson.dumps of the merged object.
        if fields and _FIXED_KEYS.isdisjoint(fields):
            rendered = orjson.dumps(fields, default=str)
            line = b"".join(
                (_ACCESS_PREFIX, utc_now_text().encode(), _ACCESS_MIDDLE, rendered[1:], b"\n")
            )
        else:
            merged = {"ts": utc_now_text(), **_FIXED_FIELDS, **fields}
            line = orjson.dumps(merged, default=str) + b"\n"
        self._lines.append(line)
        self._size += len(line)
        if self._size >= self._max_buffer:
            self.flush()
        elif not self._flush_scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._flush_scheduled = True
            loop.call_later(self._flush_interval, self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        if not self._lines:
            return
        data = b"".join(self._lines)
        self._lines.clear()
        self._size = 0
        try:
            self.sink(data)
        except OSError:
            pass  # stdout gone (shutdown): nothing sensible left to do
