"""Monthly cost estimate of a stack, computed from what the program registers.

Prices are us-east-1, on-demand, USD, from the AWS pricing pages named in each entry, as of
PRICES_AS_OF (written offline: re-check the pages before quoting the figures). Usage that the
program cannot know (traffic, log and storage volumes) comes from per-stack assumptions, printed
with every estimate. Free tiers that expire after 12 months are ignored; always-free allowances
that are permanent (100 GB/month of data transfer out, 10,000 Cognito MAUs on the Lite and
Essentials plans, RDS backup storage up to the database's size) are applied. The usage
assumptions are chosen by the stack's environment (awaterra:environment), never by its name.
Datadog is billed by Datadog and is not included.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from policy.environment import stack_environment

PRICES_AS_OF = "2025-01 (AWS list prices; recorded offline on 2026-11-25, not re-verified)"
REGION = "us-east-1"
HOURS_PER_MONTH = 730
# Daily incremental snapshots kept for weeks hold about 1.5x the live data.
BACKUP_FACTOR = 1.5


class CostError(ValueError):
    """The program registers something this estimate has no price for."""


@dataclass(frozen=True)
class Price:
    amount: float
    unit: str
    source: str


PRICES: dict[str, Price] = {
    "fargate.vcpu.x86": Price(0.04048, "vCPU-hour", "AWS Fargate pricing (Linux/x86)"),
    "fargate.gb.x86": Price(0.004445, "GB-hour", "AWS Fargate pricing (Linux/x86)"),
    "fargate.vcpu.arm": Price(0.03238, "vCPU-hour", "AWS Fargate pricing (Linux/ARM)"),
    "fargate.gb.arm": Price(0.00356, "GB-hour", "AWS Fargate pricing (Linux/ARM)"),
    "scheduler.million": Price(
        1.00, "million invocations", "Amazon EventBridge Scheduler pricing (14 million free)"
    ),
    "alb.hour": Price(0.0225, "ALB-hour", "Elastic Load Balancing pricing (Application LB)"),
    "alb.lcu": Price(0.008, "LCU-hour", "Elastic Load Balancing pricing (Application LB)"),
    "nat.hour": Price(0.045, "NAT gateway-hour", "Amazon VPC pricing (NAT gateway)"),
    "nat.gb": Price(0.045, "GB processed", "Amazon VPC pricing (NAT gateway)"),
    "ipv4.hour": Price(0.005, "public IPv4-hour", "Amazon VPC pricing (public IPv4 addresses)"),
    "endpoint.interface.hour": Price(0.01, "endpoint-AZ-hour", "AWS PrivateLink pricing"),
    "rds.gp3.gb": Price(0.115, "GB-month", "Amazon RDS for PostgreSQL pricing (gp3 storage)"),
    "rds.backup.gb": Price(0.095, "GB-month", "Amazon RDS pricing (backup storage)"),
    "kms.key": Price(1.00, "key-month", "AWS KMS pricing"),
    "secret": Price(0.40, "secret-month", "AWS Secrets Manager pricing"),
    "logs.ingest.gb": Price(0.50, "GB ingested", "Amazon CloudWatch pricing (Logs, standard)"),
    "logs.store.gb": Price(0.03, "GB-month", "Amazon CloudWatch pricing (Logs storage)"),
    "alarm": Price(0.10, "alarm-month", "Amazon CloudWatch pricing (standard alarms)"),
    "waf.acl": Price(5.00, "web ACL-month", "AWS WAF pricing"),
    "waf.rule": Price(1.00, "rule-month", "AWS WAF pricing"),
    "waf.requests": Price(0.60, "million requests", "AWS WAF pricing"),
    "s3.gb": Price(0.023, "GB-month", "Amazon S3 pricing (Standard, first 50 TB)"),
    "s3.requests": Price(0.005, "1,000 PUT/LIST", "Amazon S3 pricing (Standard requests)"),
    "ecr.gb": Price(0.10, "GB-month", "Amazon ECR pricing (storage)"),
    "transfer.out.gb": Price(0.09, "GB (after 100 GB free)", "Amazon EC2 pricing (data transfer)"),
    "transfer.region.gb": Price(0.02, "GB", "Amazon EC2 pricing (inter-region transfer)"),
    # Cognito feature plans (list prices since 2024-11-22, first tier 10,001-100,000 MAU;
    # recorded offline on 2026-12-02 from the Amazon Cognito pricing page, not re-verified).
    "cognito.mau.LITE": Price(
        0.0055, "MAU beyond 10,000 free", "Amazon Cognito pricing (Lite, 10,001-100,000 MAU)"
    ),
    "cognito.mau.ESSENTIALS": Price(
        0.015, "MAU beyond 10,000 free", "Amazon Cognito pricing (Essentials)"
    ),
    "cognito.mau.PLUS": Price(
        0.02, "MAU (no free tier)", "Amazon Cognito pricing (Plus, threat protection included)"
    ),
    # The prometheus path (recorded offline on 2026-12-02 from the Amazon Managed Service for
    # Prometheus and Amazon Managed Grafana pricing pages, not re-verified).
    "amp.samples": Price(
        0.90, "10 million samples ingested", "Amazon Managed Service for Prometheus (first 2B)"
    ),
    "amp.storage": Price(0.03, "GB-month", "Amazon Managed Service for Prometheus (storage)"),
    "amp.query": Price(
        0.10, "billion samples queried", "Amazon Managed Service for Prometheus (QSP)"
    ),
    "grafana.editor": Price(9.00, "active editor-month", "Amazon Managed Grafana pricing"),
    "grafana.viewer": Price(5.00, "active viewer-month", "Amazon Managed Grafana pricing"),
}
# The prometheus path's volumes: series one task's collector writes (the service's histograms
# by route/method/status plus the probe's), scraped every 15 s, and the rules' and dashboards'
# queries; Grafana users active in a month.
PROMETHEUS_SERIES_PER_TASK = 600
PROMETHEUS_SCRAPES_PER_MONTH = 30 * 86400 // 15
PROMETHEUS_QUERY_BILLION_SAMPLES = 2.0
GRAFANA_EDITORS, GRAFANA_VIEWERS = 1, 3
# Monthly active users each Cognito plan includes for free.
COGNITO_FREE_MAU = {"LITE": 10_000, "ESSENTIALS": 10_000, "PLUS": 0}

# Single-AZ on-demand hourly prices, Amazon RDS for PostgreSQL pricing; Multi-AZ doubles them.
RDS_INSTANCE_HOUR: dict[str, float] = {
    "db.t4g.micro": 0.016,
    "db.t4g.small": 0.032,
    "db.t4g.medium": 0.065,
    "db.t4g.large": 0.129,
    "db.m6g.large": 0.159,
    "db.m7g.large": 0.168,
    "db.m7g.xlarge": 0.336,
    "db.r6g.large": 0.225,
    "db.r7g.large": 0.239,
}


@dataclass(frozen=True)
class Usage:
    """What the program cannot know: traffic and volumes, per stack."""

    requests_millions: float
    alb_lcu_average: float
    data_out_gb: float
    nat_processed_gb: float
    app_logs_gb: float
    flow_logs_gb: float
    waf_logs_gb: float
    media_gb: float
    media_puts_thousands: float
    ecr_gb: float
    monthly_active_users: int
    database_data_gb: float


USAGE: dict[str, Usage] = {
    "dev": Usage(
        requests_millions=1,
        alb_lcu_average=0.1,
        data_out_gb=5,
        nat_processed_gb=0,
        app_logs_gb=1,
        flow_logs_gb=0,
        waf_logs_gb=0,
        media_gb=5,
        media_puts_thousands=10,
        ecr_gb=2,
        monthly_active_users=50,
        database_data_gb=2,
    ),
    "prod": Usage(
        requests_millions=50,
        alb_lcu_average=2,
        data_out_gb=300,
        nat_processed_gb=100,
        app_logs_gb=20,
        flow_logs_gb=20,
        waf_logs_gb=10,
        media_gb=200,
        media_puts_thousands=500,
        ecr_gb=5,
        monthly_active_users=5000,
        database_data_gb=50,
    ),
}


@dataclass(frozen=True)
class CostItem:
    resource: str
    type: str
    what: str
    quantity: float
    unit: str
    unit_price: float
    monthly: float
    source: str


@dataclass
class CostEstimate:
    stack: str
    items: list[CostItem] = field(default_factory=list)
    assumptions: dict[str, Any] = field(default_factory=dict)
    region: str = REGION
    prices_as_of: str = PRICES_AS_OF

    @property
    def total(self) -> float:
        return round(sum(item.monthly for item in self.items), 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "prices_as_of": self.prices_as_of,
            "currency": "USD",
            "total_monthly": self.total,
            "assumptions": self.assumptions,
            "items": [
                asdict(item)
                for item in sorted(self.items, key=lambda i: (i.resource, i.type, i.what))
            ],
        }


class Recorded(Protocol):
    type: str
    name: str
    inputs: dict[str, Any]


class _Builder:
    def __init__(self, stack: str, prices: Mapping[str, Price] | None = None) -> None:
        self.estimate = CostEstimate(stack)
        self.prices = PRICES if prices is None else prices

    def add(
        self,
        resource: str,
        type_: str,
        what: str,
        quantity: float,
        price_key: str,
        multiplier: float = 1.0,
    ) -> None:
        price = self.prices[price_key]
        unit_price = price.amount * multiplier
        self.estimate.items.append(
            CostItem(
                resource,
                type_,
                what,
                round(quantity, 4),
                price.unit,
                round(unit_price, 6),
                round(quantity * unit_price, 2),
                price.source,
            )
        )


def _number(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _of(resources: Iterable[Recorded], type_: str) -> list[Recorded]:
    return [resource for resource in resources if resource.type == type_]


def estimate(
    stack: str,
    resources: Iterable[Recorded],
    usage: Usage | None = None,
    environment: str | None = None,
) -> CostEstimate:
    """Itemised monthly estimate for the resources one run of the program registered.

    Usage is `usage`, else the assumptions of `environment` (dev or prod; by default the one
    Pulumi.<stack>.yaml sets); an unknown environment gets prod's (the larger) assumptions.
    """
    resources = list(resources)
    environment = environment or stack_environment(stack)
    environment = environment if environment in USAGE else "prod"
    usage = usage or USAGE[environment]
    # A gcp stack registers no AWS resource; an AWS stack may hold Google ones (Firebase).
    if not any(r.type.startswith("aws:") for r in resources) and any(
        r.type.startswith("gcp:") for r in resources
    ):
        from ops.cost_gcp import estimate_gcp

        return _with_firebase(estimate_gcp(stack, resources, usage, environment), resources)
    return _with_firebase(_estimate_aws(stack, resources, usage, environment), resources)


FIREBASE_NOTE = (
    "Crashlytics, Performance Monitoring, the apps and their API keys have no charge (the "
    "no-cost plan covers them); BigQuery export, if linked, is billed by BigQuery"
)


def _with_firebase(estimate: CostEstimate, resources: list[Recorded]) -> CostEstimate:
    if any(r.type.startswith("gcp:firebase/") for r in resources):
        estimate.assumptions["firebase"] = FIREBASE_NOTE
    return estimate


def _estimate_aws(
    stack: str, resources: list[Recorded], usage: Usage, environment: str
) -> CostEstimate:
    build = _Builder(stack)
    hours = HOURS_PER_MONTH
    build.estimate.assumptions = {
        "environment": environment,
        "hours_per_month": hours,
        **asdict(usage),
        "fargate_tasks": "the service's desiredCount (its minimum) running all month",
        "rds_backup_storage": f"recovery points ~= {BACKUP_FACTOR:g} x database_data_gb "
        "(incremental snapshots); free up to the allocated storage in the primary region, billed "
        "in full in the copy region",
        "not_included": "Datadog subscription, Route 53 hosted zone (pre-existing), taxes, "
        "support plans, Savings Plans/Reserved Instances discounts",
    }
    _compute(build, resources, hours, usage)
    _network(build, resources, hours, usage)
    _database(build, resources, hours, usage)
    _edge(build, resources, usage)
    _storage_and_logs(build, resources, usage)
    _prometheus(build, resources)
    build.add(
        "(data transfer)",
        "transfer",
        "internet egress beyond 100 GB free",
        max(0.0, usage.data_out_gb - 100),
        "transfer.out.gb",
    )
    for pool in _of(resources, "aws:cognito/userPool:UserPool"):
        # Cognito's own default plan when none is set is ESSENTIALS.
        tier = str(pool.inputs.get("userPoolTier") or "ESSENTIALS")
        if tier not in COGNITO_FREE_MAU:
            raise CostError(f"no price for Cognito plan {tier}: add it to ops/cost.py PRICES")
        free = COGNITO_FREE_MAU[tier]
        build.add(
            pool.name,
            pool.type,
            f"{tier} plan: {usage.monthly_active_users:,} monthly active users, {free:,} free",
            max(0, usage.monthly_active_users - free),
            f"cognito.mau.{tier}",
        )
    return build.estimate


# The scheduled `maintain` task (components/aws/maintenance.py): one run a day, a few minutes.
MAINTENANCE_RUNS_PER_MONTH = 30
MAINTENANCE_MINUTES_PER_RUN = 5
SCHEDULER_FREE_MILLIONS = 14


def _scheduled_tasks(
    build: _Builder, resources: list[Recorded], definitions: list[Recorded]
) -> None:
    for definition in definitions:
        vcpu = _number(definition.inputs.get("cpu")) / 1024
        memory_gb = _number(definition.inputs.get("memory")) / 1024
        platform = definition.inputs.get("runtimePlatform") or {}
        arch = "arm" if platform.get("cpuArchitecture") == "ARM64" else "x86"
        task_hours = MAINTENANCE_RUNS_PER_MONTH * MAINTENANCE_MINUTES_PER_RUN / 60
        what = (f"{MAINTENANCE_RUNS_PER_MONTH} runs x {MAINTENANCE_MINUTES_PER_RUN} min")
        build.add(definition.name, definition.type, f"{what} x {vcpu:g} vCPU ({arch})",
                  task_hours * vcpu, f"fargate.vcpu.{arch}")  # fmt: skip
        build.add(definition.name, definition.type, f"{what} x {memory_gb:g} GB",
                  task_hours * memory_gb, f"fargate.gb.{arch}")  # fmt: skip
    for schedule in _of(resources, "aws:scheduler/schedule:Schedule"):
        millions = MAINTENANCE_RUNS_PER_MONTH / 1e6
        build.add(schedule.name, schedule.type,
                  f"{MAINTENANCE_RUNS_PER_MONTH} invocations a month "
                  f"({SCHEDULER_FREE_MILLIONS} million free)",
                  max(0.0, millions - SCHEDULER_FREE_MILLIONS), "scheduler.million")  # fmt: skip


def _compute(build: _Builder, resources: list[Recorded], hours: int, usage: Usage) -> None:
    from components.aws.maintenance import MAINTAIN

    definitions = _of(resources, "aws:ecs/taskDefinition:TaskDefinition")
    scheduled = [d for d in definitions if str(d.inputs.get("family", "")).endswith(f"-{MAINTAIN}")]
    _scheduled_tasks(build, resources, scheduled)
    tasks = {t.name: t for t in definitions if t not in scheduled}
    for service in _of(resources, "aws:ecs/service:Service"):
        count = _number(service.inputs.get("desiredCount"), 1)
        definition = next(iter(tasks.values()), None) if len(tasks) == 1 else None
        if definition is None:
            raise CostError(f"cannot tell which task definition {service.name} runs")
        vcpu = _number(definition.inputs.get("cpu")) / 1024
        memory_gb = _number(definition.inputs.get("memory")) / 1024
        platform = definition.inputs.get("runtimePlatform") or {}
        arch = "arm" if platform.get("cpuArchitecture") == "ARM64" else "x86"
        build.add(
            service.name,
            service.type,
            f"{count:g} task(s) x {vcpu:g} vCPU ({arch})",
            count * vcpu * hours,
            f"fargate.vcpu.{arch}",
        )
        build.add(
            service.name,
            service.type,
            f"{count:g} task(s) x {memory_gb:g} GB",
            count * memory_gb * hours,
            f"fargate.gb.{arch}",
        )
        if (service.inputs.get("networkConfiguration") or {}).get("assignPublicIp"):
            build.add(
                service.name,
                service.type,
                f"{count:g} task public IPv4 address(es)",
                count * hours,
                "ipv4.hour",
            )
    for repository in _of(resources, "aws:ecr/repository:Repository"):
        build.add(
            repository.name,
            repository.type,
            "image storage (lifecycle-bounded)",
            usage.ecr_gb,
            "ecr.gb",
        )


def _network(build: _Builder, resources: list[Recorded], hours: int, usage: Usage) -> None:
    gateways = _of(resources, "aws:ec2/natGateway:NatGateway")
    for gateway in gateways:
        build.add(gateway.name, gateway.type, "NAT gateway hours", hours, "nat.hour")
        build.add(gateway.name, gateway.type, "NAT gateway public IPv4", hours, "ipv4.hour")
        build.add(
            gateway.name,
            gateway.type,
            "data processed (share)",
            usage.nat_processed_gb / len(gateways),
            "nat.gb",
        )
    for endpoint in _of(resources, "aws:ec2/vpcEndpoint:VpcEndpoint"):
        if endpoint.inputs.get("vpcEndpointType") == "Interface":
            zones = len(endpoint.inputs.get("subnetIds") or []) or 1
            build.add(
                endpoint.name,
                endpoint.type,
                f"interface endpoint in {zones} AZ(s)",
                zones * hours,
                "endpoint.interface.hour",
            )
    for balancer in _of(resources, "aws:lb/loadBalancer:LoadBalancer"):
        zones = len(balancer.inputs.get("subnets") or []) or 2
        build.add(balancer.name, balancer.type, "load balancer hours", hours, "alb.hour")
        build.add(
            balancer.name,
            balancer.type,
            f"{usage.alb_lcu_average:g} LCU average",
            usage.alb_lcu_average * hours,
            "alb.lcu",
        )
        if not balancer.inputs.get("internal"):
            build.add(
                balancer.name,
                balancer.type,
                f"{zones} public IPv4 (one per AZ)",
                zones * hours,
                "ipv4.hour",
            )


def _database(build: _Builder, resources: list[Recorded], hours: int, usage: Usage) -> None:
    for instance in _of(resources, "aws:rds/instance:Instance"):
        klass = str(instance.inputs.get("instanceClass"))
        if klass not in RDS_INSTANCE_HOUR:
            raise CostError(
                f"no price for RDS class {klass}: add it to ops/cost.py RDS_INSTANCE_HOUR"
            )
        copies = 2 if instance.inputs.get("multiAz") else 1
        rate = RDS_INSTANCE_HOUR[klass] * copies
        build.estimate.items.append(
            CostItem(
                instance.name,
                instance.type,
                f"{klass} {'Multi-AZ' if copies == 2 else 'Single-AZ'}",
                hours,
                "instance-hour",
                rate,
                round(hours * rate, 2),
                "Amazon RDS for PostgreSQL pricing (on-demand)",
            )
        )
        storage = _number(instance.inputs.get("allocatedStorage"), 20)
        build.add(
            instance.name,
            instance.type,
            f"{storage:g} GB gp3 x {copies}",
            storage,
            "rds.gp3.gb",
            multiplier=copies,
        )
        backups = usage.database_data_gb * BACKUP_FACTOR
        build.add(
            instance.name,
            "aws:backup/plan:Plan",
            "recovery points beyond the free allowance",
            max(0.0, backups - storage),
            "rds.backup.gb",
        )
        copies_out = any(
            rule.get("copyActions")
            for plan in _of(resources, "aws:backup/plan:Plan")
            for rule in plan.inputs.get("rules") or []
        )
        if copies_out:
            build.add(
                instance.name,
                "aws:backup/plan:Plan",
                "recovery points in the copy region",
                backups,
                "rds.backup.gb",
            )
            build.add(
                instance.name,
                "aws:backup/plan:Plan",
                "cross-region copy transfer (daily)",
                usage.database_data_gb * 0.1 * 30,
                "transfer.region.gb",
            )
    secrets = _of(resources, "aws:secretsmanager/secret:Secret")
    managed = [
        i
        for i in _of(resources, "aws:rds/instance:Instance")
        if i.inputs.get("manageMasterUserPassword")
    ]
    for secret in [*secrets, *managed]:
        build.add(secret.name, "aws:secretsmanager/secret:Secret", "secret", 1, "secret")


def _edge(build: _Builder, resources: list[Recorded], usage: Usage) -> None:
    for acl in _of(resources, "aws:wafv2/webAcl:WebAcl"):
        rules = len(acl.inputs.get("rules") or [])
        build.add(acl.name, acl.type, "web ACL", 1, "waf.acl")
        build.add(acl.name, acl.type, f"{rules} rules", rules, "waf.rule")
        build.add(acl.name, acl.type, "requests inspected", usage.requests_millions, "waf.requests")
    for key in _of(resources, "aws:kms/key:Key"):
        build.add(key.name, key.type, "customer-managed key", 1, "kms.key")
    for alarm in _of(resources, "aws:cloudwatch/metricAlarm:MetricAlarm"):
        build.add(alarm.name, alarm.type, "alarm", 1, "alarm")


def _prometheus(build: _Builder, resources: list[Recorded]) -> None:
    workspaces = _of(resources, "aws:amp/workspace:Workspace")
    if not workspaces:
        return
    tasks = sum(
        _number(service.inputs.get("desiredCount"), 1)
        for service in _of(resources, "aws:ecs/service:Service")
    )
    samples = tasks * PROMETHEUS_SERIES_PER_TASK * PROMETHEUS_SCRAPES_PER_MONTH
    for workspace in workspaces:
        build.add(
            workspace.name,
            workspace.type,
            f"{PROMETHEUS_SERIES_PER_TASK} series x {tasks:g} task(s) every 15 s",
            samples / 10_000_000,
            "amp.samples",
        )
        # ~1.3 bytes a sample after compression, kept 150 days by default: a rough upper bound.
        build.add(workspace.name, workspace.type, "samples stored", samples * 1.3 * 5 / 1e9,
                  "amp.storage")
        build.add(workspace.name, workspace.type, "rules and dashboards querying",
                  PROMETHEUS_QUERY_BILLION_SAMPLES, "amp.query")
    for grafana in _of(resources, "aws:grafana/workspace:Workspace"):
        build.add(grafana.name, grafana.type, f"{GRAFANA_EDITORS} editor", GRAFANA_EDITORS,
                  "grafana.editor")
        build.add(grafana.name, grafana.type, f"{GRAFANA_VIEWERS} viewers", GRAFANA_VIEWERS,
                  "grafana.viewer")


def _log_volume(group: Recorded, usage: Usage) -> float:
    name = str(group.inputs.get("name") or group.name)
    if "flow" in name:
        return usage.flow_logs_gb
    if "waf" in name:
        return usage.waf_logs_gb
    if "prometheus" in name:
        return 0.1  # the workspace's own rule and alertmanager errors: a trickle
    return usage.app_logs_gb


def _storage_and_logs(build: _Builder, resources: list[Recorded], usage: Usage) -> None:
    for group in _of(resources, "aws:cloudwatch/logGroup:LogGroup"):
        volume = _log_volume(group, usage)
        retention_months = min(_number(group.inputs.get("retentionInDays"), 365) / 30, 12)
        build.add(group.name, group.type, f"{volume:g} GB/month ingested", volume, "logs.ingest.gb")
        build.add(
            group.name,
            group.type,
            f"~{volume * retention_months:.1f} GB retained",
            volume * retention_months,
            "logs.store.gb",
        )
    buckets = _of(resources, "aws:s3/bucket:Bucket")
    for bucket in buckets:
        media = "log" not in bucket.name
        volume = usage.media_gb if media else usage.app_logs_gb
        build.add(bucket.name, bucket.type, f"{volume:g} GB stored", volume, "s3.gb")
        if media:
            build.add(
                bucket.name,
                bucket.type,
                "uploads (PUT requests)",
                usage.media_puts_thousands,
                "s3.requests",
            )


def render(estimate: CostEstimate) -> str:
    lines = [
        f"Monthly cost estimate: {estimate.stack} ({estimate.region}, on-demand, USD; prices as of "
        f"{estimate.prices_as_of})"
    ]
    for item in sorted(estimate.items, key=lambda i: (-i.monthly, i.resource, i.what)):
        lines.append(
            f"  {item.monthly:9.2f}  {item.resource:<28} {item.what} "
            f"[{item.quantity:g} {item.unit} x ${item.unit_price:g}]"
        )
    lines.append(f"  {estimate.total:9.2f}  TOTAL")
    lines.append("  assumptions: " + json.dumps(estimate.assumptions, sort_keys=True))
    return "\n".join(lines)


def prices_table() -> Mapping[str, Price]:
    return dict(PRICES)
