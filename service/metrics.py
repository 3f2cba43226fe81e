"""Prometheus metrics for the API: request timings, in-flight requests, database pool and queries.

Everything lives in a registry of its own (not prometheus_client's global one), so importing a
library that registers metrics globally can never leak into `/metrics`, and tests can build
fresh `ServiceMetrics` instances. Labels are bounded: the route *template* (`/practices/{id}`),
never the raw path, a fixed set of methods, and the status code.

Exported names (the Grafana dashboard and the Datadog OpenMetrics check rely on them):
`awaterra_http_request_duration_seconds` (histogram: method, route, status),
`awaterra_http_requests_in_flight` (gauge), `awaterra_db_query_duration_seconds` (histogram:
operation), `awaterra_db_write_batch_rows` (histogram: map writes per upsert statement),
`awaterra_db_pool_checked_out` and `awaterra_db_pool_size` (gauges: pool), plus the
standard `process_*` metrics when the server runs a single process.

Several uvicorn workers: each is a process with its own counters, and a scrape reaches one of
them at random, which would make every rate wrong. `prepare_multiprocess_directory(workers)`,
called by `serve` before the workers start, switches prometheus_client to its multi-process
mode: every worker writes its samples to a shared directory and `/metrics` reports their sum.
"""

from __future__ import annotations

import glob
import os
import re
import tempfile
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NAMESPACE = "awaterra"

# Bucket edges in seconds. 0.2 is an edge on purpose: the latency objective is p95 <= 200 ms,
# so "share of requests under 200 ms" is exact rather than interpolated.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 0.75,
                   1.0, 2.5, 5.0, 10.0)
WRITE_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
QUERY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

UNMATCHED_ROUTE = "<unmatched>"
OTHER_METHOD = "OTHER"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
QUERY_OPERATIONS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "BEGIN", "COMMIT", "WITH"})

_QUERY_START_KEY = "awaterra_query_started"


MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


def prepare_multiprocess_directory(workers: int, parent: str | None = None) -> str | None:
    """Give `workers` > 1 processes a fresh shared metrics directory (sets the env variable).

    Call it in the serving process before the workers are spawned; they inherit the variable.
    Returns the directory, or None for a single worker (or when one is already configured).
    """
    if workers <= 1 or os.environ.get(MULTIPROCESS_ENV):
        return None
    directory = tempfile.mkdtemp(prefix="awaterra-metrics-", dir=parent)
    os.environ[MULTIPROCESS_ENV] = directory
    return directory


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget_dead_processes(directory: str) -> None:
    """Drop the live gauges (in flight, pool) of workers that died and were replaced."""
    for path in glob.glob(os.path.join(directory, "gauge_live*.db")):
        match = _LIVE_GAUGE_FILE.search(os.path.basename(path))
        if match and not _process_alive(int(match.group(1))):
            mark_process_dead(int(match.group(1)), directory)  # type: ignore[no-untyped-call]


