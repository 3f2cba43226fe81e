"""Cloud SQL for PostgreSQL: TLS, no public address, backups, deletion safety, logging flags."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from policy.model import Context, Resource, Severity
from policy.rules._common import by_environment, resource_rule
from policy.rules.gcp_types import SQL_INSTANCE
from policy.values import UNKNOWN, as_int, as_list, get, known_list

TLS_MODES = ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED")
WORLD = ("0.0.0.0/0", "::/0")
MIN_POSTGRES = 15


def _postgres(resource: Resource) -> bool:
    version = get(resource.props, "databaseVersion")
    return not isinstance(version, str) or version.startswith("POSTGRES")


@resource_rule(
    "gcp-sql-tls",
    "Cloud SQL accepts only TLS connections",
    "CIS GCP 6.4 / checkov CKV_GCP_6",
    Severity.HIGH,
    SQL_INSTANCE,
    'Set settings.ip_configuration.ssl_mode="ENCRYPTED_ONLY".',
)
def tls(resource: Resource, context: Context) -> Iterator[str]:
    mode = get(resource.props, "settings.ipConfiguration.sslMode")
    if mode is UNKNOWN:
        return
    if mode not in TLS_MODES:
        yield f"settings.ipConfiguration.sslMode is {mode!r}, need one of {', '.join(TLS_MODES)}"


@resource_rule(
    "gcp-sql-no-public-ip",
    "Cloud SQL has no public IP and no authorized network open to the internet",
    "CIS GCP 6.5 / 6.6 / checkov CKV_GCP_60 / CKV_GCP_11",
    Severity.CRITICAL,
    SQL_INSTANCE,
    "Set settings.ip_configuration.ipv4_enabled=False and private_network to the VPC.",
)
def no_public_ip(resource: Resource, context: Context) -> Iterator[str]:
    ip = get(resource.props, "settings.ipConfiguration")
    if ip is UNKNOWN:
        return
    enabled = get(ip, "ipv4Enabled")
    if enabled is not UNKNOWN and enabled is not False:
        yield "settings.ipConfiguration.ipv4Enabled is not false (the default is a public IP)"
    for network in known_list(get(ip, "authorizedNetworks")):
        if network is not UNKNOWN and get(network, "value") in WORLD:
            yield f"settings.ipConfiguration.authorizedNetworks allows {get(network, 'value')}"
    if enabled is False and get(ip, "privateNetwork") is None:
        yield "settings.ipConfiguration.privateNetwork is not set (no private IP)"


@resource_rule(
    "gcp-sql-backups",
    "Cloud SQL automated backups on, kept >= 7 (>= 14 in production), PITR in production",
    "CIS GCP 6.7 / checkov CKV_GCP_14",
    Severity.HIGH,
    SQL_INSTANCE,
    "Set settings.backup_configuration (enabled, point_in_time_recovery_enabled, "
    "backup_retention_settings.retained_backups).",
)
def backups(resource: Resource, context: Context) -> Iterator[str]:
    config = get(resource.props, "settings.backupConfiguration")
    if config is UNKNOWN:
        return
    enabled = get(config, "enabled")
    if enabled is UNKNOWN:
        return
    if enabled is not True:
        yield "settings.backupConfiguration.enabled is not true"
        return
    minimum = by_environment(context, dev=7, prod=14)
    retained = as_int(get(config, "backupRetentionSettings.retainedBackups"))
    # The service keeps 7 backups when retainedBackups is not set.
    count = 7 if retained is None else retained
    if count is not UNKNOWN and count < minimum:
        yield f"settings.backupConfiguration retainedBackups is {count}, minimum {minimum}"
    if context.production:
        pitr = get(config, "pointInTimeRecoveryEnabled")
        if pitr is not UNKNOWN and pitr is not True:
            yield "settings.backupConfiguration.pointInTimeRecoveryEnabled is not true"


@resource_rule(
    "gcp-sql-deletion-protection",
    "Cloud SQL deletion protection is on (Pulumi's and the API's)",
    "CIS GCP 6.7 (keep the data recoverable); Cloud SQL deletion protection",
    Severity.HIGH,
    SQL_INSTANCE,
    "Leave deletion_protection True and set settings.deletion_protection_enabled=True.",
)
def deletion_protection(resource: Resource, context: Context) -> Iterator[str]:
    if get(resource.props, "deletionProtection") is False:
        yield "deletionProtection is false"
    if context.production:
        enabled = get(resource.props, "settings.deletionProtectionEnabled")
        if enabled is not UNKNOWN and enabled is not True:
            yield "settings.deletionProtectionEnabled is not true"


@resource_rule(
    "gcp-sql-postgres-version",
    f"Cloud SQL runs PostgreSQL {MIN_POSTGRES} or newer",
    "checkov CKV_GCP_79 (latest major version)",
    Severity.MEDIUM,
    SQL_INSTANCE,
    'Set database_version="POSTGRES_16".',
)
def postgres_version(resource: Resource, context: Context) -> Iterator[str]:
    version = get(resource.props, "databaseVersion")
    if not isinstance(version, str) or not version.startswith("POSTGRES"):
        return
    match = re.fullmatch(r"POSTGRES_(\d+)", version)
    if match is None or int(match.group(1)) < MIN_POSTGRES:
        yield f"databaseVersion is {version}, need POSTGRES_{MIN_POSTGRES} or newer"


# flag -> accepted values (lower-cased); CIS GCP 6.2.x and checkov CKV_GCP_108-111.
POSTGRES_FLAGS: dict[str, tuple[str, ...]] = {
    "log_connections": ("on",),
    "log_disconnections": ("on",),
    "log_min_duration_statement": ("-1",),
    "cloudsql.enable_pgaudit": ("on",),
}


def _flags(resource: Resource) -> dict[str, Any] | None:
    flags = as_list(get(resource.props, "settings.databaseFlags"))
    if flags is UNKNOWN or UNKNOWN in flags:
        return None
    values: dict[str, Any] = {}
    for flag in flags:
        name = get(flag, "name")
        if name is UNKNOWN:
            return None
        values[str(name)] = get(flag, "value")
    return values


@resource_rule(
    "gcp-sql-postgres-flags",
    "Cloud SQL PostgreSQL logs connections and disconnections, not statement texts, with pgAudit",
    "CIS GCP 6.2.2 / 6.2.3 / 6.2.7 / 6.2.8 / checkov CKV_GCP_108-111",
    Severity.MEDIUM,
    SQL_INSTANCE,
    "Set settings.database_flags: log_connections=on, log_disconnections=on, "
    "log_min_duration_statement=-1, cloudsql.enable_pgaudit=on.",
)
def postgres_flags(resource: Resource, context: Context) -> Iterator[str]:
    if not _postgres(resource):
        return
    values = _flags(resource)
    if values is None:
        return
    for name, accepted in POSTGRES_FLAGS.items():
        value = values.get(name)
        if value is UNKNOWN:
            continue
        if value is None:
            yield f"settings.databaseFlags does not set {name} (need {accepted[0]})"
        elif str(value).lower() not in accepted:
            yield f"settings.databaseFlags sets {name}={value!r}, need {accepted[0]!r}"


RULES = [tls, no_public_ip, backups, deletion_protection, postgres_version, postgres_flags]
