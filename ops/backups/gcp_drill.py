"""`restore-drill` for a Google Cloud stack: clone the Cloud SQL instance to a point in time.

The clone (`instances.clone` with `pointInTime`) replays the backups and transaction logs into
a new instance `<instance>-drill-<yyyymmddhhmm>` in the source's project, network and region,
which is exactly what a point-in-time recovery does. The drill waits for it to be RUNNABLE,
checks it, and deletes it in a `finally` whatever happened before (turning off the deletion
protection the clone inherits first). Only the instance this drill created is ever deleted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ops.backups.checks import CheckResult
from ops.backups.clients import BackupToolError
from ops.backups.drill import DrillReport
from ops.backups.gcp_api import GcpApi, GcpApiError
from ops.backups.targets import BackupTargets

# Cloud SQL: project id + ":" + instance name at most 98 characters.
MAX_QUALIFIED_NAME = 98
DEFAULT_LAG = timedelta(minutes=10)


class DrillTimeout(Exception):
    pass


def temp_instance_name(source: str, project: str, now: datetime) -> str:
    """`<source>-drill-<yyyymmddhhmm>`: new each minute (Cloud SQL reserves deleted names)."""
    suffix = f"-drill-{now:%Y%m%d%H%M}"
    room = MAX_QUALIFIED_NAME - len(project) - 1 - len(suffix)
    return source[:room].rstrip("-") + suffix


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _wait(what: str, poll: Callable[[], bool], timeout_seconds: float, poll_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not poll():
        if time.monotonic() >= deadline:
            raise DrillTimeout(f"{what} did not finish within {timeout_seconds:g} s")
        time.sleep(poll_seconds)


def _wait_operation(
    api: GcpApi, project: str, operation: dict[str, Any], timeout_seconds: float, poll: float
) -> None:
    """Wait for a Cloud SQL operation to be DONE; GcpApiError if it finished with an error."""
    name = operation.get("name")
    if not name:
        raise GcpApiError(0, f"Cloud SQL answered without an operation name: {operation}")
    latest = operation

    def done() -> bool:
        nonlocal latest
        if latest.get("status") != "DONE":
            latest = api.get_operation(project, str(name))
        return latest.get("status") == "DONE"

    _wait(f"operation {name} ({operation.get('operationType', '?')})", done, timeout_seconds, poll)
    errors = (latest.get("error") or {}).get("errors") or []
    if errors:
        messages = "; ".join(f"{e.get('code', '?')}: {e.get('message', '')}" for e in errors)
        raise GcpApiError(0, f"operation {name} failed: {messages}")


def _check_clone(
    clone: dict[str, Any], source: dict[str, Any], databases: list[dict[str, Any]], database: str
) -> list[CheckResult]:
    state = clone.get("state")
    ip = (clone.get("settings") or {}).get("ipConfiguration") or {}
    names = sorted(str(d.get("name")) for d in databases)
    return [
        CheckResult("state", state == "RUNNABLE", f"state {state}"),
        CheckResult(
            "engine",
            clone.get("databaseVersion") == source.get("databaseVersion"),
            f"{clone.get('databaseVersion')} (source {source.get('databaseVersion')})",
        ),
        CheckResult(
            "private",
            ip.get("ipv4Enabled") is False,
            "private IP only" if ip.get("ipv4Enabled") is False else "has a public IP",
        ),
        CheckResult(
            "database",
            database in names,
            f"databases {', '.join(names) or 'none'} (expected {database})",
        ),
    ]


def _gone(api: GcpApi, project: str, instance: str) -> bool:
    try:
        api.get_instance(project, instance)
    except GcpApiError as exc:
        if exc.status == 404:
            return True
        raise
    return False


def _when_idle(
    start: Callable[[], dict[str, Any]], timeout_seconds: float, poll_seconds: float
) -> dict[str, Any]:
    """Start an operation, retrying while Cloud SQL answers 409 (another one is in progress)."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            return start()
        except GcpApiError as exc:
            if exc.status != 409 or time.monotonic() >= deadline:
                raise
        time.sleep(poll_seconds)


