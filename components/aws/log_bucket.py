"""The bucket that receives load balancer access logs and S3 server access logs.

`LogBucket(name, LogBucketArgs(region="us-east-1"))`

Encryption is SSE-S3 (AES256), not KMS, on purpose: Elastic Load Balancing can only deliver
access logs to buckets encrypted with S3-managed keys. Everything else matches the media bucket:
public access blocked, ACLs disabled, versioning, TLS-only policy, lifecycle expiry.

The policy lets exactly two AWS services write, each under its own prefix and only on this
account's behalf:
- load balancer logs: `logdelivery.elasticloadbalancing.amazonaws.com`, plus, in regions that
  predate that principal, the region's Elastic Load Balancing account (a static table; no API
  call), under `<alb_log_prefix>/AWSLogs/<account>/`;
- S3 server access logs: `logging.s3.amazonaws.com`, under `<s3_access_log_prefix>`.

Outputs: `bucket_name`, `bucket_arn`, `alb_log_prefix`, `s3_access_log_prefix`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.policy_documents import account_context, policy_document
from components.aws.s3_baseline import abort_multipart_rule, lock_down, transport_statements

# Regions opened before August 2022 deliver ALB logs from a regional AWS account
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html).
ELB_LOG_ACCOUNTS: Mapping[str, str] = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584",
    "us-gov-east-1": "190560391635",
}
ALB_LOG_DELIVERY = "logdelivery.elasticloadbalancing.amazonaws.com"
S3_LOG_DELIVERY = "logging.s3.amazonaws.com"


@dataclass(frozen=True)
class LogBucketArgs:
    region: str
    expire_after_days: int = 365
    noncurrent_expire_after_days: int = 30
    alb_log_prefix: str = "alb"
    s3_access_log_prefix: str = "s3-access/"
    force_destroy: bool = False

    def __post_init__(self) -> None:
        if self.expire_after_days < 1 or self.noncurrent_expire_after_days < 1:
            raise ValueError("LogBucket: expiry periods must be >= 1 day")
        if self.alb_log_prefix.startswith("/") or self.alb_log_prefix.endswith("/"):
            raise ValueError("LogBucket: alb_log_prefix takes no leading or trailing slash")


class LogBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    alb_log_prefix: str
    s3_access_log_prefix: str

    def __init__(self, name: str, args: LogBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("awaterra:log_bucket:LogBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        context = account_context(self)

        bucket = aws.s3.Bucket(f"{name}-bucket", force_destroy=args.force_destroy, opts=child)
        baseline = lock_down(name, bucket, child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    # SSE-S3: the only encryption ELB access log delivery supports.
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    ),
                )
            ],
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-logs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.expire_after_days
                    ),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.noncurrent_expire_after_days
                    ),
                ),
                abort_multipart_rule(7),
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=baseline),
        )

        alb_logs = pulumi.Output.concat(
            bucket.arn, f"/{args.alb_log_prefix}/AWSLogs/", context.account_id, "/*"
        )
        alb_principals: dict[str, object] = {"Service": ALB_LOG_DELIVERY}
        regional_account = ELB_LOG_ACCOUNTS.get(args.region)
        if regional_account:
            alb_principals["AWS"] = f"arn:aws:iam::{regional_account}:root"
        statements = [
            *transport_statements(bucket.arn),
            {
                "Sid": "LoadBalancerAccessLogs",
                "Effect": "Allow",
                "Principal": alb_principals,
                "Action": "s3:PutObject",
                "Resource": alb_logs,
            },
            {
                "Sid": "S3ServerAccessLogs",
                "Effect": "Allow",
                "Principal": {"Service": S3_LOG_DELIVERY},
                "Action": "s3:PutObject",
                "Resource": pulumi.Output.concat(bucket.arn, f"/{args.s3_access_log_prefix}*"),
                "Condition": {"StringEquals": {"aws:SourceAccount": context.account_id}},
            },
        ]
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=policy_document(statements),
            # The public-access block must exist first, or S3 may judge the policy alone.
            opts=pulumi.ResourceOptions(parent=self, depends_on=baseline),
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.alb_log_prefix = args.alb_log_prefix
        self.s3_access_log_prefix = args.s3_access_log_prefix
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})
