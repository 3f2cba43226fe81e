"""`python -m ops.backups verify|restore-drill --stack prod [...]`.

Exit status: 0 every check passed, 1 a check failed, 2 the tool could not run (credentials,
names, regions): always with a sentence, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ops.backups.checks import verify
from ops.backups.clients import AwsClients, BackupToolError
from ops.backups.drill import restore_drill
from ops.backups.targets import Policy, resolve_targets

DEFAULT_REPORT_DIR = Path(".data/backup-reports")


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops.backups", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", required=True, help="stack name (reads Pulumi.<stack>.yaml)")
    common.add_argument("--region", help="home region (default: aws:region of the stack)")
    common.add_argument("--db-instance", dest="db_instance_id", help="RDS instance identifier")
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
    check.add_argument("--bucket", help="S3 bucket that must be versioned")
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
        "--instance-class", help="class for the temporary instance (default: source's)"
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
    names = ("region", "copy_region", "db_instance_id", "bucket", "vault", "copy_vault")
    return {name: getattr(args, name, None) for name in names}


def run(args: argparse.Namespace, clients: AwsClients) -> int:
    required = ("db_instance_id", "bucket") if args.command == "verify" else ("db_instance_id",)
    targets = resolve_targets(
        args.stack,
        flags=_flags(args),
        policy=_policy(args),
        outputs_file=args.outputs_file,
        required=required,
    )
    clients.require_credentials()
    if args.command == "verify":
        results = verify(targets, clients)
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
    drill = restore_drill(
        targets,
        clients,
        timeout_seconds=args.timeout_minutes * 60,
        poll_seconds=args.poll_seconds,
        instance_class=args.instance_class,
    )
    print(drill.as_text())
    json_path, text_path = drill.write(args.report_dir)
    print(f"report: {json_path} {text_path}")
    return 0 if drill.ok else 1


def main(argv: list[str] | None = None, clients: AwsClients | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args, clients or AwsClients())
    except BackupToolError as exc:
        print(f"ops.backups: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ops.backups: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
