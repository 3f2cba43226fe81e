"""The Google Cloud half of the stack settings (`awaterra:cloud gcp`), read by components/settings.

Which `awaterra:` keys mean the same on both clouds (SHARED_KEYS), which only Google Cloud reads
(GCP_ONLY_KEYS); every other key is AWS-only. A key of the other cloud set on a stack is an
error, not ignored: a gcp stack that sets `wafEnabled: false` would otherwise believe it turned
Cloud Armor off.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi

from components.gcp.backup import DisasterRecovery

if TYPE_CHECKING:
    from components.settings import _Reader

SHARED_KEYS = frozenset(
    {
        "cloud",
        "environment",
        "domain",
        "vpcCidr",
        "flowLogs",
        "dbAllocatedStorageGb",
        "dbMaxAllocatedStorageGb",
        "dbMultiAz",
        "dbBackupRetentionDays",
        "dbDeletionProtection",
        "dbName",
        "serviceMinCount",
        "serviceMaxCount",
        "serviceWorkers",
        "servicePoolSize",
        "imageTag",
        "httpRedirect",
        "corsAllowedOrigins",
        "bucketAccessLogs",
        "forceDestroy",
        "monitoring",
        "datadogEnabled",
        "datadogApiKey",
        "datadogAppKey",
        "datadogSite",
        "datadogNotify",
        "firebase",
    }
)
GCP_ONLY_KEYS = frozenset({"gcpDnsZone", "gcpBackupLocation", "dbTier", "datadogGcpIntegration"})

_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_GCP_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]{1,2}$")
_ZONE_NAME = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_TIER = re.compile(r"^db-(f1-micro|g1-small|custom-\d{1,2}-\d{3,6})$")
_SHARED_CORE = ("db-f1-micro", "db-g1-small")
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Point-in-time recovery logs: 1..7 days on the ENTERPRISE edition.
MAX_LOG_RETENTION_DAYS = 7


@dataclass(frozen=True)
class GcpSettings:
    project: str
    region: str
    dns_zone: str
    backup_location: str
    db_tier: str
    labels: Mapping[str, str]

    @property
    def disaster_recovery(self) -> DisasterRecovery:
        return DisasterRecovery(primary_region=self.region, secondary_region=self.backup_location)


def applies_to(name: str, cloud: str) -> bool:
    """Whether a stack on `cloud` reads the `awaterra:` key `name`."""
    if name in SHARED_KEYS:
        return True
    return (name in GCP_ONLY_KEYS) == (cloud == "gcp")


def other_cloud_problems(read: _Reader, cloud: str, known: tuple[str, ...]) -> list[str]:
    """One problem per `awaterra:` key set on this stack that only the other cloud reads."""
    other = "AWS" if cloud == "gcp" else "Google Cloud"
    return [
        f"{read.key(name)} applies only to {other} stacks "
        f"(awaterra:cloud is {cloud}): remove it from this stack"
        for name in known
        if not applies_to(name, cloud) and read.raw(name) is not None
    ]


def read_gcp(read: _Reader, gcp_config: pulumi.Config, environment: str) -> GcpSettings:
    """`gcp:project`, `gcp:region` and the gcp-only keys, each problem naming its key."""
    prod = environment == "prod"
    project = (gcp_config.get("project") or "").strip()
    if not project:
        read.problems.append(
            "gcp:project is required (e.g. `pulumi config set gcp:project awaterra-dev-123`)"
        )
    elif not _PROJECT.match(project):
        read.problems.append(
            "gcp:project must be a project id (6-30 lowercase letters, digits and -, starting "
            f"with a letter, not ending with -), got {project!r}"
        )
    region = (gcp_config.get("region") or "").strip()
    if not region:
        read.problems.append(
            "gcp:region is required (e.g. `pulumi config set gcp:region europe-west1`)"
        )
    elif not _GCP_REGION.match(region):
        read.problems.append(f"gcp:region must be a region like europe-west1, got {region!r}")

    dns_zone = read.required("gcpDnsZone", "example-com")
    if dns_zone:
        read.check(
            "gcpDnsZone",
            bool(_ZONE_NAME.match(dns_zone)),
            "must be the name of a Cloud DNS managed zone (lowercase letters, digits, -), "
            f"got {dns_zone!r}",
        )
    backup_location = read.required("gcpBackupLocation", "europe-west4")
    if backup_location and region and _GCP_REGION.match(region):
        if not _GCP_REGION.match(backup_location):
            read.fail(
                "gcpBackupLocation", f"must be a region like europe-west4, got {backup_location!r}"
            )
        else:
            try:
                DisasterRecovery(primary_region=region, secondary_region=backup_location)
            except ValueError as error:
                read.fail(
                    "gcpBackupLocation",
                    f"must be another region on gcp:region's continent ({region}): "
                    f"{str(error).removeprefix('DisasterRecovery: ')}",
                )
    tier = read.text("dbTier")
    if not _TIER.match(tier):
        read.fail(
            "dbTier",
            f"must be a Cloud SQL tier like db-custom-1-3840 or db-f1-micro, got {tier!r}",
        )
    elif prod and tier in _SHARED_CORE:
        read.fail(
            "dbTier", f"must be a db-custom-* tier in prod (shared-core has no SLA), got {tier!r}"
        )
    name = read.text("dbName")
    read.check(
        "dbName",
        bool(_DB_NAME.match(name)),
        f"must be lowercase letters, digits and _ on Cloud SQL, got {name!r}",
    )
    return GcpSettings(
        project=project,
        region=region,
        dns_zone=dns_zone,
        backup_location=backup_location,
        db_tier=tier,
        labels={"project": "awaterra", "environment": environment, "managed-by": "pulumi"},
    )
