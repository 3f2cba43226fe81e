"""Cloud KMS: key rotation and customer-managed keys; Cloud Logging retention."""

from __future__ import annotations

from collections.abc import Iterator

from policy.model import Context, Resource, Severity
from policy.rules._common import by_environment, require_at_least, resource_rule
from policy.rules.gcp_types import ARTIFACT_REPOSITORY, KMS_CRYPTO_KEY, LOG_BUCKET
from policy.values import UNKNOWN, get

MAX_ROTATION_SECONDS = 90 * 24 * 3600


def _seconds(value: object) -> float | None:
    """A rotation period as the API writes it: "7776000s"."""
    text = str(value).strip()
    try:
        return float(text[:-1] if text.endswith("s") else text)
    except ValueError:
        return None


@resource_rule(
    "gcp-kms-rotation",
    "Cloud KMS keys rotate at least every 90 days",
    "CIS GCP 1.10 / checkov CKV_GCP_43",
    Severity.MEDIUM,
    KMS_CRYPTO_KEY,
    'Set rotation_period="7776000s" (90 days) or shorter.',
)
def kms_rotation(resource: Resource, context: Context) -> Iterator[str]:
    purpose = get(resource.props, "purpose")
    if purpose not in (None, "ENCRYPT_DECRYPT", UNKNOWN):
        return  # asymmetric keys cannot rotate automatically
    period = get(resource.props, "rotationPeriod")
    if period is UNKNOWN:
        return
    if period is None:
        yield "rotationPeriod is not set (the key never rotates)"
        return
    seconds = _seconds(period)
    if seconds is None or seconds > MAX_ROTATION_SECONDS:
        yield f"rotationPeriod is {period}, maximum {MAX_ROTATION_SECONDS}s (90 days)"


@resource_rule(
    "gcp-registry-cmek",
    "Artifact Registry repositories are encrypted with a customer-managed key",
    "checkov CKV_GCP_84 (as ECR repositories use a KMS key on AWS)",
    Severity.MEDIUM,
    ARTIFACT_REPOSITORY,
    "Set kms_key_name to a Cloud KMS key the Artifact Registry service agent may use "
    "(components/gcp/encryption_key.py).",
)
def registry_cmek(resource: Resource, context: Context) -> Iterator[str]:
    if get(resource.props, "kmsKeyName") in (None, ""):
        yield "kmsKeyName is not set (Google-managed encryption only)"


@resource_rule(
    "gcp-log-bucket-retention",
    "Cloud Logging buckets keep logs >= 7 days (>= 30 in production)",
    "CIS GCP 2.2 / 2.3 (log sinks and retention)",
    Severity.MEDIUM,
    LOG_BUCKET,
    "Set retention_days (awaterra:logRetentionDays).",
)
def log_bucket_retention(resource: Resource, context: Context) -> Iterator[str]:
    minimum = by_environment(context, dev=7, prod=30)
    # Log buckets keep 30 days when retentionDays is not set.
    if get(resource.props, "retentionDays") is None:
        if minimum > 30:
            yield f"retentionDays is not set (30), minimum {minimum}"
        return
    yield from require_at_least(resource, "retentionDays", minimum, "retentionDays")


RULES = [kms_rotation, registry_cmek, log_bucket_retention]
