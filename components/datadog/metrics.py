"""The service's own metrics as Datadog names them, and what a monitor asks of a cloud.

The service exports Prometheus metrics on `/metrics`; the Datadog Agent's OpenMetrics check (on
AWS) or the service's exporter (on Google Cloud) ships them under the `awaterra.` namespace.
`MetricScope` is the set of query fragments each cloud's scope answers for the shared monitors.
"""

from __future__ import annotations

from typing import Protocol

# How the Agent's OpenMetrics check names the service's Prometheus metrics in Datadog.
# Histograms arrive as distributions (percentiles computed server-side across tasks).
DATADOG_METRIC_NAMESPACE = "awaterra"
PROMETHEUS_TO_DATADOG = {
    "awaterra_http_request_duration_seconds": "http.request.duration",
    "awaterra_http_requests_in_flight": "http.requests.in_flight",
    "awaterra_db_query_duration_seconds": "db.query.duration",
    "awaterra_db_write_batch_rows": "db.write.batch_rows",
    "awaterra_db_pool_checked_out": "db.pool.checked_out",
    "awaterra_db_pool_size": "db.pool.size",
}


def datadog_metric(prometheus_name: str) -> str:
    """The Datadog name of one of the service's Prometheus metrics."""
    return f"{DATADOG_METRIC_NAMESPACE}.{PROMETHEUS_TO_DATADOG[prometheus_name]}"


REQUEST_DURATION = datadog_metric("awaterra_http_request_duration_seconds")
IN_FLIGHT = datadog_metric("awaterra_http_requests_in_flight")
QUERY_DURATION = datadog_metric("awaterra_db_query_duration_seconds")
POOL_CHECKED_OUT = datadog_metric("awaterra_db_pool_checked_out")
POOL_SIZE = datadog_metric("awaterra_db_pool_size")
WRITE_BATCH_ROWS = datadog_metric("awaterra_db_write_batch_rows")


class MetricScope(Protocol):
    """What the monitors and SLOs ask of a cloud: one query fragment per signal."""

    @property
    def environment(self) -> str: ...
    @property
    def service(self) -> str: ...

    def lb_requests(self) -> str: ...
    def lb_p95(self) -> str: ...
    def p95_seconds(self) -> str: ...
    def five_xx(self) -> str: ...
    def no_healthy_hosts(self) -> str: ...
    def capacity_shortfall(self) -> str: ...
    def db_cpu_percent(self) -> str: ...
    def db_free_bytes(self) -> str: ...
    def db_connections(self) -> str: ...
    def availability_good(self) -> str: ...
    def availability_total(self) -> str: ...
