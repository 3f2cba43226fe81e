"""The stack's Datadog dashboard as a JSON document, grouped for top-down troubleshooting.

Objectives first (SLOs), then API (the service's own metrics, per endpoint), Service (ECS tasks),
Load balancer, and Database: each group answers "is it this layer?" before the next one down.
Pure: builds a dict for `datadog.DashboardJson`, so it is tested without pulumi_datadog.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.aws.monitoring_queries import MonitoredScope
from components.datadog.metrics import (
    IN_FLIGHT,
    POOL_CHECKED_OUT,
    POOL_SIZE,
    QUERY_DURATION,
    REQUEST_DURATION,
    WRITE_BATCH_ROWS,
)
from components.datadog.widgets import dashboard, formula, group, marker, slo_widget, timeseries
from components.monitoring_thresholds import MonitoringThresholds

GROUP_TITLES = ("Objectives", "API", "Service (ECS)", "Load balancer", "Database")

# Template variables: the service's metrics carry env/route tags; AWS metrics are scoped by the
# stack's resource identifiers instead (they do not carry `env` unless AWS tags say so).
APP_FILTER = "$env,$route,service:{service}"


def _objectives(slo_ids: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    return [slo_widget(title, slo_id) for title, slo_id in slo_ids]


def _api(scope: MonitoredScope, limits: MonitoringThresholds) -> list[dict[str, Any]]:
    app = APP_FILTER.format(service=scope.service)
    latency_marker = marker(limits.latency_p95_seconds, "p95 objective")
    error_marker = marker(limits.error_rate_percent, "5xx alert threshold")
    return [
        timeseries(
            "Requests per second by endpoint",
            [("requests", f"count:{REQUEST_DURATION}{{{app}}} by {{route}}.as_rate()")],
            [formula("requests", "requests/s", "request")],
            display="bars",
            yaxis_label="requests/s",
        ),
        timeseries(
            "Latency p50 / p95 / p99 (all endpoints)",
            [
                ("p50", f"p50:{REQUEST_DURATION}{{{app}}}"),
                ("p95", f"p95:{REQUEST_DURATION}{{{app}}}"),
                ("p99", f"p99:{REQUEST_DURATION}{{{app}}}"),
            ],
            [
                formula("p50", "p50", "second"),
                formula("p95", "p95", "second"),
                formula("p99", "p99", "second"),
            ],
            markers=[latency_marker],
            yaxis_label="seconds",
        ),
        timeseries(
            "Latency p95 by endpoint",
            [("p95", f"p95:{REQUEST_DURATION}{{{app}}} by {{route}}")],
            [formula("p95", "p95", "second")],
            markers=[latency_marker],
            yaxis_label="seconds",
        ),
        timeseries(
            "4xx rate by endpoint",
            [
                ("errors", f"count:{REQUEST_DURATION}{{{app},status:4*}} by {{route}}.as_count()"),
                ("all", f"count:{REQUEST_DURATION}{{{app}}} by {{route}}.as_count()"),
            ],
            [formula("100 * errors / all", "4xx %", "percent")],
            yaxis_label="% of requests",
        ),
        timeseries(
            "5xx rate by endpoint",
            [
                ("errors", f"count:{REQUEST_DURATION}{{{app},status:5*}} by {{route}}.as_count()"),
                ("all", f"count:{REQUEST_DURATION}{{{app}}} by {{route}}.as_count()"),
            ],
            [formula("100 * errors / all", "5xx %", "percent")],
            markers=[error_marker],
            yaxis_label="% of requests",
        ),
        timeseries(
            "Requests in flight",
            [("in_flight", f"sum:{IN_FLIGHT}{{$env,service:{scope.service}}}")],
            [formula("in_flight", "in flight", "request")],
            yaxis_label="requests",
        ),
    ]


def _service(scope: MonitoredScope) -> list[dict[str, Any]]:
    ecs = scope.ecs_service
    return [
        timeseries(
            "Running vs desired tasks",
            [
                ("running", f"avg:aws.ecs.service.running{{{ecs}}}"),
                ("desired", f"avg:aws.ecs.service.desired{{{ecs}}}"),
            ],
            [formula("running", "running", "task"), formula("desired", "desired", "task")],
            yaxis_label="tasks",
        ),
        timeseries(
            "CPU utilisation",
            [
                ("avg", f"avg:aws.ecs.service.cpuutilization{{{ecs}}}"),
                ("max", f"max:aws.ecs.service.cpuutilization.maximum{{{ecs}}}"),
            ],
            [formula("avg", "average", "percent"), formula("max", "busiest task", "percent")],
            markers=[marker(80, "scale-out pressure", "warning")],
            yaxis_label="%",
        ),
        timeseries(
            "Memory utilisation",
            [
                ("avg", f"avg:aws.ecs.service.memory_utilization{{{ecs}}}"),
                ("max", f"max:aws.ecs.service.memory_utilization.maximum{{{ecs}}}"),
            ],
            [formula("avg", "average", "percent"), formula("max", "busiest task", "percent")],
            markers=[marker(90, "OOM risk")],
            yaxis_label="%",
        ),
        timeseries(
            # Fargate never restarts a container in place: a crashed or unhealthy task is
            # replaced, and the replacement shows up as pending.
            "Restarts: tasks pending (replacements and scale-outs)",
            [("pending", f"max:aws.ecs.service.pending{{{ecs}}}")],
            [formula("pending", "pending", "task")],
            display="bars",
            yaxis_label="tasks",
        ),
    ]


def _load_balancer(scope: MonitoredScope, limits: MonitoringThresholds) -> list[dict[str, Any]]:
    lb = scope.load_balancer
    tg = scope.target_group
    return [
        timeseries(
            "Healthy vs unhealthy targets",
            [
                ("healthy", f"sum:aws.applicationelb.healthy_host_count{{{tg}}}"),
                ("unhealthy", f"sum:aws.applicationelb.un_healthy_host_count{{{tg}}}"),
            ],
            [formula("healthy", "healthy", "host"), formula("unhealthy", "unhealthy", "host")],
            markers=[marker(1, "no healthy targets below this")],
            yaxis_label="targets",
        ),
        timeseries(
            "Target response time",
            [
                ("avg", f"avg:aws.applicationelb.target_response_time.average{{{lb}}}"),
                ("p95", scope.lb_p95()),
                ("p99", f"avg:aws.applicationelb.target_response_time.p99{{{lb}}}"),
            ],
            [
                formula("avg", "average", "second"),
                formula("p95", "p95", "second"),
                formula("p99", "p99", "second"),
            ],
            markers=[marker(limits.latency_p95_seconds, "p95 objective")],
            yaxis_label="seconds",
        ),
        timeseries(
            "5xx: from the load balancer vs from the tasks",
            [("elb", scope.lb_elb_5xx()), ("target", scope.lb_target_5xx())],
            [
                formula("elb", "load balancer 5xx", "response"),
                formula("target", "task 5xx", "response"),
            ],
            display="bars",
            yaxis_label="responses",
        ),
        timeseries(
            "Requests through the load balancer",
            [("requests", scope.lb_requests())],
            [formula("requests", "requests", "request")],
            display="bars",
            yaxis_label="requests",
        ),
    ]


def _database(
    scope: MonitoredScope, limits: MonitoringThresholds, max_connections: int
) -> list[dict[str, Any]]:
    db = scope.database
    return [
        timeseries(
            "Database CPU",
            [("cpu", f"avg:aws.rds.cpuutilization{{{db}}}")],
            [formula("cpu", "CPU", "percent")],
            markers=[
                marker(limits.db_cpu_percent, "alert"),
                marker(limits.db_cpu_warning_percent, "warning", "warning"),
            ],
            yaxis_label="%",
        ),
        timeseries(
            f"Connections vs limit ({max_connections})",
            [("connections", f"avg:aws.rds.database_connections{{{db}}}")],
            [formula("connections", "connections", "connection")],
            markers=[
                marker(max_connections, "max_connections"),
                marker(round(max_connections * limits.db_connections_ratio), "alert", "warning"),
            ],
            yaxis_label="connections",
        ),
        timeseries(
            "Free storage",
            [("free", f"min:aws.rds.free_storage_space{{{db}}}")],
            [formula("free", "free", "byte")],
            markers=[marker(limits.db_free_storage_bytes, "alert")],
            yaxis_label="bytes",
        ),
        timeseries(
            "Read / write latency",
            [
                ("read", f"avg:aws.rds.read_latency{{{db}}}"),
                ("write", f"avg:aws.rds.write_latency{{{db}}}"),
            ],
            [formula("read", "read", "second"), formula("write", "write", "second")],
            yaxis_label="seconds",
        ),
        timeseries(
            "Service connection pool: checked out vs size",
            [
                ("checked_out", f"sum:{POOL_CHECKED_OUT}{{$env,service:{scope.service}}}"),
                ("size", f"sum:{POOL_SIZE}{{$env,service:{scope.service}}}"),
            ],
            [
                formula("checked_out", "checked out", "connection"),
                formula("size", "pool size", "connection"),
            ],
            yaxis_label="connections",
        ),
        timeseries(
            "Map writes per statement (1 = no coalescing; near 32 = the database is the limit)",
            [
                ("mean", f"avg:{WRITE_BATCH_ROWS}{{$env,service:{scope.service}}}"),
                ("p95", f"p95:{WRITE_BATCH_ROWS}{{$env,service:{scope.service}}}"),
            ],
            [formula("mean", "mean", "item"), formula("p95", "p95", "item")],
            yaxis_label="writes",
        ),
        timeseries(
            "Query duration p95 by statement type",
            [("p95", f"p95:{QUERY_DURATION}{{$env,service:{scope.service}}} by {{operation}}")],
            [formula("p95", "p95", "second")],
            yaxis_label="seconds",
        ),
    ]


def dashboard_document(
    scope: MonitoredScope,
    limits: MonitoringThresholds,
    *,
    db_max_connections: int,
    slo_ids: Sequence[tuple[str, str]],
    domain: str,
) -> dict[str, Any]:
    """The dashboard JSON; `slo_ids` are (widget title, SLO id) pairs for the Objectives group."""
    groups = [
        group(GROUP_TITLES[0], _objectives(slo_ids)),
        group(GROUP_TITLES[1], _api(scope, limits)),
        group(GROUP_TITLES[2], _service(scope)),
        group(GROUP_TITLES[3], _load_balancer(scope, limits)),
        group(GROUP_TITLES[4], _database(scope, limits, db_max_connections)),
    ]
    return dashboard(
        f"awaterra API ({scope.environment}) - {domain}",
        "Top-down: objectives, then the API's own metrics per endpoint, the ECS service, "
        "the load balancer and the database. Managed by Pulumi; edits here are overwritten.",
        groups,
        [
            {"name": "env", "prefix": "env", "available_values": [], "default": scope.environment},
            {"name": "route", "prefix": "route", "available_values": [], "default": "*"},
        ],
    )
