"""MediaBucket and LogBucket: private, versioned, soft-deleted, replicated, one scoped writer."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.gcp.backup import DisasterRecovery
from components.gcp.bucket import MediaBucket, MediaBucketArgs
from components.gcp.log_bucket import LOG_WRITER, LogBucket, LogBucketArgs
from ops.offline import Recording, run_program

BUCKET = "gcp:storage/bucket:Bucket"
MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
SA = "awaterra-api@awaterra-prod.iam.gserviceaccount.com"
ORIGINS = ["https://app.example.com", "http://localhost:3000"]
KEY = "projects/awaterra-prod/locations/us/keyRings/awaterra/cryptoKeys/media"
RECOVERY = DisasterRecovery(primary_region="us-central1", secondary_region="us-east1")


def build(media: dict[str, Any] | None = None, logs: bool = True) -> Recording:
    def program() -> None:
        log_bucket = LogBucket("logs", LogBucketArgs()) if logs else None
        arguments: dict[str, Any] = {
            "service_account_email": SA,
            "cors_allowed_origins": ORIGINS,
            "access_log_bucket": log_bucket.bucket_name if log_bucket else None,
            "location": RECOVERY.bucket_location,
            "data_locations": RECOVERY.bucket_data_locations,
            **(media or {}),
        }
        bucket = MediaBucket("media", MediaBucketArgs(**arguments))
        pulumi.export("name", bucket.bucket_name)
        pulumi.export("url", bucket.bucket_url)
        pulumi.export("self_link", bucket.bucket_self_link)

    return run_program("prod", program=program, use_stack_file=False)


@pytest.fixture(scope="module")
def secure() -> Recording:
    return build()


def media(recording: Recording) -> dict[str, Any]:
    return recording.one(BUCKET, "media-bucket").inputs


def log_bucket(recording: Recording) -> dict[str, Any]:
    return recording.one(BUCKET, "logs-bucket").inputs


@pytest.mark.parametrize("which", [media, log_bucket])
def test_uniform_access_and_public_access_prevention(secure: Recording, which: Any) -> None:
    inputs = which(secure)
    assert inputs["uniformBucketLevelAccess"] is True
    assert inputs["publicAccessPrevention"] == "enforced"
    assert inputs["forceDestroy"] is False
    assert inputs["softDeletePolicy"] == {"retentionDurationSeconds": 7 * 24 * 3600}


def test_media_is_versioned_with_lifecycle(secure: Recording) -> None:
    inputs = media(secure)
    assert inputs["versioning"] == {"enabled": True}
    rules = {rule["action"]["type"]: rule["condition"] for rule in inputs["lifecycleRules"]}
    assert rules == {
        "AbortIncompleteMultipartUpload": {"age": 7},
        "Delete": {"daysSinceNoncurrentTime": 30, "withState": "ARCHIVED"},
    }


def test_cors_admits_signed_uploads_from_the_app_only(secure: Recording) -> None:
    (cors,) = media(secure)["cors"]
    assert cors["origins"] == ORIGINS
    assert cors["methods"] == ["PUT", "GET"]
    assert cors["responseHeaders"] == ["Content-Type"]
    assert cors["maxAgeSeconds"] == 3600


def test_dual_region_with_turbo_replication(secure: Recording) -> None:
    inputs = media(secure)
    assert inputs["location"] == "US"
    assert inputs["customPlacementConfig"] == {"dataLocations": ["US-CENTRAL1", "US-EAST1"]}
    assert inputs["rpo"] == "ASYNC_TURBO"


def test_usage_logs_go_to_a_locked_down_log_bucket_that_does_not_log(secure: Recording) -> None:
    logs = log_bucket(secure)
    assert media(secure)["logging"] == {"logBucket": logs["name"], "logObjectPrefix": "media/"}
    assert "logging" not in logs
    assert logs["versioning"] == {"enabled": True}
    deletes = [r["condition"] for r in logs["lifecycleRules"] if r["action"]["type"] == "Delete"]
    # Kept a year, then gone; a log deleted early stays recoverable for 30 days, then goes too.
    assert {"age": 365} in deletes and {"daysSinceNoncurrentTime": 30} in deletes
    writer = secure.one(MEMBER, "logs-").inputs
    assert writer == {
        "bucket": logs["name"],
        "role": "roles/storage.objectCreator",
        "member": LOG_WRITER,
    }


def test_only_the_service_account_gets_object_admin_on_this_bucket(secure: Recording) -> None:
    grants = [r for r in secure.of_type(MEMBER) if r.name.startswith("media-")]
    (grant,) = grants
    assert grant.inputs == {
        "bucket": media(secure)["name"],
        "role": "roles/storage.objectAdmin",
        "member": f"serviceAccount:{SA}",
    }
    project_wide = [r for r in secure if r.type.startswith("gcp:projects/")]
    assert project_wide == []


def test_google_managed_keys_need_no_lookup(secure: Recording) -> None:
    assert "encryption" not in media(secure)
    assert secure.invokes == []
    assert secure.of_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember") == []


def test_cmek_grants_the_storage_agent_on_the_key_only() -> None:
    recording = build({"kms_key_name": KEY})
    assert media(recording)["encryption"] == {"defaultKmsKeyName": KEY}
    grant = recording.one("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember").inputs
    assert grant == {
        "cryptoKeyId": KEY,
        "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        "member": "serviceAccount:service-123456789012@gs-project-accounts.iam.gserviceaccount.com",
    }
    assert [token for token, _ in recording.invokes] == [
        "gcp:storage/getProjectServiceAccount:getProjectServiceAccount"
    ]


def test_outputs(secure: Recording) -> None:
    assert secure.outputs["name"] == "awaterra-prod-media"
    assert secure.outputs["url"] == "gs://awaterra-prod-media"
    assert secure.outputs["self_link"].endswith("/b/awaterra-prod-media")


def test_a_dev_bucket_opts_out_explicitly() -> None:
    recording = build(
        {
            "location": "us-central1",
            "data_locations": (),
            "access_log_bucket": None,
            "soft_delete_seconds": 0,
            "versioning": False,
            "force_destroy": True,
            "cors_allowed_origins": (),
        },
        logs=False,
    )
    inputs = media(recording)
    assert inputs["location"] == "us-central1"
    assert "customPlacementConfig" not in inputs and "rpo" not in inputs
    assert "logging" not in inputs and "cors" not in inputs
    assert inputs["softDeletePolicy"] == {"retentionDurationSeconds": 0}
    assert inputs["versioning"] == {"enabled": False}
    assert [r["action"]["type"] for r in inputs["lifecycleRules"]] == [
        "AbortIncompleteMultipartUpload"
    ]
    assert inputs["forceDestroy"] is True
    # Never public, whatever else is given up.
    assert inputs["publicAccessPrevention"] == "enforced"
    assert inputs["uniformBucketLevelAccess"] is True


def test_multi_region_default_has_no_turbo() -> None:
    recording = build({"location": "US", "data_locations": ()}, logs=False)
    assert media(recording)["location"] == "US"
    assert "rpo" not in media(recording)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cors_allowed_origins": ["*"]}, "CORS origin"),
        ({"cors_allowed_origins": ["app.example.com"]}, "CORS origin"),
        ({"location": "moon"}, "location must be a region"),
        ({"location": "us-central1", "data_locations": ["us-east1", "us-west1"]}, "dual-region"),
        ({"location": "US", "data_locations": ["us-east1"]}, "exactly two regions"),
        ({"location": "US", "data_locations": ["us-east1", "US-EAST1"]}, "exactly two regions"),
        ({"soft_delete_seconds": 3600}, "soft_delete_seconds"),
        ({"soft_delete_seconds": 91 * 86400}, "soft_delete_seconds"),
        ({"noncurrent_delete_after_days": 0}, "lifecycle periods"),
        ({"kms_key_name": "media-key"}, "kms_key_name must be"),
        ({"service_account_email": "someone@example.com"}, "must be a service account"),
    ],
)
def test_bad_arguments_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MediaBucketArgs(**{"service_account_email": SA, **overrides})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"retention_days": 0}, "retention_days"),
        ({"location": "nowhere"}, "location must be"),
        ({"soft_delete_seconds": 60}, "soft_delete_seconds"),
    ],
)
def test_bad_log_bucket_arguments_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LogBucketArgs(**overrides)


def test_bucket_names_are_checked() -> None:
    def program() -> None:
        MediaBucket("media", MediaBucketArgs(service_account_email=SA, bucket_name="Bad_Name"))

    with pytest.raises(Exception, match="not a valid Cloud Storage bucket name"):
        run_program("prod", program=program, use_stack_file=False)
