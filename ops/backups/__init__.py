"""Backup verification and restore drills for a deployed AWS or Google Cloud stack.

`python -m ops.backups verify|restore-drill --stack <stack>`.
"""

from ops.backups.checks import CheckResult, verify
from ops.backups.clients import AwsClients, BackupToolError
from ops.backups.drill import DrillReport, restore_drill
from ops.backups.gcp_api import GcpApi, GcpApiError
from ops.backups.gcp_checks import verify_gcp
from ops.backups.gcp_drill import restore_drill_gcp
from ops.backups.targets import BackupTargets, Policy, resolve_targets

__all__ = [
    "AwsClients",
    "BackupTargets",
    "BackupToolError",
    "CheckResult",
    "DrillReport",
    "GcpApi",
    "GcpApiError",
    "Policy",
    "resolve_targets",
    "restore_drill",
    "restore_drill_gcp",
    "verify",
    "verify_gcp",
]
