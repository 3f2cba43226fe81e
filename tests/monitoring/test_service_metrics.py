"""The service's Prometheus metrics: requests by route template, in-flight, DB pool and queries."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service import metrics as service_metrics
from service import tracing
from service.metrics import (
    METRICS,
    MetricsMiddleware,
    ServiceMetrics,
    instrument_engine,
    metrics_route,
)

DURATION = "awaterra_http_request_duration_seconds"


async def _practice(request: Request) -> Response:
    return JSONResponse({"id": request.path_params["practice_id"]})


async def _broken(request: Request) -> Response:
    raise RuntimeError("boom")


async def _in_flight(request: Request) -> Response:
    value = METRICS.registry.get_sample_value("awaterra_http_requests_in_flight")
    return JSONResponse({"inFlight": value})


class Client:
    """Synchronous calls into an ASGI app through httpx (Starlette's TestClient wants httpx2)."""

    def __init__(self, app: Starlette, raise_server_exceptions: bool = True) -> None:
        self.transport = httpx.ASGITransport(
            app=app, raise_app_exceptions=raise_server_exceptions
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        async def call() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=self.transport, base_url="http://testserver"
            ) as client:
                return await client.request(method, path, headers=headers)

        return asyncio.run(call())

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.request("GET", path, headers)


def _app() -> Starlette:
    return Starlette(
        routes=[
            Route("/practices/{practice_id}", _practice, methods=["GET"]),
            Route("/broken", _broken),
            Route("/in-flight", _in_flight),
            metrics_route,
        ],
        middleware=[Middleware(MetricsMiddleware)],
    )


def _count(route: str, status: str, method: str = "GET") -> float:
    value = METRICS.registry.get_sample_value(
        f"{DURATION}_count", {"method": method, "route": route, "status": status}
    )
    return value or 0.0


def _scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_endpoint_reports_requests_by_route_template_and_status() -> None:
    before_ok = _count("/practices/{practice_id}", "200")
    with Client(_app()) as client:
        for practice in ("breath", "walk", "sleep"):
            assert client.get(f"/practices/{practice}").status_code == 200
        assert client.get("/nowhere").status_code == 404
        samples = _scrape(client)

    labels = (("method", "GET"), ("route", "/practices/{practice_id}"), ("status", "200"))
    assert samples[(f"{DURATION}_count", labels)] == before_ok + 3
    not_found = (("method", "GET"), ("route", "<unmatched>"), ("status", "404"))
    assert samples[(f"{DURATION}_count", not_found)] >= 1
    # The raw paths never become label values: that is the cardinality guard.
    label_values = {value for (_, labels_) in samples for _, value in labels_}
    assert not any("breath" in value for value in label_values)


def test_metrics_refuse_requests_forwarded_by_the_load_balancer() -> None:
    with Client(_app()) as client:
        forwarded = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
        direct = client.get("/metrics")
    assert forwarded.status_code == 404
    assert forwarded.json()["error"]["code"] == "not_found"
    assert "awaterra_http" not in forwarded.text
    assert direct.status_code == 200
    assert "awaterra_http_request_duration_seconds" in direct.text


def test_latency_histogram_has_a_bucket_at_the_200ms_objective() -> None:
    with Client(_app()) as client:
        client.get("/practices/one")
        samples = _scrape(client)
    les = {dict(labels).get("le") for name, labels in samples if name == f"{DURATION}_bucket"}
    assert "0.2" in les and "+Inf" in les


def test_an_exception_is_counted_as_a_500_and_still_raises() -> None:
    before = _count("/broken", "500")
    with Client(_app(), raise_server_exceptions=False) as client:
        assert client.get("/broken").status_code == 500
    assert _count("/broken", "500") == before + 1
    assert METRICS.registry.get_sample_value("awaterra_http_requests_in_flight") == 0


def test_in_flight_counts_the_request_being_answered() -> None:
    with Client(_app()) as client:
        assert client.get("/in-flight").json() == {"inFlight": 1.0}
    assert METRICS.registry.get_sample_value("awaterra_http_requests_in_flight") == 0


def test_unknown_methods_collapse_into_one_label_value() -> None:
    with Client(_app()) as client:
        client.request("BREW", "/practices/tea")
        client.request("PROPFIND", "/practices/tea")
    assert _count("/practices/{practice_id}", "405", method="OTHER") >= 2
    methods = {
        sample.labels["method"]
        for family in METRICS.registry.collect()
        for sample in family.samples
        if sample.name == f"{DURATION}_count"
    }
    assert methods <= service_metrics.KNOWN_METHODS | {"OTHER"}


def test_fresh_metrics_instances_are_independent() -> None:
    own = ServiceMetrics()
    app = Starlette(
        routes=[Route("/practices/{practice_id}", _practice)],
        middleware=[Middleware(MetricsMiddleware, metrics=own)],
    )
    with Client(app) as client:
        client.get("/practices/x")
    assert own.registry.get_sample_value(
        f"{DURATION}_count", {"method": "GET", "route": "/practices/{practice_id}", "status": "200"}
    ) == 1


def test_engine_instrumentation_reports_pool_and_query_timings(tmp_path: Path) -> None:
    own = ServiceMetrics()

    async def exercise() -> tuple[float | None, float | None]:
        engine = create_async_engine(
            f"sqlite+aiosqlite:///{tmp_path / 'metrics.db'}", pool_size=3, max_overflow=0
        )
        instrument_engine(engine, pool_name="primary", metrics=own)
        try:
            async with engine.connect() as connection:
                await connection.execute(text("CREATE TABLE t (x INTEGER)"))
                await connection.execute(text("INSERT INTO t VALUES (1)"))
                await connection.execute(text("SELECT x FROM t"))
                with pytest.raises(Exception, match="no such table"):
                    await connection.execute(text("SELECT * FROM missing"))
                checked_out_inside = own.registry.get_sample_value(
                    "awaterra_db_pool_checked_out", {"pool": "primary"}
                )
            checked_out_after = own.registry.get_sample_value(
                "awaterra_db_pool_checked_out", {"pool": "primary"}
            )
        finally:
            await engine.dispose()
        return checked_out_inside, checked_out_after

    inside, after = asyncio.run(exercise())
    assert inside == 1
    assert after == 0
    assert own.registry.get_sample_value("awaterra_db_pool_size", {"pool": "primary"}) == 3
    for operation in ("SELECT", "INSERT"):
        count = own.registry.get_sample_value(
            "awaterra_db_query_duration_seconds_count", {"operation": operation}
        )
        assert count is not None and count >= 1, operation
    assert own.registry.get_sample_value(
        "awaterra_db_query_duration_seconds_count", {"operation": "OTHER"}
    ) == 1  # the CREATE TABLE; the failed SELECT is not timed as a success


def test_metric_names_lists_every_exported_sample_name() -> None:
    names = METRICS.metric_names()
    for expected in (
        f"{DURATION}_bucket",
        f"{DURATION}_count",
        f"{DURATION}_sum",
        "awaterra_http_requests_in_flight",
        "awaterra_db_query_duration_seconds_bucket",
        "awaterra_db_pool_checked_out",
        "awaterra_db_pool_size",
    ):
        assert expected in names


def test_tracing_is_off_without_ddtrace_and_says_so(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DD_TRACE_LOG_STREAM_HANDLER", "unset")  # restored (absent) afterwards
    monkeypatch.delenv("DD_TRACE_LOG_STREAM_HANDLER")
    assert tracing.configure_tracing(False) is False
    assert tracing.current_trace_ids() == {}
    with caplog.at_level(logging.WARNING, logger="service.tracing"):
        assert tracing.configure_tracing(True) is False  # ddtrace is not installed here
    assert "ddtrace is not installed" in caplog.text
    assert tracing.current_trace_ids() == {}
    # ddtrace's own stream handler stays off: our JSON root handler already carries its lines.
    assert os.environ["DD_TRACE_LOG_STREAM_HANDLER"] == "false"


def test_tracing_requested_reads_dd_trace_enabled() -> None:
    assert tracing.tracing_requested({"DD_TRACE_ENABLED": "true"})
    assert tracing.tracing_requested({"DD_TRACE_ENABLED": "1"})
    assert not tracing.tracing_requested({"DD_TRACE_ENABLED": "false"})
    assert not tracing.tracing_requested({})


def test_trace_ids_come_from_the_active_span(monkeypatch: pytest.MonkeyPatch) -> None:
    class Span:
        trace_id = (7 << 64) | 12345  # a 128-bit id: Datadog joins on the low 64 bits
        span_id = 678

    class Tracer:
        def current_span(self) -> Span:
            return Span()

    monkeypatch.setattr(tracing, "_tracer", Tracer())
    assert tracing.current_trace_ids() == {"dd.trace_id": "12345", "dd.span_id": "678"}


WORKER = """
from service.metrics import METRICS
METRICS.observe_request("GET", "/practices/{practice_id}", 200, 0.05)
METRICS.in_flight.inc()  # the worker "dies" mid-request: its live gauge must not linger
"""
SCRAPER = """
from service.metrics import METRICS
print(METRICS.exposition().decode())
"""


def _python(code: str, metrics_dir: Path) -> str:
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], env=environment,
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


def test_several_workers_report_one_sum(tmp_path: Path) -> None:
    for _ in range(2):
        _python(WORKER, tmp_path)
    families = {f.name: f for f in text_string_to_metric_families(_python(SCRAPER, tmp_path))}
    requests = families[DURATION]
    count = next(
        s.value for s in requests.samples
        if s.name == f"{DURATION}_count" and s.labels["route"] == "/practices/{practice_id}"
    )
    assert count == 2  # both workers' requests, whichever worker is scraped
    in_flight = families["awaterra_http_requests_in_flight"].samples
    assert sum(s.value for s in in_flight) == 0  # dead workers' in-flight requests are dropped
    assert not any(name.startswith("process_") for name in families)


def test_multiprocess_directory_only_for_several_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(service_metrics.MULTIPROCESS_ENV, raising=False)
    assert service_metrics.prepare_multiprocess_directory(1, str(tmp_path)) is None
    assert service_metrics.MULTIPROCESS_ENV not in os.environ
    directory = service_metrics.prepare_multiprocess_directory(2, str(tmp_path))
    assert directory is not None and Path(directory).is_dir()
    assert Path(directory).parent == tmp_path and not any(Path(directory).iterdir())
    assert os.environ[service_metrics.MULTIPROCESS_ENV] == directory
    # Already configured (e.g. by the operator): left alone.
    assert service_metrics.prepare_multiprocess_directory(4, str(tmp_path)) is None
