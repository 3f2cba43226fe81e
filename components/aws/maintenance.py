"""`python -m service maintain` once a day, as an ECS task started by EventBridge Scheduler.

`MaintenanceSchedule(name, MaintenanceScheduleArgs(...))` creates
- a task definition of its own (family `<service family>-maintain`): one container from the
  service's image running `python -m service maintain`, with only the job's share of the
  service's environment (database parts, ENVIRONMENT, LOG_LEVEL) and the database credentials
  injected from the same secret (never the panel's session key, the bucket or the issuer),
  hardened like the service's containers, logging to the service's log group under
  `service/maintain/...`; it has *no task role*: maintenance calls no AWS API, only the database;
- an execution role of its own (the service's may read the panel's session key and the Datadog
  key): pull the service's image, write `service/maintain/*` streams of the log group, read
  exactly `secret_arns` (the database secret) and decrypt with `secret_kms_key_arns` through
  Secrets Manager only;
- a role only EventBridge Scheduler of this account may assume, allowed `ecs:RunTask` on exactly
  that task definition in exactly the service's cluster, and `iam:PassRole` on exactly the
  maintenance execution role, only to ECS tasks;
- the schedule (UTC cron, no flexible window, retried twice within an hour): the task runs on
  the service's cluster, in the service's subnets, with the service's security group (the one
  the database admits), so it reaches the database the way the service does.

A run that overlaps another (a retry, someone running it by hand) is safe: `maintain` takes an
advisory lock and is idempotent (docs/ops.md).

Args: `cluster_arn`, `family` (the service's task family), `container_definitions` (JSON,
`TaskContainers.maintenance_definitions()`), `repository_arn` (the service's images),
`log_group_arn`, `log_stream_prefix` (the streams the task writes, e.g. `service/maintain`),
`secret_arns` (every secret the container references, no more), `secret_kms_key_arns` (their
customer-managed keys, may be empty), `subnet_ids`, `security_group_id`, `assign_public_ip`,
`cpu_architecture`; `schedule` (default
`cron(17 3 * * ? *)`: 03:17 UTC daily, off the hour when other jobs pile up), `cpu`/`memory`
(default 256/512: the work is in the database).

Outputs: `task_definition_arn`, `schedule_arn`, `role_arn` (the scheduler's),
`execution_role_arn`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.execution_role import execution_role_with_policy
from components.aws.policy_documents import account_context
from components.aws.service_iam import assume_role_policy

DEFAULT_SCHEDULE = "cron(17 3 * * ? *)"
MAINTAIN = "maintain"
RETRIES = 2
RETRY_WINDOW_SECONDS = 3600

PolicyDocument = dict[str, Any]


def scheduler_trust_policy(account_id: str, region: str) -> PolicyDocument:
    """Only EventBridge Scheduler, for a schedule of this account and region."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:aws:scheduler:{region}:{account_id}:schedule/*"
                    },
                },
            }
        ],
    }


def scheduler_policy(
    *, task_definition_arn: str, cluster_arn: str, execution_role_arn: str
) -> PolicyDocument:
    """Run exactly this task definition on exactly this cluster; pass only its execution role."""
    for arn in (task_definition_arn, cluster_arn, execution_role_arn):
        if not arn.startswith("arn:aws") or "*" in arn:
            raise ValueError(f"scheduler_policy: {arn!r} is not an exact ARN")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RunMaintenanceTask",
                "Effect": "Allow",
                "Action": ["ecs:RunTask"],
                "Resource": [task_definition_arn],
                "Condition": {"ArnEquals": {"ecs:cluster": cluster_arn}},
            },
            {
                "Sid": "PassExecutionRole",
                "Effect": "Allow",
                "Action": ["iam:PassRole"],
                "Resource": [execution_role_arn],
                "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            },
        ],
    }


