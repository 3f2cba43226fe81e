"""The daily `maintain` job on Google Cloud, under mocks: what runs, when, where, who starts it."""

from __future__ import annotations

from typing import Any

import pytest

from components.gcp.cloud_run import CloudRunServiceArgs
from components.gcp.maintenance import MaintenanceJobArgs
from ops.offline import Recording
from tests.infra.gcp.test_cloud_run import JOB, PROJECT, SA, _args, _run

SCHEDULER = "gcp:cloudscheduler/job:Job"
JOB_IAM = "gcp:cloudrunv2/jobIamMember:JobIamMember"
ACCOUNT = "gcp:serviceaccount/account:Account"


@pytest.fixture(scope="module")
def recording() -> Recording:
    return _run(_args())


def _template(job: Any) -> dict[str, Any]:
    template: dict[str, Any] = job.inputs["template"]["template"]
    return template


def test_the_job_runs_maintain_like_the_migration_runs_migrate(recording: Recording) -> None:
    maintain = recording.one(JOB, "maintenance")
    migrate = recording.one(JOB, "migrate")
    assert maintain.inputs["name"] == "api-maintain"
    (container,) = _template(maintain)["containers"]
    (migrating,) = _template(migrate)["containers"]
    assert container["commands"] == ["python"]
    assert container["args"] == ["-m", "service", "maintain"]
    assert container["image"] == migrating["image"]
    assert container["envs"] == migrating["envs"]
    # The tables' owner: the service's own account (IAM database user), on the service's VPC path.
    assert _template(maintain)["serviceAccount"] == SA
    assert _template(maintain)["vpcAccess"] == _template(migrate)["vpcAccess"]
    assert "runExecutionToken" not in maintain.inputs  # the schedule runs it, not the deploy
    assert maintain.inputs["deletionProtection"] is True


def test_the_trigger_has_an_account_of_its_own_allowed_only_to_run_that_job(
    recording: Recording,
) -> None:
    trigger = recording.one(ACCOUNT, "maintenance-trigger")
    email = trigger.outputs["email"]
    assert email != SA
    grants = [
        r for r in recording if r.custom and "Iam" in r.type
        and email in str(r.inputs.get("member", "")) + str(r.inputs.get("members", ""))
    ]  # fmt: skip
    assert [(g.type, g.inputs["role"]) for g in grants] == [(JOB_IAM, "roles/run.invoker")]
    (grant,) = grants
    assert grant.inputs["name"] == recording.one(JOB, "maintenance").outputs["name"]
    assert grant.inputs["member"] == f"serviceAccount:{email}"


def test_cloud_scheduler_runs_the_job_daily_as_the_trigger(recording: Recording) -> None:
    scheduler = recording.one(SCHEDULER).inputs
    assert scheduler["schedule"] == "17 3 * * *"
    assert scheduler["timeZone"] == "Etc/UTC"
    assert scheduler["region"] == "europe-west1"
    assert scheduler["retryConfig"]["retryCount"] == 3
    target = scheduler["httpTarget"]
    assert target["httpMethod"] == "POST"
    assert target["uri"] == (
        f"https://run.googleapis.com/v2/projects/{PROJECT}/locations/europe-west1/jobs/"
        "api-maintain:run"
    )
    trigger = recording.one(ACCOUNT, "maintenance-trigger")
    assert target["oauthToken"] == {
        "serviceAccountEmail": trigger.outputs["email"],
        "scope": "https://www.googleapis.com/auth/cloud-platform",
    }


def test_a_custom_schedule_opting_out_and_bad_values() -> None:
    custom = _run(_args(maintain_schedule="0 2 * * *"))
    assert custom.one(SCHEDULER).inputs["schedule"] == "0 2 * * *"
    off = _run(_args(maintain=False))
    assert off.of_type(SCHEDULER) == [] and [j.name for j in off.of_type(JOB)] == ["api-migrate"]
    service: CloudRunServiceArgs = _args()
    with pytest.raises(ValueError, match="5-field cron"):
        MaintenanceJobArgs(service=service, job_name="j", trigger_account_id="api-trigger",
                           schedule="daily")  # fmt: skip
    with pytest.raises(ValueError, match="service account id"):
        MaintenanceJobArgs(service=service, job_name="j", trigger_account_id="X")
