"""The ECS *execution* role of a task definition and its one inline policy: pull the image,
write its log streams under one prefix, read exactly the secrets its containers reference
(service_iam.execution_policy). The service and the maintenance task each have their own."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.aws.service_iam import execution_policy


def execution_role_with_policy(
    name: str,
    *,
    description: str,
    trust: pulumi.Input[str],
    repository_arn: pulumi.Input[str],
    log_group_arn: pulumi.Input[str],
    log_stream_prefix: str,
    secret_arns: Sequence[pulumi.Input[str]],
    secret_kms_key_arns: Sequence[pulumi.Input[str]],
    opts: pulumi.ResourceOptions,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    role = aws.iam.Role(
        f"{name}-execution", description=description, assume_role_policy=trust, opts=opts
    )
    permissions = aws.iam.RolePolicy(
        f"{name}-execution-permissions",
        role=role.id,
        policy=pulumi.Output.all(
            repository=repository_arn,
            log_group=log_group_arn,
            secrets=pulumi.Output.all(*secret_arns),
            keys=pulumi.Output.all(*secret_kms_key_arns),
        ).apply(
            lambda v: json.dumps(
                execution_policy(
                    repository_arn=v["repository"],
                    log_group_arn=v["log_group"],
                    log_stream_prefix=log_stream_prefix,
                    secret_arns=v["secrets"],
                    secret_kms_key_arns=v["keys"],
                )
            )
        ),
        opts=opts,
    )
    return role, permissions
