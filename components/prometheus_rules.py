"""The Prometheus twin of the Datadog monitors: recording and alerting rules from one source.

Thresholds come from `MonitoringThresholds`; titles, meanings and runbooks from the Datadog
monitor specs; each monitor's window is read from its own Datadog query (`avg(last_10m):...`),
so changing a window or a threshold there changes both paths. The runbooks are AWS's words
(components.aws.monitoring_wording): the prometheus path is built for AWS stacks.
`make prometheus-rules` (ops/prometheus_files.py) writes ops/prometheus/; a test fails when
the checked-in files drift.

What differs per stack (the task floor and the database's `max_connections`) is not in the
rules file: it is two recording rules of a stack group (`stack_rules_document`), so one rules
file serves every stack. `scale` divides every window and `for:` (the end-to-end test runs the
same rules 60 times faster); the checked-in file is `scale=1`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.aws.monitoring_wording import AWS_HEARTBEAT_STEPS, monitor_specs
from components.datadog.specs import (
    BURN_RUNBOOK,
    BURN_WINDOWS,
    BurnWindow,
    MonitorSpec,
    burn_meaning,
    burn_rate,
    burn_title,
)
from components.monitoring_thresholds import MonitoringThresholds

RULES_FILE = Path(__file__).resolve().parents[1] / "ops" / "prometheus" / "rules.yml"

API_JOB = "awaterra-api"
HEARTBEAT_JOB = "awaterra-heartbeat"
HEARTBEAT_MODULE = "awaterra_heartbeat"
# The service's request histogram; /metrics is the scrapers' own traffic, which the load
# balancer (what the Datadog monitors measure) never forwards.
REQUESTS = f'awaterra_http_request_duration_seconds_count{{job="{API_JOB}",route!="/metrics"}}'
BUCKETS = f'awaterra_http_request_duration_seconds_bucket{{job="{API_JOB}",route!="/metrics"}}'
ERRORS = (
    f'awaterra_http_request_duration_seconds_count{{job="{API_JOB}",route!="/metrics",'
    'status=~"5.."}'
)
MIN_TASKS = "awaterra:stack:min_tasks"
DB_MAX_CONNECTIONS = "awaterra:stack:db_max_connections"
# Datadog's synthetic: a failure lasting this long (min_failure_duration) alerts.
HEARTBEAT_FAILURE_SECONDS = 120
HEARTBEAT_INTERVAL_SECONDS = 60  # the synthetic's tick_every


@dataclass(frozen=True)
class PrometheusAlert:
    """One alerting rule and the Datadog monitor it mirrors (`key`)."""

    key: str
    name: str
    title: str
    expr: str
    threshold: float
    window: str  # the Datadog window the expression covers (unscaled)
    hold: str  # `for:` (unscaled; "0s" = as soon as the expression holds)
    priority: int
    meaning: str
    runbook: Sequence[str]


_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(duration: str) -> int:
    match = _DURATION.match(duration)
    if not match:
        raise ValueError(f"expected a duration like 10m or 1h, got {duration!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def duration(total_seconds: float) -> str:
    """Prometheus duration text: 3600 -> 1h, 90 -> 90s, 0.5 -> 500ms."""
    milliseconds = round(total_seconds * 1000)
    if milliseconds <= 0:
        return "0s"
    if milliseconds % 1000:
        return f"{milliseconds}ms"
    whole = milliseconds // 1000
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class _Fragments:
    """A MetricScope whose every fragment is a placeholder: renders a spec's query shape."""

    environment = "env"
    service = "service"

    def __getattr__(self, name: str) -> Callable[[], str]:
        return lambda: name


_DATADOG_WINDOW = re.compile(r"^(avg|sum|min|max)\(last_(\d+[mh])\):")


def datadog_window(spec: MonitorSpec) -> tuple[str, str]:
    """(aggregation, window) of a Datadog query alert, e.g. ("avg", "10m")."""
    match = _DATADOG_WINDOW.match(spec.query(_Fragments()))
    if not match:
        raise ValueError(f"monitor {spec.key}: no time window in its query")
    return match.group(1), match.group(2)


def _rate(selector: str, window: str) -> str:
    return f"sum(rate({selector}[{window}]))"


def _query_alert_expr(key: str, window: str, limits: MonitoringThresholds) -> str:
    """The PromQL of the twin of Datadog monitor `key` over (scaled) `window`."""
    if key == "latency-p95":
        return (
            f"histogram_quantile(0.95, sum by (le) (rate({BUCKETS}[{window}]))) "
            f"> {_number(limits.latency_p95_seconds)}"
        )
    if key == "error-rate":
        return (
            f"100 * (sum(increase({ERRORS}[{window}])) or vector(0)) / "
            f"clamp_min(sum(increase({REQUESTS}[{window}])), {limits.error_rate_min_requests}) "
            f"> {_number(limits.error_rate_percent)}"
        )
    if key == "no-healthy-hosts":
        return f'(sum(up{{job="{API_JOB}"}}) or vector(0)) < 1'
    if key == "tasks-below-desired":
        return f'{MIN_TASKS} - (count(up{{job="{API_JOB}"}} == 1) or vector(0)) > 0'
    if key == "db-connections":
        # What the API holds open: per pool the larger of its size (kept open once used) and
        # its checked-out connections (above the size when overflowing).
        return (
            f'sum(avg_over_time(awaterra:db_pool:open_connections[{window}])) '
            f"> {_number(limits.db_connections_ratio)} * scalar({DB_MAX_CONNECTIONS})"
        )
    raise KeyError(key)


