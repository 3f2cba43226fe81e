"""The bucket that receives the media bucket's Cloud Storage usage logs.

`LogBucket(name, LogBucketArgs(location="US"))`

Locked down like the media bucket (uniform bucket-level access, public access prevention
enforced, soft delete, versioning), with no logging of its own (a log bucket that logged to
itself would loop). Objects are deleted after `retention_days`; a log object deleted before
that (by a person: the writer cannot) stays recoverable as a noncurrent version for
`noncurrent_days`. The only writer is
Google's usage-log group `cloud-storage-analytics@google.com`, with `roles/storage.objectCreator`
on this bucket only: it can add log objects, not read or replace them.

Outputs: `bucket_name`, `bucket_url`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.gcp.storage_baseline import abort_multipart_rule, bucket_name, check_location

LOG_WRITER = "group:cloud-storage-analytics@google.com"


@dataclass(frozen=True)
class LogBucketArgs:
    location: str = "US"
    data_locations: Sequence[str] = ()
    retention_days: int = 365
    soft_delete_seconds: int = 7 * 24 * 3600
    noncurrent_days: int = 30
    force_destroy: bool = False
    bucket_name: str | None = None
    project: pulumi.Input[str] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_location("LogBucket", self.location, self.data_locations)
        if self.retention_days < 1:
            raise ValueError("LogBucket: retention_days must be >= 1")
        if not (
            self.soft_delete_seconds == 0 or 7 * 86400 <= self.soft_delete_seconds <= 90 * 86400
        ):
            raise ValueError("LogBucket: soft_delete_seconds must be 0 or 7..90 days")
        if self.noncurrent_days < 1:
            raise ValueError("LogBucket: noncurrent_days must be >= 1")


class LogBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_url: pulumi.Output[str]

    def __init__(self, name: str, args: LogBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("awaterra:gcp:LogBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            name=bucket_name(name, args.bucket_name),
            project=args.project,
            location=args.location,
            custom_placement_config=(
                gcp.storage.BucketCustomPlacementConfigArgs(
                    data_locations=[d.upper() for d in args.data_locations]
                )
                if args.data_locations
                else None
            ),
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=True),
            soft_delete_policy=gcp.storage.BucketSoftDeletePolicyArgs(
                retention_duration_seconds=args.soft_delete_seconds
            ),
            lifecycle_rules=[
                gcp.storage.BucketLifecycleRuleArgs(
                    action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=args.retention_days),
                ),
                gcp.storage.BucketLifecycleRuleArgs(
                    action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=gcp.storage.BucketLifecycleRuleConditionArgs(
                        days_since_noncurrent_time=args.noncurrent_days
                    ),
                ),
                abort_multipart_rule(1),
            ],
            force_destroy=args.force_destroy,
            labels={"stack": pulumi.get_stack(), "purpose": "access-logs", **args.labels},
            opts=child,
        )
        gcp.storage.BucketIAMMember(
            f"{name}-log-writer",
            bucket=bucket.name,
            role="roles/storage.objectCreator",
            member=LOG_WRITER,
            opts=child,
        )
        self.bucket_name = bucket.name
        self.bucket_url = bucket.url
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_url": self.bucket_url})
