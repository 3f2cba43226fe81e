"""The media bucket on Cloud Storage: private, versioned, soft-deleted, replicated, one writer.

`MediaBucket(name, MediaBucketArgs(service_account_email=sa.email,
cors_allowed_origins=["https://app.example.com"], access_log_bucket=logs.bucket_name))`

- Uniform bucket-level access (no object ACLs) and public access prevention `enforced`: no
  object can be made public, whatever IAM or ACL a later change tries.
- Versioning on, soft delete (`soft_delete_seconds`, default 7 days: deleted or replaced
  objects can be restored), lifecycle: noncurrent versions deleted after
  `noncurrent_delete_after_days`, incomplete multipart uploads aborted after
  `abort_multipart_after_days`. `force_destroy` stays off.
- Location `US` (multi-region) by default; a dual-region (`location` = continent plus
  `data_locations` of two regions, see `DisasterRecovery`) gets turbo replication. A dev stack
  passes its region.
- CORS for the app's signed uploads and downloads: `PUT`/`GET` from `cors_allowed_origins`
  only, with the `Content-Type` header.
- Usage logs to `access_log_bucket` when given (prod), under `<name>/`.
- Encryption: Google-managed by default; `kms_key_name` encrypts with that Cloud KMS key and
  grants the project's Cloud Storage service agent encrypt/decrypt on the key only.
- Access: the service account gets `roles/storage.objectAdmin` on this bucket only (an IAM
  member on the bucket, not the project). Signing URLs also needs the account to sign as
  itself (`roles/iam.serviceAccountTokenCreator` on itself): the service's component grants it.

Outputs: `bucket_name`, `bucket_url`, `bucket_self_link`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.gcp.storage_baseline import abort_multipart_rule, bucket_name, check_location

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
_KMS_KEY = re.compile(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")
CORS_METHODS = ("PUT", "GET")
CORS_HEADERS = ("Content-Type",)
OBJECT_ROLE = "roles/storage.objectAdmin"
KMS_ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
_DAY = 24 * 3600


@dataclass(frozen=True)
class MediaBucketArgs:
    service_account_email: pulumi.Input[str]
    cors_allowed_origins: Sequence[str] = ()
    location: str = "US"
    data_locations: Sequence[str] = ()
    turbo_replication: bool = True
    access_log_bucket: pulumi.Input[str] | None = None
    kms_key_name: pulumi.Input[str] | None = None
    versioning: bool = True
    soft_delete_seconds: int = 7 * _DAY
    noncurrent_delete_after_days: int = 30
    abort_multipart_after_days: int = 7
    cors_max_age_seconds: int = 3600
    force_destroy: bool = False
    bucket_name: str | None = None
    project: pulumi.Input[str] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_location("MediaBucket", self.location, self.data_locations)
        for origin in self.cors_allowed_origins:
            if origin == "*" or not _ORIGIN.match(origin):
                raise ValueError(
                    f"MediaBucket: CORS origin must be scheme://host[:port], got {origin!r}"
                )
        if not (self.soft_delete_seconds == 0 or 7 * _DAY <= self.soft_delete_seconds <= 90 * _DAY):
            raise ValueError("MediaBucket: soft_delete_seconds must be 0 (off) or 7..90 days")
        if self.noncurrent_delete_after_days < 1 or self.abort_multipart_after_days < 1:
            raise ValueError("MediaBucket: lifecycle periods must be >= 1 day")
        if isinstance(self.kms_key_name, str) and not _KMS_KEY.match(self.kms_key_name):
            raise ValueError(
                "MediaBucket: kms_key_name must be projects/<p>/locations/<l>/keyRings/<r>/"
                f"cryptoKeys/<k>, got {self.kms_key_name!r}"
            )
        if isinstance(self.service_account_email, str) and not self.service_account_email.endswith(
            ".gserviceaccount.com"
        ):
            raise ValueError(
                "MediaBucket: service_account_email must be a service account, "
                f"got {self.service_account_email!r}"
            )


class MediaBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_url: pulumi.Output[str]
    bucket_self_link: pulumi.Output[str]

    def __init__(
        self, name: str, args: MediaBucketArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("awaterra:gcp:MediaBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        chosen_name = bucket_name(name, args.bucket_name)

        key_grants: list[pulumi.Resource] = []
        if args.kms_key_name is not None:
            agent = gcp.storage.get_project_service_account_output(
                project=args.project, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            key_grants.append(
                gcp.kms.CryptoKeyIAMMember(
                    f"{name}-storage-agent-key",
                    crypto_key_id=args.kms_key_name,
                    role=KMS_ROLE,
                    member=agent.member,
                    opts=child,
                )
            )

        rules = [abort_multipart_rule(args.abort_multipart_after_days)]
        if args.versioning:
            rules.append(
                gcp.storage.BucketLifecycleRuleArgs(
                    action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=gcp.storage.BucketLifecycleRuleConditionArgs(
                        days_since_noncurrent_time=args.noncurrent_delete_after_days,
                        with_state="ARCHIVED",
                    ),
                )
            )
        dual_region = bool(args.data_locations)
        bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            name=chosen_name,
            project=args.project,
            location=args.location,
            custom_placement_config=(
                gcp.storage.BucketCustomPlacementConfigArgs(
                    data_locations=[d.upper() for d in args.data_locations]
                )
                if dual_region
                else None
            ),
            rpo=("ASYNC_TURBO" if args.turbo_replication else "DEFAULT") if dual_region else None,
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=args.versioning),
            soft_delete_policy=gcp.storage.BucketSoftDeletePolicyArgs(
                retention_duration_seconds=args.soft_delete_seconds
            ),
            lifecycle_rules=rules,
            cors=(
                [
                    gcp.storage.BucketCorArgs(
                        origins=list(args.cors_allowed_origins),
                        methods=list(CORS_METHODS),
                        response_headers=list(CORS_HEADERS),
                        max_age_seconds=args.cors_max_age_seconds,
                    )
                ]
                if args.cors_allowed_origins
                else None
            ),
            logging=(
                gcp.storage.BucketLoggingArgs(
                    log_bucket=args.access_log_bucket, log_object_prefix=f"{name}/"
                )
                if args.access_log_bucket is not None
                else None
            ),
            encryption=(
                gcp.storage.BucketEncryptionArgs(default_kms_key_name=args.kms_key_name)
                if args.kms_key_name is not None
                else None
            ),
            force_destroy=args.force_destroy,
            labels={"stack": pulumi.get_stack(), "purpose": "media", **args.labels},
            opts=pulumi.ResourceOptions(parent=self, depends_on=key_grants),
        )
        gcp.storage.BucketIAMMember(
            f"{name}-service-objects",
            bucket=bucket.name,
            role=OBJECT_ROLE,
            member=pulumi.Output.concat(
                "serviceAccount:", pulumi.Output.from_input(args.service_account_email)
            ),
            opts=child,
        )

        self.bucket_name = bucket.name
        self.bucket_url = bucket.url
        self.bucket_self_link = bucket.self_link
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_url": self.bucket_url,
                "bucket_self_link": self.bucket_self_link,
            }
        )
