"""Datadog as code for one stack, whichever cloud: dashboard, monitors with runbooks, SLOs and
the heartbeat synthetic.

With the cloud modules that subclass it (components/aws/monitoring.py,
components/gcp/monitoring.py), the only code that imports pulumi_datadog (the import costs
seconds): a stack composition imports them only when Datadog is on, so a stack without Datadog
registers nothing Datadog-related and never loads the package.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import pulumi
import pulumi_datadog as datadog

from components.datadog.metrics import MetricScope
from components.datadog.site import api_url, app_url, check_site
from components.monitoring_thresholds import MonitoringThresholds

# Datadog's managed synthetic locations (Datadog names them after the cloud region they run in).
DEFAULT_SYNTHETIC_LOCATIONS = ("aws:us-east-1", "aws:us-west-2", "aws:eu-west-1")

# A cloud's words for one monitor: `runbook` always, `title` and `meaning` where needed.
Wording = Mapping[str, object]


class _CommonArgs(Protocol):
    environment: str
    domain: str
    db_max_connections: int
    site: str
    notify: str
    synthetic_locations: Sequence[str]
    heartbeat_path: str
    datadog_service: str


def heartbeat_url(args: _CommonArgs) -> str:
    return f"https://{args.domain}{args.heartbeat_path}"


def monitoring_tags(args: _CommonArgs) -> list[str]:
    """The tags on every monitor, SLO and synthetic, whichever cloud."""
    return [
        f"env:{args.environment}",
        f"service:{args.datadog_service}",
        "project:awaterra",
        "managed-by:pulumi",
    ]


def check_common_args(args: _CommonArgs) -> None:
    """The checks every cloud's monitoring arguments share."""
    check_site(args.site)
    if not args.environment:
        raise ValueError("environment must not be empty")
    if not args.domain or "/" in args.domain or "://" in args.domain:
        raise ValueError(
            f"domain must be a bare host name like api.example.com, got {args.domain!r}"
        )
    if args.db_max_connections < 1:
        raise ValueError(f"db_max_connections must be positive, got {args.db_max_connections}")
    for handle in args.notify.split():
        if not handle.startswith("@"):
            raise ValueError(
                f"notify handles start with '@' (e.g. @pagerduty-awaterra), got {handle!r}"
            )
    if len(set(args.synthetic_locations)) < 2:
        raise ValueError("the heartbeat synthetic needs at least two distinct locations")
    if not args.heartbeat_path.startswith("/"):
        raise ValueError(f"heartbeat_path must start with '/', got {args.heartbeat_path!r}")


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