class ServiceMetrics:
    """The service's metric families, registered in a registry of their own."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        multiprocess_directory: str | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        # prometheus_client picks its storage when it is first imported, from the environment.
        self.multiprocess_directory = multiprocess_directory or os.environ.get(MULTIPROCESS_ENV)
        self.request_duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template, method and status code.",
            labelnames=("method", "route", "status"),
            namespace=NAMESPACE,
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "http_requests_in_flight",
            "HTTP requests being answered right now.",
            namespace=NAMESPACE,
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.query_duration = Histogram(
            "db_query_duration_seconds",
            "Time spent executing one SQL statement, by leading SQL keyword.",
            labelnames=("operation",),
            namespace=NAMESPACE,
            buckets=QUERY_BUCKETS,
            registry=self.registry,
        )
        self.write_batch_rows = Histogram(
            "db_write_batch_rows",
            "Map writes per upsert statement (above 1 when concurrent writes were coalesced).",
            namespace=NAMESPACE,
            buckets=WRITE_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.pool_checked_out = Gauge(
            "db_pool_checked_out",
            "Database connections currently checked out of the pool.",
            labelnames=("pool",),
            namespace=NAMESPACE,
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.pool_size = Gauge(
            "db_pool_size",
            "Configured number of persistent connections in the pool.",
            labelnames=("pool",),
            namespace=NAMESPACE,
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        if self.multiprocess_directory is None:
            # One process: its CPU and memory are the server's. With several workers a scrape
            # would show whichever worker answered, so they are left out.
            ProcessCollector(registry=self.registry)
        # labels() takes a lock and builds a tuple on every call; caching the children keeps
        # the per-request cost to one dict lookup plus the observation itself.
        self._request_children: dict[tuple[str, str, int], Any] = {}
        self._query_children: dict[str, Any] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        child = self._request_children.get(key)
        if child is None:
            child = self.request_duration.labels(method, route, str(status))
            self._request_children[key] = child
        child.observe(seconds)

    def finish_request(self, scope: Scope, status: int, started: float) -> None:
        """Close a request counted in flight since `started` (a `time.perf_counter()` reading)."""
        elapsed = time.perf_counter() - started
        self.in_flight.dec()
        method = scope["method"]
        if method not in KNOWN_METHODS:
            method = OTHER_METHOD
        self.observe_request(method, route_template(scope), status, elapsed)

    def observe_query(self, operation: str, seconds: float) -> None:
        child = self._query_children.get(operation)
        if child is None:
            child = self.query_duration.labels(operation)
            self._query_children[operation] = child
        child.observe(seconds)

    def metric_names(self) -> set[str]:
        """Every sample name a scrape can report (histogram `_bucket`/`_sum`/`_count` included)."""
        names: set[str] = set()
        for family in self.registry.collect():
            names.add(family.name)
            names.update(sample.name for sample in family.samples)
            if family.type == "histogram":
                names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
            elif family.type == "counter":
                names.add(f"{family.name}_total")
        return names

    def exposition(self) -> bytes:
        if self.multiprocess_directory is None:
            return generate_latest(self.registry)
        _forget_dead_processes(self.multiprocess_directory)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self.multiprocess_directory)  # type: ignore[no-untyped-call]
        return generate_latest(merged)


METRICS = ServiceMetrics()
REGISTRY = METRICS.registry


def route_template(scope: Scope) -> str:
    """The matched route's template (`/practices/{id}`), or `<unmatched>`."""
    route: BaseRoute | None = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class MetricsMiddleware:
    """Pure ASGI middleware timing every HTTP request.

    The route template is read from `scope["route"]`, which Starlette's router sets on the
    shared scope while routing; so this middleware must wrap the router without any middleware
    in between that replaces the scope dict (pure middlewares that pass `scope` on are fine).
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics | None = None) -> None:
        self.app = app
        self.metrics = metrics if metrics is not None else METRICS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        status = 500  # what the client sees when the app raises before it answers

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics = self.metrics
        metrics.in_flight.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            metrics.finish_request(scope, status, started)


NOT_FOUND_BODY = b'{"success":false,"error":{"code":"not_found","message":"Not found."}}'


async def metrics_endpoint(request: Request) -> Response:
    # The load balancer answers 404 for /metrics, but it matches the raw path: `/%6Detrics` gets
    # through and is decoded to /metrics here. Everything the load balancer forwards carries
    # X-Forwarded-For; the in-task scrapers (Datadog agent, Prometheus) never send it.
    if "x-forwarded-for" in request.headers:
        return Response(NOT_FOUND_BODY, status_code=404, media_type="application/json")
    return Response(METRICS.exposition(), media_type=CONTENT_TYPE_LATEST)


metrics_route = Route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)


def _operation(statement: str) -> str:
    keyword = statement.lstrip()[:6].upper()
    return keyword if keyword in QUERY_OPERATIONS else "OTHER"


def instrument_engine(
    engine: AsyncEngine, *, pool_name: str = "primary", metrics: ServiceMetrics | None = None
) -> None:
    """Report `engine`'s pool occupancy (kept by pool events) and time each statement.

    Safe to call once per engine; the listeners live as long as the engine does.
    """
    target = metrics if metrics is not None else METRICS
    sync_engine: Engine = engine.sync_engine
    pool: Pool = sync_engine.pool
    size = getattr(pool, "size", None)  # queue pools (PostgreSQL, file SQLite) have one
    if callable(size):
        target.pool_size.labels(pool_name).set(size())
    checked_out = target.pool_checked_out.labels(pool_name)

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        checked_out.inc()

    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        checked_out.dec()

    # Listeners on the pool survive engine.dispose(), which recreates the pool with them.
    event.listen(pool, "checkout", on_checkout)
    event.listen(pool, "checkin", on_checkin)

    def before_cursor_execute(
        conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
        executemany: bool,
    ) -> None:
        conn.info.setdefault(_QUERY_START_KEY, []).append(time.perf_counter())

    def after_cursor_execute(
        conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
        executemany: bool,
    ) -> None:
        starts: list[float] = conn.info.get(_QUERY_START_KEY) or []
        if starts:
            target.observe_query(_operation(statement), time.perf_counter() - starts.pop())

    def handle_error(context: Any) -> None:
        # A failed statement never reaches after_cursor_execute: drop its start time.
        connection = getattr(context, "connection", None)
        starts = connection.info.get(_QUERY_START_KEY) if connection is not None else None
        if starts:
            starts.pop()

    event.listen(sync_engine, "before_cursor_execute", before_cursor_execute)
    event.listen(sync_engine, "after_cursor_execute", after_cursor_execute)
    event.listen(sync_engine, "handle_error", handle_error)
