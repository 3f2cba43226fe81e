"""The media bucket: practice audio and images, uploaded and fetched through signed URLs.

`MediaBucket(name, MediaBucketArgs(cors_allowed_origins=["https://app.example.com"]))`

Private (all four public-access blocks, `BucketOwnerEnforced`), encrypted with its own rotating
KMS key and an S3 bucket key (fewer KMS calls; uploads asking for another key or SSE-S3 are
denied), versioned, TLS 1.2+ only. Lifecycle aborts
incomplete multipart uploads and expires old versions. CORS admits PUT/GET/HEAD from the listed
origins only, for the app's signed uploads and downloads. Server access logs go to the log
bucket when `access_log_bucket` is given (prod). `force_destroy` stays off unless the caller asks.

Whoever reads or writes objects needs `kms:Decrypt` / `kms:GenerateDataKey` on `kms_key_arn`
as well as the S3 permissions.

Outputs: `bucket_name`, `bucket_arn`, `kms_key_arn`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.policy_documents import (
    account_context,
    customer_key,
    key_policy,
    policy_document,
)
from components.aws.s3_baseline import abort_multipart_rule, lock_down, transport_statements

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
CORS_METHODS = ("PUT", "GET", "HEAD")
# Headers a signed PUT from the app carries.
CORS_HEADERS = ("Content-Type", "Content-MD5", "Content-Length", "x-amz-*")


@dataclass(frozen=True)
class MediaBucketArgs:
    cors_allowed_origins: Sequence[str] = ()
    access_log_bucket: pulumi.Input[str] | None = None
    access_log_prefix: str = "s3-access/"
    force_destroy: bool = False
    noncurrent_expire_after_days: int = 30
    abort_multipart_after_days: int = 7

    def __post_init__(self) -> None:
        for origin in self.cors_allowed_origins:
            if origin == "*" or not _ORIGIN.match(origin):
                raise ValueError(
                    f"MediaBucket: CORS origin must be scheme://host[:port], got {origin!r}"
                )
        if self.noncurrent_expire_after_days < 1 or self.abort_multipart_after_days < 1:
            raise ValueError("MediaBucket: lifecycle periods must be >= 1 day")


def _encryption_statements(
    bucket_arn: pulumi.Input[str], key_arn: pulumi.Input[str]
) -> list[dict[str, object]]:
    """Uploads that ask for encryption must ask for this bucket's key; those that do not ask get
    it by default. Nobody can store an object under SSE-S3 or another key."""
    objects = pulumi.Output.concat(bucket_arn, "/*")
    return [
        {
            "Sid": "DenyOtherEncryption",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {
                "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}
            },
        },
        {
            "Sid": "DenyOtherKeys",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {
                "StringNotEqualsIfExists": {
                    "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn
                }
            },
        },
    ]


class MediaBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: MediaBucketArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("awaterra:bucket:MediaBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        context = account_context(self)

        key = customer_key(
            f"{name}-key", "Media bucket objects", key_policy(context.account_id), child
        )
        bucket = aws.s3.Bucket(f"{name}-bucket", force_destroy=args.force_destroy, opts=child)
        baseline = lock_down(name, bucket, child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=key.arn
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                abort_multipart_rule(args.abort_multipart_after_days),
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-noncurrent-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.noncurrent_expire_after_days
                    ),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        expired_object_delete_marker=True
                    ),
                ),
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=baseline),
        )
        if args.cors_allowed_origins:
            aws.s3.BucketCorsConfiguration(
                f"{name}-cors",
                bucket=bucket.id,
                cors_rules=[
                    aws.s3.BucketCorsConfigurationCorsRuleArgs(
                        id="signed-uploads",
                        allowed_methods=list(CORS_METHODS),
                        allowed_origins=list(args.cors_allowed_origins),
                        allowed_headers=list(CORS_HEADERS),
                        expose_headers=["ETag"],
                        max_age_seconds=3000,
                    )
                ],
                opts=child,
            )
        if args.access_log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-logging",
                bucket=bucket.id,
                target_bucket=args.access_log_bucket,
                target_prefix=f"{args.access_log_prefix}{name}/",
                opts=child,
            )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=policy_document(
                [*transport_statements(bucket.arn), *_encryption_statements(bucket.arn, key.arn)]
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=baseline),
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.kms_key_arn = key.arn
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "kms_key_arn": self.kms_key_arn,
            }
        )
