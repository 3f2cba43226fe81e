"""Encryption at rest for keys, logs, registries, topics, queues and secrets."""

from __future__ import annotations

from collections.abc import Iterator

from policy.model import Context, Resource, Severity
from policy.rules._common import by_environment, require_at_least, require_true, resource_rule
from policy.rules.types import (
    ECR_REPOSITORY,
    KMS_KEY,
    LOG_GROUP,
    PROMETHEUS_WORKSPACE,
    SECRET,
    SNS_TOPIC,
    SQS_QUEUE,
)
from policy.values import UNKNOWN, as_list, get


def _require_set(resource: Resource, prop: str, message: str) -> Iterator[str]:
    if get(resource.props, prop) is None:
        yield message


@resource_rule(
    "kms-key-rotation",
    "Customer-managed symmetric KMS keys rotate yearly",
    "AWS FSBP KMS.4 / checkov CKV_AWS_7 / CIS 3.6",
    Severity.MEDIUM,
    KMS_KEY,
    "Set enable_key_rotation=True.",
)
def key_rotation(resource: Resource, context: Context) -> Iterator[str]:
    spec = get(resource.props, "keySpec")
    if spec is None:
        spec = get(resource.props, "customerMasterKeySpec")
    if spec in (None, UNKNOWN, "SYMMETRIC_DEFAULT"):
        yield from require_true(resource, "enableKeyRotation", "enableKeyRotation is not enabled")


@resource_rule(
    "log-group-kms",
    "CloudWatch log groups are encrypted with a KMS key",
    "checkov CKV_AWS_158",
    Severity.MEDIUM,
    LOG_GROUP,
    "Set kms_key_id (the key's policy must allow logs.<region>.amazonaws.com).",
)
def log_group_kms(resource: Resource, context: Context) -> Iterator[str]:
    yield from _require_set(resource, "kmsKeyId", "kmsKeyId is not set")


@resource_rule(
    "log-group-retention",
    "Log groups keep logs a bounded time: >= 7 days (>= 30 in production)",
    "checkov CKV_AWS_66; CIS 3.x log retention guidance",
    Severity.MEDIUM,
    LOG_GROUP,
    "Set retention_in_days (awaterra:logRetentionDays).",
)
def log_group_retention(resource: Resource, context: Context) -> Iterator[str]:
    minimum = by_environment(context, dev=7, prod=30)
    if get(resource.props, "retentionInDays") in (None, 0):
        yield "retentionInDays is not set: logs are kept forever"
        return
    yield from require_at_least(resource, "retentionInDays", minimum, "retentionInDays")


@resource_rule(
    "ecr-kms",
    "ECR repositories are encrypted with KMS",
    "checkov CKV_AWS_136",
    Severity.LOW,
    ECR_REPOSITORY,
    'Set encryption_configurations=[{"encryption_type": "KMS", "kms_key": ...}].',
)
def ecr_kms(resource: Resource, context: Context) -> Iterator[str]:
    configurations = as_list(get(resource.props, "encryptionConfigurations"))
    if configurations is UNKNOWN:
        return
    types = [get(configuration, "encryptionType") for configuration in configurations]
    if not any(kind in ("KMS", "KMS_DSSE", UNKNOWN) for kind in types):
        yield "encryptionType is not KMS (images are encrypted with AES256 only)"


@resource_rule(
    "sns-topic-encrypted",
    "SNS topics are encrypted with KMS",
    "AWS FSBP SNS.1 / checkov CKV_AWS_26",
    Severity.MEDIUM,
    SNS_TOPIC,
    "Set kms_master_key_id.",
)
def sns_encrypted(resource: Resource, context: Context) -> Iterator[str]:
    yield from _require_set(resource, "kmsMasterKeyId", "kmsMasterKeyId is not set")


@resource_rule(
    "sqs-queue-encrypted",
    "SQS queues are encrypted at rest",
    "AWS FSBP SQS.1 / checkov CKV_AWS_27",
    Severity.MEDIUM,
    SQS_QUEUE,
    "Set kms_master_key_id or sqs_managed_sse_enabled=True.",
)
def sqs_encrypted(resource: Resource, context: Context) -> Iterator[str]:
    if (
        get(resource.props, "kmsMasterKeyId") is None
        and get(resource.props, "sqsManagedSseEnabled") is False
    ):
        yield "neither kmsMasterKeyId nor SQS-managed SSE is set"


@resource_rule(
    "secret-cmk",
    "Secrets Manager secrets use a customer-managed KMS key",
    "checkov CKV_AWS_149",
    Severity.LOW,
    SECRET,
    "Set kms_key_id on the secret.",
)
def secret_cmk(resource: Resource, context: Context) -> Iterator[str]:
    yield from _require_set(
        resource, "kmsKeyId", "kmsKeyId is not set (uses the aws/secretsmanager key)"
    )


@resource_rule(
    "prometheus-workspace-encrypted-and-logged",
    "Amazon Managed Prometheus workspaces use a customer-managed key and log to CloudWatch",
    "Well-Architected SEC08-BP02 (encryption at rest); AMP user guide (workspace logging)",
    Severity.MEDIUM,
    PROMETHEUS_WORKSPACE,
    "Set kms_key_arn and logging_configuration.log_group_arn.",
)
def prometheus_workspace(resource: Resource, context: Context) -> Iterator[str]:
    yield from _require_set(
        resource, "kmsKeyArn", "kmsKeyArn is not set (AWS owned key: no control, no audit)"
    )
    logging = get(resource.props, "loggingConfiguration")
    if logging is UNKNOWN:
        return
    if logging is None or get(logging, "logGroupArn") is None:
        yield "loggingConfiguration.logGroupArn is not set: rule and alerting errors are lost"


RULES = [
    key_rotation,
    log_group_kms,
    log_group_retention,
    ecr_kms,
    sns_encrypted,
    sqs_encrypted,
    secret_cmk,
    prometheus_workspace,
]