# Datadog monitors on CloudWatch metrics that Prometheus does not have (RDS CPU and storage):
# on the prometheus path CloudWatch alarms to the same SNS topic watch them (components.aws).
DATADOG_ONLY = {
    "db-cpu": "RDS CPU is a CloudWatch metric; a CloudWatch alarm watches it instead",
    "db-free-storage": "RDS free storage is a CloudWatch metric; a CloudWatch alarm watches it",
}

ALERT_NAMES = {
    "latency-p95": "ApiLatencyP95High",
    "error-rate": "ApiErrorRateHigh",
    "no-healthy-hosts": "ApiDown",
    "tasks-below-desired": "ApiTasksBelowDesired",
    "db-connections": "DatabaseConnectionsNearLimit",
    "burn-rate-fast": "AvailabilityBudgetFastBurn",
    "burn-rate-slow": "AvailabilityBudgetSlowBurn",
    "heartbeat": "HeartbeatFailing",
}

PROMETHEUS_TITLES = {
    "no-healthy-hosts": "No API task is being scraped (API down)",
}


def _titles(limits: MonitoringThresholds) -> dict[str, str]:
    return {
        **PROMETHEUS_TITLES,
        "db-connections": (
            "Database connections near the limit "
            f"({limits.db_connections_ratio:.0%} of max_connections)"
        ),
    }
PROMETHEUS_MEANINGS = {
    "no-healthy-hosts": (
        "No task answers its collector's scrape of /metrics (`up` is 0 or missing): the API "
        "is down or no task runs."
    ),
    "tasks-below-desired": (
        "Fewer tasks answer their scrape than the stack's minimum task count "
        "(serviceMinCount): ECS cannot keep them running."
    ),
    "db-connections": (
        "The connections the API tasks hold open approach the database's max_connections; "
        "new ones will be refused."
    ),
}


def query_alerts(limits: MonitoringThresholds) -> list[PrometheusAlert]:
    # db_max_connections only shapes the Datadog monitors' absolute numbers; the Prometheus
    # side compares with the stack's own value (a recording rule), so any value renders here.
    alerts = []
    for spec in monitor_specs(limits, db_max_connections=100):
        if spec.key in DATADOG_ONLY:
            continue
        aggregation, window = datadog_window(spec)
        # "min(last_15m): x > 0" / "max(last_5m): x < 1": the condition held for the whole
        # window, which is Prometheus' `for:`; averages and sums are range functions instead.
        hold = window if aggregation in {"min", "max"} else "0s"
        threshold = spec.critical
        if spec.key == "db-connections":
            threshold = limits.db_connections_ratio
        alerts.append(
            PrometheusAlert(
                key=spec.key,
                name=ALERT_NAMES[spec.key],
                title=_titles(limits).get(spec.key, spec.title),
                expr=window,  # rendered per scale in `alert_rule`
                threshold=threshold,
                window=window,
                hold=hold,
                priority=spec.priority,
                meaning=PROMETHEUS_MEANINGS.get(spec.key, spec.meaning),
                runbook=tuple(spec.runbook),
            )
        )
    for burn in BURN_WINDOWS:
        alerts.append(
            PrometheusAlert(
                key=burn.key,
                name=ALERT_NAMES[burn.key],
                title=burn_title(limits, burn),
                expr="",
                threshold=burn_rate(limits, burn),
                window=f"{burn.long_window}/{burn.short_window}",
                hold="0s",
                priority=burn.priority,
                meaning=burn_meaning(limits),
                runbook=BURN_RUNBOOK,
            )
        )
    alerts.append(
        PrometheusAlert(
            key="heartbeat",
            name=ALERT_NAMES["heartbeat"],
            title="Heartbeat failing",
            expr="",
            threshold=1,
            window=duration(HEARTBEAT_FAILURE_SECONDS),
            hold=duration(HEARTBEAT_FAILURE_SECONDS),
            priority=1,
            meaning=(
                "The heartbeat probe does not get 200 with status ok within "
                f"{limits.heartbeat_max_response_ms} ms: users cannot reach the API or a "
                "dependency is down."
            ),
            runbook=tuple(AWS_HEARTBEAT_STEPS),
        )
    )
    return alerts


def _scaled(value: str, scale: int) -> str:
    return duration(seconds(value) / scale)


