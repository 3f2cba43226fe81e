"""`python -m ops.backups verify|restore-drill --stack prod [...]`.

The stack's `awaterra:cloud` (or `--cloud`) picks AWS (RDS, AWS Backup, S3) or Google Cloud
(Cloud SQL, Cloud Storage). Exit status: 0 every check passed, 1 a check failed, 2 the tool
could not run (credentials, names, regions): always with a sentence, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from ops.backups.checks import CheckResult, verify
from ops.backups.clients import AwsClients, BackupToolError
from ops.backups.drill import DrillReport, restore_drill
from ops.backups.gcp_api import GcpApi
from ops.backups.gcp_checks import parse_time, verify_gcp
from ops.backups.gcp_drill import restore_drill_gcp
from ops.backups.targets import CLOUDS, BackupTargets, Policy, resolve_targets

DEFAULT_REPORT_DIR = Path(".data/backup-reports")


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return number


def _point_in_time(value: str) -> datetime:
    try:
        when = parse_time(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be an RFC 3339 time like 2026-12-01T03:00:00Z, got {value}"
        ) from None
    return when


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops.backups", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    common.add_argument(
        "--cloud", choices=CLOUDS, help="aws or gcp (default: awaterra:cloud of the stack, aws)"
    )
    common.add_argument(
        "--region", help="home region (default: aws:region or gcp:region of the stack)"
    )
    common.add_argument(
        "--db-instance",
        dest="db_instance_id",
        help="RDS instance identifier or Cloud SQL instance name",
    )
    common.add_argument("--project", help="Google Cloud project (default: gcp:project)")
    common.add_argument(
        "--outputs-file", type=Path, help="JSON from `pulumi stack output --json` (names)"
    )
    common.add_argument(
        "--max-snapshot-age-hours", type=_positive, default=Policy.max_snapshot_age_hours
    )
    common.add_argument(
        "--report-dir", type=Path, default=DEFAULT_REPORT_DIR, help="where reports go"
    )

    check = commands.add_parser("verify", parents=[common], help="check backups against the policy")
    check.add_argument("--copy-region", help="AWS Backup copy region (default: backupCopyRegion)")
    check.add_argument("--bucket", help="S3 or Cloud Storage media bucket")
    check.add_argument(
        "--min-retained-backups",
        type=int,
        help="Google Cloud: backups Cloud SQL must keep (default: dbBackupRetentionDays; "
        "prod at least 14)",
    )
    check.add_argument("--vault", help="AWS Backup vault in the home region (default: all)")
    check.add_argument("--copy-vault", help="AWS Backup vault in the copy region (default: all)")
    check.add_argument(
        "--max-pitr-lag-minutes", type=_positive, default=Policy.max_pitr_lag_minutes
    )
    check.add_argument(
        "--max-recovery-point-age-hours",
        type=_positive,
        default=Policy.max_recovery_point_age_hours,
    )

    drill = commands.add_parser(
        "restore-drill", parents=[common], help="restore the newest snapshot, check it, delete it"
    )
    drill.add_argument(
        "--timeout-minutes", type=_positive, default=60.0, help="per wait (default 60)"
    )
    drill.add_argument("--poll-seconds", type=float, default=30.0, help="status poll interval")
    drill.add_argument(
        "--instance-class", help="AWS: class for the temporary instance (default: source's)"
    )
    drill.add_argument(
        "--point-in-time",
        type=_point_in_time,
        help="Google Cloud: RFC 3339 time to clone to (default: ten minutes ago)",
    )
    drill.add_argument(
        "--database",
        default="awaterra",
        help="Google Cloud: database the clone must hold (default awaterra)",
    )
    return parser


def _policy(args: argparse.Namespace) -> Policy:
    defaults = Policy()
    return Policy(
        max_snapshot_age_hours=args.max_snapshot_age_hours,
        max_pitr_lag_minutes=getattr(args, "max_pitr_lag_minutes", defaults.max_pitr_lag_minutes),
        max_recovery_point_age_hours=getattr(
            args, "max_recovery_point_age_hours", defaults.max_recovery_point_age_hours
        ),
    )


def _flags(args: argparse.Namespace) -> dict[str, str | None]:
    names = (
        "cloud",
        "region",
        "copy_region",
        "db_instance_id",
        "bucket",
        "vault",
        "copy_vault",
        "project",
    )
    flags = {name: getattr(args, name, None) for name in names}
    minimum = getattr(args, "min_retained_backups", None)
    flags["min_retained_backups"] = str(minimum) if minimum is not None else None
    return flags


def _verify(
    targets: BackupTargets, clients: AwsClients | None, gcp: GcpApi | None
) -> list[CheckResult]:
    if targets.cloud == "gcp":
        api = gcp or GcpApi()
        api.require_credentials()
        return verify_gcp(targets, api)
    aws = clients or AwsClients()
    aws.require_credentials()
    return verify(targets, aws)


def _drill(
    args: argparse.Namespace,
    targets: BackupTargets,
    clients: AwsClients | None,
    gcp: GcpApi | None,
) -> DrillReport:
    if targets.cloud == "gcp":
        api = gcp or GcpApi()
        api.require_credentials()
        return restore_drill_gcp(
            targets,
            api,
            timeout_seconds=args.timeout_minutes * 60,
            poll_seconds=args.poll_seconds,
            point_in_time=args.point_in_time,
            database=args.database,
        )
    aws = clients or AwsClients()
    aws.require_credentials()
    return restore_drill(
        targets,
        aws,
        timeout_seconds=args.timeout_minutes * 60,
        poll_seconds=args.poll_seconds,
        instance_class=args.instance_class,
    )


def run(args: argparse.Namespace, clients: AwsClients | None, gcp: GcpApi | None = None) -> int:
    required = ("db_instance_id", "bucket") if args.command == "verify" else ("db_instance_id",)
    targets = resolve_targets(
        args.stack,
        flags=_flags(args),
        policy=_policy(args),
        outputs_file=args.outputs_file,
        required=required,
    )
    if args.command == "verify":
        results = _verify(targets, clients, gcp)
        ok = all(result.ok for result in results)
        print(
            f"backup verification for stack {targets.stack} ({targets.region}): "
            f"{'PASS' if ok else 'FAIL'}"
        )
        for result in results:
            print(f"  [{'PASS' if result.ok else 'FAIL'}] {result.name}: {result.detail}")
        args.report_dir.mkdir(parents=True, exist_ok=True)
        report = args.report_dir / f"verify-{targets.stack}.json"
        report.write_text(
            json.dumps(
                {"stack": targets.stack, "ok": ok, "checks": [r.as_dict() for r in results]},
                indent=2,
            )
            + "\n"
        )
        print(f"report: {report}")
        return 0 if ok else 1
    drill = _drill(args, targets, clients, gcp)
    print(drill.as_text())
    json_path, text_path = drill.write(args.report_dir)
    print(f"report: {json_path} {text_path}")
    return 0 if drill.ok else 1


def main(
    argv: list[str] | None = None,
    clients: AwsClients | None = None,
    gcp: GcpApi | None = None,
) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args, clients, gcp)
    except BackupToolError as exc:
        print(f"ops.backups: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ops.backups: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
