"""`restore-drill`: prove the newest automated snapshot restores, then throw the copy away.

The temporary instance goes into the source's subnet group and security groups, is never
publicly accessible, has deletion protection off (it must be deletable), and is deleted in a
`finally` with no final snapshot, whatever happened before. Only the instance this drill
created is ever deleted.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from ops.backups.checks import CheckResult, newest_automated_snapshot
from ops.backups.clients import AwsClients, BackupToolError, describe_aws_error, error_code
from ops.backups.targets import BackupTargets

DRILL_TAG = {"Key": "awaterra:purpose", "Value": "restore-drill"}
MAX_IDENTIFIER = 63


@dataclass
class DrillReport:
    stack: str
    region: str
    source_instance: str
    snapshot: str | None = None
    point_in_time: str | None = None  # Google Cloud: the clone's point in time
    temp_instance: str | None = None
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str | None = None
    restore_seconds: float | None = None
    checks: list[CheckResult] = field(default_factory=list)
    created: bool = False
    deleted: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        checks_pass = bool(self.checks) and all(check.ok for check in self.checks)
        cleaned_up = self.deleted or not self.created
        return checks_pass and cleaned_up and not self.errors

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data

    def as_text(self) -> str:
        verdict = "PASS" if self.ok else "FAIL"
        lines = [
            f"restore drill for stack {self.stack} ({self.region}): {verdict}",
            f"  source instance: {self.source_instance}",
            (
                f"  point in time:   {self.point_in_time}"
                if self.point_in_time
                else f"  snapshot:        {self.snapshot or '-'}"
            ),
            f"  temp instance:   {self.temp_instance or '-'}"
            + (f" (available after {self.restore_seconds:.0f} s)" if self.restore_seconds else ""),
        ]
        lines += [f"  [{'PASS' if c.ok else 'FAIL'}] {c.name}: {c.detail}" for c in self.checks]
        lines += [f"  [ERROR] {error}" for error in self.errors]
        if self.created:
            lines.append(f"  cleanup: temp instance {'deleted' if self.deleted else 'NOT deleted'}")
        return "\n".join(lines)

    def write(self, directory: Path) -> tuple[Path, Path]:
        """Write `restore-drill-<stack>-<time>.json` and `.txt`; return both paths."""
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"restore-drill-{self.stack}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
        json_path, text_path = directory / f"{stem}.json", directory / f"{stem}.txt"
        json_path.write_text(json.dumps(self.as_dict(), indent=2, default=str) + "\n")
        text_path.write_text(self.as_text() + "\n")
        return json_path, text_path


def temp_identifier(source: str, now: datetime) -> str:
    """`<source>-drill-<yyyymmddhhmm>`, trimmed to RDS's 63 characters, never the source."""
    suffix = f"-drill-{now:%Y%m%d%H%M}"
    return source[: MAX_IDENTIFIER - len(suffix)].rstrip("-") + suffix


def _waiter_config(timeout_seconds: float, poll_seconds: float) -> dict[str, Any]:
    delay = max(0, int(poll_seconds))
    attempts = max(1, math.ceil(timeout_seconds / max(delay, 1)))
    return {"Delay": delay, "MaxAttempts": attempts}


def _check_restored(restored: dict[str, Any], source: dict[str, Any]) -> list[CheckResult]:
    status = restored.get("DBInstanceStatus")
    engine = f"{restored.get('Engine')} {restored.get('EngineVersion', '')}".strip()
    source_engine = f"{source.get('Engine')} {source.get('EngineVersion', '')}".strip()
    return [
        CheckResult("status", status == "available", f"status {status}"),
        CheckResult(
            "engine",
            restored.get("Engine") == source.get("Engine"),
            f"{engine} (source {source_engine})",
        ),
        CheckResult(
            "encryption",
            bool(restored.get("StorageEncrypted")),
            "storage encrypted" if restored.get("StorageEncrypted") else "storage NOT encrypted",
        ),
        CheckResult(
            "private",
            not restored.get("PubliclyAccessible", False),
            "not publicly accessible"
            if not restored.get("PubliclyAccessible", False)
            else "publicly accessible",
        ),
    ]