def _delete(
    api: GcpApi, project: str, temp: str, report: DrillReport, timeout: float, poll: float
) -> None:
    try:
        try:
            clone = api.get_instance(project, temp)
        except GcpApiError as exc:
            if exc.status == 404:
                report.deleted = True  # never created, or already gone
                return
            raise
        if (clone.get("settings") or {}).get("deletionProtectionEnabled"):
            patch = {"settings": {"deletionProtectionEnabled": False}}
            started = _when_idle(lambda: api.patch_instance(project, temp, patch), timeout, poll)
            _wait_operation(api, project, started, timeout, poll)
        started = _when_idle(lambda: api.delete_instance(project, temp), timeout, poll)
        _wait_operation(api, project, started, timeout, poll)
        _wait(f"deleting {temp}", lambda: _gone(api, project, temp), timeout, poll)
        report.deleted = True
    except (GcpApiError, DrillTimeout, BackupToolError) as exc:
        report.errors.append(f"deleting {temp} failed: {exc}; delete it by hand")


def restore_drill_gcp(
    targets: BackupTargets,
    api: GcpApi,
    *,
    timeout_seconds: float = 3600,
    poll_seconds: float = 30,
    point_in_time: datetime | None = None,
    database: str = "awaterra",
    now: datetime | None = None,
) -> DrillReport:
    """Clone the instance to `point_in_time` (default ten minutes ago), check it, delete it."""
    assert targets.db_instance_id is not None and targets.project is not None
    project, source_name = targets.project, targets.db_instance_id
    now = now or datetime.now(UTC)
    when = point_in_time or now - DEFAULT_LAG
    report = DrillReport(
        stack=targets.stack,
        region=targets.region,
        source_instance=source_name,
        point_in_time=rfc3339(when),
    )
    try:
        source = api.get_instance(project, source_name)
    except GcpApiError as exc:
        report.errors.append(f"{source_name} in project {project}: {exc}")
        report.finished_at = datetime.now(UTC).isoformat()
        return report
    if (
        not (source.get("settings") or {})
        .get("backupConfiguration", {})
        .get("pointInTimeRecoveryEnabled")
    ):
        report.errors.append(f"{source_name} has point-in-time recovery off: nothing to clone")
        report.finished_at = datetime.now(UTC).isoformat()
        return report

    temp = temp_instance_name(source_name, project, now)
    if temp == source_name:
        raise BackupToolError("refusing to run: the temporary instance name equals the source")
    report.temp_instance = temp
    started = datetime.now(UTC)
    try:
        report.created = True  # from here on, the finally must clean up whatever exists
        operation = api.clone(
            project,
            source_name,
            {
                "kind": "sql#cloneContext",
                "destinationInstanceName": temp,
                "pointInTime": rfc3339(when),
            },
        )
        _wait_operation(api, project, operation, timeout_seconds, poll_seconds)
        clone: dict[str, Any] = {}

        def runnable() -> bool:
            nonlocal clone
            clone = api.get_instance(project, temp)
            return clone.get("state") == "RUNNABLE"

        _wait(f"{temp} becoming RUNNABLE", runnable, timeout_seconds, poll_seconds)
        report.restore_seconds = (datetime.now(UTC) - started).total_seconds()
        report.checks = _check_clone(clone, source, api.list_databases(project, temp), database)
    except DrillTimeout as exc:
        report.errors.append(str(exc))
    except GcpApiError as exc:
        report.errors.append(f"cloning {source_name} to {report.point_in_time} failed: {exc}")
    finally:
        _delete(api, project, temp, report, timeout_seconds, poll_seconds)
        report.finished_at = datetime.now(UTC).isoformat()
    return report
