"""What every bucket of the stack has, whatever it stores.

All four public-access blocks, `BucketOwnerEnforced` (ACLs off: the bucket owner owns every
object), versioning, object events sent to Amazon EventBridge (AWS FSBP S3.11 / checkov
CKV2_AWS_62: security tooling can react to writes and deletes; free on the default bus), and the
policy statements that refuse plain HTTP and TLS older than 1.2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

MINIMUM_TLS_VERSION = "1.2"


def lock_down(
    name: str, bucket: aws.s3.Bucket, opts: pulumi.ResourceOptions
) -> list[pulumi.Resource]:
    """Block public access, disable ACLs, turn versioning and EventBridge notifications on.

    Returns the resources created.
    """
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    ownership = aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=opts,
    )
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
            status="Enabled"
        ),
        opts=opts,
    )
    notifications = aws.s3.BucketNotification(
        f"{name}-notifications", bucket=bucket.id, eventbridge=True, opts=opts
    )
    return [public_access, ownership, versioning, notifications]


def transport_statements(bucket_arn: pulumi.Input[str]) -> list[Mapping[str, Any]]:
    """Deny any request over plain HTTP or TLS older than 1.2, whoever makes it."""
    resources = [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")]
    return [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": resources,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyOutdatedTls",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": resources,
            "Condition": {"NumericLessThan": {"s3:TlsVersion": MINIMUM_TLS_VERSION}},
        },
    ]


def abort_multipart_rule(days: int) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id="abort-incomplete-multipart-uploads",
        status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
            days_after_initiation=days
        ),
    )
