"""RDS: encryption, exposure, backups, deletion safety, observability, TLS."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from policy.links import refers_to, unresolved
from policy.model import Context, Resource, Severity
from policy.rules._common import (
    by_environment,
    each,
    require_at_least,
    require_not_true,
    require_true,
    resource_rule,
    stack_rule,
)
from policy.rules.types import BACKUP_SELECTION, RDS_INSTANCE, RDS_PARAMETER_GROUP
from policy.values import UNKNOWN, as_list, get, known_list

STORAGE_ENCRYPTED_MESSAGE = "storageEncrypted must be true"


@resource_rule(
    "rds-storage-encrypted",
    "RDS storage is encrypted with a customer-managed KMS key",
    "AWS FSBP RDS.3 / checkov CKV_AWS_16",
    Severity.CRITICAL,
    RDS_INSTANCE,
    "Set storage_encrypted=True and kms_key_id to the database's KMS key.",
)
def storage_encrypted(resource: Resource, context: Context) -> Iterator[str]:
    yield from require_true(resource, "storageEncrypted", STORAGE_ENCRYPTED_MESSAGE)
    if get(resource.props, "kmsKeyId") is None:
        yield "kmsKeyId is not set: storage uses the AWS-managed key, not the stack's own key"


@resource_rule(
    "rds-not-public",
    "RDS instances are not publicly accessible",
    "AWS FSBP RDS.2 / checkov CKV_AWS_17",
    Severity.CRITICAL,
    RDS_INSTANCE,
    "Set publicly_accessible=False and place the instance in private subnets.",
)
def not_public(resource: Resource, context: Context) -> Iterator[str]:
    yield from require_not_true(resource, "publiclyAccessible", "publiclyAccessible is true")


@resource_rule(
    "rds-backup-retention",
    "RDS automated backups kept >= 7 days (>= 14 in production)",
    "AWS FSBP RDS.11 / checkov CKV_AWS_133",
    Severity.HIGH,
    RDS_INSTANCE,
    "Set backup_retention_period (awaterra:dbBackupRetentionDays).",
)
def backup_retention(resource: Resource, context: Context) -> Iterator[str]:
    minimum = by_environment(context, dev=7, prod=14)
    yield from require_at_least(resource, "backupRetentionPeriod", minimum, "backupRetentionPeriod")


@resource_rule(
    "rds-deletion-protection",
    "RDS deletion protection is on",
    "AWS FSBP RDS.8 / checkov CKV_AWS_293",
    Severity.HIGH,
    RDS_INSTANCE,
    "Set deletion_protection=True (awaterra:dbDeletionProtection).",
)
def deletion_protection(resource: Resource, context: Context) -> Iterator[str]:
    yield from require_true(resource, "deletionProtection", "deletionProtection is not enabled")


@resource_rule(
    "rds-final-snapshot",
    "RDS takes a final snapshot when deleted",
    "AWS Well-Architected REL09-BP01 (back up data); terraform-aws-modules/rds default",
    Severity.HIGH,
    RDS_INSTANCE,
    "Leave skip_final_snapshot False and set final_snapshot_identifier.",
)
def final_snapshot(resource: Resource, context: Context) -> Iterator[str]:
    yield from require_not_true(resource, "skipFinalSnapshot", "skipFinalSnapshot is true")
    if get(resource.props, "skipFinalSnapshot") is not True:
        if get(resource.props, "finalSnapshotIdentifier") is None:
            yield "finalSnapshotIdentifier is not set (a delete would fail or lose the data)"


@resource_rule(
    "rds-multi-az",
    "RDS runs Multi-AZ",
    "AWS FSBP RDS.5 / checkov CKV_AWS_157",
    Severity.MEDIUM,
    RDS_INSTANCE,
    "Set multi_az=True (awaterra:dbMultiAz).",
)
def multi_az(resource: Resource, context: Context) -> Iterator[str]:
    yield from require_true(resource, "multiAz", "multiAz is not enabled")


@resource_rule(
    "rds-performance-insights",
    "RDS Performance Insights on, encrypted with a KMS key",
    "checkov CKV_AWS_353 / CKV_AWS_354",
    Severity.LOW,
    RDS_INSTANCE,
    "Set performance_insights_enabled=True and performance_insights_kms_key_id.",
)
def performance_insights(resource: Resource, context: Context) -> Iterator[str]:
    enabled = get(resource.props, "performanceInsightsEnabled")
    if enabled is UNKNOWN:
        return
    if enabled is not True:
        yield "performanceInsightsEnabled is not enabled"
    elif get(resource.props, "performanceInsightsKmsKeyId") is None:
        yield "performanceInsightsKmsKeyId is not set"


@resource_rule(
    "rds-iam-auth",
    "RDS IAM database authentication is enabled",
    "AWS FSBP RDS.10 / checkov CKV_AWS_161",
    Severity.LOW,
    RDS_INSTANCE,
    "Set iam_database_authentication_enabled=True.",
)
def iam_auth(resource: Resource, context: Context) -> Iterator[str]:
    yield from require_true(
        resource,
        "iamDatabaseAuthenticationEnabled",
        "iamDatabaseAuthenticationEnabled is not enabled",
    )


@resource_rule(
    "rds-auto-minor-upgrade",
    "RDS applies minor engine upgrades automatically",
    "AWS FSBP RDS.13 / checkov CKV_AWS_226",
    Severity.LOW,
    RDS_INSTANCE,
    "Leave auto_minor_version_upgrade at its default (True).",
)
def auto_minor_upgrade(resource: Resource, context: Context) -> Iterator[str]:
    if get(resource.props, "autoMinorVersionUpgrade") is False:
        yield "autoMinorVersionUpgrade is false"


@resource_rule(
    "rds-log-exports",
    "RDS exports its engine log to CloudWatch Logs",
    "AWS FSBP RDS.9 / checkov CKV_AWS_129",
    Severity.MEDIUM,
    RDS_INSTANCE,
    'Set enabled_cloudwatch_logs_exports=["postgresql", "upgrade"].',
)
def log_exports(resource: Resource, context: Context) -> Iterator[str]:
    exports = as_list(get(resource.props, "enabledCloudwatchLogsExports"))
    if exports is UNKNOWN or UNKNOWN in exports:
        return
    engine = get(resource.props, "engine")
    wanted = "postgresql" if engine in (None, UNKNOWN) or "postgres" in str(engine) else None
    if not exports:
        yield "enabledCloudwatchLogsExports is empty"
    elif wanted and wanted not in exports:
        yield f"enabledCloudwatchLogsExports lacks {wanted!r}"


def _force_ssl(group: Resource) -> Any:
    parameters = as_list(get(group.props, "parameters"))
    if parameters is UNKNOWN:
        return UNKNOWN
    for parameter in parameters:
        if get(parameter, "name") == "rds.force_ssl":
            return get(parameter, "value")
    return None


@stack_rule(
    "rds-force-ssl",
    "RDS PostgreSQL refuses non-TLS connections (rds.force_ssl=1)",
    "checkov CKV2_AWS_69",
    Severity.HIGH,
    RDS_INSTANCE + RDS_PARAMETER_GROUP,
    "Attach a parameter group that sets rds.force_ssl=1.",
)
def force_ssl(resources: Sequence[Resource], context: Context) -> Iterator[tuple[Resource, str]]:
    groups = each(resources, RDS_PARAMETER_GROUP)
    for instance in each(resources, RDS_INSTANCE):
        engine = get(instance.props, "engine")
        if isinstance(engine, str) and "postgres" not in engine:
            continue
        attached = [group for group in groups if refers_to(instance, "parameterGroupName", group)]
        if not attached:
            if unresolved(instance, "parameterGroupName"):
                continue
            yield (
                instance,
                "uses no parameter group of this stack, so rds.force_ssl is not pinned to 1",
            )
            continue
        for group in attached:
            value = _force_ssl(group)
            if value is UNKNOWN:
                continue
            if str(value) != "1":
                yield (
                    instance,
                    f"parameter group {group.name} sets rds.force_ssl={value!r}, need '1'",
                )


def _selection_covers(selection: Resource, instance: Resource) -> bool | None:
    """True/False when decidable; None when the selection's resources are unknown."""
    if refers_to(selection, "resources", instance):
        return True
    listed = as_list(get(selection.props, "resources"))
    if listed is UNKNOWN or UNKNOWN in listed:
        return None
    if any(arn in ("*", "arn:aws:rds:*:*:db:*") for arn in listed):
        return True
    tags = get(instance.props, "tags")
    for condition in known_list(get(selection.props, "selectionTags")):
        key, value = get(condition, "key"), get(condition, "value")
        if isinstance(tags, dict) and key in tags and tags[key] == value:
            return True
    return False


@stack_rule(
    "rds-backup-plan",
    "Every RDS instance is covered by an AWS Backup selection",
    "AWS FSBP RDS.26",
    Severity.HIGH,
    RDS_INSTANCE + BACKUP_SELECTION,
    "Add the instance ARN to an aws.backup.Selection of the stack's backup plan.",
)
def backup_plan(resources: Sequence[Resource], context: Context) -> Iterator[tuple[Resource, str]]:
    selections = each(resources, BACKUP_SELECTION)
    for instance in each(resources, RDS_INSTANCE):
        verdicts = [_selection_covers(selection, instance) for selection in selections]
        if True in verdicts or None in verdicts:
            continue
        yield instance, "no AWS Backup selection covers this instance"


RULES = [
    storage_encrypted,
    not_public,
    backup_retention,
    deletion_protection,
    final_snapshot,
    multi_az,
    performance_insights,
    iam_auth,
    auto_minor_upgrade,
    log_exports,
    force_ssl,
    backup_plan,
]
