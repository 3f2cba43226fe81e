"""S3: every bucket's public access block, encryption, versioning and TLS-only policy.

pulumi-aws 7 keeps these in resources of their own that point at the bucket, so these are
stack rules: for each bucket, find the resources that refer to it and judge them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policy.links import identities, referrers, refers_to
from policy.model import Context, Resource, Severity
from policy.rules._common import each, stack_rule
from policy.rules.types import (
    BUCKET,
    BUCKET_ENCRYPTION,
    BUCKET_LOGGING,
    BUCKET_POLICY,
    BUCKET_PUBLIC_ACCESS_BLOCK,
    BUCKET_VERSIONING,
    LOAD_BALANCER,
)
from policy.values import UNKNOWN, InvalidDocument, as_list, get, json_document, known_list

PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
SSE_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


@stack_rule(
    "s3-public-access-block",
    "Every bucket blocks public access (all four settings)",
    "AWS FSBP S3.8 / checkov CKV2_AWS_6",
    Severity.HIGH,
    BUCKET + BUCKET_PUBLIC_ACCESS_BLOCK,
    "Add an aws.s3.BucketPublicAccessBlock with all four flags True for the bucket.",
)
def public_access_block(
    resources: Sequence[Resource], context: Context
) -> Iterator[tuple[Resource, str]]:
    for bucket in each(resources, BUCKET):
        blocks, undecided = referrers(resources, BUCKET_PUBLIC_ACCESS_BLOCK, "bucket", bucket)
        if not blocks:
            if not undecided:
                yield bucket, "has no BucketPublicAccessBlock"
            continue
        for block in blocks:
            off = [
                flag
                for flag in PUBLIC_ACCESS_FLAGS
                if get(block.props, flag) not in (True, UNKNOWN)
            ]
            if off:
                yield bucket, f"public access block {block.name} leaves {', '.join(off)} off"


def _sse_rules(configuration: Resource) -> list[tuple[object, object]] | None:
    """(algorithm, kms key) per rule of an encryption configuration; None when unknown."""
    rules = as_list(get(configuration.props, "rules"))
    if rules is UNKNOWN:
        return None
    found = []
    for rule in rules:
        default = get(rule, "applyServerSideEncryptionByDefault")
        found.append((get(default, "sseAlgorithm"), get(default, "kmsMasterKeyId")))
    return found


@stack_rule(
    "s3-encryption",
    "Every bucket has default server-side encryption",
    "checkov CKV_AWS_19 (S3 data encrypted at rest)",
    Severity.HIGH,
    BUCKET + BUCKET_ENCRYPTION,
    "Add an aws.s3.BucketServerSideEncryptionConfiguration for the bucket.",
)
def encryption(resources: Sequence[Resource], context: Context) -> Iterator[tuple[Resource, str]]:
    for bucket in each(resources, BUCKET):
        configurations, undecided = referrers(resources, BUCKET_ENCRYPTION, "bucket", bucket)
        if not configurations:
            if not undecided:
                yield bucket, "has no BucketServerSideEncryptionConfiguration"
            continue
        for configuration in configurations:
            rules = _sse_rules(configuration)
            if rules is None:
                continue
            if not rules:
                yield bucket, f"{configuration.name} has no encryption rule"
            for algorithm, _ in rules:
                if algorithm is not UNKNOWN and algorithm not in SSE_ALGORITHMS:
                    yield bucket, f"{configuration.name} uses sseAlgorithm={algorithm!r}"


def log_delivery_targets(resources: Sequence[Resource]) -> list[Resource]:
    """Buckets receiving ALB access logs or S3 server access logs: AWS delivers those only to
    buckets encrypted with SSE-S3, so they are exempt from the KMS requirement."""
    targets = []
    balancers = each(resources, LOAD_BALANCER)
    loggings = each(resources, BUCKET_LOGGING)
    for bucket in each(resources, BUCKET):
        from_balancer = any(
            refers_to(balancer, "accessLogs", bucket)
            or get(balancer.props, "accessLogs.bucket") in identities(bucket)
            for balancer in balancers
        )
        from_logging = any(refers_to(logging, "targetBucket", bucket) for logging in loggings)
        if from_balancer or from_logging:
            targets.append(bucket)
    return targets


@stack_rule(
    "s3-kms-encryption",
    "Buckets use SSE-KMS with a customer key (log delivery targets excepted)",
    "AWS FSBP S3.17 / checkov CKV_AWS_145",
    Severity.MEDIUM,
    BUCKET + BUCKET_ENCRYPTION,
    "Use sse_algorithm='aws:kms' with the bucket's KMS key and bucket_key_enabled=True.",
)
def kms_encryption(
    resources: Sequence[Resource], context: Context
) -> Iterator[tuple[Resource, str]]:
    exempt = log_delivery_targets(resources)
    for bucket in each(resources, BUCKET):
        if bucket in exempt:
            continue
        configurations, _ = referrers(resources, BUCKET_ENCRYPTION, "bucket", bucket)
        for configuration in configurations:
            for algorithm, key in _sse_rules(configuration) or []:
                if algorithm is UNKNOWN:
                    continue
                if algorithm not in KMS_ALGORITHMS:
                    yield bucket, f"{configuration.name} uses {algorithm!r}, not SSE-KMS"
                elif key is None:
                    yield (
                        bucket,
                        f"{configuration.name} uses the AWS-managed aws/s3 key, not a customer key",
                    )


@stack_rule(
    "s3-versioning",
    "Every bucket has versioning enabled",
    "AWS FSBP S3.14 / checkov CKV_AWS_21",
    Severity.MEDIUM,
    BUCKET + BUCKET_VERSIONING,
    "Add an aws.s3.BucketVersioning with status 'Enabled' (expire old versions by lifecycle).",
)
def versioning(resources: Sequence[Resource], context: Context) -> Iterator[tuple[Resource, str]]:
    for bucket in each(resources, BUCKET):
        configurations, undecided = referrers(resources, BUCKET_VERSIONING, "bucket", bucket)
        if not configurations:
            if not undecided:
                yield bucket, "has no BucketVersioning"
            continue
        for configuration in configurations:
            status = get(configuration.props, "versioningConfiguration.status")
            if status is not UNKNOWN and status != "Enabled":
                yield bucket, f"{configuration.name} has versioning status {status!r}"


def _denies_insecure_transport(document: object) -> bool:
    for statement in known_list(get(document, "Statement")):
        if get(statement, "Effect") != "Deny":
            continue
        condition = get(statement, "Condition")
        for operator in ("Bool", "BoolIfExists"):
            value = get(condition, f"{operator}.aws:SecureTransport")
            if str(value).lower() == "false" or value == ["false"]:
                return True
    return False


@stack_rule(
    "s3-deny-insecure-transport",
    "Every bucket policy denies requests without TLS",
    "AWS FSBP S3.5",
    Severity.HIGH,
    BUCKET + BUCKET_POLICY,
    'Add a Deny statement for "aws:SecureTransport": "false" to the bucket policy.',
)
def deny_insecure_transport(
    resources: Sequence[Resource], context: Context
) -> Iterator[tuple[Resource, str]]:
    for bucket in each(resources, BUCKET):
        policies, undecided = referrers(resources, BUCKET_POLICY, "bucket", bucket)
        if not policies:
            if not undecided:
                yield bucket, "has no bucket policy denying non-TLS requests"
            continue
        verdicts = []
        for policy in policies:
            try:
                document = json_document(get(policy.props, "policy"))
            except InvalidDocument as error:
                yield bucket, f"bucket policy {policy.name} is {error}"
                continue
            verdicts.append(True if document is UNKNOWN else _denies_insecure_transport(document))
        if verdicts and not any(verdicts):
            yield bucket, "bucket policy does not deny aws:SecureTransport=false"


RULES = [public_access_block, encryption, kms_encryption, versioning, deny_insecure_transport]
