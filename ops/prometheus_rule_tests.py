"""`promtool test rules` cases for ops/prometheus/rules.yml: each alert on series that fire it
and on series that must not.

The input series and evaluation times are written by hand below; the expected labels and
annotations are read from the generated rules (promtool compares them exactly), so a changed
runbook does not need the cases edited, while a changed threshold, window or expression makes a
case fail. `make prometheus-rules` writes ops/prometheus/rules.test.yml and test-stack.yml.
"""

from __future__ import annotations

from typing import Any

from components.prometheus_rules import (
    API_JOB,
    HEARTBEAT_JOB,
    rules_document,
    stack_rules_document,
)

# The example stack of the cases: two tasks at least, a database allowing 100 connections.
TEST_MIN_TASKS = 2
TEST_DB_MAX_CONNECTIONS = 100

REQUEST = "awaterra_http_request_duration_seconds"
GET_PRACTICES = f'job="{API_JOB}",route="/practices",method="GET"'


def _alert(name: str) -> dict[str, Any]:
    for group in rules_document()["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == name:
                return dict(rule)
    raise KeyError(name)


def _expect(name: str, at: str, fires: bool) -> dict[str, Any]:
    rule = _alert(name)
    expected = (
        [{"exp_labels": dict(rule["labels"]), "exp_annotations": dict(rule["annotations"])}]
        if fires
        else []
    )
    return {"eval_time": at, "alertname": name, "exp_alerts": expected}


def _series(selector: str, values: str) -> dict[str, str]:
    return {"series": selector, "values": values}


def _counter(per_minute: float, minutes: int) -> str:
    return f"0+{per_minute:g}x{minutes}"


def _requests(
    *, ok_per_minute: float, errors_per_minute: float, minutes: int, route: str = "/practices"
) -> list[dict[str, str]]:
    labels = f'job="{API_JOB}",route="{route}",method="GET"'
    series = [
        _series(f'{REQUEST}_count{{{labels},status="200"}}', _counter(ok_per_minute, minutes))
    ]
    if errors_per_minute:
        series.append(
            _series(
                f'{REQUEST}_count{{{labels},status="503"}}', _counter(errors_per_minute, minutes)
            )
        )
    return series


def _latency(
    *, fast_per_minute: float, slow_per_minute: float, minutes: int, route: str = "/practices"
) -> list[dict[str, str]]:
    """A histogram: `fast` requests under 100 ms, `slow` ones between 200 and 250 ms."""
    labels = f'job="{API_JOB}",route="{route}",method="GET",status="200"'
    total = fast_per_minute + slow_per_minute
    buckets = (("0.1", fast_per_minute), ("0.2", fast_per_minute), ("0.25", total), ("+Inf", total))
    return [
        _series(f'{REQUEST}_bucket{{{labels},le="{le}"}}', _counter(count, minutes))
        for le, count in buckets
    ]


def _case(name: str, series: list[dict[str, str]], *checks: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "interval": "1m", "input_series": series, "alert_rule_test": list(checks)}


def cases() -> list[dict[str, Any]]:
    up = f'up{{job="{API_JOB}",instance="task-a"}}'
    up_b = f'up{{job="{API_JOB}",instance="task-b"}}'
    probe = f'probe_success{{job="{HEARTBEAT_JOB}",instance="https://api.example.com/heartbeat"}}'
    pool = f'job="{API_JOB}",pool="primary"'
    return [
        _case(
            "latency: a tenth of the requests at 200-250 ms puts p95 above 200 ms",
            _latency(fast_per_minute=90, slow_per_minute=10, minutes=30),
            _expect("ApiLatencyP95High", "20m", fires=True),
        ),
        _case(
            "latency: 2% slow requests leave p95 under 100 ms",
            _latency(fast_per_minute=98, slow_per_minute=2, minutes=30),
            _expect("ApiLatencyP95High", "20m", fires=False),
        ),
        _case(
            "latency: slow scrapes of /metrics are not API latency",
            _latency(fast_per_minute=100, slow_per_minute=0, minutes=30)
            + _latency(fast_per_minute=0, slow_per_minute=50, minutes=30, route="/metrics"),
            _expect("ApiLatencyP95High", "20m", fires=False),
        ),
        _case(
            "5xx: 5% of 1000 requests a minute fail",
            _requests(ok_per_minute=950, errors_per_minute=50, minutes=30),
            _expect("ApiErrorRateHigh", "20m", fires=True),
        ),
        _case(
            "5xx: 1% fail, under the 2% threshold",
            _requests(ok_per_minute=990, errors_per_minute=10, minutes=30),
            _expect("ApiErrorRateHigh", "20m", fires=False),
        ),
        _case(
            "5xx: 3% of a quiet 5 requests a minute fail; the 100-request guard keeps it quiet",
            _requests(ok_per_minute=4.85, errors_per_minute=0.15, minutes=30),
            _expect("ApiErrorRateHigh", "20m", fires=False),
        ),
        _case(
            "api down: the only task's scrape fails for more than 5 minutes",
            [_series(up, "0x20")],
            _expect("ApiDown", "4m", fires=False),
            _expect("ApiDown", "10m", fires=True),
        ),
        _case(
            "api down: no task is scraped at all",
            [_series(f'up{{job="{HEARTBEAT_JOB}",instance="blackbox"}}', "1x20")],
            _expect("ApiDown", "10m", fires=True),
        ),
        _case(
            "api down: one of two tasks is still up",
            [_series(up, "0x20"), _series(up_b, "1x20")],
            _expect("ApiDown", "10m", fires=False),
        ),
        _case(
            "tasks: one task of a two-task floor for more than 15 minutes",
            [_series(up, "1x30"), _series(up_b, "0x30")],
            _expect("ApiTasksBelowDesired", "10m", fires=False),
            _expect("ApiTasksBelowDesired", "20m", fires=True),
        ),
        _case(
            "tasks: a 5-minute replacement of one task does not alert",
            [_series(up, "1x30"), _series(up_b, "1x10 0x4 1x15")],
            _expect("ApiTasksBelowDesired", "25m", fires=False),
        ),
        _case(
            "connections: two tasks holding 45 each of 100 allowed",
            [
                _series(f'awaterra_db_pool_checked_out{{{pool},instance="task-a"}}', "45x30"),
                _series(f'awaterra_db_pool_checked_out{{{pool},instance="task-b"}}', "45x30"),
                _series(f'awaterra_db_pool_size{{{pool},instance="task-a"}}', "10x30"),
                _series(f'awaterra_db_pool_size{{{pool},instance="task-b"}}', "10x30"),
            ],
            _expect("DatabaseConnectionsNearLimit", "20m", fires=True),
        ),
        _case(
            "connections: two pools of 10, 5 checked out: 20 of 100",
            [
                _series(f'awaterra_db_pool_checked_out{{{pool},instance="task-a"}}', "5x30"),
                _series(f'awaterra_db_pool_checked_out{{{pool},instance="task-b"}}', "5x30"),
                _series(f'awaterra_db_pool_size{{{pool},instance="task-a"}}', "10x30"),
                _series(f'awaterra_db_pool_size{{{pool},instance="task-b"}}', "10x30"),
            ],
            _expect("DatabaseConnectionsNearLimit", "20m", fires=False),
        ),
        _case(
            "fast burn: 2% errors for 70 minutes (14.4x burns 1.44%)",
            _requests(ok_per_minute=980, errors_per_minute=20, minutes=80),
            _expect("AvailabilityBudgetFastBurn", "70m", fires=True),
        ),
        _case(
            "fast burn: 2% errors that stopped 10 minutes ago (the short window is clean)",
            [
                _series(f'{REQUEST}_count{{{GET_PRACTICES},status="200"}}', "0+980x80"),
                _series(
                    f'{REQUEST}_count{{{GET_PRACTICES},status="503"}}', "0+20x60 1200+0x20"
                ),
            ],
            _expect("AvailabilityBudgetFastBurn", "70m", fires=False),
        ),
        _case(
            "fast burn: 1% errors stay under 14.4x; slow burn: 1% is above 6x for 7 hours",
            _requests(ok_per_minute=990, errors_per_minute=10, minutes=420),
            _expect("AvailabilityBudgetFastBurn", "400m", fires=False),
            _expect("AvailabilityBudgetSlowBurn", "400m", fires=True),
        ),
        _case(
            "slow burn: 0.5% errors are under 6x",
            _requests(ok_per_minute=995, errors_per_minute=5, minutes=420),
            _expect("AvailabilityBudgetSlowBurn", "400m", fires=False),
        ),
        _case(
            "heartbeat: the probe fails for more than 2 minutes",
            [_series(probe, "1x5 0x10")],
            _expect("HeartbeatFailing", "7m", fires=False),
            _expect("HeartbeatFailing", "9m", fires=True),
        ),
        _case(
            "heartbeat: single failed probes between good ones do not alert",
            [_series(probe, "1 0 1 0 1 0 1 0 1 0 1 0 1")],
            _expect("HeartbeatFailing", "11m", fires=False),
        ),
        _case(
            "heartbeat: no probe result at all",
            [_series(up, "1x10")],
            _expect("HeartbeatFailing", "5m", fires=True),
        ),
    ]


def promtool_tests_document() -> dict[str, Any]:
    return {
        "rule_files": ["rules.yml", "test-stack.yml"],
        "evaluation_interval": "1m",
        "tests": cases(),
    }


def promtool_stack_document() -> dict[str, Any]:
    return stack_rules_document(
        min_tasks=TEST_MIN_TASKS, db_max_connections=TEST_DB_MAX_CONNECTIONS
    )
