"""Datadog as code for one stack: dashboard, monitors with runbooks, SLOs, synthetics.

The only module that imports pulumi_datadog (the import costs seconds): `__main__` imports it
and constructs `Monitoring` only when `awaterra:datadogEnabled` is true, so a stack without
Datadog registers nothing Datadog-related and never loads the package.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pulumi
import pulumi_aws as aws
import pulumi_datadog as datadog

from components.datadog_site import api_url, app_url, check_site
from components.monitoring_dashboard import dashboard_document
from components.monitoring_queries import MetricScope, MonitoredScope
from components.monitoring_thresholds import MonitoringThresholds

DEFAULT_SYNTHETIC_LOCATIONS = ("aws:us-east-1", "aws:us-west-2", "aws:eu-west-1")
# Datadog's own AWS account, which assumes the integration role (gov has its own).
DATADOG_AWS_ACCOUNTS = {"ddog-gov.com": "065115117704"}
DATADOG_AWS_ACCOUNT_DEFAULT = "464622532012"
# Read-only permissions for the metrics this stack's dashboard and monitors use.
INTEGRATION_PERMISSIONS = (
    "cloudwatch:Describe*",
    "cloudwatch:Get*",
    "cloudwatch:List*",
    "ec2:Describe*",
    "ecs:Describe*",
    "ecs:List*",
    "elasticloadbalancing:Describe*",
    "rds:Describe*",
    "rds:List*",
    "tag:GetResources",
    "tag:GetTagKeys",
    "tag:GetTagValues",
)
INTEGRATION_NAMESPACES = ("AWS/ApplicationELB", "AWS/ECS", "AWS/RDS")
# CloudWatch metrics reach Datadog minutes late; evaluating too early sees gaps as zeros.
AWS_EVALUATION_DELAY_SECONDS = 900


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


@dataclass
class MonitoringArgs:
    environment: str
    domain: str
    cluster_name: pulumi.Input[str]
    service_name: pulumi.Input[str]  # the ECS service
    load_balancer_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    db_instance_identifier: pulumi.Input[str]
    db_max_connections: int
    api_key: pulumi.Input[str]
    app_key: pulumi.Input[str]
    site: str = "datadoghq.com"
    # Datadog handles to notify, e.g. "@pagerduty-awaterra @slack-ops"; "" = alerts in the UI only.
    notify: str = ""
    datadog_service: str = "awaterra-api"  # the `service` tag on the API's metrics and traces
    aws_integration: bool = False
    aws_account_id: str | None = None
    aws_region: str = "us-east-1"
    aws_integration_role_name: str | None = None
    thresholds: MonitoringThresholds = field(default_factory=MonitoringThresholds)
    synthetic_locations: Sequence[str] = DEFAULT_SYNTHETIC_LOCATIONS
    heartbeat_path: str = "/heartbeat"

    def __post_init__(self) -> None:
        check_common_args(self)
        if self.aws_integration and not (
            self.aws_account_id and self.aws_account_id.isdigit() and len(self.aws_account_id) == 12
        ):
            raise ValueError(
                "aws_integration needs aws_account_id, the 12-digit AWS account to integrate, "
                f"got {self.aws_account_id!r}"
            )

    @property
    def heartbeat_url(self) -> str:
        return heartbeat_url(self)

    @property
    def tags(self) -> list[str]:
        return monitoring_tags(self)


@dataclass(frozen=True)
class MonitorSpec:
    """One query alert: what it watches, when it fires and what the responder does."""

    key: str
    title: str
    query: Callable[[MetricScope], str]
    critical: float
    warning: float | None
    meaning: str
    runbook: Sequence[str]
    priority: int = 2
    notify_no_data: bool = False


def _number(value: float) -> str:
    """Exact decimal text for a threshold (`:g` would round 2 GiB to 2.14748e+09)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def monitor_specs(limits: MonitoringThresholds, db_max_connections: int) -> list[MonitorSpec]:
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
            runbook=(
                "Dashboard > API: find the endpoint whose p95 rose (Latency p95 by endpoint).",
                "Dashboard > Database: high CPU, read/write latency or a full connection pool "
                "point at the database; check slow queries in Performance Insights.",
                "Dashboard > Service (ECS): CPU near 100% means too few tasks; raise "
                "serviceMaxCount or the task size.",
                "A fresh deploy? Compare with the previous image tag; roll back if it caused this.",
            ),
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
            runbook=(
                "Dashboard > Load balancer > 5xx: balancer 5xx (502/503/504) mean tasks are "
                "unreachable or unhealthy; task 5xx mean the API itself fails.",
                "Task 5xx: search the logs for level:error and the request ids; "
                "`/heartbeat` names a failing dependency (database, storage).",
                "Balancer 5xx: check healthy targets and the ECS service events (failed "
                "health checks, OOM kills, deployment circuit breaker).",
            ),
            priority=1,
        ),
        MonitorSpec(
            key="no-healthy-hosts",
            title="No healthy API tasks behind the load balancer",
            query=lambda s: (
                f"max(last_5m):{s.no_healthy_hosts()} < 1"
            ),
            critical=1,
            warning=None,
            meaning="The load balancer has no healthy target: every request gets a 503.",
            runbook=(
                "ECS console > service > Events and stopped tasks: why do tasks fail health "
                "checks or stop (image pull, secrets, migrations, OOM)?",
                "Check the task logs for the migrate container and the app's startup errors.",
                "If a deploy caused it and the circuit breaker did not roll back, redeploy the "
                "previous image tag.",
            ),
            priority=1,
            notify_no_data=True,
        ),
        MonitorSpec(
            key="tasks-below-desired",
            title="Running API tasks below desired for 15 minutes",
            query=lambda s: (
                f"min(last_15m):{s.capacity_shortfall()} > 0"
            ),
            critical=0,
            warning=None,
            meaning="ECS cannot keep the desired number of tasks running.",
            runbook=(
                "ECS console > service > Events: capacity, image pull, secret or subnet errors.",
                "Stopped tasks' 'stopped reason': Essential container exited / OutOfMemory / "
                "health check failures.",
                "Check the Fargate service quota and the subnets' free IP addresses.",
            ),
            priority=2,
        ),
        MonitorSpec(
            key="db-cpu",
            title=f"Database CPU above {limits.db_cpu_percent:g}%",
            query=lambda s: (
                f"avg(last_15m):{s.db_cpu_percent()} "
                f"> {_number(limits.db_cpu_percent)}"
            ),
            critical=limits.db_cpu_percent,
            warning=limits.db_cpu_warning_percent,
            meaning="The database is CPU-bound; latency and errors follow.",
            runbook=(
                "Performance Insights: top SQL by load; a missing index or a new query pattern?",
                "Dashboard > Database > Query duration by statement type.",
                "Scale up dbInstanceClass (a brief failover on Multi-AZ) if load is organic.",
            ),
            priority=2,
        ),
        MonitorSpec(
            key="db-free-storage",
            title=f"Database free storage below {limits.db_free_storage_gib:g} GiB",
            query=lambda s: (
                f"min(last_15m):{s.db_free_bytes()} "
                f"< {_number(limits.db_free_storage_bytes)}"
            ),
            critical=limits.db_free_storage_bytes,
            warning=limits.db_free_storage_warning_bytes,
            meaning="The database volume is nearly full; writes fail when it is.",
            runbook=(
                "Storage autoscaling grows the volume up to dbMaxAllocatedStorageGb: is that "
                "limit reached? Raise it with `pulumi config set dbMaxAllocatedStorageGb`.",
                "Look for unexpected growth (analytics events, bloat) before adding space.",
            ),
            priority=2,
        ),
        MonitorSpec(
            key="db-connections",
            title=f"Database connections near the limit ({db_max_connections})",
            query=lambda s: (
                f"avg(last_10m):{s.db_connections()} > {connections}"
            ),
            critical=connections,
            warning=connections_warning,
            meaning=(
                f"Connections approach max_connections ({db_max_connections}); new ones will "
                "be refused."
            ),
            runbook=(
                "Connections scale with tasks x workers x pool size: did autoscaling add tasks?",
                "Lower servicePoolSize or serviceMaxCount, or raise the instance class.",
                "Look for leaked connections: Dashboard > Database > pool checked out vs size.",
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


class Monitoring(pulumi.ComponentResource):
    """The stack's dashboard, monitors, SLOs, heartbeat synthetic and optional AWS integration."""

    TYPE = "awaterra:monitoring:Monitoring"
    # The latency SLO's formula over the p95 query (GCP latencies are in milliseconds).
    P95_FORMULA = "p95"
    HEARTBEAT_STEPS: Sequence[str] = (
        "Open the test result: DNS, TLS, timeout or the 503 body naming the failing "
        "check (database, storage).",
        "Dashboard > Load balancer: healthy targets? Dashboard > Service: tasks running?",
        "Database check failing: RDS events and connections; storage check: S3 and "
        "the task role.",
    )

    dashboard_url: pulumi.Output[str]
    availability_slo_url: pulumi.Output[str]
    latency_slo_url: pulumi.Output[str]
    synthetic_url: pulumi.Output[str]
    monitor_ids: pulumi.Output[dict[str, str]]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
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

    # The cloud-specific parts; GcpMonitoring (components.monitoring_gcp) overrides them.
    _dashboard_document: Callable[..., dict[str, Any]] = staticmethod(dashboard_document)

    def _scope(self) -> pulumi.Output[MetricScope]:
        args = self._args
        return pulumi.Output.all(
            args.load_balancer_arn_suffix,
            args.target_group_arn_suffix,
            args.cluster_name,
            args.service_name,
            args.db_instance_identifier,
        ).apply(
            lambda values: MonitoredScope(
                environment=args.environment,
                service=args.datadog_service,
                load_balancer_arn_suffix=values[0],
                target_group_arn_suffix=values[1],
                cluster_name=values[2],
                ecs_service_name=values[3],
                db_instance_identifier=values[4],
            )
        )

    def _monitor_specs(self) -> list[MonitorSpec]:
        return monitor_specs(self._args.thresholds, self._args.db_max_connections)

    def _integration(self, dd: pulumi.ResourceOptions) -> None:
        if self._args.aws_integration:
            self._aws_integration(dd)

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
            evaluation_delay=AWS_EVALUATION_DELAY_SECONDS,
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
                query=slo.id.apply(functools.partial(
                    burn_rate_query, long_window=long_window, short_window=short_window, rate=rate
                )),
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

    def _aws_integration(self, dd: pulumi.ResourceOptions) -> None:
        args = self._args
        assert args.aws_account_id is not None  # checked in MonitoringArgs
        role_name = args.aws_integration_role_name or f"DatadogIntegration-{args.environment}"
        aws_opts = pulumi.ResourceOptions(parent=self)
        external_id = datadog.aws.IntegrationExternalId(f"{self._name}-external-id", opts=dd)
        datadog_account = DATADOG_AWS_ACCOUNTS.get(args.site, DATADOG_AWS_ACCOUNT_DEFAULT)
        role = aws.iam.Role(
            f"{self._name}-integration-role",
            name=role_name,
            description="Assumed by Datadog to read this stack's CloudWatch metrics and tags",
            assume_role_policy=external_id.id.apply(
                lambda external: _trust_policy(datadog_account, external)
            ),
            opts=aws_opts,
        )
        aws.iam.RolePolicy(
            f"{self._name}-integration-read",
            role=role.id,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": list(INTEGRATION_PERMISSIONS),
                            "Resource": "*",
                        }
                    ],
                }
            ),
            opts=aws_opts,
        )
        datadog.aws.IntegrationAccount(
            f"{self._name}-aws-account",
            aws_account_id=args.aws_account_id,
            aws_partition="aws-us-gov" if args.site == "ddog-gov.com" else "aws",
            aws_regions=datadog.aws.IntegrationAccountAwsRegionsArgs(
                include_onlies=[args.aws_region]
            ),
            auth_config=datadog.aws.IntegrationAccountAuthConfigArgs(
                aws_auth_config_role=datadog.aws.IntegrationAccountAuthConfigAwsAuthConfigRoleArgs(
                    role_name=role.name,
                    external_id=external_id.id,
                )
            ),
            metrics_config=datadog.aws.IntegrationAccountMetricsConfigArgs(
                namespace_filters=datadog.aws.IntegrationAccountMetricsConfigNamespaceFiltersArgs(
                    include_onlies=list(INTEGRATION_NAMESPACES)
                ),
            ),
            logs_config=datadog.aws.IntegrationAccountLogsConfigArgs(
                lambda_forwarder=datadog.aws.IntegrationAccountLogsConfigLambdaForwarderArgs(),
            ),
            resources_config=datadog.aws.IntegrationAccountResourcesConfigArgs(
                cloud_security_posture_management_collection=False,
                extended_collection=False,
            ),
            traces_config=datadog.aws.IntegrationAccountTracesConfigArgs(
                xray_services=datadog.aws.IntegrationAccountTracesConfigXrayServicesArgs(),
            ),
            account_tags=args.tags,
            opts=pulumi.ResourceOptions.merge(dd, pulumi.ResourceOptions(depends_on=[role])),
        )


def _trust_policy(datadog_account: str, external_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{datadog_account}:root"},
                    "Action": "sts:AssumeRole",
                    # The external id stops anyone else's Datadog org from assuming the role.
                    "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
                }
            ],
        }
    )
