"""The daily `maintain` task on AWS, under mocks: what runs, when, where, and with what rights."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from components.aws.maintenance import MaintenanceScheduleArgs, scheduler_policy
from ops.offline import RecordedResource, Recording
from tests.infra.test_container_service import ARGS, _containers, _run

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"


@pytest.fixture(scope="module")
def recording() -> Recording:
    return _run()


def _maintenance_task(recording: Recording) -> RecordedResource:
    (task,) = [t for t in recording.of_type(TASK_DEFINITION) if t.name == "api-maintenance-task"]
    return task


def _statements(resource: RecordedResource, key: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = json.loads(resource.inputs[key])["Statement"]
    return statements


def test_runs_daily_at_a_fixed_utc_time_with_retries(recording: Recording) -> None:
    schedule = recording.one("aws:scheduler/schedule:Schedule").inputs
    assert schedule["scheduleExpression"] == "cron(17 3 * * ? *)"
    assert schedule["scheduleExpressionTimezone"] == "UTC"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    assert schedule["target"]["retryPolicy"] == {
        "maximumRetryAttempts": 2, "maximumEventAgeInSeconds": 3600,
    }  # fmt: skip


def test_runs_the_maintenance_task_on_the_service_cluster_and_network(
    recording: Recording,
) -> None:
    target = recording.one("aws:scheduler/schedule:Schedule").inputs["target"]
    cluster = recording.one("aws:ecs/cluster:Cluster")
    assert target["arn"] == cluster.outputs["arn"]
    ecs = target["ecsParameters"]
    assert ecs["taskDefinitionArn"] == _maintenance_task(recording).outputs["arn"]
    assert ecs["launchType"] == "FARGATE" and ecs["taskCount"] == 1
    service = recording.one("aws:ecs/service:Service").inputs["networkConfiguration"]
    assert ecs["networkConfiguration"] == {
        "subnets": service["subnets"],
        "securityGroups": service["securityGroups"],
        "assignPublicIp": False,
    }
    assert service["securityGroups"] == ["sg-service"]


def test_the_task_runs_maintain_from_the_service_image_with_its_environment(
    recording: Recording,
) -> None:
    task = _maintenance_task(recording).inputs
    assert task["family"].endswith("-api-maintain")
    (container,) = json.loads(task["containerDefinitions"])
    app = _containers(recording)["app"]
    assert container["name"] == "maintain"
    assert container["command"] == ["python", "-m", "service", "maintain"]
    assert container["image"] == app["image"]
    assert container["environment"] == app["environment"]
    assert container["secrets"] == app["secrets"]
    assert container["essential"] is True
    assert container["readonlyRootFilesystem"] is True and container["user"] == "10001:10001"
    assert container["linuxParameters"]["capabilities"] == {"drop": ["ALL"]}
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    assert container["logConfiguration"]["options"]["awslogs-stream-prefix"] == "service"
    assert "portMappings" not in container
    assert task["requiresCompatibilities"] == ["FARGATE"] and task["networkMode"] == "awsvpc"


def test_the_task_has_no_task_role_and_the_service_execution_role(recording: Recording) -> None:
    task = _maintenance_task(recording).inputs
    assert "taskRoleArn" not in task  # it calls no AWS API, only the database
    service_task = next(t for t in recording.of_type(TASK_DEFINITION) if t.name == "api-task")
    assert task["executionRoleArn"] == service_task.inputs["executionRoleArn"]


def test_only_the_scheduler_may_assume_its_role(recording: Recording) -> None:
    role = recording.named("api-maintenance-scheduler")
    (trust,) = _statements(role, "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"].startswith("arn:aws:scheduler:")
    target = recording.one("aws:scheduler/schedule:Schedule").inputs["target"]
    assert target["roleArn"] == role.outputs["arn"]


def test_the_scheduler_may_run_only_that_task_and_pass_only_its_role(
    recording: Recording,
) -> None:
    statements = _statements(recording.named("api-maintenance-scheduler-permissions"), "policy")
    run, pass_role = statements
    assert run["Action"] == ["ecs:RunTask"]
    assert run["Resource"] == [_maintenance_task(recording).outputs["arn"]]
    assert run["Condition"] == {
        "ArnEquals": {"ecs:cluster": recording.one("aws:ecs/cluster:Cluster").outputs["arn"]}
    }
    execution = recording.named("api-execution")
    assert pass_role["Action"] == ["iam:PassRole"]
    assert pass_role["Resource"] == [execution.outputs["arn"]]
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    assert len(statements) == 2


def test_the_policy_refuses_wildcards() -> None:
    with pytest.raises(ValueError, match="exact ARN"):
        scheduler_policy(
            task_definition_arn="arn:aws:ecs:us-east-1:1:task-definition/*",
            cluster_arn="arn:aws:ecs:us-east-1:1:cluster/c",
            execution_role_arn="arn:aws:iam::1:role/r",
        )


def test_a_log_router_of_the_service_does_not_reach_the_maintenance_task() -> None:
    firelens = {"logDriver": "awsfirelens", "options": {"Name": "datadog"}}
    recorded = _run(replace(ARGS, log_configuration=firelens))
    (container,) = json.loads(_maintenance_task(recorded).inputs["containerDefinitions"])
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    assert _containers(recorded)["app"]["logConfiguration"] == firelens


def test_a_custom_schedule_and_a_bad_one() -> None:
    recorded = _run(replace(ARGS, maintenance_schedule="cron(0 2 * * ? *)"))
    schedule = recorded.one("aws:scheduler/schedule:Schedule").inputs
    assert schedule["scheduleExpression"] == "cron(0 2 * * ? *)"
    with pytest.raises(ValueError, match="cron"):
        MaintenanceScheduleArgs(
            cluster_arn="c", family="f", container_definitions="[]", execution_role_arn="r",
            subnet_ids=["s"], security_group_id="g", assign_public_ip=False, schedule="daily",
        )  # fmt: skip
