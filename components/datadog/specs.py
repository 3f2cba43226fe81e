"""The monitors every cloud runs, as data: keys, queries, thresholds, windows, runbooks.

No pulumi_datadog here: the Prometheus rules (components.prometheus_rules) are generated from
the same specs on stacks that never load Datadog.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from components.datadog.metrics import MetricScope
from components.monitoring_thresholds import MonitoringThresholds

# A cloud's words for one monitor: `runbook` always, `title` and `meaning` where needed.
Wording = Mapping[str, object]


@dataclass(frozen=True)
class MonitorSpec:
    """One query alert: what it watches, when it fires and what the responder does."""

    key: str
    title: str
    query: Callable[[MetricScope], str]
    critical: float
    warning: float | None
    meaning: str
    runbook: Sequence[str] = ()
    priority: int = 2
    notify_no_data: bool = False


def _number(value: float) -> str:
    """Exact decimal text for a threshold (`:g` would round 2 GiB to 2.14748e+09)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def monitor_specs(
    limits: MonitoringThresholds, db_max_connections: int, wording: Mapping[str, Wording]
) -> list[MonitorSpec]:
    """The monitors every cloud runs, in each cloud's `wording` (its runbook, and its title and
    meaning where the shared ones do not fit); keys, queries, thresholds and windows are shared.
    """
    specs = _shared_specs(limits, db_max_connections)
    keys = {spec.key for spec in specs}
    if set(wording) != keys:
        raise ValueError(
            f"wording must cover exactly the monitors {sorted(keys)}, got {sorted(wording)}"
        )
    worded = [replace(spec, **wording[spec.key]) for spec in specs]  # type: ignore[arg-type]
    for spec in worded:
        if not spec.runbook:
            raise ValueError(f"monitor {spec.key!r} has no runbook steps")
    return worded


def _shared_specs(limits: MonitoringThresholds, db_max_connections: int) -> list[MonitorSpec]:
    connections = round(db_max_connections * limits.db_connections_ratio)
    connections_warning = round(db_max_connections * limits.db_connections_warning_ratio)
    min_requests = limits.error_rate_min_requests
    return [
        MonitorSpec(
            key="latency-p95",
            title=f"API p95 latency above {limits.latency_p95_seconds * 1000:g} ms",
            query=lambda s: (
                f"avg(last_10m):{s.p95_seconds()} > {_number(limits.latency_p95_seconds)}"
            ),
            critical=limits.latency_p95_seconds,
            warning=limits.latency_p95_warning_seconds,
            meaning="The slowest 5% of requests take longer than the latency objective.",
            priority=2,
        ),
        MonitorSpec(
            key="error-rate",
            title=f"API 5xx rate above {limits.error_rate_percent:g}%",
            # The denominator is clamped to at least `min_requests`: at low traffic a few
            # errors cannot reach the threshold (the low-traffic guard).
            query=lambda s: (
                "sum(last_10m):100 * ("
                f"{s.five_xx()}) / "
                f"clamp_min(default_zero({s.lb_requests()}), {min_requests}) "
                f"> {_number(limits.error_rate_percent)}"
            ),
            critical=limits.error_rate_percent,
            warning=limits.error_rate_warning_percent,
            meaning=(
                "More than the threshold share of requests failed with a 5xx (counted over at "
                f"least {min_requests} requests, so quiet periods do not page)."
            ),
            priority=1,
        ),
        MonitorSpec(
            key="no-healthy-hosts",
            title="No healthy API instances behind the load balancer",
            query=lambda s: f"max(last_5m):{s.no_healthy_hosts()} < 1",
            critical=1,
            warning=None,
            meaning="The load balancer has no healthy target: every request gets a 503.",
            priority=1,
            notify_no_data=True,
        ),
        MonitorSpec(
            key="tasks-below-desired",
            title="Running API instances below desired for 15 minutes",
            query=lambda s: f"min(last_15m):{s.capacity_shortfall()} > 0",
            critical=0,
            warning=None,
            meaning="The platform cannot keep the desired number of API instances running.",
            priority=2,
        ),
        MonitorSpec(
            key="db-cpu",
            title=f"Database CPU above {limits.db_cpu_percent:g}%",
            query=lambda s: (
                f"avg(last_15m):{s.db_cpu_percent()} > {_number(limits.db_cpu_percent)}"
            ),
            critical=limits.db_cpu_percent,
            warning=limits.db_cpu_warning_percent,
            meaning="The database is CPU-bound; latency and errors follow.",
            priority=2,
        ),
        MonitorSpec(
            key="db-free-storage",
            title=f"Database free storage below {limits.db_free_storage_gib:g} GiB",
            query=lambda s: (
                f"min(last_15m):{s.db_free_bytes()} < {_number(limits.db_free_storage_bytes)}"
            ),
            critical=limits.db_free_storage_bytes,
            warning=limits.db_free_storage_warning_bytes,
            meaning="The database volume is nearly full; writes fail when it is.",
            priority=2,
        ),
        MonitorSpec(
            key="db-connections",
            title=f"Database connections near the limit ({db_max_connections})",
            query=lambda s: f"avg(last_10m):{s.db_connections()} > {connections}",
            critical=connections,
            warning=connections_warning,
            meaning=(
                f"Connections approach max_connections ({db_max_connections}); new ones will "
                "be refused."
            ),
            priority=2,
        ),
    ]


def burn_rate_query(slo_id: str, *, long_window: str, short_window: str, rate: float) -> str:
    """An SLO alert on the availability SLO's error-budget burn rate (multi-window)."""
    return (
        f'burn_rate("{slo_id}").over("30d").long_window("{long_window}")'
        f'.short_window("{short_window}") > {rate:g}'
    )


def runbook_message(
    title: str, meaning: str, steps: Sequence[str], notify: str, dashboard_url: str
) -> str:
    numbered = "\n".join(f"{index}. {step}" for index, step in enumerate(steps, start=1))
    lines = [
        f"**{title}**",
        "",
        meaning,
        "",
        "Runbook:",
        numbered,
        "",
        f"Dashboard: {dashboard_url}",
    ]
    if notify:
        lines += ["", notify]
    return "\n".join(lines)


@dataclass(frozen=True)
class BurnWindow:
    """One multi-window burn-rate alert on the availability SLO."""

    key: str
    long_window: str
    short_window: str
    priority: int
    pace: str


BURN_WINDOWS = (
    BurnWindow(
        "burn-rate-fast", "1h", "5m", 1, "fast: 2% of the 30-day error budget gone in an hour"
    ),
    BurnWindow(
        "burn-rate-slow", "6h", "30m", 2, "slow: 5% of the 30-day error budget gone in six hours"
    ),
)

BURN_RUNBOOK: Sequence[str] = (
    "Dashboard > Load balancer > 5xx: which side fails, balancer or tasks?",
    "Follow the 'API 5xx rate' runbook; a deploy in the window is the first suspect.",
    "Open the SLO to see how much budget is left before deciding to roll back.",
)


def burn_rate(limits: MonitoringThresholds, window: BurnWindow) -> float:
    return limits.fast_burn_rate if window.key == "burn-rate-fast" else limits.slow_burn_rate


def burn_title(limits: MonitoringThresholds, window: BurnWindow) -> str:
    return f"Availability error budget burning {burn_rate(limits, window):g}x ({window.pace})"


def burn_meaning(limits: MonitoringThresholds) -> str:
    return (
        "At this pace the availability objective "
        f"({limits.availability_target_percent:g}% over 30 days) will be missed."
    )
