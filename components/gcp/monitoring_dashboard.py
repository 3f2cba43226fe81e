"""The stack's Datadog dashboard on Google Cloud: the AWS layout, GCP metrics.

Objectives, API (Cloud Run's request metrics by response class: the service's own per-endpoint
metrics are not shipped on Google Cloud), Service (Cloud Run), Load balancer and Database
(Cloud SQL). Pure, like components.aws.monitoring_dashboard, whose widget helpers it reuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.datadog.widgets import dashboard, formula, group, marker, slo_widget, timeseries
from components.gcp.monitoring_queries import (
    LB_LATENCIES,
    LB_REQUESTS,
    RUN_CPU,
    RUN_INSTANCES,
    RUN_LATENCIES,
    RUN_MEMORY,
    RUN_REQUESTS,
    SQL_CPU,
    SQL_DISK_QUOTA,
    SQL_DISK_USED,
    GcpScope,
)
from components.monitoring_thresholds import MonitoringThresholds

GROUP_TITLES = ("Objectives", "API", "Service (Cloud Run)", "Load balancer", "Database (Cloud SQL)")


def _ms(name: str) -> dict[str, Any]:
    return formula(f"{name} / 1000", name, "second")


def _api(scope: GcpScope, limits: MonitoringThresholds) -> list[dict[str, Any]]:
    run = scope.cloud_run
    return [
        timeseries(
            "Requests per second by response class",
            [("requests", f"sum:{RUN_REQUESTS}{{{run}}} by {{response_code_class}}.as_rate()")],
            [formula("requests", "requests/s", "request")],
            display="bars",
            yaxis_label="requests/s",
        ),
        timeseries(
            # Datadog crawls GCP distributions as avg/p95/p99 (no median).
            "Latency average / p95 / p99 (Cloud Run)",
            [(p, f"avg:{RUN_LATENCIES}.{p}{{{run}}}") for p in ("avg", "p95", "p99")],
            [_ms(p) for p in ("avg", "p95", "p99")],
            markers=[marker(limits.latency_p95_seconds, "p95 objective")],
            yaxis_label="seconds",
        ),
        timeseries(
            "5xx rate (Cloud Run)",
            [
                ("errors", scope.run_5xx()),
                ("all", f"sum:{RUN_REQUESTS}{{{run}}}.as_count()"),
            ],
            [formula("100 * errors / all", "5xx %", "percent")],
            markers=[marker(limits.error_rate_percent, "5xx alert threshold")],
            yaxis_label="% of requests",
        ),
    ]


def _service(scope: GcpScope) -> list[dict[str, Any]]:
    run = scope.cloud_run
    return [
        timeseries(
            f"Instances by state (min instances {scope.min_instances})",
            [("instances", f"sum:{RUN_INSTANCES}{{{run}}} by {{state}}")],
            [formula("instances", "instances", "instance")],
            markers=[marker(scope.min_instances, "min instances", "warning")],
            yaxis_label="instances",
        ),
        timeseries(
            "CPU utilisation p95",
            [("cpu", f"avg:{RUN_CPU}.p95{{{run}}}")],
            [formula("cpu * 100", "CPU", "percent")],
            markers=[marker(80, "scale-out pressure", "warning")],
            yaxis_label="%",
        ),
        timeseries(
            "Memory utilisation p95",
            [("memory", f"avg:{RUN_MEMORY}.p95{{{run}}}")],
            [formula("memory * 100", "memory", "percent")],
            markers=[marker(90, "OOM risk")],
            yaxis_label="%",
        ),
    ]


def _load_balancer(scope: GcpScope, limits: MonitoringThresholds) -> list[dict[str, Any]]:
    lb = scope.load_balancer
    return [
        timeseries(
            "Total latency (load balancer)",
            [
                ("avg", f"avg:{LB_LATENCIES}.avg{{{lb}}}"),
                ("p95", scope.lb_p95()),
                ("p99", f"avg:{LB_LATENCIES}.p99{{{lb}}}"),
            ],
            [_ms("avg"), _ms("p95"), _ms("p99")],
            markers=[marker(limits.latency_p95_seconds, "p95 objective")],
            yaxis_label="seconds",
        ),
        timeseries(
            "5xx: all responses vs from Cloud Run",
            [("lb", scope.lb_5xx()), ("run", scope.run_5xx())],
            [formula("lb", "all 5xx", "response"), formula("run", "Cloud Run 5xx", "response")],
            display="bars",
            yaxis_label="responses",
        ),
        timeseries(
            "Requests by response class",
            [("requests", f"sum:{LB_REQUESTS}{{{lb}}} by {{response_code_class}}.as_count()")],
            [formula("requests", "requests", "request")],
            display="bars",
            yaxis_label="requests",
        ),
    ]


def _database(
    scope: GcpScope, limits: MonitoringThresholds, max_connections: int
) -> list[dict[str, Any]]:
    db = scope.database
    return [
        timeseries(
            "Instance up",
            [("up", scope.db_up())],
            [formula("up", "up", "item")],
            markers=[marker(1, "down below this")],
        ),
        timeseries(
            "Database CPU",
            [("cpu", f"avg:{SQL_CPU}{{{db}}}")],
            [formula("cpu * 100", "CPU", "percent")],
            markers=[
                marker(limits.db_cpu_percent, "alert"),
                marker(limits.db_cpu_warning_percent, "warning", "warning"),
            ],
            yaxis_label="%",
        ),
        timeseries(
            f"Connections vs limit ({max_connections})",
            [("connections", scope.db_connections())],
            [formula("connections", "connections", "connection")],
            markers=[
                marker(max_connections, "max_connections"),
                marker(round(max_connections * limits.db_connections_ratio), "alert", "warning"),
            ],
            yaxis_label="connections",
        ),
        timeseries(
            "Disk: used vs quota",
            [("used", f"max:{SQL_DISK_USED}{{{db}}}"), ("quota", f"min:{SQL_DISK_QUOTA}{{{db}}}")],
            [formula("used", "used", "byte"), formula("quota", "quota", "byte")],
            yaxis_label="bytes",
        ),
    ]


def dashboard_document(
    scope: GcpScope,
    limits: MonitoringThresholds,
    *,
    db_max_connections: int,
    slo_ids: Sequence[tuple[str, str]],
    domain: str,
) -> dict[str, Any]:
    """The dashboard JSON, same signature as components.aws.monitoring_dashboard's."""
    groups = [
        group(GROUP_TITLES[0], [slo_widget(title, slo_id) for title, slo_id in slo_ids]),
        group(GROUP_TITLES[1], _api(scope, limits)),
        group(GROUP_TITLES[2], _service(scope)),
        group(GROUP_TITLES[3], _load_balancer(scope, limits)),
        group(GROUP_TITLES[4], _database(scope, limits, db_max_connections)),
    ]
    return dashboard(
        f"awaterra API ({scope.environment}, Google Cloud) - {domain}",
        "Top-down: objectives, then Cloud Run's request metrics, the Cloud Run service, the "
        "load balancer and Cloud SQL. Managed by Pulumi; edits here are overwritten.",
        groups,
    )