class DatadogMonitoring(pulumi.ComponentResource):
    """The stack's dashboard, monitors, SLOs and heartbeat synthetic; each cloud's subclass
    supplies its metric scope, its monitors' wording, its dashboard and its integration."""

    TYPE: str  # each cloud's own type token
    # Cloud metrics reach Datadog minutes late; evaluating too early sees gaps as zeros.
    EVALUATION_DELAY_SECONDS = 900
    # The latency SLO's formula over the p95 query (GCP latencies are in milliseconds).
    P95_FORMULA = "p95"
    HEARTBEAT_STEPS: Sequence[str]  # what to check first when the heartbeat fails

    dashboard_url: pulumi.Output[str]
    availability_slo_url: pulumi.Output[str]
    latency_slo_url: pulumi.Output[str]
    synthetic_url: pulumi.Output[str]
    monitor_ids: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, args: Any, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self._name = name
        self._args = args
        app = app_url(args.site)
        limits = args.thresholds

        self.provider = datadog.Provider(
            f"{name}-provider",
            api_key=pulumi.Output.secret(args.api_key),
            app_key=pulumi.Output.secret(args.app_key),
            api_url=api_url(args.site),
            opts=pulumi.ResourceOptions(parent=self),
        )
        dd = pulumi.ResourceOptions(parent=self, provider=self.provider)

        scope = self._scope()

        availability = self._availability_slo(scope, dd)
        latency = self._latency_slo(scope, dd)

        dashboard = datadog.DashboardJson(
            f"{name}-dashboard",
            dashboard=pulumi.Output.all(scope, availability.id, latency.id).apply(
                lambda values: json.dumps(
                    self._dashboard_document(
                        values[0],
                        limits,
                        db_max_connections=args.db_max_connections,
                        slo_ids=[
                            (f"Availability {limits.availability_target_percent:g}%", values[1]),
                            (
                                f"Latency: p95 within {limits.latency_p95_seconds * 1000:g} ms",
                                values[2],
                            ),
                        ],
                        domain=args.domain,
                    ),
                    sort_keys=True,
                )
            ),
            opts=dd,
        )
        self.dashboard_url = pulumi.Output.concat(app, "/dashboard/", dashboard.id)

        monitor_ids: dict[str, pulumi.Output[str]] = {}
        for spec in self._monitor_specs():
            monitor_ids[spec.key] = self._query_monitor(spec, scope, dd).id
        for key, monitor in self._burn_rate_monitors(availability, dd).items():
            monitor_ids[key] = monitor.id

        synthetic = self._heartbeat(dd)
        self.synthetic_url = pulumi.Output.concat(app, "/synthetics/details/", synthetic.id)
        self.availability_slo_url = pulumi.Output.concat(app, "/slo?slo_id=", availability.id)
        self.latency_slo_url = pulumi.Output.concat(app, "/slo?slo_id=", latency.id)
        self.monitor_ids = pulumi.Output.all(**monitor_ids)

        self._integration(dd)

        self.register_outputs(
            {
                "dashboard_url": self.dashboard_url,
                "availability_slo_url": self.availability_slo_url,
                "latency_slo_url": self.latency_slo_url,
                "synthetic_url": self.synthetic_url,
                "monitor_ids": self.monitor_ids,
            }
        )

    # The cloud-specific parts.
    _dashboard_document: Callable[..., dict[str, Any]]

    def _scope(self) -> pulumi.Output[MetricScope]:
        raise NotImplementedError

    def _monitor_specs(self) -> list[MonitorSpec]:
        raise NotImplementedError

    def _integration(self, dd: pulumi.ResourceOptions) -> None:
        raise NotImplementedError

    def _message(self, title: str, meaning: str, steps: Sequence[str]) -> pulumi.Output[str]:
        return self.dashboard_url.apply(
            lambda url: runbook_message(title, meaning, steps, self._args.notify, url)
        )

    def _monitor_name(self, title: str) -> str:
        return f"[awaterra {self._args.environment}] {title}"

    def _query_monitor(
        self, spec: MonitorSpec, scope: pulumi.Output[MetricScope], dd: pulumi.ResourceOptions
    ) -> datadog.Monitor:
        return datadog.Monitor(
            f"{self._name}-{spec.key}",
            name=self._monitor_name(spec.title),
            type="query alert",
            query=scope.apply(spec.query),
            message=self._message(spec.title, spec.meaning, spec.runbook),
            monitor_thresholds=datadog.MonitorMonitorThresholdsArgs(
                critical=_number(spec.critical),
                warning=None if spec.warning is None else _number(spec.warning),
            ),
            evaluation_delay=self.EVALUATION_DELAY_SECONDS,
            require_full_window=False,
            notify_no_data=spec.notify_no_data,
            no_data_timeframe=30 if spec.notify_no_data else None,
            renotify_interval=60,
            include_tags=True,
            priority=str(spec.priority),
            tags=self._args.tags,
            opts=dd,
        )

    def _availability_slo(
        self, scope: pulumi.Output[MetricScope], dd: pulumi.ResourceOptions
    ) -> datadog.ServiceLevelObjective:
        target = self._args.thresholds.availability_target_percent
        warning = round(target + (100 - target) / 2, 4)
        return datadog.ServiceLevelObjective(
            f"{self._name}-availability",
            name=f"[awaterra {self._args.environment}] Availability {target:g}%",
            description=(
                "Share of requests answered without a 5xx, from the load balancer's metrics "
                "(task 5xx and balancer 5xx both count as bad)."
            ),
            type="metric",
            query=datadog.ServiceLevelObjectiveQueryArgs(
                numerator=scope.apply(lambda s: s.availability_good()),
                denominator=scope.apply(lambda s: s.availability_total()),
            ),
            thresholds=[
                datadog.ServiceLevelObjectiveThresholdArgs(
                    timeframe=window, target=target, warning=warning
                )
                for window in ("7d", "30d")
            ],
            timeframe="30d",
            target_threshold=target,
            warning_threshold=warning,
            tags=self._args.tags,
            opts=dd,
        )

    def _latency_slo(
        self, scope: pulumi.Output[MetricScope], dd: pulumi.ResourceOptions
    ) -> datadog.ServiceLevelObjective:
        limits = self._args.thresholds
        target = limits.latency_slo_target_percent
        milliseconds = limits.latency_p95_seconds * 1000
        return datadog.ServiceLevelObjective(
            f"{self._name}-latency",
            name=f"[awaterra {self._args.environment}] Latency p95 <= {milliseconds:g} ms",
            description=(
                f"Share of 5-minute slices in which the load balancer's p95 target response "
                f"time stayed within {milliseconds:g} ms."
            ),
            type="time_slice",
            sli_specification=datadog.ServiceLevelObjectiveSliSpecificationArgs(
                time_slice=datadog.ServiceLevelObjectiveSliSpecificationTimeSliceArgs(
                    comparator="<=",
                    threshold=limits.latency_p95_seconds,
                    query_interval_seconds=300,
                    query=datadog.ServiceLevelObjectiveSliSpecificationTimeSliceQueryArgs(
                        formula=datadog.ServiceLevelObjectiveSliSpecificationTimeSliceQueryFormulaArgs(
                            formula_expression=self.P95_FORMULA,
                        ),
                        queries=[
                            datadog.ServiceLevelObjectiveSliSpecificationTimeSliceQueryQueryArgs(
                                metric_query=datadog.ServiceLevelObjectiveSliSpecificationTimeSliceQueryQueryMetricQueryArgs(
                                    name="p95",
                                    data_source="metrics",
                                    query=scope.apply(lambda s: s.lb_p95()),
                                ),
                            )
                        ],
                    ),
                ),
            ),
            thresholds=[
                datadog.ServiceLevelObjectiveThresholdArgs(timeframe=window, target=target)
                for window in ("7d", "30d")
            ],
            timeframe="30d",
            target_threshold=target,
            tags=self._args.tags,
            opts=dd,
        )

    def _burn_rate_monitors(
        self, slo: datadog.ServiceLevelObjective, dd: pulumi.ResourceOptions
    ) -> dict[str, datadog.Monitor]:
        limits = self._args.thresholds
        windows = (
            (
                "burn-rate-fast",
                "1h",
                "5m",
                limits.fast_burn_rate,
                1,
                "fast: 2% of the 30-day error budget gone in an hour",
            ),
            (
                "burn-rate-slow",
                "6h",
                "30m",
                limits.slow_burn_rate,
                2,
                "slow: 5% of the 30-day error budget gone in six hours",
            ),
        )
        monitors = {}
        for key, long_window, short_window, rate, priority, pace in windows:
            title = f"Availability error budget burning {rate:g}x ({pace})"
            monitors[key] = datadog.Monitor(
                f"{self._name}-{key}",
                name=self._monitor_name(title),
                type="slo alert",
                query=slo.id.apply(
                    functools.partial(
                        burn_rate_query,
                        long_window=long_window,
                        short_window=short_window,
                        rate=rate,
                    )
                ),
                message=self._message(
                    title,
                    "At this pace the availability objective "
                    f"({limits.availability_target_percent:g}% over 30 days) will be missed.",
                    (
                        "Dashboard > Load balancer > 5xx: which side fails, balancer or tasks?",
                        "Follow the 'API 5xx rate' runbook; a deploy in the window is the "
                        "first suspect.",
                        "Open the SLO to see how much budget is left before deciding to roll back.",
                    ),
                ),
                monitor_thresholds=datadog.MonitorMonitorThresholdsArgs(critical=f"{rate:g}"),
                renotify_interval=60,
                priority=str(priority),
                tags=self._args.tags,
                opts=dd,
            )
        return monitors

    def _heartbeat(self, dd: pulumi.ResourceOptions) -> datadog.SyntheticsTest:
        args = self._args
        limits = args.thresholds
        title = f"Heartbeat failing: {args.heartbeat_url}"
        return datadog.SyntheticsTest(
            f"{self._name}-heartbeat",
            name=self._monitor_name(f"Heartbeat {args.heartbeat_url}"),
            type="api",
            subtype="http",
            status="live",
            locations=list(args.synthetic_locations),
            request_definition=datadog.SyntheticsTestRequestDefinitionArgs(
                method="GET",
                url=args.heartbeat_url,
                timeout=10,
            ),
            assertions=[
                datadog.SyntheticsTestAssertionArgs(type="statusCode", operator="is", target="200"),
                datadog.SyntheticsTestAssertionArgs(
                    type="responseTime",
                    operator="lessThan",
                    target=str(limits.heartbeat_max_response_ms),
                ),
                datadog.SyntheticsTestAssertionArgs(
                    type="body",
                    operator="validatesJSONPath",
                    targetjsonpath=datadog.SyntheticsTestAssertionTargetjsonpathArgs(
                        jsonpath="$.status", operator="is", targetvalue="ok"
                    ),
                ),
            ],
            options_list=datadog.SyntheticsTestOptionsListArgs(
                tick_every=60,
                # Two locations failing for two minutes: one flaky probe does not page.
                min_location_failed=2,
                min_failure_duration=120,
                retry=datadog.SyntheticsTestOptionsListRetryArgs(count=1, interval=500),
                follow_redirects=False,
                monitor_name=self._monitor_name(title),
                monitor_priority=1,
                monitor_options=datadog.SyntheticsTestOptionsListMonitorOptionsArgs(
                    renotify_interval=60,
                ),
            ),
            message=self._message(
                title,
                "The public heartbeat does not answer 200 with status ok from at least two "
                "locations: users cannot reach the API or a dependency is down.",
                self.HEARTBEAT_STEPS,
            ),
            tags=args.tags,
            opts=dd,
        )
