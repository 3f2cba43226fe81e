"""ServiceIdentity: its own service account, exactly the listed roles, token creator on itself."""

from __future__ import annotations

import pulumi
import pytest

from components.gcp.service_account import ServiceIdentity, ServiceIdentityArgs
from ops.offline import Recording, run_program

PROJECT = "awaterra-prod"
EMAIL = f"api-prod@{PROJECT}.iam.gserviceaccount.com"
MEMBER = f"serviceAccount:{EMAIL}"
SECRETS = ("projects/awaterra-prod/secrets/db-password", "projects/awaterra-prod/secrets/dd-key")
PROJECT_IAM = "gcp:projects/iAMMember:IAMMember"
SECRET_IAM = "gcp:secretmanager/secretIamMember:SecretIamMember"
SA_IAM = "gcp:serviceaccount/iAMMember:IAMMember"


def _run(args: ServiceIdentityArgs) -> Recording:
    def program() -> None:
        identity = ServiceIdentity("api", args)
        pulumi.export("email", identity.email)
        pulumi.export("member", identity.member)
        pulumi.export("account_name", identity.account_name)

    return run_program("prod", program=program, use_stack_file=False)


@pytest.fixture(scope="module")
def recording() -> Recording:
    return _run(
        ServiceIdentityArgs(
            project=PROJECT, account_id="api-prod", secret_ids=SECRETS, cloudsql_instance="api-db"
        )
    )


def test_account_and_outputs(recording: Recording) -> None:
    account = recording.one("gcp:serviceaccount/account:Account").inputs
    assert account["accountId"] == "api-prod"
    assert account["project"] == PROJECT
    assert recording.outputs["email"] == EMAIL
    assert recording.outputs["member"] == MEMBER
    assert recording.outputs["account_name"] == f"projects/{PROJECT}/serviceAccounts/{EMAIL}"


def test_project_roles_are_exactly_the_listed_set(recording: Recording) -> None:
    bindings = recording.of_type(PROJECT_IAM)
    roles = sorted(b.inputs["role"] for b in bindings)
    assert roles == sorted(
        [
            "roles/cloudsql.client",
            "roles/cloudsql.instanceUser",
            "roles/logging.logWriter",
            "roles/monitoring.metricWriter",
            "roles/cloudtrace.agent",
        ]
    )
    for binding in bindings:
        assert binding.inputs["member"] == MEMBER
        assert binding.inputs["project"] == PROJECT
        assert binding.inputs["role"] not in ("roles/owner", "roles/editor", "roles/viewer")
    # No other kind of project- or folder-level grant exists.
    kinds = {r.type for r in recording if r.custom and "iam" in r.type.lower()}
    assert kinds == {PROJECT_IAM, SECRET_IAM, SA_IAM}


def test_cloudsql_roles_are_conditioned_on_the_instance(recording: Recording) -> None:
    expected = (
        "resource.type == 'sqladmin.googleapis.com/Instance' && "
        f"resource.name == 'projects/{PROJECT}/instances/api-db'"
    )
    for binding in recording.of_type(PROJECT_IAM):
        condition = binding.inputs.get("condition")
        if binding.inputs["role"].startswith("roles/cloudsql."):
            assert condition is not None and condition["expression"] == expected
        else:
            assert condition is None  # the telemetry writers cannot be scoped to a resource


def test_secret_accessor_only_on_the_given_secrets(recording: Recording) -> None:
    grants = recording.of_type(SECRET_IAM)
    assert sorted(g.inputs["secretId"] for g in grants) == sorted(SECRETS)
    for grant in grants:
        assert grant.inputs["role"] == "roles/secretmanager.secretAccessor"
        assert grant.inputs["member"] == MEMBER


def test_token_creator_is_granted_on_itself_only(recording: Recording) -> None:
    grant = recording.one(SA_IAM).inputs
    assert grant["role"] == "roles/iam.serviceAccountTokenCreator"
    assert grant["serviceAccountId"] == f"projects/{PROJECT}/serviceAccounts/{EMAIL}"
    assert grant["member"] == MEMBER
    assert "roles/iam.serviceAccountTokenCreator" not in {
        b.inputs["role"] for b in recording.of_type(PROJECT_IAM)
    }


def test_children_are_parented(recording: Recording) -> None:
    component = recording.one("awaterra:gcp:ServiceIdentity")
    assert all(r.parent == component.urn for r in recording if r.custom)


def test_without_an_instance_the_cloudsql_roles_are_unconditioned() -> None:
    recording = _run(ServiceIdentityArgs(project=PROJECT, account_id="api-prod"))
    cloudsql = [b for b in recording.of_type(PROJECT_IAM) if "cloudsql" in b.inputs["role"]]
    assert len(cloudsql) == 2
    assert all(b.inputs.get("condition") is None for b in cloudsql)
    assert recording.of_type(SECRET_IAM) == []


def test_opt_outs_leave_only_the_account() -> None:
    recording = _run(
        ServiceIdentityArgs(
            project=PROJECT,
            account_id="api-prod",
            cloudsql=False,
            telemetry=False,
            token_creator_on_self=False,
        )
    )
    assert [r.type for r in recording if r.custom] == ["gcp:serviceaccount/account:Account"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"account_id": "api"}, "account_id must be 6-30"),
        ({"account_id": "Api-Prod"}, "account_id must be 6-30"),
        ({"account_id": "1api-prod"}, "account_id must be 6-30"),
        ({"account_id": "api-prod-"}, "account_id must be 6-30"),
        ({"cloudsql": False, "cloudsql_instance": "db"}, "cloudsql=False"),
        ({"cloudsql_instance": "projects/p/instances/db"}, "instance name, not a path"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"project": PROJECT, "account_id": "api-prod", **kwargs}
    with pytest.raises(ValueError, match=message):
        ServiceIdentityArgs(**values)  # type: ignore[arg-type]
