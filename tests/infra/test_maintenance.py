"""The daily `maintain` task on AWS, under mocks: what runs, when, where, and with what rights."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from components.aws.maintenance import MaintenanceScheduleArgs, scheduler_policy
from ops.offline import RecordedResource, Recording
from tests.infra.test_container_service import (
    ARGS,
    DATADOG_SECRET,
    SECRET_ARN,
    SECRET_KEY,
    _containers,
    _run,
)

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


def test_the_task_runs_maintain_from_the_service_image_with_the_jobs_environment(
    recording: Recording,
) -> None:
    task = _maintenance_task(recording).inputs
    assert task["family"].endswith("-api-maintain")
    (container,) = json.loads(task["containerDefinitions"])
    app = _containers(recording)["app"]
    assert container["name"] == "maintain"
    assert container["command"] == ["python", "-m", "service", "maintain"]
    assert container["image"] == app["image"]
    # The database's share of the service's environment, nothing of the server's own.
    assert {e["name"]: e["value"] for e in container["environment"]} == {
        "ENVIRONMENT": "prod",
        "DB_HOST": "db.internal.example",
        "DB_PORT": "5432",
        "DB_NAME": "awaterra",
        "DB_SSLMODE": "require",
        "LOG_LEVEL": "info",
        "DB_APP_ROLE": "awaterra_app",
        "DB_APP_ROLE_IAM": "aws",
    }
    migrate = _containers(recording)["migrate"]
    assert container["environment"] == migrate["environment"]
    # As the schema's owner (the master user), as `migrate` does; the service is another user.
    assert container["secrets"] == migrate["secrets"] == [
        {"name": "DB_PASSWORD", "valueFrom": f"{SECRET_ARN}:password::"},
        {"name": "DB_USER", "valueFrom": f"{SECRET_ARN}:username::"},
    ]
    assert app["secrets"] == []
    assert container["essential"] is True
    assert container["readonlyRootFilesystem"] is True and container["user"] == "10001:10001"
    assert container["linuxParameters"]["capabilities"] == {"drop": ["ALL"]}
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    assert container["logConfiguration"]["options"]["awslogs-stream-prefix"] == "service"
    assert "portMappings" not in container
    assert task["requiresCompatibilities"] == ["FARGATE"] and task["networkMode"] == "awsvpc"


def test_the_task_has_no_task_role_and_an_execution_role_of_its_own(recording: Recording) -> None:
    task = _maintenance_task(recording).inputs
    assert "taskRoleArn" not in task  # it calls no AWS API, only the database
    service_task = next(t for t in recording.of_type(TASK_DEFINITION) if t.name == "api-task")
    execution = recording.named("api-maintenance-execution")
    assert task["executionRoleArn"] == execution.outputs["arn"]
    assert task["executionRoleArn"] != service_task.inputs["executionRoleArn"]
    (trust,) = _statements(execution, "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert "managedPolicyArns" not in execution.inputs


def _maintenance_grants(recording: Recording) -> dict[str, dict[str, Any]]:
    policy = recording.named("api-maintenance-execution-permissions")
    assert policy.inputs["role"] == recording.named("api-maintenance-execution").id
    return {s["Sid"]: s for s in _statements(policy, "policy")}


def test_its_execution_role_reads_only_the_secret_its_container_references(
    recording: Recording,
) -> None:
    grants = _maintenance_grants(recording)
    (container,) = json.loads(_maintenance_task(recording).inputs["containerDefinitions"])
    referenced = {s["valueFrom"].rsplit(":", 3)[0] for s in container["secrets"]}
    assert grants["ReadSecrets"]["Resource"] == sorted(referenced) == [SECRET_ARN]
    assert grants["ReadSecrets"]["Action"] == ["secretsmanager:GetSecretValue"]
    assert grants["DecryptSecrets"]["Resource"] == [SECRET_KEY]
    assert grants["DecryptSecrets"]["Condition"]["StringEquals"]["kms:ViaService"] == [
        "secretsmanager.us-east-1.amazonaws.com"
    ]
    repository = recording.one("aws:ecr/repository:Repository").outputs["arn"]
    log_group = recording.one("aws:cloudwatch/logGroup:LogGroup").outputs["arn"]
    assert grants["PullServiceImage"]["Resource"] == [repository]
    # Its own streams only (`service/maintain/<task id>`), not the server's.
    assert grants["WriteServiceLogs"]["Resource"] == [
        f"{log_group}:log-stream:service/maintain/*"
    ]
    assert set(grants) == {"RegistryLogin", "PullServiceImage", "WriteServiceLogs",
                           "ReadSecrets", "DecryptSecrets"}  # fmt: skip


def test_its_execution_role_cannot_read_the_panels_or_datadogs_secrets() -> None:
    """The service's execution role reads the session key and the Datadog key; this one not."""
    session_key = "arn:aws:secretsmanager:us-east-1:123456789012:secret:admin-session-key-Q1w2E3"
    session_kms = "arn:aws:kms:us-east-1:123456789012:key/admin"
    recorded = _run(
        replace(
            ARGS,
            admin_client_id="panel-client",
            admin_base_url="https://api.example.com",
            admin_session_key_secret_arn=session_key,
            admin_session_key_kms_key_arn=session_kms,
            datadog_api_key_secret_arn=DATADOG_SECRET,
        )
    )
    service = json.dumps(
        _statements(recorded.named("api-execution-permissions"), "policy")
    )
    assert session_key in service and DATADOG_SECRET in service and session_kms in service
    grants = _maintenance_grants(recorded)
    assert grants["ReadSecrets"]["Resource"] == [SECRET_ARN]
    assert grants["DecryptSecrets"]["Resource"] == [SECRET_KEY]
    everything = json.dumps(grants)
    for arn in (session_key, session_kms, DATADOG_SECRET):
        assert arn not in everything
    (maintain,) = json.loads(_maintenance_task(recorded).inputs["containerDefinitions"])
    migrate = _containers(recorded)["migrate"]
    app = _containers(recorded)["app"]
    assert {"name": "ADMIN_SESSION_KEY", "valueFrom": session_key} in app["secrets"]
    for job in (maintain, migrate):
        names = {e["name"] for e in job["environment"]} | {s["name"] for s in job["secrets"]}
        assert not names & {"ADMIN_SESSION_KEY", "ADMIN_OIDC_CLIENT_ID", "ADMIN_BASE_URL",
                            "ADMIN_LINKS", "STORAGE_URL", "AUTH_ISSUER", "AUTH_JWKS_URL",
                            "AUTH_AUDIENCE"}, job["name"]  # fmt: skip
        assert session_key not in json.dumps(job)


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
    execution = recording.named("api-maintenance-execution")
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
            cluster_arn="c", family="f", container_definitions="[]", repository_arn="r",
            log_group_arn="l", log_stream_prefix="service/maintain", secret_arns=["s"],
            secret_kms_key_arns=[], subnet_ids=["s"], security_group_id="g",
            assign_public_ip=False, schedule="daily",
        )  # fmt: skip
    with pytest.raises(ValueError, match="database secret"):
        MaintenanceScheduleArgs(
            cluster_arn="c", family="f", container_definitions="[]", repository_arn="r",
            log_group_arn="l", log_stream_prefix="service/maintain", secret_arns=[],
            secret_kms_key_arns=[], subnet_ids=["s"], security_group_id="g",
            assign_public_ip=False,
        )  # fmt: skip
