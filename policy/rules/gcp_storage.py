"""Cloud Storage: no public access, uniform access control, versioning, access logs."""

from __future__ import annotations

from collections.abc import Iterator

from policy.model import Context, Resource, Severity
from policy.rules._common import require_true, resource_rule
from policy.rules.gcp_types import BUCKET, BUCKET_IAM
from policy.values import UNKNOWN, get, known_list

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")


@resource_rule(
    "gcp-bucket-public-access-prevention",
    "Buckets enforce public access prevention",
    "CIS GCP 5.1 / checkov CKV_GCP_114",
    Severity.HIGH,
    BUCKET,
    'Set public_access_prevention="enforced".',
)
def public_access_prevention(resource: Resource, context: Context) -> Iterator[str]:
    value = get(resource.props, "publicAccessPrevention")
    if value is not UNKNOWN and value != "enforced":
        yield f"publicAccessPrevention is {value!r}, need 'enforced'"


@resource_rule(
    "gcp-bucket-uniform-access",
    "Buckets use uniform bucket-level access (no object ACLs)",
    "CIS GCP 5.2 / checkov CKV_GCP_29",
    Severity.HIGH,
    BUCKET,
    "Set uniform_bucket_level_access=True.",
)
def uniform_access(resource: Resource, context: Context) -> Iterator[str]:
    yield from require_true(
        resource, "uniformBucketLevelAccess", "uniformBucketLevelAccess is not enabled"
    )


@resource_rule(
    "gcp-bucket-versioning",
    "Buckets keep object versions",
    "checkov CKV_GCP_78",
    Severity.MEDIUM,
    BUCKET,
    "Set versioning.enabled=True.",
)
def versioning(resource: Resource, context: Context) -> Iterator[str]:
    yield from require_true(resource, "versioning.enabled", "versioning.enabled is not true")


@resource_rule(
    "gcp-bucket-logging",
    "Buckets write usage logs to a log bucket",
    "checkov CKV_GCP_62",
    Severity.LOW,
    BUCKET,
    "Set logging.log_bucket to the stack's log bucket.",
)
def logging(resource: Resource, context: Context) -> Iterator[str]:
    if get(resource.props, "logging.logBucket") is None:
        yield "logging.logBucket is not set"


@resource_rule(
    "gcp-bucket-iam-not-public",
    "No bucket IAM grant to allUsers or allAuthenticatedUsers",
    "CIS GCP 5.1 / checkov CKV_GCP_28",
    Severity.CRITICAL,
    BUCKET_IAM,
    "Grant the role to the service account that needs it, never to allUsers.",
)
def iam_not_public(resource: Resource, context: Context) -> Iterator[str]:
    members = [get(resource.props, "member"), *known_list(get(resource.props, "members"))]
    for member in members:
        if member in PUBLIC_MEMBERS:
            yield f"member {member} is granted {get(resource.props, 'role')}"


RULES = [public_access_prevention, uniform_access, versioning, logging, iam_not_public]
