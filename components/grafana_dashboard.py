"""The Grafana dashboard (Prometheus data source) as a JSON document, from the alerting source.

The same top-down story as the Datadog dashboard: Objectives, API, Service, Database (the load
balancer's own metrics are CloudWatch's, not Prometheus'). Thresholds are the alerts' own
(`MonitoringThresholds`), drawn as dashed lines and named in each panel's description, so no
meaning is carried by colour alone; colours are the Okabe-Ito palette, which stays
distinguishable with the common colour-vision deficiencies. `make prometheus-rules` writes
ops/grafana/dashboards/awaterra-api.json; Pulumi provisions the same document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.monitoring_thresholds import MonitoringThresholds
from components.prometheus_rules import API_JOB, DB_MAX_CONNECTIONS, HEARTBEAT_JOB, MIN_TASKS

UID = "awaterra-api"
# Okabe & Ito, "Color Universal Design" (2008).
BLUE = "#0072B2"
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
PALETTE = (BLUE, ORANGE, SKY, GREEN, VERMILLION, PURPLE)
OK, WARNING, CRITICAL = BLUE, ORANGE, VERMILLION

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
APP = 'job=~"$job", route=~"$route"'
JOB = 'job=~"$job"'
REQUEST = "awaterra_http_request_duration_seconds"


@dataclass(frozen=True)
class Step:
    """A threshold: from `value` up the colour means `label` (below the first: ok)."""

    value: float
    label: str
    color: str = CRITICAL


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    unit: str
    queries: Sequence[tuple[str, str]]  # (legend, PromQL)
    steps: Sequence[Step] = ()
    kind: str = "timeseries"
    width: int = 12
    height: int = 8
    below_is_bad: bool = False  # availability-like: the threshold is a floor
    decimals: int | None = None
    # Legends of series that are themselves a threshold (drawn dashed, named in the description).
    threshold_series: Sequence[str] = ()


def _thresholds(panel: Panel) -> dict[str, Any]:
    steps: list[dict[str, Any]]
    if panel.below_is_bad:
        steps = [{"color": CRITICAL, "value": None}]
        steps += [{"color": OK, "value": step.value} for step in panel.steps]
    else:
        steps = [{"color": OK, "value": None}]
        steps += [{"color": step.color, "value": step.value} for step in panel.steps]
    return {"mode": "absolute", "steps": steps}


def _description(panel: Panel) -> str:
    parts = [panel.description]
    if panel.steps:
        lines = "; ".join(f"{_value(s.value, panel.unit)} = {s.label}" for s in panel.steps)
        parts.append(f"Dashed lines: {lines}.")
    if panel.threshold_series:
        names = ", ".join(f"'{name}'" for name in panel.threshold_series)
        parts.append(f"Dashed series {names}: the alert's threshold.")
    if len(parts) == 1:
        parts.append("No alert watches this panel.")
    return " ".join(parts)


def _value(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:g} ms"
    if unit == "percentunit":
        return f"{value * 100:g}%"
    return f"{value:g}"


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "unit": panel.unit,
        "thresholds": _thresholds(panel),
        "color": {"mode": "thresholds" if panel.kind == "stat" else "palette-classic"},
    }
    if panel.decimals is not None:
        defaults["decimals"] = panel.decimals
    overrides: list[dict[str, Any]] = [
        {
            "matcher": {"id": "byName", "options": legend},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
        }
        for (legend, _), color in zip(panel.queries, PALETTE, strict=False)
    ]
    for override in overrides:
        if override["matcher"]["options"] in panel.threshold_series:
            override["properties"].append(
                {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}}
            )
    options: dict[str, Any]
    if panel.kind == "stat":
        options = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            # The value and its name are text: the colour only repeats what they say.
            "textMode": "value_and_name",
            "justifyMode": "auto",
            "orientation": "auto",
        }
        overrides = []
    else:
        defaults["min"] = 0
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 2,
            "fillOpacity": 0,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"mode": "none", "group": "A"},
            "thresholdsStyle": {"mode": "dashed" if panel.steps else "off"},
        }
        options = {
            "legend": {
                "displayMode": "table",
                "placement": "bottom",
                "showLegend": True,
                "calcs": ["mean", "max"],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    return {
        "type": panel.kind,
        "title": panel.title,
        "description": _description(panel),
        "id": panel_id,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": overrides},
        "options": options,
        "targets": [
            {
                "datasource": DATASOURCE,
                "expr": expr,
                "legendFormat": legend,
                "refId": chr(ord("A") + index),
                "range": True,
            }
            for index, (legend, expr) in enumerate(panel.queries)
        ],
    }


def _rate(selector: str) -> str:
    return f"rate({selector}[$__rate_interval])"


def _quantile(q: str, by: str = "le") -> str:
    return f"histogram_quantile({q}, sum by ({by}) ({_rate(f'{REQUEST}_bucket{{{APP}}}')}))"


def _share(numerator: str, by: str = "") -> str:
    grouping = f" by ({by})" if by else ""
    return (
        f"sum{grouping} ({_rate(numerator)}) / "
        f"sum{grouping} ({_rate(f'{REQUEST}_count{{{APP}}}')})"
    )


def groups(limits: MonitoringThresholds) -> list[tuple[str, list[Panel]]]:
    latency = (
        Step(limits.latency_p95_warning_seconds, "warning", WARNING),
        Step(limits.latency_p95_seconds, "objective and alert (p95)"),
    )
    errors = (
        Step(limits.error_rate_warning_percent / 100, "warning", WARNING),
        Step(limits.error_rate_percent / 100, "5xx alert"),
    )
    budget = 1 - limits.availability_target_percent / 100
    guard_rate = limits.error_rate_min_requests / 600
    count = f"{REQUEST}_count{{{APP}}}"
    five_xx = f'{REQUEST}_count{{{APP}, status=~"5.."}}'
    four_xx = f'{REQUEST}_count{{{APP}, status=~"4.."}}'
    objective = f"{limits.availability_target_percent:g}%"
    return [
        (
            "Objectives",
            [
                Panel(
                    f"Availability, 30 days (objective {objective})",
                    "Share of API requests answered without a 5xx over the last 30 days.",
                    "percentunit",
                    [(
                        "availability",
                        f"1 - (sum(increase({REQUEST}_count{{{JOB}, status=~\"5..\"}}[30d])) "
                        f"or vector(0)) / sum(increase({REQUEST}_count{{{JOB}}}[30d]))",
                    )],
                    (Step(limits.availability_target_percent / 100, "objective"),),
                    kind="stat", width=6, height=5, below_is_bad=True, decimals=3,
                ),
                Panel(
                    "Error budget burn rate, 1 hour",
                    f"How fast the 30-day error budget ({budget:.1%} of requests) is being "
                    "spent: 1 = exactly on budget.",
                    "none",
                    [(
                        "burn rate",
                        f'(sum(rate({REQUEST}_count{{{JOB}, status=~"5.."}}[1h])) or vector(0))'
                        f" / sum(rate({REQUEST}_count{{{JOB}}}[1h])) / {budget:g}",
                    )],
                    (
                        Step(limits.slow_burn_rate, "slow-burn alert (with 6 h)", WARNING),
                        Step(limits.fast_burn_rate, "fast-burn alert (with 5 min)"),
                    ),
                    kind="stat", width=6, height=5, decimals=1,
                ),
                Panel(
                    f"Requests within {limits.latency_p95_seconds * 1000:g} ms, 1 hour",
                    "Share of requests answered within the latency objective; p95 within it "
                    "means at least 95% here.",
                    "percentunit",
                    [(
                        "within objective",
                        f'sum(rate({REQUEST}_bucket{{{JOB}, '
                        f'le="{limits.latency_p95_seconds:g}"}}[1h])) / '
                        f"sum(rate({REQUEST}_count{{{JOB}}}[1h]))",
                    )],
                    (Step(0.95, "p95 objective"),),
                    kind="stat", width=6, height=5, below_is_bad=True, decimals=2,
                ),
                Panel(
                    "Alerts firing",
                    "Prometheus alerts of this service now firing (the alert list names them).",
                    "none",
                    [(
                        "firing",
                        f'count(ALERTS{{alertstate="firing", service="{API_JOB}"}}) or vector(0)',
                    )],
                    (Step(1, "at least one alert firing"),),
                    kind="stat", width=6, height=5,
                ),
            ],
        ),
        (
            "API",
            [
                Panel(
                    "Requests per second by endpoint",
                    "Requests answered per second, by route template.",
                    "reqps",
                    [("{{route}}", f"sum by (route) ({_rate(count)})")],
                    (Step(guard_rate, "5xx alert's low-traffic guard (100 per 10 min)", SKY),),
                ),
                Panel(
                    "Latency p50 / p95 / p99",
                    "Request duration percentiles across the selected endpoints.",
                    "s",
                    [("p50", _quantile("0.50")), ("p95", _quantile("0.95")),
                     ("p99", _quantile("0.99"))],
                    latency,
                ),
                Panel(
                    "Latency p95 by endpoint",
                    "Which endpoint is slow: p95 per route template.",
                    "s",
                    [("{{route}}", _quantile("0.95", "le, route"))],
                    latency,
                ),
                Panel(
                    "5xx ratio",
                    "Share of requests that failed with a 5xx (the 5xx alert counts at least "
                    f"{limits.error_rate_min_requests} requests per 10 minutes).",
                    "percentunit",
                    [("5xx ratio", f"({_share(five_xx)}) or vector(0)")],
                    errors,
                ),
                Panel(
                    "5xx ratio by endpoint",
                    "Which endpoint fails: share of its requests answered with a 5xx.",
                    "percentunit",
                    [("{{route}}", _share(five_xx, "route"))],
                    errors,
                ),
                Panel(
                    "4xx ratio by endpoint",
                    "Client errors per route (bad input, missing or expired tokens, 404s); "
                    "a jump after a release often means an app/API mismatch.",
                    "percentunit",
                    [("{{route}}", _share(four_xx, "route"))],
                ),
                Panel(
                    "Requests by status",
                    "Requests per second by HTTP status code.",
                    "reqps",
                    [("{{status}}", f"sum by (status) ({_rate(count)})")],
                ),
                Panel(
                    "Requests in flight",
                    "Requests being answered right now, per scraped task.",
                    "short",
                    [(
                        "{{instance}}",
                        f"sum by (instance) (awaterra_http_requests_in_flight{{{JOB}}})",
                    )],
                ),
            ],
        ),
        (
            "Service",
            [
                Panel(
                    "Tasks answering their scrape vs the minimum",
                    "Tasks whose /metrics the collector scraped, against serviceMinCount.",
                    "short",
                    [
                        ("tasks up", f"count(up{{{JOB}}} == 1) or vector(0)"),
                        ("minimum (alert below it for 15 min)", MIN_TASKS),
                    ],
                    (Step(1, "below: API down alert", CRITICAL),),
                    below_is_bad=True,
                    threshold_series=("minimum (alert below it for 15 min)",),
                ),
                Panel(
                    "Heartbeat probe",
                    "The blackbox probe of /heartbeat: 1 = 200 with status ok in time.",
                    "short",
                    [("{{instance}}", f'probe_success{{job="{HEARTBEAT_JOB}"}}')],
                    (Step(1, "below: failing (alert after 2 min)"),),
                    below_is_bad=True,
                ),
                Panel(
                    "Heartbeat probe duration",
                    "Time the heartbeat probe took, DNS and TLS included.",
                    "s",
                    [("{{instance}}", f'probe_duration_seconds{{job="{HEARTBEAT_JOB}"}}')],
                    (Step(limits.heartbeat_max_response_ms / 1000, "probe timeout (fails)"),),
                ),
                Panel(
                    "CPU per process",
                    "CPU seconds per second of each server process (single-worker servers).",
                    "percentunit",
                    [("{{instance}}", _rate(f"process_cpu_seconds_total{{{JOB}}}"))],
                ),
            ],
        ),
        (
            "Database",
            [
                Panel(
                    "Connections held open vs the limit",
                    "Connections the API's pools hold (per pool the larger of its size and "
                    "its checked-out connections), against the alert's share of "
                    "max_connections.",
                    "short",
                    [
                        ("held open", "sum(awaterra:db_pool:open_connections)"),
                        (
                            f"alert: {limits.db_connections_ratio:.0%} of max_connections",
                            f"{limits.db_connections_ratio:g} * {DB_MAX_CONNECTIONS}",
                        ),
                    ],
                    threshold_series=(
                        f"alert: {limits.db_connections_ratio:.0%} of max_connections",
                    ),
                ),
                Panel(
                    "Connection pool: checked out vs size",
                    "Checked out at the pool size means requests queue for a connection.",
                    "short",
                    [
                        (
                            "checked out {{pool}}",
                            f"sum by (pool) (awaterra_db_pool_checked_out{{{JOB}}})",
                        ),
                        ("size {{pool}}", f"sum by (pool) (awaterra_db_pool_size{{{JOB}}})"),
                    ],
                ),
                Panel(
                    "Query duration p95 by statement type",
                    "p95 time of one SQL statement by its leading keyword; a query near the "
                    "request objective leaves no time for the rest.",
                    "s",
                    [(
                        "{{operation}}",
                        "histogram_quantile(0.95, sum by (le, operation) "
                        f"({_rate(f'awaterra_db_query_duration_seconds_bucket{{{JOB}}}')}))",
                    )],
                    (Step(limits.latency_p95_seconds, "the request objective"),),
                ),
                Panel(
                    "Map writes per statement",
                    "POST /map writes per upsert statement; above 1 means concurrent writes "
                    "are being coalesced.",
                    "short",
                    [
                        (
                            "mean",
                            f"sum({_rate(f'awaterra_db_write_batch_rows_sum{{{JOB}}}')}) / "
                            f"sum({_rate(f'awaterra_db_write_batch_rows_count{{{JOB}}}')})",
                        ),
                        (
                            "p95",
                            "histogram_quantile(0.95, sum by (le) "
                            f"({_rate(f'awaterra_db_write_batch_rows_bucket{{{JOB}}}')}))",
                        ),
                    ],
                    (Step(1, "above: writes coalesced", SKY),),
                ),
            ],
        ),
    ]


def _variables() -> list[dict[str, Any]]:
    def query_variable(name: str, label: str, query: str) -> dict[str, Any]:
        return {
            "name": name, "label": label, "type": "query", "datasource": DATASOURCE,
            "query": {"query": query, "refId": name}, "definition": query, "refresh": 2,
            "includeAll": True, "multi": True, "allValue": ".*", "current": {},
            "options": [], "sort": 1, "hide": 0, "regex": "",
        }

    return [
        {
            "name": "datasource", "label": "Data source", "type": "datasource",
            "query": "prometheus", "current": {}, "hide": 0, "refresh": 1, "options": [],
            "regex": "", "includeAll": False, "multi": False,
        },
        query_variable("job", "Job", "label_values(awaterra_http_requests_in_flight, job)"),
        query_variable(
            "route", "Endpoint",
            f'label_values({REQUEST}_count{{job=~"$job"}}, route)',
        ),
    ]


def dashboard_document(limits: MonitoringThresholds | None = None) -> dict[str, Any]:
    limits = limits or MonitoringThresholds()
    panels: list[dict[str, Any]] = []
    y = 0
    next_id = 1
    for title, members in groups(limits):
        panels.append({
            "type": "row", "title": title, "id": next_id, "collapsed": False, "panels": [],
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
        })
        next_id += 1
        y += 1
        x = 0
        row_height = 0
        for panel in members:
            if x + panel.width > 24:
                x, y, row_height = 0, y + row_height, 0
            panels.append(_panel_json(panel, next_id, x, y))
            next_id += 1
            x += panel.width
            row_height = max(row_height, panel.height)
        y += row_height
    return {
        "uid": UID,
        "title": "awaterra API",
        "description": (
            "Top down, as the Datadog dashboard: Objectives, API, Service, Database, from the "
            "API's Prometheus metrics, the heartbeat probe and the alerting rules "
            "(ops/prometheus/rules.yml). Dashed lines are the alerts' thresholds."
        ),
        "tags": ["awaterra", "api"],
        "timezone": "utc",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-3h", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "links": [],
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": SKY,
            "name": "Annotations & Alerts", "type": "dashboard",
        }]},
        "templating": {"list": _variables()},
        "panels": panels,
    }
