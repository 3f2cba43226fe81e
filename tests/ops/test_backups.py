"""ops.backups against moto (RDS, S3, EC2) and botocore's Stubber for AWS Backup.

moto implements AWS Backup vaults but not recovery points, so the backup client is a real
botocore client with a Stubber: requests and responses are still validated against the AWS
API model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.rds.models import RDSBackend, rds_backends

from ops.backups import AwsClients, Policy, resolve_targets, restore_drill, verify
from ops.backups.__main__ import main

HOME, COPY = "us-east-1", "us-west-2"
DB, BUCKET = "awaterra-prod-db", "awaterra-prod-media"
VAULT, COPY_VAULT = "awaterra-prod-vault", "awaterra-prod-vault-copy"


class StubbedBackupClients(AwsClients):
    """moto for everything, except AWS Backup recovery points (Stubber, per region)."""

    def __init__(self) -> None:
        super().__init__(boto3.Session())
        self.stubbers: dict[str, Stubber] = {}

    def backup(self, region: str) -> Any:
        key = ("backup", region)
        if key not in self._cache:
            client = self.session.client("backup", region_name=region)
            self.stubbers[region] = Stubber(client)
            self.stubbers[region].activate()
            self._cache[key] = client
        return self._cache[key]

    def recovery_points(
        self, region: str, vault: str, ages_hours: list[float], by_db_arn: bool = True
    ) -> None:
        self.backup(region)
        now = datetime.now(UTC)
        db_arn = f"arn:aws:rds:{HOME}:{DEFAULT_ACCOUNT_ID}:db:{DB}"
        vault_arn = f"arn:aws:backup:{region}:{DEFAULT_ACCOUNT_ID}"
        points = [
            {
                "RecoveryPointArn": f"{vault_arn}:recovery-point:rp-{i}",
                "BackupVaultName": vault,
                "ResourceArn": db_arn,
                "ResourceType": "RDS",
                "Status": "COMPLETED",
                "CreationDate": now - timedelta(hours=age),
            }
            for i, age in enumerate(ages_hours)
        ]
        expected: dict[str, str] = {"BackupVaultName": vault}
        if by_db_arn:
            expected["ByResourceArn"] = db_arn
        self.stubbers[region].add_response(
            "list_recovery_points_by_backup_vault", {"RecoveryPoints": points}, expected
        )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": HOME,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def _stack(encrypted: bool = True, retention: int = 7, versioning: bool = True) -> dict[str, Any]:
    ec2 = boto3.client("ec2", region_name=HOME)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{HOME}{az}")[
            "Subnet"
        ]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    sg = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    rds = boto3.client("rds", region_name=HOME)
    rds.create_db_subnet_group(
        DBSubnetGroupName="awaterra-db", DBSubnetGroupDescription="db", SubnetIds=subnets
    )
    rds.create_db_instance(
        DBInstanceIdentifier=DB,
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        EngineVersion="16.4",
        AllocatedStorage=20,
        MasterUsername="app",
        MasterUserPassword="not-a-real-password",
        DBSubnetGroupName="awaterra-db",
        VpcSecurityGroupIds=[sg],
        StorageEncrypted=encrypted,
        BackupRetentionPeriod=retention,
        PubliclyAccessible=False,
    )
    s3 = boto3.client("s3", region_name=HOME)
    s3.create_bucket(Bucket=BUCKET)
    if versioning:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return {"subnet_group": "awaterra-db", "security_group": sg}


def _targets(**flags: str | None) -> Any:
    merged: dict[str, str | None] = {
        "region": HOME,
        "copy_region": COPY,
        "db_instance_id": DB,
        "bucket": BUCKET,
        "vault": VAULT,
        "copy_vault": COPY_VAULT,
    }
    merged.update(flags)
    return resolve_targets("prod", flags=merged, policy=Policy())


def _age_snapshots(hours: float) -> None:
    backend = rds_backends[DEFAULT_ACCOUNT_ID][HOME]
    for snapshot in backend.database_snapshots.values():
        snapshot.created = datetime.now(UTC) - timedelta(hours=hours)


def _by_name(results: list[Any]) -> dict[str, Any]:
    return {result.name: result for result in results}


def test_verify_passes_on_a_healthy_stack(aws: None) -> None:
    _stack()
    clients = StubbedBackupClients()
    clients.recovery_points(HOME, VAULT, [3, 27])
    clients.recovery_points(COPY, COPY_VAULT, [2])
    results = verify(_targets(), clients)
    assert all(r.ok for r in results), results
    names = {r.name for r in results}
    assert names == {
        "rds-automated-snapshot",
        "rds-point-in-time-restore",
        f"aws-backup-recovery-points[{HOME}]",
        f"aws-backup-recovery-points[{COPY}]",
        "s3-bucket-versioning",
    }
    for stubber in clients.stubbers.values():
        stubber.assert_no_pending_responses()


def test_stale_snapshot_fails(aws: None) -> None:
    _stack()
    _age_snapshots(30)
    clients = StubbedBackupClients()
    clients.recovery_points(HOME, VAULT, [3])
    clients.recovery_points(COPY, COPY_VAULT, [3])
    check = _by_name(verify(_targets(), clients))["rds-automated-snapshot"]
    assert not check.ok
    assert "30.0 h old" in check.detail and "at most 26 h" in check.detail


def test_no_recovery_points_in_the_copy_region_fails(aws: None) -> None:
    _stack()
    clients = StubbedBackupClients()
    clients.recovery_points(HOME, VAULT, [3])
    clients.recovery_points(COPY, COPY_VAULT, [])
    results = _by_name(verify(_targets(), clients))
    assert results[f"aws-backup-recovery-points[{HOME}]"].ok
    copy = results[f"aws-backup-recovery-points[{COPY}]"]
    assert not copy.ok
    assert "no completed recovery points" in copy.detail and COPY in copy.detail


def test_versioning_off_and_pitr_off_fail(aws: None) -> None:
    _stack(versioning=False, retention=0)
    clients = StubbedBackupClients()
    clients.recovery_points(HOME, VAULT, [3])
    clients.recovery_points(COPY, COPY_VAULT, [3])
    results = _by_name(verify(_targets(), clients))
    assert not results["s3-bucket-versioning"].ok
    assert "never enabled" in results["s3-bucket-versioning"].detail
    assert not results["rds-point-in-time-restore"].ok


def test_missing_resources_are_failed_checks_with_aws_reasons(aws: None) -> None:
    clients = StubbedBackupClients()
    # no DB ARN is known when the instance is missing, so the vaults are listed unfiltered
    clients.recovery_points(HOME, VAULT, [], by_db_arn=False)
    clients.recovery_points(COPY, COPY_VAULT, [], by_db_arn=False)
    results = _by_name(verify(_targets(), clients))
    assert not results["rds-instance"].ok
    assert "DBInstanceNotFound" in results["rds-instance"].detail
    assert "NoSuchBucket" in results["s3-bucket-versioning"].detail


def test_cli_exit_codes_and_messages(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _stack(versioning=False)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "db_instance_identifier": DB,
                "bucket_name": BUCKET,
                "backup_vault_name": VAULT,
                # the copy vault's name and region are read from its ARN
                "backup_copy_vault_arn": (
                    f"arn:aws:backup:{COPY}:{DEFAULT_ACCOUNT_ID}:backup-vault:{COPY_VAULT}"
                ),
            }
        )
    )
    clients = StubbedBackupClients()
    clients.recovery_points(HOME, VAULT, [1])
    clients.recovery_points(COPY, COPY_VAULT, [1])
    argv = [
        "verify",
        "--stack",
        "prod",
        "--outputs-file",
        str(outputs),
        "--report-dir",
        str(tmp_path),
    ]
    assert main(argv, clients=clients) == 1  # versioning off
    out = capsys.readouterr().out
    assert (
        "FAIL" in out
        and "[FAIL] s3-bucket-versioning" in out
        and "[PASS] rds-automated-snapshot" in out
    )
    report = json.loads((tmp_path / "verify-prod.json").read_text())
    assert report["ok"] is False and len(report["checks"]) == 5

    # regions came from Pulumi.prod.yaml; no names at all is a usage error, not a traceback
    assert (
        main(
            [
                "verify",
                "--stack",
                "prod",
                "--region",
                HOME,
                "--outputs-file",
                str(tmp_path / "nope.json"),
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    assert main(["verify", "--stack", "prod", "--region", HOME, "--outputs-file", str(empty)]) == 2
    assert "pass --db-instance, --bucket" in capsys.readouterr().err


def test_missing_credentials_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code = main(["verify", "--stack", "prod", "--db-instance", DB, "--bucket", BUCKET])
    assert code == 2
    err = capsys.readouterr().err
    assert "no AWS credentials found" in err and "Traceback" not in err


def _instances() -> list[str]:
    rds = boto3.client("rds", region_name=HOME)
    return [db["DBInstanceIdentifier"] for db in rds.describe_db_instances()["DBInstances"]]


def test_restore_drill_restores_checks_and_deletes(aws: None, tmp_path: Path) -> None:
    placement = _stack()
    created: list[dict[str, Any]] = []
    clients = AwsClients(boto3.Session())
    rds = clients.rds(HOME)
    rds.meta.events.register(
        "provide-client-params.rds.RestoreDBInstanceFromDBSnapshot",
        lambda params, **_: created.append(dict(params)),
    )
    report = restore_drill(_targets(), clients, timeout_seconds=5, poll_seconds=0)
    assert report.ok, report.as_text()
    assert report.snapshot and report.snapshot.startswith(f"rds:{DB}-")
    assert report.temp_instance and report.temp_instance.startswith(f"{DB}-drill-")
    assert report.created and report.deleted
    assert _instances() == [DB]  # the temporary instance is gone, the source untouched
    (params,) = created
    assert params["PubliclyAccessible"] is False
    assert params["DBSubnetGroupName"] == placement["subnet_group"]
    assert params["VpcSecurityGroupIds"] == [placement["security_group"]]
    json_path, text_path = report.write(tmp_path)
    assert json.loads(json_path.read_text())["ok"] is True
    assert "PASS" in text_path.read_text()


def test_restore_drill_deletes_the_instance_even_when_a_check_fails(aws: None) -> None:
    _stack(encrypted=False)
    report = restore_drill(
        _targets(), AwsClients(boto3.Session()), timeout_seconds=5, poll_seconds=0
    )
    assert not report.ok
    assert [c.name for c in report.checks if not c.ok] == ["encryption"]
    assert report.created and report.deleted
    assert _instances() == [DB]


def test_restore_drill_deletes_the_instance_when_the_wait_times_out(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stack()
    original = RDSBackend.restore_db_instance_from_db_snapshot

    def restore_stuck_in_creating(self: RDSBackend, *args: Any, **kwargs: Any) -> Any:
        instance = original(self, *args, **kwargs)
        instance.status = "creating"
        return instance

    monkeypatch.setattr(
        RDSBackend, "restore_db_instance_from_db_snapshot", restore_stuck_in_creating
    )
    report = restore_drill(
        _targets(), AwsClients(boto3.Session()), timeout_seconds=2, poll_seconds=1
    )
    assert not report.ok
    assert any("did not become available" in error for error in report.errors)
    assert report.deleted
    assert _instances() == [DB]


def test_restore_drill_cli_without_snapshots_reports_and_creates_nothing(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _stack(retention=0)
    rds_backends[DEFAULT_ACCOUNT_ID][HOME].database_snapshots.clear()
    argv = ["restore-drill", "--stack", "prod", "--db-instance", DB, "--report-dir", str(tmp_path)]
    assert main(argv, clients=AwsClients(boto3.Session())) == 1
    out = capsys.readouterr().out
    assert "no available automated snapshot" in out
    assert _instances() == [DB]
    assert len(list(tmp_path.glob("restore-drill-prod-*.json"))) == 1