def _restore_params(
    source: dict[str, Any], snapshot_id: str, temp_id: str, instance_class: str | None
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "DBInstanceIdentifier": temp_id,
        "DBSnapshotIdentifier": snapshot_id,
        "DBInstanceClass": instance_class or source["DBInstanceClass"],
        "PubliclyAccessible": False,
        "MultiAZ": False,
        "DeletionProtection": False,
        "AutoMinorVersionUpgrade": False,
        "CopyTagsToSnapshot": False,
        "Tags": [DRILL_TAG],
    }
    subnet_group = (source.get("DBSubnetGroup") or {}).get("DBSubnetGroupName")
    if subnet_group:
        params["DBSubnetGroupName"] = subnet_group
    security_groups = [g["VpcSecurityGroupId"] for g in source.get("VpcSecurityGroups", [])]
    if security_groups:
        params["VpcSecurityGroupIds"] = security_groups
    return params


def _delete(
    rds: Any, temp_id: str, report: DrillReport, timeout_seconds: float, poll_seconds: float
) -> None:
    try:
        rds.delete_db_instance(
            DBInstanceIdentifier=temp_id, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
        )
    except ClientError as exc:
        if error_code(exc) == "DBInstanceNotFound":
            report.deleted = True  # never created, or already gone
            return
        report.errors.append(
            f"deleting {temp_id} failed: {describe_aws_error(exc)}; delete it by hand"
        )
        return
    except BotoCoreError as exc:
        report.errors.append(f"deleting {temp_id} failed: {exc}; delete it by hand")
        return
    try:
        rds.get_waiter("db_instance_deleted").wait(
            DBInstanceIdentifier=temp_id, WaiterConfig=_waiter_config(timeout_seconds, poll_seconds)
        )
        report.deleted = True
    except WaiterError as exc:
        report.errors.append(f"{temp_id} is being deleted but was not gone in time: {exc}")


def restore_drill(
    targets: BackupTargets,
    clients: AwsClients,
    *,
    timeout_seconds: float = 3600,
    poll_seconds: float = 30,
    instance_class: str | None = None,
    now: datetime | None = None,
) -> DrillReport:
    """Restore the newest automated snapshot into a temporary instance, check it, delete it."""
    assert targets.db_instance_id is not None
    now = now or datetime.now(UTC)
    rds = clients.rds(targets.region)
    report = DrillReport(
        stack=targets.stack, region=targets.region, source_instance=targets.db_instance_id
    )
    try:
        source = rds.describe_db_instances(DBInstanceIdentifier=targets.db_instance_id)[
            "DBInstances"
        ][0]
        snapshot = newest_automated_snapshot(rds, targets.db_instance_id)
    except (ClientError, BotoCoreError) as exc:
        report.errors.append(
            f"{targets.db_instance_id} in {targets.region}: {describe_aws_error(exc)}"
        )
        report.finished_at = datetime.now(UTC).isoformat()
        return report
    if snapshot is None:
        report.errors.append(
            f"no available automated snapshot of {targets.db_instance_id} to restore"
        )
        report.finished_at = datetime.now(UTC).isoformat()
        return report

    temp_id = temp_identifier(targets.db_instance_id, now)
    if temp_id == targets.db_instance_id:
        raise BackupToolError("refusing to run: the temporary instance name equals the source")
    report.snapshot = snapshot["DBSnapshotIdentifier"]
    report.temp_instance = temp_id
    started = datetime.now(UTC)
    try:
        report.created = True  # from here on, the finally must clean up whatever exists
        rds.restore_db_instance_from_db_snapshot(
            **_restore_params(source, report.snapshot, temp_id, instance_class)
        )
        rds.get_waiter("db_instance_available").wait(
            DBInstanceIdentifier=temp_id, WaiterConfig=_waiter_config(timeout_seconds, poll_seconds)
        )
        report.restore_seconds = (datetime.now(UTC) - started).total_seconds()
        restored = rds.describe_db_instances(DBInstanceIdentifier=temp_id)["DBInstances"][0]
        report.checks = _check_restored(restored, source)
    except WaiterError as exc:
        report.errors.append(
            f"{temp_id} did not become available within {timeout_seconds:g} s: {exc}"
        )
    except (ClientError, BotoCoreError) as exc:
        report.errors.append(f"restoring {report.snapshot} failed: {describe_aws_error(exc)}")
    finally:
        _delete(rds, temp_id, report, timeout_seconds, poll_seconds)
        report.finished_at = datetime.now(UTC).isoformat()
    return report
