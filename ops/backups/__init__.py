"""Backup verification and restore drills for a deployed stack (`python -m ops.backups`)."""

from ops.backups.checks import CheckResult, verify
from ops.backups.clients import AwsClients, BackupToolError
from ops.backups.drill import DrillReport, restore_drill
from ops.backups.targets import BackupTargets, Policy, resolve_targets

__all__ = [
    "AwsClients",
    "BackupTargets",
    "BackupToolError",
    "CheckResult",
    "DrillReport",
    "Policy",
    "resolve_targets",
    "restore_drill",
    "verify",
]
