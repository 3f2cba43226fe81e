"""EncryptionKey: a rotating CMEK that one Google service's agent alone may use; the stack's
Artifact Registry repository is encrypted with it."""

from __future__ import annotations

import pulumi
import pytest

from components.gcp.encryption_key import KMS_ROLE, EncryptionKey, EncryptionKeyArgs
from ops.offline import Recording, run_program
from ops.offline_gcp_data import PROJECT_NUMBER

RING = "gcp:kms/keyRing:KeyRing"
KEY = "gcp:kms/cryptoKey:CryptoKey"
GRANT = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
AGENT = "gcp:projects/serviceIdentity:ServiceIdentity"
REPO = "gcp:artifactregistry/repository:Repository"
AR_AGENT = f"service-{PROJECT_NUMBER}@gcp-sa-artifactregistry.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def recording() -> Recording:
    def program() -> None:
        key = EncryptionKey(
            "images",
            EncryptionKeyArgs(
                project="awaterra-prod",
                location="europe-west1",
                service="artifactregistry.googleapis.com",
            ),
        )
        pulumi.export("key_name", key.key_name)
        pulumi.export("agent_email", key.agent_email)

    return run_program("prod", program=program, use_stack_file=False)


def test_the_key_is_symmetric_software_rotated_every_90_days_with_a_recovery_window(
    recording: Recording,
) -> None:
    ring = recording.one(RING).inputs
    assert (ring["project"], ring["location"]) == ("awaterra-prod", "europe-west1")
    key = recording.one(KEY)
    assert key.inputs["purpose"] == "ENCRYPT_DECRYPT"
    assert key.inputs["rotationPeriod"] == f"{90 * 86400}s"
    assert key.inputs["destroyScheduledDuration"] == f"{30 * 86400}s"
    assert key.inputs["versionTemplate"] == {
        "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION",
        "protectionLevel": "SOFTWARE",
    }
    assert key.inputs["keyRing"] == recording.one(RING).id


def test_only_the_service_s_agent_may_use_the_key(recording: Recording) -> None:
    assert recording.one(AGENT).inputs["service"] == "artifactregistry.googleapis.com"
    (grant,) = recording.of_type(GRANT)
    assert grant.inputs == {
        "cryptoKeyId": recording.one(KEY).id,
        "role": KMS_ROLE,
        "member": f"serviceAccount:{AR_AGENT}",
    }
    assert recording.outputs["agent_email"] == AR_AGENT
    assert recording.outputs["key_name"] == recording.one(KEY).id


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"location": "global/x"}, "location must be a region"),
        ({"service": "artifactregistry"}, "service must be a Google API"),
        ({"rotation_days": 365}, "rotation_days must be 1..90"),
        ({"destroy_after_days": 0}, "destroy_after_days must be 1..120"),
    ],
)
def test_bad_arguments_are_refused_by_name(overrides: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "project": "p",
        "location": "europe-west1",
        "service": "artifactregistry.googleapis.com",
    }
    with pytest.raises(ValueError, match=message):
        EncryptionKeyArgs(**{**base, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize("stack", ["gcp-dev", "gcp-prod"])
def test_the_stack_s_registry_is_encrypted_with_its_own_key(stack: str) -> None:
    # gcp-prod turns Datadog on: its keys are per-stack secrets, never in the stack file.
    keys = {"datadogApiKey": "k", "datadogAppKey": "a"} if stack == "gcp-prod" else None
    recording = run_program(stack, keys)
    key = recording.one(KEY, "registry-key")
    assert recording.one(REPO).inputs["kmsKeyName"] == key.id
    (grant,) = recording.of_type(GRANT)
    assert grant.inputs["member"] == f"serviceAccount:{AR_AGENT}"
    assert key.inputs["rotationPeriod"] == f"{90 * 86400}s"
