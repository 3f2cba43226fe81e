"""The offline harness answers every provider function the GCP data components call, and only
because ops/offline_gcp_data.py says so: without those answers the run fails loudly."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.gcp.apis import ProjectApis, ProjectApisArgs
from components.gcp.backup import DisasterRecovery
from components.gcp.bucket import MediaBucket, MediaBucketArgs
from components.gcp.database import Database, DatabaseArgs
from components.gcp.log_bucket import LogBucket, LogBucketArgs
from components.gcp.network import Network, NetworkArgs
from ops import offline, offline_gcp_data
from ops.offline import UnansweredInvoke, run_program

SA = "awaterra-api@awaterra-prod.iam.gserviceaccount.com"
KEY = "projects/awaterra-prod/locations/us/keyRings/awaterra/cryptoKeys/media"


def everything() -> None:
    recovery = DisasterRecovery(primary_region="us-central1", secondary_region="us-east1")
    apis = ProjectApis("apis", ProjectApisArgs())
    after_apis = pulumi.ResourceOptions(depends_on=[apis])
    network = Network("net", NetworkArgs(regions=[recovery.primary_region]), after_apis)
    database = Database(
        "db",
        DatabaseArgs(
            region=recovery.primary_region,
            network_id=network.network_id,
            psa_connection=network.psa_connection,
            service_account_email=SA,
            backup_location=recovery.sql_backup_location,
        ),
        after_apis,
    )
    logs = LogBucket("logs", LogBucketArgs(location="US"), after_apis)
    media = MediaBucket(
        "media",
        MediaBucketArgs(
            service_account_email=SA,
            location=recovery.bucket_location or "US",
            data_locations=recovery.bucket_data_locations,
            access_log_bucket=logs.bucket_name,
            kms_key_name=KEY,
        ),
        after_apis,
    )
    pulumi.export("connection", database.connection_name)
    pulumi.export("bucket", media.bucket_url)


def test_all_components_together_use_only_answered_invokes() -> None:
    recording = run_program("prod", program=everything, use_stack_file=False)
    answered = set(offline_gcp_data.invokes_data())
    used = {token for token, _ in recording.invokes}
    assert used == answered  # each answer is exercised, and nothing else is called
    assert recording.outputs["connection"] == "awaterra-offline:us-central1:awaterra-prod-db"
    assert recording.outputs["bucket"] == "gs://awaterra-prod-media"


def test_computed_outputs_are_realistic() -> None:
    recording = run_program("prod", program=everything, use_stack_file=False)
    instance = recording.one("gcp:sql/databaseInstance:DatabaseInstance").outputs
    assert instance["privateIpAddress"] == "10.100.0.3"
    assert instance["publicIpAddress"] == ""
    assert [a["type"] for a in instance["ipAddresses"]] == ["PRIVATE"]
    assert instance["selfLink"].endswith("/projects/awaterra-offline/instances/awaterra-prod-db")
    network = recording.one("gcp:compute/network:Network").outputs
    assert network["selfLink"] == (
        "https://www.googleapis.com/compute/v1/projects/awaterra-offline/global/networks/"
        "awaterra-prod-net"
    )
    subnet = recording.one("gcp:compute/subnetwork:Subnetwork", "net-us-central1-run").outputs
    assert "/regions/us-central1/subnetworks/" in subnet["selfLink"]


def _without_gcp(
    original: Callable[[str], dict[str, Any]],
) -> Callable[[str], dict[str, Any]]:
    def invokes(region: str) -> dict[str, Any]:
        return {k: v for k, v in original(region).items() if not k.startswith("gcp:")}

    return invokes


@pytest.mark.parametrize(
    ("token", "program"),
    [
        (
            "gcp:organizations/getProject:getProject",
            lambda: Database(
                "db",
                DatabaseArgs(
                    region="us-central1",
                    network_id="projects/p/global/networks/n",
                    service_account_email=SA,
                    backup_location="us",
                ),
            ),
        ),
        (
            "gcp:storage/getProjectServiceAccount:getProjectServiceAccount",
            lambda: MediaBucket(
                "media", MediaBucketArgs(service_account_email=SA, kms_key_name=KEY)
            ),
        ),
    ],
)
def test_an_unanswered_invoke_fails_the_run(
    monkeypatch: pytest.MonkeyPatch, token: str, program: Callable[[], Any]
) -> None:
    monkeypatch.setattr(offline, "default_invokes", _without_gcp(offline.default_invokes))
    with pytest.raises(UnansweredInvoke, match=token):
        run_program("prod", program=program, use_stack_file=False)
    # The runtime keeps a second future holding the same error; collect it here, quietly,
    # rather than have asyncio report it from some later test.
    asyncio_log = logging.getLogger("asyncio")
    monkeypatch.setattr(asyncio_log, "disabled", True)
    gc.collect()


def test_aws_answers_are_unchanged() -> None:
    aws = {k for k in offline.default_invokes("us-east-1") if k.startswith("aws:")}
    assert aws == {
        "aws:index/getCallerIdentity:getCallerIdentity",
        "aws:index/getRegion:getRegion",
        "aws:index/getPartition:getPartition",
        "aws:index/getAvailabilityZones:getAvailabilityZones",
        "aws:ecr/getAuthorizationToken:getAuthorizationToken",
    }
    assert not {k for k in offline_gcp_data.COMPUTED_DATA if not k.startswith("gcp:")}