@dataclass(frozen=True)
class MaintenanceScheduleArgs:
    cluster_arn: pulumi.Input[str]
    family: str
    container_definitions: pulumi.Input[str]
    repository_arn: pulumi.Input[str]
    log_group_arn: pulumi.Input[str]
    log_stream_prefix: str
    secret_arns: Sequence[pulumi.Input[str]]
    secret_kms_key_arns: Sequence[pulumi.Input[str]]
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    security_group_id: pulumi.Input[str]
    assign_public_ip: bool
    cpu_architecture: str = "X86_64"
    schedule: str = DEFAULT_SCHEDULE
    cpu: int = 256
    memory: int = 512

    def __post_init__(self) -> None:
        if not self.secret_arns:
            raise ValueError("MaintenanceSchedule: secret_arns needs the database secret")
        if not (self.schedule.startswith(("cron(", "rate(")) and self.schedule.endswith(")")):
            raise ValueError(
                f"MaintenanceSchedule: schedule must be cron(...) or rate(...), got "
                f"{self.schedule!r}"
            )


class MaintenanceSchedule(pulumi.ComponentResource):
    task_definition_arn: pulumi.Output[str]
    schedule_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    execution_role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: MaintenanceScheduleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:maintenance:MaintenanceSchedule", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        context = account_context(self)
        execution_role, execution_permissions = execution_role_with_policy(
            name,
            description=f"{name}: ECS agent for the maintenance task (image, logs, DB secret)",
            trust=pulumi.Output.all(context.account_id, context.region).apply(
                lambda v: json.dumps(assume_role_policy(v[0], v[1]))
            ),
            repository_arn=args.repository_arn,
            log_group_arn=args.log_group_arn,
            log_stream_prefix=args.log_stream_prefix,
            secret_arns=args.secret_arns,
            secret_kms_key_arns=args.secret_kms_key_arns,
            opts=child,
        )
        task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=f"{args.family}-{MAINTAIN}",
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(args.cpu),
            memory=str(args.memory),
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture=args.cpu_architecture
            ),
            execution_role_arn=execution_role.arn,
            volumes=[aws.ecs.TaskDefinitionVolumeArgs(name="tmp")],
            container_definitions=args.container_definitions,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-scheduler",
            description=f"{name}: EventBridge Scheduler starts the maintenance task",
            assume_role_policy=pulumi.Output.all(context.account_id, context.region).apply(
                lambda v: json.dumps(scheduler_trust_policy(v[0], v[1]))
            ),
            opts=child,
        )
        permissions = aws.iam.RolePolicy(
            f"{name}-scheduler-permissions",
            role=role.id,
            policy=pulumi.Output.all(
                task=task_definition.arn,
                cluster=args.cluster_arn,
                execution=execution_role.arn,
            ).apply(
                lambda v: json.dumps(
                    scheduler_policy(
                        task_definition_arn=v["task"],
                        cluster_arn=v["cluster"],
                        execution_role_arn=v["execution"],
                    )
                )
            ),
            opts=child,
        )
        schedule = aws.scheduler.Schedule(
            f"{name}-schedule",
            description="python -m service maintain: events retention, next months' partitions",
            schedule_expression=args.schedule,
            schedule_expression_timezone="UTC",
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=args.cluster_arn,
                role_arn=role.arn,
                ecs_parameters=aws.scheduler.ScheduleTargetEcsParametersArgs(
                    task_definition_arn=task_definition.arn,
                    launch_type="FARGATE",
                    platform_version="LATEST",
                    task_count=1,
                    network_configuration=aws.scheduler.ScheduleTargetEcsParametersNetworkConfigurationArgs(
                        subnets=args.subnet_ids,
                        security_groups=[args.security_group_id],
                        assign_public_ip=args.assign_public_ip,
                    ),
                ),
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_retry_attempts=RETRIES,
                    maximum_event_age_in_seconds=RETRY_WINDOW_SECONDS,
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[permissions, execution_permissions]
            ),
        )
        self.task_definition_arn = task_definition.arn
        self.schedule_arn = schedule.arn
        self.role_arn = role.arn
        self.execution_role_arn = execution_role.arn
        self.register_outputs(
            {
                "execution_role_arn": self.execution_role_arn,
                "task_definition_arn": self.task_definition_arn,
                "schedule_arn": self.schedule_arn,
                "role_arn": self.role_arn,
            }
        )
