"""Small builders for the IAM and KMS policy documents the components share.

Policies are JSON strings built from Outputs (account id, region, ARNs), so they are assembled
with `pulumi.Output.json_dumps` rather than by string formatting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class AccountContext:
    """Who and where the provider deploys to (answered by two provider functions)."""

    account_id: pulumi.Output[str]
    region: pulumi.Output[str]


def account_context(parent: pulumi.Resource) -> AccountContext:
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    identity = aws.get_caller_identity_output(opts=invoke)
    region = aws.get_region_output(opts=invoke)
    return AccountContext(account_id=identity.account_id, region=region.region)


def policy_document(statements: Sequence[Mapping[str, Any]]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role_policy(service: str, account_id: pulumi.Input[str] | None) -> pulumi.Output[str]:
    """Trust `service` to assume the role, only on behalf of this account (confused deputy).

    `account_id=None` leaves the condition out, for services that do not send
    `aws:SourceAccount` when they assume a role (AWS Backup): the condition would lock them out.
    """
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if account_id is not None:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return policy_document([statement])


def key_admin_statement(account_id: pulumi.Input[str]) -> dict[str, Any]:
    """The account root keeps control of the key, so IAM policies can grant its use."""
    return {
        "Sid": "AccountAdministersKey",
        "Effect": "Allow",
        "Principal": {"AWS": pulumi.Output.concat("arn:aws:iam::", account_id, ":root")},
        "Action": "kms:*",
        "Resource": "*",
    }


def key_policy(
    account_id: pulumi.Input[str], service_statements: Sequence[Mapping[str, Any]] = ()
) -> pulumi.Output[str]:
    return policy_document([key_admin_statement(account_id), *service_statements])


def customer_key(
    name: str,
    description: str,
    policy: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    deletion_window_in_days: int = 30,
) -> aws.kms.Key:
    """A symmetric customer managed key with yearly rotation and an explicit key policy."""
    key = aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=deletion_window_in_days,
        policy=policy,
        opts=opts,
    )
    aws.kms.Alias(
        f"{name}-alias",
        name=f"alias/{pulumi.get_project()}-{pulumi.get_stack()}-{name}",
        target_key_id=key.key_id,
        opts=opts,
    )
    return key
