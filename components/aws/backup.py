"""AWS Backup: a daily plan over the database and the media bucket, copied to a second region.

`Backups(name, BackupArgs(resource_arns=[db.instance_arn, media.bucket_arn], retention_days=35,
copy_region="us-west-2", kms_key_arns=[db.kms_key_arn, media.kms_key_arn]))`

Recovery points land in a vault encrypted with its own KMS key and are copied to a vault in
`copy_region` (through a second provider, also with its own key), so losing the home region
loses at most a day of data. Vault Lock (governance mode) optionally stops anyone deleting a
recovery point before `min_retention_days`.

The backup role gets the AWS managed backup and restore policies (RDS and S3), plus use of the
protected resources' own KMS keys (`kms_key_arns`) and nothing else.

Point-in-time restore of the database inside the region is RDS's own (automated backups,
`dbBackupRetentionDays`); these daily recovery points are the cross-region safety net.
See docs/deploy.md for the restore runbook.

Outputs: `vault_name`, `vault_arn`, `copy_vault_name`, `copy_vault_arn`, `plan_id`, `role_arn`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.policy_documents import (
    account_context,
    assume_role_policy,
    customer_key,
    key_policy,
    policy_document,
)

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
MANAGED_POLICIES = {
    "backup": "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "restore": "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    "s3-backup": "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
    "s3-restore": "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
}


@dataclass(frozen=True)
class BackupArgs:
    resource_arns: Sequence[pulumi.Input[str]]
    retention_days: int
    copy_region: str
    # Keys that encrypt the protected resources; the backup role may use these only.
    kms_key_arns: Sequence[pulumi.Input[str]] = ()
    copy_retention_days: int | None = None
    schedule: str = "cron(0 5 * * ? *)"
    start_window_minutes: int = 60
    completion_window_minutes: int = 360
    vault_lock: bool = False
    vault_lock_min_retention_days: int = 7
    # The copy region's provider is explicit: it needs the stack's aws:defaultTags passed in.
    provider_default_tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.resource_arns:
            raise ValueError("Backups: resource_arns must name at least one resource")
        if self.retention_days < 1:
            raise ValueError(f"Backups: retention_days must be >= 1, got {self.retention_days}")
        if not _REGION.match(self.copy_region):
            raise ValueError(
                f"Backups: copy_region must be an AWS region, got {self.copy_region!r}"
            )
        if self.copy_retention_days is not None and self.copy_retention_days < 1:
            raise ValueError("Backups: copy_retention_days must be >= 1")
        if self.vault_lock and self.vault_lock_min_retention_days > self.retention_days:
            raise ValueError(
                "Backups: vault_lock_min_retention_days cannot exceed retention_days "
                f"({self.vault_lock_min_retention_days} > {self.retention_days})"
            )
        if self.completion_window_minutes < self.start_window_minutes + 60:
            raise ValueError(
                "Backups: completion window must be at least an hour after the start window"
            )


class Backups(pulumi.ComponentResource):
    vault_name: pulumi.Output[str]
    vault_arn: pulumi.Output[str]
    copy_vault_arn: pulumi.Output[str]
    copy_vault_name: pulumi.Output[str]
    plan_id: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("awaterra:backup:Backups", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        context = account_context(self)
        prefix = f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}"

        copy_provider = aws.Provider(
            f"{name}-copy-region",
            region=args.copy_region,
            default_tags=aws.ProviderDefaultTagsArgs(tags=dict(args.provider_default_tags))
            if args.provider_default_tags
            else None,
            opts=child,
        )
        in_copy_region = pulumi.ResourceOptions(parent=self, provider=copy_provider)

        vault_key = customer_key(
            f"{name}-vault-key", "AWS Backup vault", key_policy(context.account_id), child
        )
        vault = aws.backup.Vault(
            f"{name}-vault", name=prefix, kms_key_arn=vault_key.arn, opts=child
        )
        copy_key = customer_key(
            f"{name}-copy-vault-key",
            f"AWS Backup copy vault ({args.copy_region})",
            key_policy(context.account_id),
            in_copy_region,
        )
        copy_vault = aws.backup.Vault(
            f"{name}-copy-vault",
            name=f"{prefix}-copy",
            kms_key_arn=copy_key.arn,
            opts=in_copy_region,
        )
        if args.vault_lock:
            for suffix, target, target_opts in (
                ("", vault, child),
                ("-copy", copy_vault, in_copy_region),
            ):
                # Governance mode (no changeable_for_days): privileged operators can still lift it.
                aws.backup.VaultLockConfiguration(
                    f"{name}-vault-lock{suffix}",
                    backup_vault_name=target.name,
                    min_retention_days=args.vault_lock_min_retention_days,
                    opts=target_opts,
                )

        role = aws.iam.Role(
            f"{name}-role",
            # AWS Backup passes no aws:SourceAccount when it assumes the role; only it can.
            assume_role_policy=assume_role_policy("backup.amazonaws.com", None),
            description=f"AWS Backup for {prefix}",
            opts=child,
        )
        for suffix, policy_arn in MANAGED_POLICIES.items():
            aws.iam.RolePolicyAttachment(
                f"{name}-role-{suffix}", role=role.name, policy_arn=policy_arn, opts=child
            )
        if args.kms_key_arns:
            aws.iam.RolePolicy(
                f"{name}-role-keys",
                role=role.id,
                policy=policy_document(
                    [
                        {
                            "Sid": "UseProtectedResourceKeys",
                            "Effect": "Allow",
                            "Action": [
                                "kms:Decrypt",
                                "kms:DescribeKey",
                                "kms:GenerateDataKey*",
                                "kms:ReEncrypt*",
                            ],
                            "Resource": list(args.kms_key_arns),
                        },
                        {
                            "Sid": "GrantKeysToBackupOnly",
                            "Effect": "Allow",
                            "Action": "kms:CreateGrant",
                            "Resource": list(args.kms_key_arns),
                            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
                        },
                    ]
                ),
                opts=child,
            )

        copy_retention = args.copy_retention_days or args.retention_days
        plan = aws.backup.Plan(
            f"{name}-plan",
            name=prefix,
            rules=[
                aws.backup.PlanRuleArgs(
                    rule_name="daily",
                    target_vault_name=vault.name,
                    schedule=args.schedule,
                    start_window=args.start_window_minutes,
                    completion_window=args.completion_window_minutes,
                    lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=args.retention_days),
                    copy_actions=[
                        aws.backup.PlanRuleCopyActionArgs(
                            destination_vault_arn=copy_vault.arn,
                            lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(
                                delete_after=copy_retention
                            ),
                        )
                    ],
                    recovery_point_tags={"plan": prefix},
                )
            ],
            opts=child,
        )
        aws.backup.Selection(
            f"{name}-selection",
            name=f"{prefix}-resources",
            plan_id=plan.id,
            iam_role_arn=role.arn,
            resources=list(args.resource_arns),
            opts=child,
        )

        self.vault_name = vault.name
        self.vault_arn = vault.arn
        self.copy_vault_arn = copy_vault.arn
        self.copy_vault_name = copy_vault.name
        self.plan_id = plan.id
        self.role_arn = role.arn
        self.register_outputs(
            {
                "vault_name": self.vault_name,
                "vault_arn": self.vault_arn,
                "copy_vault_arn": self.copy_vault_arn,
                "plan_id": self.plan_id,
            }
        )
