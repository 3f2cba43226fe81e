"""ProjectApis: the stack's APIs enabled, never disabled on destroy."""

from __future__ import annotations

import pulumi
import pytest

from components.gcp.apis import (
    DATADOG_INTEGRATION_APIS,
    DEFAULT_APIS,
    ProjectApis,
    ProjectApisArgs,
    with_apis,
)
from ops.offline import Recording, run_program

SERVICE = "gcp:projects/service:Service"


def build(args: ProjectApisArgs) -> Recording:
    def program() -> None:
        apis = ProjectApis("apis", args)
        pulumi.export("services", apis.services)

    return run_program("prod", program=program, use_stack_file=False)


@pytest.fixture(scope="module")
def recording() -> Recording:
    return build(ProjectApisArgs(project="awaterra-prod"))


def test_every_default_api_is_enabled_once(recording: Recording) -> None:
    services = [r.inputs["service"] for r in recording.of_type(SERVICE)]
    assert sorted(services) == sorted(DEFAULT_APIS)
    assert recording.outputs["services"] == list(DEFAULT_APIS)
    for needed in (
        "run.googleapis.com",
        "sqladmin.googleapis.com",
        "servicenetworking.googleapis.com",
        "compute.googleapis.com",
        "artifactregistry.googleapis.com",
        "secretmanager.googleapis.com",
        "iamcredentials.googleapis.com",
    ):
        assert needed in services


def test_destroy_never_switches_an_api_off(recording: Recording) -> None:
    for service in recording.of_type(SERVICE):
        assert service.inputs["disableOnDestroy"] is False
        assert service.inputs["disableDependentServices"] is False
        assert service.inputs["project"] == "awaterra-prod"


def test_children_belong_to_the_component(recording: Recording) -> None:
    component = recording.one("awaterra:gcp:ProjectApis")
    assert component.custom is False
    assert all(r.parent == component.urn for r in recording.of_type(SERVICE))


def test_the_list_is_the_callers() -> None:
    recording = build(ProjectApisArgs(services=["run.googleapis.com"]))
    (only,) = recording.of_type(SERVICE)
    assert only.inputs["service"] == "run.googleapis.com"
    assert "project" not in only.inputs  # the provider's project


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ((), "at least one API"),
        (("run",), "is not an API name"),
        (("run.googleapis.com", "run.googleapis.com"), "lists an API twice"),
    ],
)
def test_bad_lists_are_refused(services: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProjectApisArgs(services=services)


def test_lists_are_joined_without_repeating_an_api() -> None:
    joined = with_apis(DEFAULT_APIS, DATADOG_INTEGRATION_APIS)
    assert joined[: len(DEFAULT_APIS)] == DEFAULT_APIS
    assert set(joined) == set(DEFAULT_APIS) | set(DATADOG_INTEGRATION_APIS)
    assert len(joined) == len(set(joined))  # monitoring is in both lists, enabled once
    assert "monitoring.googleapis.com" in DEFAULT_APIS
    ProjectApisArgs(services=joined)  # accepted: no duplicate
