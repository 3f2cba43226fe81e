"""`verify` for a Google Cloud stack: can the Cloud SQL database and the media bucket be recovered?

From the Cloud SQL Admin API: automated backups on, point-in-time recovery on, the newest
successful automated backup recent, the backups kept outside the instance's region, enough of
them retained. From the Cloud Storage API: the media bucket versioned, with a soft delete
policy, and (in prod) multi-region or dual-region.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ops.backups.checks import CheckResult
from ops.backups.gcp_api import GcpApi, GcpApiError
from ops.backups.targets import BackupTargets

REPLICATED_LOCATION_TYPES = ("multi-region", "dual-region")


def parse_time(value: str) -> datetime:
    """RFC 3339 as the Google APIs write it (`2026-12-01T03:12:45.123Z`)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _backup_configuration(instance: dict[str, Any]) -> dict[str, Any]:
    config = (instance.get("settings") or {}).get("backupConfiguration") or {}
    return config if isinstance(config, dict) else {}


def newest_successful_backup(api: GcpApi, targets: BackupTargets) -> dict[str, Any] | None:
    """The newest SUCCESSFUL automated backup run of the instance, or None."""
    assert targets.project is not None and targets.db_instance_id is not None
    newest: tuple[datetime, dict[str, Any]] | None = None
    for run in api.backup_runs(targets.project, targets.db_instance_id):
        when = run.get("endTime") or run.get("startTime")
        if run.get("status") != "SUCCESSFUL" or run.get("type") != "AUTOMATED" or not when:
            continue
        finished = parse_time(when)
        if newest is None or finished > newest[0]:
            newest = (finished, run)
    return newest[1] if newest else None


def check_backups_enabled(instance: dict[str, Any]) -> CheckResult:
    enabled = bool(_backup_configuration(instance).get("enabled"))
    detail = "automated daily backups on" if enabled else "automated backups are off"
    return CheckResult("cloudsql-automated-backups", enabled, detail)


def check_point_in_time(instance: dict[str, Any]) -> CheckResult:
    config = _backup_configuration(instance)
    enabled = bool(config.get("pointInTimeRecoveryEnabled"))
    if not enabled:
        return CheckResult(
            "cloudsql-point-in-time-recovery", False, "point-in-time recovery is off"
        )
    days = config.get("transactionLogRetentionDays", "?")
    detail = f"point-in-time recovery on, transaction logs kept {days} days"
    return CheckResult("cloudsql-point-in-time-recovery", True, detail)


def check_newest_backup(api: GcpApi, targets: BackupTargets, now: datetime) -> CheckResult:
    name = "cloudsql-newest-backup"
    run = newest_successful_backup(api, targets)
    if run is None:
        return CheckResult(
            name, False, f"no successful automated backup of {targets.db_instance_id}"
        )
    age = now - parse_time(run.get("endTime") or run["startTime"])
    limit = targets.policy.max_snapshot_age_hours
    where = f" in {run['location']}" if run.get("location") else ""
    detail = (
        f"newest backup {run.get('id', '?')}{where} is {age.total_seconds() / 3600:.1f} h old "
        f"(policy: at most {limit:g} h)"
    )
    return CheckResult(name, age <= timedelta(hours=limit), detail)


def check_backup_location(instance: dict[str, Any]) -> CheckResult:
    name = "cloudsql-backup-location"
    location = _backup_configuration(instance).get("location")
    region = instance.get("region", "?")
    if not location:
        return CheckResult(
            name,
            False,
            f"no backup location set: backups follow Cloud SQL's default, not the stack's "
            f"second location (instance in {region})",
        )
    ok = location != region
    relation = "outside" if ok else "in the same region as"
    return CheckResult(
        name, ok, f"backups stored in {location}, {relation} the instance ({region})"
    )


def check_retention(instance: dict[str, Any], targets: BackupTargets) -> CheckResult:
    name = "cloudsql-backup-retention"
    settings = _backup_configuration(instance).get("backupRetentionSettings") or {}
    unit = settings.get("retentionUnit", "COUNT")
    retained = int(settings.get("retainedBackups", 7))  # Cloud SQL's default when unset
    minimum = targets.min_retained_backups
    ok = unit == "COUNT" and retained >= minimum
    detail = f"keeps {retained} backups ({unit}); policy: at least {minimum}"
    return CheckResult(name, ok, detail)


def check_bucket(bucket: dict[str, Any], targets: BackupTargets) -> list[CheckResult]:
    name = bucket.get("name", targets.bucket)
    versioning = bool((bucket.get("versioning") or {}).get("enabled"))
    soft_delete = int((bucket.get("softDeletePolicy") or {}).get("retentionDurationSeconds", 0))
    location = f"{bucket.get('location', '?')} ({bucket.get('locationType', '?')})"
    replicated = bucket.get("locationType") in REPLICATED_LOCATION_TYPES
    rpo = f", replication {bucket['rpo']}" if bucket.get("rpo") else ""
    return [
        CheckResult(
            "gcs-bucket-versioning",
            versioning,
            f"bucket {name}: versioning {'on' if versioning else 'off'}",
        ),
        CheckResult(
            "gcs-bucket-soft-delete",
            soft_delete > 0,
            f"bucket {name}: deleted objects kept {soft_delete / 86400:g} days"
            if soft_delete
            else f"bucket {name}: no soft delete policy",
        ),
        CheckResult(
            "gcs-bucket-location",
            replicated or not targets.is_prod,
            f"bucket {name} in {location}{rpo}"
            + ("" if replicated else "; prod needs multi-region or dual-region"),
        ),
    ]


def _guarded(name: str, check: Callable[..., CheckResult], *args: Any) -> CheckResult:
    try:
        return check(*args)
    except GcpApiError as exc:
        return CheckResult(name, False, str(exc))


def verify_gcp(
    targets: BackupTargets, api: GcpApi, now: datetime | None = None
) -> list[CheckResult]:
    """Every check the targets allow; a missing name or resource is a failed check."""
    now = now or datetime.now(UTC)
    results: list[CheckResult] = []
    assert targets.project is not None
    if targets.db_instance_id is None:
        results.append(CheckResult("cloudsql", False, "no instance given (--db-instance)"))
    else:
        try:
            instance = api.get_instance(targets.project, targets.db_instance_id)
        except GcpApiError as exc:
            results.append(
                CheckResult(
                    "cloudsql-instance",
                    False,
                    f"{targets.db_instance_id} in project {targets.project}: {exc}",
                )
            )
        else:
            results += [check_backups_enabled(instance), check_point_in_time(instance)]
            results.append(
                _guarded("cloudsql-newest-backup", check_newest_backup, api, targets, now)
            )
            results += [check_backup_location(instance), check_retention(instance, targets)]

    if targets.bucket is None:
        results.append(CheckResult("gcs-bucket", False, "no bucket given (--bucket)"))
    else:
        try:
            results += check_bucket(api.get_bucket(targets.bucket), targets)
        except GcpApiError as exc:
            results.append(CheckResult("gcs-bucket", False, f"bucket {targets.bucket}: {exc}"))
    return results
