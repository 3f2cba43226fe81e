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
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import pulumi
import pulumi_datadog as datadog

from components.datadog.metrics import MetricScope
from components.datadog.site import api_url, app_url, check_site
from components.datadog.specs import (
    BURN_RUNBOOK,
    BURN_WINDOWS,
    MonitorSpec,
    _number,
    burn_meaning,
    burn_rate,
    burn_rate_query,
    burn_title,
    runbook_message,
)

# Datadog's managed synthetic locations (Datadog names them after the cloud region they run in).
DEFAULT_SYNTHETIC_LOCATIONS = ("aws:us-east-1", "aws:us-west-2", "aws:eu-west-1")



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
        monitors = {}
        for window in BURN_WINDOWS:
            rate = burn_rate(limits, window)
            title = burn_title(limits, window)
            monitors[window.key] = datadog.Monitor(
                f"{self._name}-{window.key}",
                name=self._monitor_name(title),
                type="slo alert",
                query=slo.id.apply(
                    functools.partial(
                        burn_rate_query,
                        long_window=window.long_window,
                        short_window=window.short_window,
                        rate=rate,
                    )
                ),
                message=self._message(title, burn_meaning(limits), BURN_RUNBOOK),
                monitor_thresholds=datadog.MonitorMonitorThresholdsArgs(critical=f"{rate:g}"),
                renotify_interval=60,
                priority=str(window.priority),
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
