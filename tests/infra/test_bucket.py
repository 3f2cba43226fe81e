"""Media and log buckets: private, encrypted, versioned, TLS-only, lifecycle, CORS, log delivery."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.aws.bucket import MediaBucket, MediaBucketArgs
from components.aws.log_bucket import LogBucket, LogBucketArgs
from ops.offline import RecordedResource, Recording, run_program
from tests.infra.policy_helpers import as_list, by_sid, statements

ORIGINS = ["https://app.example.com", "http://localhost:3000"]


def build(media: dict[str, Any] | None = None, region: str = "us-east-1") -> Recording:
    def program() -> None:
        logs = LogBucket("logs", LogBucketArgs(region=region))
        bucket = MediaBucket(
            "media",
            MediaBucketArgs(
                **{
                    "cors_allowed_origins": ORIGINS,
                    "access_log_bucket": logs.bucket_name,
                    **(media or {}),
                }
            ),
        )
        pulumi.export("media_name", bucket.bucket_name)
        pulumi.export("media_arn", bucket.bucket_arn)
        pulumi.export("media_key", bucket.kms_key_arn)

    return run_program("prod", program=program, use_stack_file=False, region=region)


@pytest.fixture(scope="module")
def recording() -> Recording:
    return build()


def of(recording: Recording, type_name: str, bucket: str) -> RecordedResource:
    return recording.one(f"aws:s3/{type_name[0].lower()}{type_name[1:]}:{type_name}", f"{bucket}-")


def bucket_of(recording: Recording, bucket: str) -> RecordedResource:
    return recording.one("aws:s3/bucket:Bucket", f"{bucket}-bucket")


@pytest.mark.parametrize("bucket", ["media", "logs"])
def test_public_access_fully_blocked_and_acls_disabled(recording: Recording, bucket: str) -> None:
    target = bucket_of(recording, bucket).id
    block = of(recording, "BucketPublicAccessBlock", bucket).inputs
    assert block["bucket"] == target
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block[flag] is True, flag
    ownership = of(recording, "BucketOwnershipControls", bucket).inputs
    assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"


@pytest.mark.parametrize("bucket", ["media", "logs"])
def test_object_events_reach_eventbridge(recording: Recording, bucket: str) -> None:
    notification = of(recording, "BucketNotification", bucket).inputs
    assert notification["bucket"] == bucket_of(recording, bucket).id
    assert notification["eventbridge"] is True


@pytest.mark.parametrize("bucket", ["media", "logs"])
def test_versioned_and_not_force_destroyed(recording: Recording, bucket: str) -> None:
    versioning = of(recording, "BucketVersioning", bucket).inputs
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    assert bucket_of(recording, bucket).inputs.get("forceDestroy") is False


@pytest.mark.parametrize("bucket", ["media", "logs"])
def test_policy_denies_plain_http_and_old_tls_on_bucket_and_objects(
    recording: Recording, bucket: str
) -> None:
    policy = of(recording, "BucketPolicy", bucket)
    arn = bucket_of(recording, bucket).outputs["arn"]
    insecure = by_sid(policy, "DenyInsecureTransport")
    assert (
        insecure["Effect"] == "Deny"
        and insecure["Principal"] == "*"
        and insecure["Action"] == "s3:*"
    )
    assert insecure["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(insecure["Resource"]) == {arn, f"{arn}/*"}
    old_tls = by_sid(policy, "DenyOutdatedTls")
    assert old_tls["Effect"] == "Deny"
    assert old_tls["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}
    assert set(old_tls["Resource"]) == {arn, f"{arn}/*"}


@pytest.mark.parametrize("bucket", ["media", "logs"])
def test_nobody_is_allowed_in_by_wildcard(recording: Recording, bucket: str) -> None:
    for statement in statements(of(recording, "BucketPolicy", bucket)):
        if statement["Effect"] == "Allow":
            assert statement["Principal"] != "*"
            assert "AWS" not in statement["Principal"] or statement["Principal"]["AWS"] != "*"
            assert statement["Action"] == "s3:PutObject"


def test_media_is_encrypted_with_its_own_rotating_key_and_a_bucket_key(
    recording: Recording,
) -> None:
    (rule,) = of(recording, "BucketServerSideEncryptionConfiguration", "media").inputs["rules"]
    key = recording.one("aws:kms/key:Key", "media-key")
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key.outputs["arn"],
    }
    assert rule["bucketKeyEnabled"] is True
    assert key.inputs["enableKeyRotation"] is True
    assert recording.outputs["media_key"] == key.outputs["arn"]


def test_media_refuses_uploads_under_another_encryption(recording: Recording) -> None:
    policy = of(recording, "BucketPolicy", "media")
    objects = f"{bucket_of(recording, 'media').outputs['arn']}/*"
    key = recording.one("aws:kms/key:Key", "media-key").outputs["arn"]
    other = by_sid(policy, "DenyOtherEncryption")
    assert other["Effect"] == "Deny" and other["Action"] == "s3:PutObject"
    assert other["Resource"] == objects
    assert other["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}
    }
    keys = by_sid(policy, "DenyOtherKeys")
    assert keys["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key}
    }


def test_media_lifecycle_aborts_uploads_and_expires_old_versions(recording: Recording) -> None:
    rules = {
        r["id"]: r for r in of(recording, "BucketLifecycleConfiguration", "media").inputs["rules"]
    }
    abort = rules["abort-incomplete-multipart-uploads"]
    assert abort["status"] == "Enabled"
    assert abort["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 7
    noncurrent = rules["expire-noncurrent-versions"]
    assert noncurrent["status"] == "Enabled"
    assert noncurrent["noncurrentVersionExpiration"]["noncurrentDays"] == 30


def test_cors_admits_signed_put_and_get_from_configured_origins_only(recording: Recording) -> None:
    (rule,) = of(recording, "BucketCorsConfiguration", "media").inputs["corsRules"]
    assert rule["allowedOrigins"] == ORIGINS
    assert set(rule["allowedMethods"]) == {"PUT", "GET", "HEAD"}
    assert "*" not in rule["allowedOrigins"] and "*" not in rule["allowedHeaders"]


def test_no_cors_rule_without_origins() -> None:
    recording = build({"cors_allowed_origins": ()})
    assert recording.of_type("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration") == []


def test_media_access_logs_go_to_the_log_bucket(recording: Recording) -> None:
    logging = of(recording, "BucketLogging", "media").inputs
    assert logging["bucket"] == bucket_of(recording, "media").id
    assert logging["targetBucket"] == bucket_of(recording, "logs").outputs["bucket"]
    assert logging["targetPrefix"] == "s3-access/media/"


def test_no_access_logging_when_no_log_bucket_is_given() -> None:
    def program() -> None:
        MediaBucket("media", MediaBucketArgs())

    recording = run_program("dev", program=program, use_stack_file=False)
    assert recording.of_type("aws:s3/bucketLogging:BucketLogging") == []


def test_log_bucket_uses_sse_s3_because_alb_log_delivery_requires_it(recording: Recording) -> None:
    (rule,) = of(recording, "BucketServerSideEncryptionConfiguration", "logs").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}


def test_log_bucket_expires_logs(recording: Recording) -> None:
    rules = {
        r["id"]: r for r in of(recording, "BucketLifecycleConfiguration", "logs").inputs["rules"]
    }
    assert rules["expire-logs"]["expiration"]["days"] == 365
    assert rules["expire-logs"]["noncurrentVersionExpiration"]["noncurrentDays"] == 30


def test_alb_may_write_only_its_prefix_for_this_account(recording: Recording) -> None:
    statement = by_sid(of(recording, "BucketPolicy", "logs"), "LoadBalancerAccessLogs")
    arn = bucket_of(recording, "logs").outputs["arn"]
    assert statement["Principal"] == {
        "Service": "logdelivery.elasticloadbalancing.amazonaws.com",
        "AWS": "arn:aws:iam::127311923021:root",  # us-east-1's ELB account (pre-2022 region)
    }
    assert statement["Action"] == "s3:PutObject"
    assert statement["Resource"] == f"{arn}/alb/AWSLogs/123456789012/*"


def test_newer_regions_use_the_service_principal_only() -> None:
    recording = build(region="ap-southeast-5")
    statement = by_sid(of(recording, "BucketPolicy", "logs"), "LoadBalancerAccessLogs")
    assert statement["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}


def test_s3_server_access_logging_is_limited_to_its_prefix_and_account(
    recording: Recording,
) -> None:
    statement = by_sid(of(recording, "BucketPolicy", "logs"), "S3ServerAccessLogs")
    arn = bucket_of(recording, "logs").outputs["arn"]
    assert statement["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert as_list(statement["Resource"]) == [f"{arn}/s3-access/*"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_media_outputs_name_and_arn(recording: Recording) -> None:
    media = bucket_of(recording, "media")
    assert recording.outputs["media_name"] == media.outputs["bucket"]
    assert recording.outputs["media_arn"] == f"arn:aws:s3:::{media.outputs['bucket']}"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cors_allowed_origins": ["*"]}, "CORS origin"),
        ({"cors_allowed_origins": ["app.example.com"]}, "CORS origin"),
        ({"noncurrent_expire_after_days": 0}, "lifecycle periods"),
    ],
)
def test_bad_media_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MediaBucketArgs(**kwargs)


def test_bad_log_bucket_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="expiry"):
        LogBucketArgs(region="us-east-1", expire_after_days=0)
    with pytest.raises(ValueError, match="slash"):
        LogBucketArgs(region="us-east-1", alb_log_prefix="/alb/")
