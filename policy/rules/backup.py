"""AWS Backup: encrypted vaults and plans that keep recovery points long enough."""

from __future__ import annotations

from collections.abc import Iterator

from policy.model import Context, Resource, Severity
from policy.rules._common import by_environment, resource_rule
from policy.rules.types import BACKUP_PLAN, BACKUP_VAULT
from policy.values import UNKNOWN, as_int, as_list, get


@resource_rule(
    "backup-vault-kms",
    "Backup vaults are encrypted with a customer-managed KMS key",
    "checkov CKV_AWS_166 / AWS FSBP Backup.1",
    Severity.MEDIUM,
    BACKUP_VAULT,
    "Set kms_key_arn on the vault.",
)
def vault_kms(resource: Resource, context: Context) -> Iterator[str]:
    if get(resource.props, "kmsKeyArn") is None:
        yield "kmsKeyArn is not set"


@resource_rule(
    "backup-plan-retention",
    "Backup plans keep recovery points >= 7 days (>= 35 in production)",
    "AWS Config rule backup-plan-min-frequency-and-min-retention-check (default 35 days)",
    Severity.MEDIUM,
    BACKUP_PLAN,
    "Set lifecycle.delete_after (awaterra:backupRetentionDays) on every rule.",
)
def plan_retention(resource: Resource, context: Context) -> Iterator[str]:
    minimum = by_environment(context, dev=7, prod=35)
    rules = as_list(get(resource.props, "rules"))
    if rules is UNKNOWN:
        return
    if not rules:
        yield "the plan has no rules"
    for rule in rules:
        name = get(rule, "ruleName")
        days = as_int(get(rule, "lifecycle.deleteAfter"))
        if days is UNKNOWN:
            continue
        if days is None:
            yield f"rule {name}: lifecycle.deleteAfter is not set (recovery points never expire)"
        elif days < minimum:
            yield f"rule {name}: keeps recovery points {days} days, minimum {minimum}"


RULES = [vault_kms, plan_retention]
