"""Monthly cost estimate of a Google Cloud stack (awaterra:cloud gcp), from what it registers.

List prices, USD, on-demand, Tier 1 regions (us-central1 / europe-west1 class), from the
Google Cloud pricing pages named in each entry, as of GCP_PRICES_AS_OF: recorded offline,
re-check the pages before quoting the figures. No committed-use or sustained-use discounts.
Usage comes from ops.cost's per-environment assumptions (the same traffic and volumes as AWS),
plus the busy hours of a service that scales to zero.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from ops.cost import CostError, CostEstimate, Price, Recorded, Usage, _Builder, _number, _of

GCP_PRICES_AS_OF = (
    "2025-01 (Google Cloud list prices, Tier 1 regions; recorded offline on 2026-12-02, "
    "not re-verified: re-check)"
)
GCP_REGION = "europe-west1 (Tier 1 list prices)"
HOURS_PER_MONTH = 730
# Instance-hours a scale-to-zero (min 0) dev service is up: ~4 h a working day incl. the idle
# 15 minutes before Cloud Run stops an instance.
BUSY_INSTANCE_HOURS = {"dev": 90.0, "prod": 0.0}
# Cloud SQL backups: daily incrementals kept for weeks hold about 1.5x the live data.
BACKUP_FACTOR = 1.5
# Cloud Logging ingestion free per project and month (GiB).
LOGGING_FREE_GB = 50
# Identity Platform: Tier 1 (email, phone-less, social) MAU free each month.
IDENTITY_FREE_MAU = 49_999

GCP_PRICES: dict[str, Price] = {
    "sql.vcpu": Price(0.0413, "vCPU-hour", "Cloud SQL for PostgreSQL pricing (Enterprise, vCPU)"),
    "sql.gb": Price(0.0070, "GB-hour", "Cloud SQL for PostgreSQL pricing (Enterprise, memory)"),
    "sql.f1-micro": Price(0.0105, "instance-hour", "Cloud SQL pricing (shared-core db-f1-micro)"),
    "sql.g1-small": Price(0.0350, "instance-hour", "Cloud SQL pricing (shared-core db-g1-small)"),
    "sql.ssd.gb": Price(0.17, "GB-month", "Cloud SQL pricing (SSD storage)"),
    "sql.backup.gb": Price(0.08, "GB-month", "Cloud SQL pricing (backup storage)"),
    "run.vcpu": Price(
        0.0648, "vCPU-hour", "Cloud Run pricing (instance-based billing, $0.000018/vCPU-s)"
    ),
    "run.gb": Price(
        0.0072, "GiB-hour", "Cloud Run pricing (instance-based billing, $0.000002/GiB-s)"
    ),
    "lb.rule": Price(0.025, "forwarding rule-hour", "Cloud Load Balancing pricing (first 5 rules)"),
    "lb.gb": Price(0.008, "GB processed", "Cloud Load Balancing pricing (inbound+outbound data)"),
    "armor.policy": Price(5.00, "policy-month", "Cloud Armor pricing (Standard)"),
    "armor.rule": Price(1.00, "rule-month", "Cloud Armor pricing (Standard)"),
    "armor.requests": Price(0.75, "million requests", "Cloud Armor pricing (Standard)"),
    "registry.gb": Price(0.10, "GB-month (0.5 GB free)", "Artifact Registry pricing (storage)"),
    "kms.version": Price(0.06, "key version-month", "Cloud KMS pricing (software key versions)"),
    "gcs.dual.gb": Price(0.044, "GB-month", "Cloud Storage pricing (Standard, dual-region)"),
    "gcs.regional.gb": Price(0.020, "GB-month", "Cloud Storage pricing (Standard, regional)"),
    "gcs.turbo.gb": Price(0.04, "GB replicated", "Cloud Storage pricing (turbo replication)"),
    "gcs.class_a": Price(0.01, "1,000 Class A ops", "Cloud Storage pricing (dual-region ops)"),
    "logging.gb": Price(0.50, "GiB beyond 50 free", "Cloud Logging pricing (ingestion)"),
    "identity.mau": Price(
        0.0055, "MAU beyond 49,999 free", "Identity Platform pricing (Tier 1, 50k-99,999 MAU)"
    ),
    "egress.gb": Price(0.12, "GB", "Network pricing (Premium Tier internet egress, 0-1 TB)"),
}

_CUSTOM_TIER = re.compile(r"^db-custom-(\d+)-(\d+)$")


def add(
    build: _Builder,
    resource: Recorded,
    what: str,
    quantity: float,
    key: str,
    multiplier: float = 1.0,
) -> None:
    build.add(resource.name, resource.type, what, quantity, key, multiplier)


def estimate_gcp(
    stack: str, resources: Iterable[Recorded], usage: Usage, environment: str
) -> CostEstimate:
    resources = list(resources)
    build = _Builder(stack, GCP_PRICES)
    build.estimate.region = GCP_REGION
    build.estimate.prices_as_of = GCP_PRICES_AS_OF
    hours = HOURS_PER_MONTH
    build.estimate.assumptions = {
        "environment": environment,
        "hours_per_month": hours,
        **asdict(usage),
        "cloud_run_instances": "max(min instances x 730 h, busy_instance_hours) at the "
        "instance-based (CPU always allocated) rate",
        "busy_instance_hours": BUSY_INSTANCE_HOURS.get(environment, 0.0),
        "sql_backup_storage": f"~{BACKUP_FACTOR:g} x database_data_gb, stored in the backup region",
        "not_included": "Cloud DNS zone (pre-existing) and queries, Datadog, taxes, support, "
        "committed-use discounts; alb_lcu_average, nat_processed_gb and waf_logs_gb are AWS-only",
    }
    _database(build, resources, hours, usage)
    _cloud_run(build, resources, hours, usage, environment)
    _edge(build, resources, hours, usage)
    _storage(build, resources, usage)
    logs = usage.app_logs_gb + usage.flow_logs_gb
    for project_apis in _of(resources, "awaterra:gcp:ProjectApis")[:1]:
        add(
            build,
            project_apis,
            f"Cloud Logging: {logs:g} GiB ingested",
            max(0.0, logs - LOGGING_FREE_GB),
            "logging.gb",
        )
    for config in _of(resources, "gcp:identityplatform/config:Config"):
        add(
            build,
            config,
            f"{usage.monthly_active_users:,} monthly active users, {IDENTITY_FREE_MAU:,} free",
            max(0, usage.monthly_active_users - IDENTITY_FREE_MAU),
            "identity.mau",
        )
    for rule in _of(resources, "gcp:compute/globalForwardingRule:GlobalForwardingRule")[:1]:
        add(build, rule, "internet egress", usage.data_out_gb, "egress.gb")
    return build.estimate


def _settings(instance: Recorded) -> dict[str, Any]:
    settings = instance.inputs.get("settings") or {}
    return settings if isinstance(settings, dict) else {}


def _database(build: _Builder, resources: list[Recorded], hours: int, usage: Usage) -> None:
    for instance in _of(resources, "gcp:sql/databaseInstance:DatabaseInstance"):
        settings = _settings(instance)
        tier = str(settings.get("tier") or "")
        ha = settings.get("availabilityType") == "REGIONAL"
        factor = 2.0 if ha else 1.0
        label = "REGIONAL (HA: x2)" if ha else "ZONAL"
        custom = _CUSTOM_TIER.match(tier)
        if custom:
            vcpu, memory_gb = int(custom.group(1)), int(custom.group(2)) / 1024
            add(build, instance, f"{tier} {label}: {vcpu} vCPU", vcpu * hours, "sql.vcpu", factor)
            add(
                build,
                instance,
                f"{tier} {label}: {memory_gb:g} GB",
                memory_gb * hours,
                "sql.gb",
                factor,
            )
        elif tier in ("db-f1-micro", "db-g1-small"):
            add(
                build, instance, f"{tier} {label}", hours, f"sql.{tier.removeprefix('db-')}", factor
            )
        else:
            raise CostError(f"no price for Cloud SQL tier {tier!r}: add it to ops/cost_gcp.py")
        disk = _number(settings.get("diskSize"), 10)
        add(build, instance, f"{disk:g} GB SSD {label}", disk, "sql.ssd.gb", factor)
        backups = (settings.get("backupConfiguration") or {}).get("enabled")
        if backups:
            add(
                build,
                instance,
                "backups + PITR logs",
                usage.database_data_gb * BACKUP_FACTOR,
                "sql.backup.gb",
            )


def _cloud_run(
    build: _Builder, resources: list[Recorded], hours: int, usage: Usage, environment: str
) -> None:
    for service in _of(resources, "gcp:cloudrunv2/service:Service"):
        template = service.inputs.get("template") or {}
        scaling = template.get("scaling") or {}
        minimum = _number(scaling.get("minInstanceCount"), 0)
        limits = ((template.get("containers") or [{}])[0].get("resources") or {}).get(
            "limits"
        ) or {}
        vcpu = _number(limits.get("cpu"), 1)
        memory = str(limits.get("memory") or "512Mi")
        memory_gib = _number(memory[:-2]) / (1024 if memory.endswith("Mi") else 1)
        instance_hours = max(minimum * hours, BUSY_INSTANCE_HOURS.get(environment, 0.0))
        what = f"{minimum:g} min instance(s), {instance_hours:g} instance-hours"
        add(build, service, f"{what} x {vcpu:g} vCPU", instance_hours * vcpu, "run.vcpu")
        add(build, service, f"{what} x {memory_gib:g} GiB", instance_hours * memory_gib, "run.gb")
    for repository in _of(resources, "gcp:artifactregistry/repository:Repository"):
        add(
            build,
            repository,
            f"image storage (cleanup-bounded): {usage.ecr_gb:g} GB, 0.5 GB free",
            max(0.0, usage.ecr_gb - 0.5),
            "registry.gb",
        )
    for key in _of(resources, "gcp:kms/cryptoKey:CryptoKey"):
        # Rotation adds a version each period and old ones stay enabled (they decrypt old data).
        period_days = _number(str(key.inputs.get("rotationPeriod", "0s")).removesuffix("s")) / 86400
        versions = 1 + (int(365 // period_days) if period_days else 0)
        add(build, key, f"{versions} key versions (a year of rotation)", versions, "kms.version")


def _edge(build: _Builder, resources: list[Recorded], hours: int, usage: Usage) -> None:
    for rule in _of(resources, "gcp:compute/globalForwardingRule:GlobalForwardingRule"):
        add(build, rule, "forwarding rule hours", hours, "lb.rule")
        add(build, rule, "data processed (egress)", usage.data_out_gb, "lb.gb")
    for policy in _of(resources, "gcp:compute/securityPolicy:SecurityPolicy"):
        rules = len(policy.inputs.get("rules") or [])
        add(build, policy, "Cloud Armor policy", 1, "armor.policy")
        add(build, policy, f"{rules} rules", rules, "armor.rule")
        add(build, policy, "requests evaluated", usage.requests_millions, "armor.requests")


def _storage(build: _Builder, resources: list[Recorded], usage: Usage) -> None:
    for bucket in _of(resources, "gcp:storage/bucket:Bucket"):
        dual = bool(bucket.inputs.get("customPlacementConfig"))
        if dual:
            add(build, bucket, "media objects (dual-region)", usage.media_gb, "gcs.dual.gb")
            add(
                build,
                bucket,
                "turbo replication of new objects",
                usage.media_gb / 10,
                "gcs.turbo.gb",
            )
            add(build, bucket, "uploads (Class A)", usage.media_puts_thousands, "gcs.class_a")
        else:
            add(build, bucket, "usage logs (regional)", 1, "gcs.regional.gb")