def _burn_expr(limits: MonitoringThresholds, window: BurnWindow, scale: int) -> str:
    budget = 1 - limits.availability_target_percent / 100
    factor = _number(round(burn_rate(limits, window) * budget, 10))
    long_window = _scaled(window.long_window, scale)
    short_window = _scaled(window.short_window, scale)
    return (
        f"awaterra:http_5xx:ratio_rate{long_window} > {factor}\n"
        f"and\nawaterra:http_5xx:ratio_rate{short_window} > {factor}"
    )


def _severity(priority: int) -> str:
    return "page" if priority == 1 else "ticket"


def alert_rule(
    alert: PrometheusAlert, limits: MonitoringThresholds, scale: int = 1
) -> dict[str, Any]:
    if alert.key == "heartbeat":
        probe = f'probe_success{{job="{HEARTBEAT_JOB}"}}'
        expr = f"(max({probe}) or vector(0)) < 1"
    elif alert.key.startswith("burn-rate"):
        window = next(w for w in BURN_WINDOWS if w.key == alert.key)
        expr = _burn_expr(limits, window, scale)
    else:
        expr = _query_alert_expr(alert.key, _scaled(alert.window, scale), limits)
    steps = "\n".join(f"{n}. {step}" for n, step in enumerate(alert.runbook, start=1))
    rule: dict[str, Any] = {"alert": alert.name, "expr": expr}
    if seconds(alert.hold):
        rule["for"] = _scaled(alert.hold, scale)
    rule["labels"] = {
        "severity": _severity(alert.priority),
        "priority": f"P{alert.priority}",
        "monitor": alert.key,
        "service": API_JOB,
    }
    rule["annotations"] = {
        "summary": alert.title,
        "description": alert.meaning,
        "runbook": steps,
        "threshold": _number(alert.threshold),
        "window": alert.window,
    }
    return rule


def _recording_windows(scale: int) -> list[str]:
    windows = {w for b in BURN_WINDOWS for w in (b.long_window, b.short_window)}
    return [_scaled(w, scale) for w in sorted(windows, key=seconds)]


def recording_rules(scale: int = 1) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for window in _recording_windows(scale):
        rules.append(
            {"record": f"awaterra:http_requests:rate{window}", "expr": _rate(REQUESTS, window)}
        )
        rules.append(
            {
                "record": f"awaterra:http_5xx:ratio_rate{window}",
                # No 5xx series yet means no errors, not no data.
                "expr": f"({_rate(ERRORS, window)} or vector(0)) / {_rate(REQUESTS, window)}",
            }
        )
    rules.append(
        {
            "record": "awaterra:db_pool:open_connections",
            "expr": (
                f'awaterra_db_pool_checked_out{{job="{API_JOB}"}} > '
                f'awaterra_db_pool_size{{job="{API_JOB}"}} '
                f'or awaterra_db_pool_size{{job="{API_JOB}"}}'
            ),
        }
    )
    return rules


def rules_document(limits: MonitoringThresholds | None = None, scale: int = 1) -> dict[str, Any]:
    limits = limits or MonitoringThresholds()
    if scale < 1:
        raise ValueError(f"scale must be a positive whole number, got {scale}")
    return {
        "groups": [
            {"name": "awaterra-recording", "rules": recording_rules(scale)},
            {
                "name": "awaterra-alerts",
                "rules": [alert_rule(a, limits, scale) for a in query_alerts(limits)],
            },
        ]
    }


def stack_rules_document(min_tasks: int, db_max_connections: int) -> dict[str, Any]:
    """The stack's own numbers, as series the alerting rules compare with."""
    if min_tasks < 1:
        raise ValueError(f"min_tasks must be at least 1, got {min_tasks}")
    if db_max_connections < 1:
        raise ValueError(f"db_max_connections must be positive, got {db_max_connections}")
    return {
        "groups": [
            {
                "name": "awaterra-stack",
                "rules": [
                    {"record": MIN_TASKS, "expr": f"vector({min_tasks})"},
                    {"record": DB_MAX_CONNECTIONS, "expr": f"vector({db_max_connections})"},
                ],
            }
        ]
    }


def blackbox_document(limits: MonitoringThresholds | None = None) -> dict[str, Any]:
    """The blackbox exporter module of the heartbeat probe (the Datadog synthetic's checks)."""
    limits = limits or MonitoringThresholds()
    return {
        "modules": {
            HEARTBEAT_MODULE: {
                "prober": "http",
                "timeout": duration(limits.heartbeat_max_response_ms / 1000),
                "http": {
                    "method": "GET",
                    "valid_status_codes": [200],
                    "follow_redirects": False,
                    "fail_if_body_not_matches_regexp": ['"status"\\s*:\\s*"ok"'],
                    "preferred_ip_protocol": "ip4",
                },
            }
        }
    }


HEADER = (
    "# Generated by `make prometheus-rules` (components/prometheus_rules.py) from the same\n"
    "# thresholds, windows and runbooks as the Datadog monitors. Do not edit by hand.\n"
)


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def render(document: dict[str, Any]) -> str:
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)
    return HEADER + body
