"""Backups: encrypted vaults, daily plan, retention, a copy in a second region, least privilege."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.aws.backup import MANAGED_POLICIES, BackupArgs, Backups
from ops.offline import RecordedResource, Recording, run_program
from tests.infra.policy_helpers import by_sid, statements

DB_ARN = "arn:aws:rds:us-east-1:123456789012:db:awaterra-prod-database"
BUCKET_ARN = "arn:aws:s3:::awaterra-media"
KEYS = [
    "arn:aws:kms:us-east-1:123456789012:key/db",
    "arn:aws:kms:us-east-1:123456789012:key/media",
]


def build(**overrides: Any) -> Recording:
    arguments: dict[str, Any] = {
        "resource_arns": [DB_ARN, BUCKET_ARN],
        "retention_days": 35,
        "copy_region": "us-west-2",
        "kms_key_arns": KEYS,
        **overrides,
    }
    return run_program(
        "prod", program=lambda: Backups("backups", BackupArgs(**arguments)), use_stack_file=False
    )


@pytest.fixture(scope="module")
def locked() -> Recording:
    return build(vault_lock=True)


def vault(recording: Recording, copy: bool) -> RecordedResource:
    name = "backups-copy-vault" if copy else "backups-vault"
    return recording.named(name)


def test_vaults_are_encrypted_with_rotating_customer_keys(locked: Recording) -> None:
    for copy, key_name in ((False, "backups-vault-key"), (True, "backups-copy-vault-key")):
        key = locked.named(key_name)
        assert key.inputs["enableKeyRotation"] is True
        assert vault(locked, copy).inputs["kmsKeyArn"] == key.outputs["arn"]


def test_copy_vault_and_its_key_live_in_the_copy_region(locked: Recording) -> None:
    (provider,) = locked.of_type("pulumi:providers:aws")
    assert provider.inputs["region"] == "us-west-2"
    assert provider.parent is not None and "awaterra:backup:Backups" in provider.parent
    for name in ("backups-copy-vault", "backups-copy-vault-key", "backups-vault-lock-copy"):
        resource = locked.named(name)
        assert resource.provider is not None and provider.urn in resource.provider
    for name in ("backups-vault", "backups-vault-key", "backups-plan", "backups-selection"):
        assert not (locked.named(name).provider or "").startswith(provider.urn)


def test_copy_provider_carries_the_stack_default_tags() -> None:
    tags = {"project": "awaterra", "environment": "prod"}
    (provider,) = build(provider_default_tags=tags).of_type("pulumi:providers:aws")
    assert json.loads(provider.inputs["defaultTags"]) == {"tags": tags}


def test_plan_runs_daily_keeps_retention_and_copies_to_the_other_region(locked: Recording) -> None:
    (rule,) = locked.one("aws:backup/plan:Plan").inputs["rules"]
    assert rule["schedule"] == "cron(0 5 * * ? *)"
    assert rule["targetVaultName"] == vault(locked, copy=False).inputs["name"]
    assert rule["lifecycle"]["deleteAfter"] == 35
    (copy,) = rule["copyActions"]
    assert copy["destinationVaultArn"] == vault(locked, copy=True).outputs["arn"]
    assert copy["lifecycle"]["deleteAfter"] == 35


def test_selection_covers_exactly_the_database_and_the_bucket(locked: Recording) -> None:
    selection = locked.one("aws:backup/selection:Selection").inputs
    assert sorted(selection["resources"]) == sorted([DB_ARN, BUCKET_ARN])
    assert selection["planId"] == locked.one("aws:backup/plan:Plan").id
    assert selection["iamRoleArn"] == locked.one("aws:iam/role:Role").outputs["arn"]


def test_role_trusts_aws_backup_only(locked: Recording) -> None:
    (trust,) = statements(locked.one("aws:iam/role:Role"), "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "backup.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    # No aws:SourceAccount condition: AWS Backup does not send it, the role would be unusable.
    assert "Condition" not in trust


def test_role_has_the_managed_backup_and_restore_policies(locked: Recording) -> None:
    attached = {
        a.inputs["policyArn"]
        for a in locked.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert attached == set(MANAGED_POLICIES.values())
    assert any(arn.endswith("AWSBackupServiceRolePolicyForBackup") for arn in attached)
    assert any(arn.endswith("AWSBackupServiceRolePolicyForRestores") for arn in attached)
    assert any(arn.endswith("AWSBackupServiceRolePolicyForS3Backup") for arn in attached)


def test_role_may_use_only_the_protected_resources_keys(locked: Recording) -> None:
    policy = locked.one("aws:iam/rolePolicy:RolePolicy")
    use = by_sid(policy, "UseProtectedResourceKeys")
    assert sorted(use["Resource"]) == sorted(KEYS)
    assert "kms:*" not in use["Action"]
    grant = by_sid(policy, "GrantKeysToBackupOnly")
    assert grant["Action"] == "kms:CreateGrant"
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert sorted(grant["Resource"]) == sorted(KEYS)


def test_vault_lock_guards_both_vaults_when_asked(locked: Recording) -> None:
    locks = locked.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration")
    assert {lock.inputs["backupVaultName"] for lock in locks} == {
        vault(locked, copy=False).inputs["name"],
        vault(locked, copy=True).inputs["name"],
    }
    assert all(lock.inputs["minRetentionDays"] == 7 for lock in locks)
    # Governance mode: no changeable_for_days, so the lock never hardens into compliance mode.
    assert all("changeableForDays" not in lock.inputs for lock in locks)


def test_no_vault_lock_and_separate_copy_retention() -> None:
    recording = build(retention_days=7, copy_retention_days=14)
    assert recording.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration") == []
    (rule,) = recording.one("aws:backup/plan:Plan").inputs["rules"]
    assert rule["lifecycle"]["deleteAfter"] == 7
    assert rule["copyActions"][0]["lifecycle"]["deleteAfter"] == 14


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"resource_arns": []}, "at least one resource"),
        ({"retention_days": 0}, "retention_days must be >= 1"),
        ({"copy_region": "west"}, "copy_region must be an AWS region"),
        ({"vault_lock": True, "retention_days": 3}, "cannot exceed retention_days"),
        ({"copy_retention_days": 0}, "copy_retention_days must be >= 1"),
    ],
)
def test_bad_arguments_are_refused(overrides: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "resource_arns": [DB_ARN],
        "retention_days": 35,
        "copy_region": "us-west-2",
        **overrides,
    }
    with pytest.raises(ValueError, match=message):
        BackupArgs(**arguments)
