"""ops.backups on a Google Cloud stack, against a fake Cloud SQL Admin / Cloud Storage API.

The fake (tests/ops/fake_gcp_api.py) listens on loopback; the tool reaches it through
SQLADMIN_ENDPOINT / STORAGE_ENDPOINT, with a real google-auth AuthorizedSession carrying a
bearer token the fake checks.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from ops.backups import Policy, resolve_targets
from ops.backups.__main__ import main
from ops.backups.gcp_api import GcpApi
from ops.backups.gcp_checks import verify_gcp
from ops.backups.gcp_drill import restore_drill_gcp, temp_instance_name
from ops.backups.targets import BackupTargets
from tests.ops.fake_gcp_api import TOKEN, FakeGoogle, serve

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT, REGION, BACKUP_LOCATION = "awaterra-prod", "europe-west1", "europe-west4"
DB, BUCKET = "awaterra-gcp-prod-db", "awaterra-gcp-prod-media"
NOW = datetime.now(UTC)


def _when(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _run(i: int, hours_ago: float, status: str = "SUCCESSFUL", kind: str = "AUTOMATED") -> dict:
    return {
        "kind": "sql#backupRun",
        "id": str(1733100000000 + i),
        "instance": DB,
        "status": status,
        "type": kind,
        "backupKind": "SNAPSHOT",
        "startTime": _when(hours_ago + 0.1),
        "endTime": _when(hours_ago),
        "location": BACKUP_LOCATION,
    }


def _instance(**backup: Any) -> dict[str, Any]:
    configuration = {
        "kind": "sql#backupConfiguration",
        "enabled": True,
        "startTime": "03:00",
        "location": BACKUP_LOCATION,
        "pointInTimeRecoveryEnabled": True,
        "transactionLogRetentionDays": 7,
        "backupRetentionSettings": {"retainedBackups": 14, "retentionUnit": "COUNT"},
    }
    configuration.update(backup)
    return {
        "kind": "sql#instance",
        "name": DB,
        "project": PROJECT,
        "region": REGION,
        "databaseVersion": "POSTGRES_16",
        "state": "RUNNABLE",
        "settings": {
            "tier": "db-custom-2-7680",
            "availabilityType": "REGIONAL",
            "deletionProtectionEnabled": True,
            "ipConfiguration": {"ipv4Enabled": False, "privateNetwork": "projects/p/networks/n"},
            "backupConfiguration": configuration,
        },
    }


def _bucket(**overrides: Any) -> dict[str, Any]:
    bucket = {
        "kind": "storage#bucket",
        "name": BUCKET,
        "location": "EU",
        "locationType": "dual-region",
        "customPlacementConfig": {"dataLocations": ["EUROPE-WEST1", "EUROPE-WEST4"]},
        "rpo": "ASYNC_TURBO",
        "versioning": {"enabled": True},
        "softDeletePolicy": {"retentionDurationSeconds": "604800"},
    }
    bucket.update(overrides)
    return {k: v for k, v in bucket.items() if v is not None}


@pytest.fixture
def google(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogle]:
    fake = FakeGoogle(project=PROJECT)
    fake.instances[DB] = _instance()
    # three runs (two pages): an older success, a failed run and an on-demand one that are newer
    fake.backup_runs[DB] = [
        _run(1, 2.0),
        _run(2, 1.0, status="FAILED"),
        _run(3, 0.5, kind="ON_DEMAND"),
    ]
    fake.databases[DB] = ["awaterra", "postgres"]
    fake.buckets[BUCKET] = _bucket()
    with serve(fake):
        monkeypatch.setenv("SQLADMIN_ENDPOINT", fake.url)
        monkeypatch.setenv("STORAGE_ENDPOINT", fake.url)
        yield fake


def _api() -> GcpApi:
    return GcpApi(Credentials(token=TOKEN))


def _stack_file(root: Path, stack: str, environment: str, retention: int | None = None) -> None:
    lines = [
        "config:",
        f"  gcp:project: {PROJECT}",
        f"  gcp:region: {REGION}",
        "  awaterra:cloud: gcp",
        f"  awaterra:environment: {environment}",
        f"  awaterra:gcpBackupLocation: {BACKUP_LOCATION}",
    ]
    if retention is not None:
        lines.append(f"  awaterra:dbBackupRetentionDays: {retention}")
    (root / f"Pulumi.{stack}.yaml").write_text("\n".join(lines) + "\n")


def _targets(
    tmp_path: Path, environment: str = "prod", retention: int | None = 14
) -> BackupTargets:
    stack = f"gcp-{environment}"
    _stack_file(tmp_path, stack, environment, retention)
    return resolve_targets(
        stack,
        flags={"db_instance_id": DB, "bucket": BUCKET},
        policy=Policy(),
        config_root=tmp_path,
    )


def _by_name(results: list[Any]) -> dict[str, Any]:
    return {result.name: result for result in results}


def test_targets_come_from_the_gcp_stack_file(tmp_path: Path) -> None:
    targets = _targets(tmp_path)
    assert (targets.cloud, targets.project, targets.region) == ("gcp", PROJECT, REGION)
    assert targets.copy_region == BACKUP_LOCATION and targets.is_prod
    assert targets.min_retained_backups == 14
    # prod never goes under 14, whatever the stack file says; dev takes its own value
    assert _targets(tmp_path, retention=3).min_retained_backups == 14
    assert _targets(tmp_path, "dev", retention=3).min_retained_backups == 3


def test_verify_passes_on_a_healthy_stack(google: FakeGoogle, tmp_path: Path) -> None:
    results = verify_gcp(_targets(tmp_path), _api(), now=NOW)
    assert all(r.ok for r in results), results
    assert set(_by_name(results)) == {
        "cloudsql-automated-backups",
        "cloudsql-point-in-time-recovery",
        "cloudsql-newest-backup",
        "cloudsql-backup-location",
        "cloudsql-backup-retention",
        "gcs-bucket-versioning",
        "gcs-bucket-soft-delete",
        "gcs-bucket-location",
    }
    newest = _by_name(results)["cloudsql-newest-backup"]
    # the failed and the on-demand runs are newer, but only a successful automated one counts
    assert "1733100000001" in newest.detail and "2.0 h old" in newest.detail
    runs = f"/v1/projects/{PROJECT}/instances/{DB}/backupRuns"
    assert google.calls("GET").count(("GET", runs)) == 2  # both pages were read
    assert ("GET", f"/storage/v1/b/{BUCKET}") in google.calls()


def test_stale_backup_fails(google: FakeGoogle, tmp_path: Path) -> None:
    google.backup_runs[DB] = [_run(1, 30.0), _run(2, 1.0, status="FAILED")]
    check = _by_name(verify_gcp(_targets(tmp_path), _api(), now=NOW))["cloudsql-newest-backup"]
    assert not check.ok
    assert "30.0 h old" in check.detail and "at most 26 h" in check.detail


def test_no_backups_fails(google: FakeGoogle, tmp_path: Path) -> None:
    google.backup_runs[DB] = [_run(1, 1.0, kind="ON_DEMAND")]
    check = _by_name(verify_gcp(_targets(tmp_path), _api(), now=NOW))["cloudsql-newest-backup"]
    assert not check.ok and "no successful automated backup" in check.detail


def test_backups_and_pitr_off_fail(google: FakeGoogle, tmp_path: Path) -> None:
    google.instances[DB] = _instance(enabled=False, pointInTimeRecoveryEnabled=False)
    results = _by_name(verify_gcp(_targets(tmp_path), _api(), now=NOW))
    assert not results["cloudsql-automated-backups"].ok
    assert not results["cloudsql-point-in-time-recovery"].ok
    assert "point-in-time recovery is off" in results["cloudsql-point-in-time-recovery"].detail


def test_backups_in_the_instance_region_fail(google: FakeGoogle, tmp_path: Path) -> None:
    google.instances[DB] = _instance(location=REGION)
    check = _by_name(verify_gcp(_targets(tmp_path), _api(), now=NOW))["cloudsql-backup-location"]
    assert not check.ok and "same region" in check.detail
    google.instances[DB] = _instance(location=None)
    check = _by_name(verify_gcp(_targets(tmp_path), _api(), now=NOW))["cloudsql-backup-location"]
    assert not check.ok and "no backup location set" in check.detail


def test_retention_under_the_prod_minimum_fails(google: FakeGoogle, tmp_path: Path) -> None:
    google.instances[DB] = _instance(
        backupRetentionSettings={"retainedBackups": 7, "retentionUnit": "COUNT"}
    )
    check = _by_name(verify_gcp(_targets(tmp_path), _api(), now=NOW))["cloudsql-backup-retention"]
    assert not check.ok and "keeps 7 backups" in check.detail and "at least 14" in check.detail
    dev = _by_name(verify_gcp(_targets(tmp_path, "dev", 7), _api(), now=NOW))
    assert dev["cloudsql-backup-retention"].ok


def test_bucket_without_versioning_soft_delete_or_replication_fails(
    google: FakeGoogle, tmp_path: Path
) -> None:
    google.buckets[BUCKET] = _bucket(
        versioning={"enabled": False},
        softDeletePolicy=None,
        location="EUROPE-WEST1",
        locationType="region",
        customPlacementConfig=None,
        rpo=None,
    )
    results = _by_name(verify_gcp(_targets(tmp_path), _api(), now=NOW))
    assert not results["gcs-bucket-versioning"].ok
    assert not results["gcs-bucket-soft-delete"].ok
    location = results["gcs-bucket-location"]
    assert not location.ok and "prod needs multi-region or dual-region" in location.detail
    # a dev bucket may be regional
    assert _by_name(verify_gcp(_targets(tmp_path, "dev"), _api(), now=NOW))[
        "gcs-bucket-location"
    ].ok


def test_missing_instance_and_bucket_are_failed_checks(google: FakeGoogle, tmp_path: Path) -> None:
    google.instances.clear()
    google.buckets.clear()
    results = _by_name(verify_gcp(_targets(tmp_path), _api(), now=NOW))
    assert set(results) == {"cloudsql-instance", "gcs-bucket"}
    assert "HTTP 404" in results["cloudsql-instance"].detail
    assert "bucket does not exist" in results["gcs-bucket"].detail


def _cli(*extra: str) -> list[str]:
    return [
        "--stack",
        "gcp-prod",
        "--cloud",
        "gcp",
        "--project",
        PROJECT,
        "--region",
        REGION,
        *extra,
    ]


def test_cli_verify_exit_codes_and_report(
    google: FakeGoogle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "db_instance_identifier": DB,
                "bucket_name": BUCKET,
                "region": REGION,
                "backup_copy_region": BACKUP_LOCATION,
                "backup_vault_name": None,
            }
        )
    )
    argv = ["verify", *_cli("--outputs-file", str(outputs), "--report-dir", str(tmp_path))]
    assert main(argv, gcp=_api()) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "[PASS] cloudsql-newest-backup" in out
    assert json.loads((tmp_path / "verify-gcp-prod.json").read_text())["ok"] is True

    google.buckets[BUCKET] = _bucket(versioning={"enabled": False})
    assert main(argv, gcp=_api()) == 1
    assert "[FAIL] gcs-bucket-versioning" in capsys.readouterr().out

    # a token Google does not accept is a sentence and exit 2, not a list of failed checks
    assert main(argv, gcp=GcpApi(Credentials(token="expired"))) == 2
    err = capsys.readouterr().err
    assert err.startswith("ops.backups: Google Cloud rejected the credentials")
    assert "Traceback" not in err


def test_missing_credentials_is_exit_2_with_one_sentence(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GOOGLE_", "CLOUDSDK_", "GCE_"))
    }
    env.update(CLOUDSDK_CONFIG=str(tmp_path / "gcloud"), NO_GCE_CHECK="true")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ops.backups",
            "verify",
            *_cli("--db-instance", DB, "--bucket", BUCKET, "--report-dir", str(tmp_path)),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("ops.backups: no Google Cloud credentials found")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_temp_instance_name_is_never_the_source_and_fits() -> None:
    name = temp_instance_name("x" * 120, PROJECT, NOW)
    assert name.endswith(NOW.strftime("-drill-%Y%m%d%H%M"))
    assert len(PROJECT) + 1 + len(name) <= 98


def _drill_calls(google: FakeGoogle, temp: str) -> list[tuple[str, str]]:
    """The request sequence, with repeated operation polls collapsed."""
    base = f"/v1/projects/{PROJECT}"
    names = {f"{base}/instances/{DB}": "source", f"{base}/instances/{temp}": "temp"}
    sequence: list[tuple[str, str]] = []
    for method, path in google.calls():
        label = names.get(path) or path.removeprefix(f"{base}/instances/{temp}/")
        label = "operation" if path.startswith(f"{base}/operations/") else label
        label = "clone" if path == f"{base}/instances/{DB}/clone" else label
        if not sequence or sequence[-1] != (method, label):
            sequence.append((method, label))
    return sequence


def test_drill_clones_checks_and_deletes(google: FakeGoogle, tmp_path: Path) -> None:
    when = NOW - timedelta(minutes=30)
    report = restore_drill_gcp(
        _targets(tmp_path), _api(), timeout_seconds=10, poll_seconds=0, point_in_time=when
    )
    assert report.ok, report.as_text()
    assert report.temp_instance and report.temp_instance.startswith(f"{DB}-drill-")
    assert report.created and report.deleted
    assert set(google.instances) == {DB}  # the clone is gone, the source untouched
    assert google.instances[DB]["settings"]["deletionProtectionEnabled"] is True
    clone_body = next(r.body for r in google.requests if r.method == "POST")
    assert clone_body == {
        "cloneContext": {
            "kind": "sql#cloneContext",
            "destinationInstanceName": report.temp_instance,
            "pointInTime": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
    }
    patch = next(r for r in google.requests if r.method == "PATCH")
    assert patch.path.endswith(f"/instances/{report.temp_instance}")
    assert patch.body == {"settings": {"deletionProtectionEnabled": False}}
    assert _drill_calls(google, report.temp_instance) == [
        ("GET", "source"),
        ("POST", "clone"),
        ("GET", "operation"),  # the clone, polled until DONE
        ("GET", "temp"),  # RUNNABLE
        ("GET", "databases"),
        ("GET", "temp"),  # cleanup: it exists and is deletion-protected
        ("PATCH", "temp"),
        ("GET", "operation"),
        ("DELETE", "temp"),
        ("GET", "operation"),
        ("GET", "temp"),  # 404: gone
    ]
    json_path, text_path = report.write(tmp_path)
    assert json.loads(json_path.read_text())["ok"] is True
    assert "point in time:" in text_path.read_text()


def test_drill_deletes_the_clone_when_a_check_fails(google: FakeGoogle, tmp_path: Path) -> None:
    google.clone_databases = ["postgres"]  # the application database did not come back
    report = restore_drill_gcp(_targets(tmp_path), _api(), timeout_seconds=10, poll_seconds=0)
    assert not report.ok
    assert [c.name for c in report.checks if not c.ok] == ["database"]
    assert report.created and report.deleted
    assert set(google.instances) == {DB}
    assert ("DELETE", f"/v1/projects/{PROJECT}/instances/{report.temp_instance}") in google.calls()


def test_drill_deletes_the_clone_when_the_clone_fails(google: FakeGoogle, tmp_path: Path) -> None:
    google.clone_error = "Point in time is before the earliest restorable time."
    report = restore_drill_gcp(_targets(tmp_path), _api(), timeout_seconds=10, poll_seconds=0)
    assert not report.ok
    assert any("earliest restorable time" in error for error in report.errors)
    assert report.deleted and set(google.instances) == {DB}


def test_drill_deletes_the_clone_when_the_wait_times_out(
    google: FakeGoogle, tmp_path: Path
) -> None:
    google.clone_state = "PENDING_CREATE"  # the operation ends, the instance never comes up
    report = restore_drill_gcp(_targets(tmp_path), _api(), timeout_seconds=0.5, poll_seconds=0.05)
    assert not report.ok
    assert report.errors == [
        f"{report.temp_instance} becoming RUNNABLE did not finish within 0.5 s"
    ]
    assert report.deleted and set(google.instances) == {DB}


def test_drill_retries_the_cleanup_while_cloud_sql_is_busy(
    google: FakeGoogle, tmp_path: Path
) -> None:
    google.busy_answers = 3
    report = restore_drill_gcp(_targets(tmp_path), _api(), timeout_seconds=10, poll_seconds=0)
    assert report.ok, report.as_text()
    assert report.deleted and set(google.instances) == {DB}
    assert google.busy_answers == 0


def test_drill_reports_a_clone_it_could_not_delete(google: FakeGoogle, tmp_path: Path) -> None:
    google.busy_answers = 10**6
    report = restore_drill_gcp(_targets(tmp_path), _api(), timeout_seconds=0.3, poll_seconds=0.05)
    assert not report.ok and not report.deleted
    assert "delete it by hand" in report.errors[-1] and "HTTP 409" in report.errors[-1]
    assert "NOT deleted" in report.as_text()


def test_an_unreachable_api_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as free:  # a port nothing listens on once closed
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setenv("SQLADMIN_ENDPOINT", f"http://127.0.0.1:{port}")
    argv = ["verify", *_cli("--db-instance", DB, "--bucket", BUCKET, "--report-dir", str(tmp_path))]
    assert main(argv, gcp=_api()) == 2
    assert capsys.readouterr().err.startswith(f"ops.backups: cannot reach http://127.0.0.1:{port}")


def test_drill_without_pitr_clones_nothing(google: FakeGoogle, tmp_path: Path) -> None:
    google.instances[DB] = _instance(pointInTimeRecoveryEnabled=False)
    report = restore_drill_gcp(_targets(tmp_path), _api(), timeout_seconds=10, poll_seconds=0)
    assert not report.ok and not report.created
    assert "point-in-time recovery off" in report.errors[0]
    assert google.calls() == [("GET", f"/v1/projects/{PROJECT}/instances/{DB}")]


def test_cli_restore_drill(
    google: FakeGoogle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "restore-drill",
        *_cli("--db-instance", DB, "--report-dir", str(tmp_path), "--poll-seconds", "0"),
        "--point-in-time",
        "2026-12-01T03:30:00Z",
    ]
    assert main(argv, gcp=_api()) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "cleanup: temp instance deleted" in out
    clone_body = next(r.body for r in google.requests if r.method == "POST")
    assert clone_body["cloneContext"]["pointInTime"] == "2026-12-01T03:30:00.000000Z"
    assert len(list(tmp_path.glob("restore-drill-gcp-prod-*.json"))) == 1
    assert set(google.instances) == {DB}
    with pytest.raises(SystemExit) as exited:
        main([*argv[:-1], "yesterday"], gcp=_api())
    assert exited.value.code == 2
    assert "must be an RFC 3339 time" in capsys.readouterr().err
