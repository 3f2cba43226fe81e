"""Registry: Artifact Registry repository (immutable, pruned, CMEK) and the image pushed to it."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from components.gcp.registry import Registry, RegistryArgs
from components.image_build import image_tag
from ops.offline import Recording, run_program
from ops.offline_gcp_edge import ACCESS_TOKEN_PLACEHOLDER

PROJECT = "awaterra-prod"
REPO = "gcp:artifactregistry/repository:Repository"
IMAGE = "docker:index/image:Image"
KEY = "projects/awaterra-prod/locations/europe-west1/keyRings/ring/cryptoKeys/registry"


def _run(args: RegistryArgs) -> Recording:
    def program() -> None:
        registry = Registry("api", args)
        pulumi.export("image_ref", registry.image_ref)
        pulumi.export("repository_url", registry.repository_url)

    return run_program("prod", program=program, use_stack_file=False)


@pytest.fixture(scope="module")
def recording() -> Recording:
    return _run(RegistryArgs(project=PROJECT, location="europe-west1", kms_key_name=KEY))


def test_repository_is_docker_with_immutable_tags_and_cmek(recording: Recording) -> None:
    repo = recording.one(REPO).inputs
    assert repo["format"] == "DOCKER"
    assert repo["repositoryId"] == "api"
    assert repo["location"] == "europe-west1"
    assert repo["project"] == PROJECT
    assert repo["dockerConfig"] == {"immutableTags": True}
    assert repo["kmsKeyName"] == KEY
    assert repo["vulnerabilityScanningConfig"] == {"enablementConfig": "INHERITED"}


def test_cleanup_keeps_the_newest_and_deletes_old_untagged(recording: Recording) -> None:
    repo = recording.one(REPO).inputs
    assert repo["cleanupPolicyDryRun"] is False
    policies = {p["id"]: p for p in repo["cleanupPolicies"]}
    assert policies["keep-recent"] == {
        "id": "keep-recent",
        "action": "KEEP",
        "mostRecentVersions": {"keepCount": 30},
    }
    assert policies["delete-untagged"] == {
        "id": "delete-untagged",
        "action": "DELETE",
        "condition": {"tagState": "UNTAGGED", "olderThan": "86400s"},
    }


def test_image_is_pushed_with_a_secret_access_token_and_deployed_by_digest(
    recording: Recording,
) -> None:
    image = recording.one(IMAGE)
    tag = image_tag(
        Path(__file__).resolve().parents[3], RegistryArgs(PROJECT, "x").hashed_paths, "linux/amd64"
    )
    url = f"europe-west1-docker.pkg.dev/{PROJECT}/api"
    assert image.inputs["imageName"] == f"{url}/service:{tag}"
    registry = image.inputs["registry"]
    assert registry["value"] == {
        "server": "europe-west1-docker.pkg.dev",
        "username": "oauth2accesstoken",
        "password": ACCESS_TOKEN_PLACEHOLDER,
    }
    assert "4dabf18193072939515e22adb298388d" in registry  # secret: never plain in state
    assert recording.outputs["repository_url"] == url
    assert recording.outputs["image_ref"] == f"{url}/service@sha256:{'0' * 64}"
    tokens = [t for t, _ in recording.invokes]
    assert tokens == ["gcp:organizations/getClientConfig:getClientConfig"]


def test_every_child_is_parented_to_the_component(recording: Recording) -> None:
    component = recording.one("awaterra:gcp:Registry")
    for resource in (recording.one(REPO), recording.one(IMAGE)):
        assert resource.parent == component.urn


def test_opt_outs() -> None:
    recording = _run(
        RegistryArgs(
            project=PROJECT,
            location="us-central1",
            repository_id="images",
            immutable_tags=False,
            keep_versions=5,
            untagged_after_days=7,
            vulnerability_scanning=False,
            tag="v1.2.3",
        )
    )
    repo = recording.one(REPO).inputs
    assert repo["dockerConfig"] == {"immutableTags": False}
    assert "kmsKeyName" not in repo  # Google-managed encryption by default
    assert repo["vulnerabilityScanningConfig"] == {"enablementConfig": "DISABLED"}
    policies = {p["id"]: p for p in repo["cleanupPolicies"]}
    assert policies["keep-recent"]["mostRecentVersions"] == {"keepCount": 5}
    assert policies["delete-untagged"]["condition"]["olderThan"] == "604800s"
    assert recording.one(IMAGE).inputs["imageName"] == (
        f"us-central1-docker.pkg.dev/{PROJECT}/images/service:v1.2.3"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"location": "Europe West"}, "location must be a region"),
        ({"repository_id": "Bad_Name"}, "repository_id must be"),
        ({"keep_versions": 0}, "keep_versions must be >= 1"),
        ({"untagged_after_days": 0}, "untagged_after_days must be >= 1"),
        ({"platform": "windows/amd64"}, "platform must be one of"),
        ({"tag": "-x"}, "is not a Docker tag"),
        ({"image_name": "Service"}, "image_name is not a Docker name"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"project": PROJECT, "location": "europe-west1", **kwargs}
    with pytest.raises(ValueError, match=message):
        RegistryArgs(**values)  # type: ignore[arg-type]
