"""`verify`: is the stack's data recoverable, to the policy, right now?

Four questions, each answered from the AWS APIs: is the newest automated RDS snapshot recent;
does point-in-time restore reach the last few minutes; does AWS Backup hold recent completed
recovery points in both the home and the copy region; is the bucket versioned.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ops.backups.clients import AwsClients, describe_aws_error
from ops.backups.targets import BackupTargets


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _age(when: datetime, now: datetime) -> timedelta:
    return now - when.astimezone(UTC)


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


def newest_automated_snapshot(rds: Any, db_instance_id: str) -> dict[str, Any] | None:
    """The newest `available` automated snapshot of the instance, or None."""
    newest: dict[str, Any] | None = None
    paginator = rds.get_paginator("describe_db_snapshots")
    for page in paginator.paginate(DBInstanceIdentifier=db_instance_id, SnapshotType="automated"):
        for snapshot in page.get("DBSnapshots", []):
            if snapshot.get("Status") != "available" or "SnapshotCreateTime" not in snapshot:
                continue
            if newest is None or snapshot["SnapshotCreateTime"] > newest["SnapshotCreateTime"]:
                newest = snapshot
    return newest


def check_snapshot(rds: Any, targets: BackupTargets, now: datetime) -> CheckResult:
    name = "rds-automated-snapshot"
    assert targets.db_instance_id is not None
    snapshot = newest_automated_snapshot(rds, targets.db_instance_id)
    if snapshot is None:
        return CheckResult(
            name, False, f"no available automated snapshot of {targets.db_instance_id}"
        )
    limit = timedelta(hours=targets.policy.max_snapshot_age_hours)
    age = _age(snapshot["SnapshotCreateTime"], now)
    detail = (
        f"newest {snapshot['DBSnapshotIdentifier']} is {_hours(age)} old "
        f"(policy: at most {targets.policy.max_snapshot_age_hours:g} h)"
    )
    return CheckResult(name, age <= limit, detail)


def check_point_in_time(
    instance: dict[str, Any], targets: BackupTargets, now: datetime
) -> CheckResult:
    name = "rds-point-in-time-restore"
    if int(instance.get("BackupRetentionPeriod", 0)) <= 0:
        return CheckResult(
            name, False, "automated backups are off (BackupRetentionPeriod 0): no PITR"
        )
    latest = instance.get("LatestRestorableTime")
    if latest is None:
        return CheckResult(name, False, "RDS reports no LatestRestorableTime yet")
    lag = _age(latest, now)
    limit = timedelta(minutes=targets.policy.max_pitr_lag_minutes)
    detail = (
        f"restorable to {latest.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC, "
        f"{lag.total_seconds() / 60:.1f} min ago (policy: at most "
        f"{targets.policy.max_pitr_lag_minutes:g} min); retention "
        f"{instance['BackupRetentionPeriod']} days"
    )
    return CheckResult(name, lag <= limit, detail)


def _vault_names(backup: Any, vault: str | None) -> list[str]:
    if vault:
        return [vault]
    names: list[str] = []
    token: str | None = None
    while True:
        page = backup.list_backup_vaults(**({"NextToken": token} if token else {}))
        names += [v["BackupVaultName"] for v in page.get("BackupVaultList", [])]
        token = page.get("NextToken")
        if not token:
            return names


def _recovery_points(backup: Any, vault: str, resource_arn: str | None) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        params: dict[str, Any] = {"BackupVaultName": vault}
        if resource_arn:
            params["ByResourceArn"] = resource_arn
        if token:
            params["NextToken"] = token
        page = backup.list_recovery_points_by_backup_vault(**params)
        yield from page.get("RecoveryPoints", [])
        token = page.get("NextToken")
        if not token:
            return


def check_recovery_points(
    backup: Any,
    region: str,
    vault: str | None,
    resource_arn: str | None,
    targets: BackupTargets,
    now: datetime,
) -> CheckResult:
    name = f"aws-backup-recovery-points[{region}]"
    vaults = _vault_names(backup, vault)
    if not vaults:
        return CheckResult(name, False, f"no AWS Backup vaults in {region}")
    completed = [
        point
        for vault_name in vaults
        for point in _recovery_points(backup, vault_name, resource_arn)
        if point.get("Status") == "COMPLETED" and "CreationDate" in point
    ]
    of = f" of {resource_arn}" if resource_arn else ""
    where = f"vault {', '.join(vaults)} in {region}"
    if not completed:
        return CheckResult(name, False, f"no completed recovery points{of} in {where}")
    newest = max(completed, key=lambda point: point["CreationDate"])
    age = _age(newest["CreationDate"], now)
    limit = timedelta(hours=targets.policy.max_recovery_point_age_hours)
    detail = (
        f"{len(completed)} completed{of} in {where}; newest {_hours(age)} old "
        f"(policy: at most {targets.policy.max_recovery_point_age_hours:g} h)"
    )
    return CheckResult(name, age <= limit, detail)


def check_versioning(s3: Any, bucket: str) -> CheckResult:
    name = "s3-bucket-versioning"
    status = s3.get_bucket_versioning(Bucket=bucket).get("Status", "never enabled")
    return CheckResult(name, status == "Enabled", f"bucket {bucket}: versioning {status}")


def _guarded(name: str, check: Any, *args: Any) -> CheckResult:
    """Run a check; an AWS error becomes a failed check that says what AWS said."""
    try:
        result: CheckResult = check(*args)
    except (ClientError, BotoCoreError) as exc:
        return CheckResult(name, False, describe_aws_error(exc))
    return result


def verify(
    targets: BackupTargets, clients: AwsClients, now: datetime | None = None
) -> list[CheckResult]:
    """Every check that the targets allow; missing names are reported as failed checks."""
    now = now or datetime.now(UTC)
    results: list[CheckResult] = []
    rds = clients.rds(targets.region)
    db_arn: str | None = None

    if targets.db_instance_id is None:
        results.append(CheckResult("rds", False, "no database instance given (--db-instance)"))
    else:
        instance: dict[str, Any] | None = None
        try:
            found = rds.describe_db_instances(DBInstanceIdentifier=targets.db_instance_id)
            instance = found["DBInstances"][0]
            db_arn = instance.get("DBInstanceArn")
        except (ClientError, BotoCoreError) as exc:
            results.append(
                CheckResult(
                    "rds-instance",
                    False,
                    f"{targets.db_instance_id} in {targets.region}: {describe_aws_error(exc)}",
                )
            )
        if instance is not None:
            results.append(_guarded("rds-automated-snapshot", check_snapshot, rds, targets, now))
            results.append(check_point_in_time(instance, targets, now))

    regions = [(targets.region, targets.vault)]
    if targets.copy_region:
        regions.append((targets.copy_region, targets.copy_vault))
    else:
        results.append(
            CheckResult("aws-backup-copy-region", False, "no copy region given (--copy-region)")
        )
    for region, vault in regions:
        results.append(
            _guarded(
                f"aws-backup-recovery-points[{region}]",
                check_recovery_points,
                clients.backup(region),
                region,
                vault,
                db_arn,
                targets,
                now,
            )
        )

    if targets.bucket is None:
        results.append(CheckResult("s3-bucket-versioning", False, "no bucket given (--bucket)"))
    else:
        results.append(
            _guarded(
                "s3-bucket-versioning", check_versioning, clients.s3(targets.region), targets.bucket
            )
        )
    return results
