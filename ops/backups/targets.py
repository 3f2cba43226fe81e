"""What to check, and against which policy: from flags, a stack-outputs JSON and the stack file.

Names come from, in order: command-line flags, `--outputs-file` (the JSON that
`pulumi stack output --json` prints), or `pulumi stack output --json --stack S` when the Pulumi
CLI is installed. Regions default to `aws:region` and `awaterra:backupCopyRegion` in
`Pulumi.<stack>.yaml`.

A stack with `awaterra:cloud: gcp` is a Google Cloud stack: the same output names
(`db_instance_identifier` is the Cloud SQL instance name, `bucket_name` the media bucket,
`backup_copy_region` the backup location), the region from `gcp:region`, the backup location
from `awaterra:gcpBackupLocation` and the project from `gcp:project` (or `--project`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ops.backups.clients import BackupToolError

REPO_ROOT = Path(__file__).resolve().parents[2]

# Stack output keys that carry each name (the program's camelCase first).
OUTPUT_KEYS: dict[str, tuple[str, ...]] = {
    "db_instance_id": (
        "db_instance_identifier",
        "database_instance_identifier",
        "db_instance_id",
        "dbInstanceIdentifier",
        "dbInstanceId",
    ),
    "bucket": ("bucket_name", "media_bucket_name", "bucketName"),
    "vault": ("backup_vault_name", "backupVaultName"),
    "copy_vault": ("backup_copy_vault_name", "backupCopyVaultName"),
    "region": ("region", "aws_region", "awsRegion"),
    "copy_region": ("backup_copy_region", "backupCopyRegion"),
}
# A vault ARN names both the vault and its region: arn:aws:backup:REGION:ACCOUNT:backup-vault:NAME
VAULT_ARN_KEYS = {"vault": ("backup_vault_arn",), "copy_vault": ("backup_copy_vault_arn",)}
VAULT_ARN = re.compile(
    r"^arn:aws[a-z-]*:backup:(?P<region>[a-z0-9-]+):\d{12}:backup-vault:(?P<name>.+)$"
)
FLAG_NAMES = {
    "db_instance_id": "--db-instance",
    "bucket": "--bucket",
    "vault": "--vault",
    "copy_vault": "--copy-vault",
    "region": "--region",
    "copy_region": "--copy-region",
    "project": "--project",
}
CLOUDS = ("aws", "gcp")
# Region and backup-location config keys per cloud.
REGION_KEYS = {"aws": "aws:region", "gcp": "gcp:region"}
COPY_REGION_KEYS = {"aws": "awaterra:backupCopyRegion", "gcp": "awaterra:gcpBackupLocation"}
PROD_MIN_RETAINED_BACKUPS = 14  # the settings' prod minimum for dbBackupRetentionDays
DEFAULT_RETAINED_BACKUPS = 7  # dbBackupRetentionDays when a stack does not set it
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


@dataclass(frozen=True)
class Policy:
    """The recovery objectives the checks hold the stack to."""

    max_snapshot_age_hours: float = 26.0  # daily automated snapshots, plus the backup window
    max_pitr_lag_minutes: float = 15.0  # RDS ships transaction logs every 5 minutes
    max_recovery_point_age_hours: float = 26.0  # a daily AWS Backup plan and its copy


@dataclass(frozen=True)
class BackupTargets:
    stack: str
    region: str
    copy_region: str | None
    db_instance_id: str | None
    bucket: str | None
    vault: str | None
    copy_vault: str | None
    policy: Policy
    cloud: str = "aws"
    project: str | None = None
    environment: str = "dev"
    min_retained_backups: int = DEFAULT_RETAINED_BACKUPS

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"


def load_outputs_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BackupToolError(f"outputs file {path} does not exist") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise BackupToolError(f"outputs file {path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BackupToolError(f"outputs file {path} must hold a JSON object of stack outputs")
    return data


def pulumi_outputs(stack: str) -> dict[str, Any]:
    """`pulumi stack output --json`, or {} when the CLI is not installed."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        return {}
    done = subprocess.run(  # noqa: S603 (fixed argv; the stack name is validated)
        [pulumi, "stack", "output", "--json", "--stack", stack],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO_ROOT,
    )
    if done.returncode != 0:
        raise BackupToolError(
            f"`pulumi stack output --stack {stack}` failed: {done.stderr.strip()}"
        )
    data = json.loads(done.stdout or "{}")
    return data if isinstance(data, dict) else {}


def stack_config(stack: str, root: Path = REPO_ROOT) -> dict[str, Any]:
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        return {}
    loaded = yaml.safe_load(path.read_text()) or {}
    config = loaded.get("config", {}) if isinstance(loaded, dict) else {}
    return config if isinstance(config, dict) else {}


def _from_outputs(outputs: Mapping[str, Any], field: str) -> str | None:
    for key in OUTPUT_KEYS[field]:
        value = outputs.get(key)
        if isinstance(value, str) and value and value != "[secret]":
            return value
    vault_field = {"copy_region": "copy_vault", "region": "vault"}.get(field, field)
    for key in VAULT_ARN_KEYS.get(vault_field, ()):
        match = VAULT_ARN.match(str(outputs.get(key, "")))
        if match:
            return match["region"] if field.endswith("region") else match["name"]
    return None


def _min_retained_backups(
    flags: Mapping[str, str | None], config: Mapping[str, Any], environment: str
) -> int:
    """The flag, else the stack's dbBackupRetentionDays; never under 14 in prod."""
    raw = flags.get("min_retained_backups") or config.get("awaterra:dbBackupRetentionDays")
    try:
        minimum = int(raw) if raw is not None else DEFAULT_RETAINED_BACKUPS
    except (TypeError, ValueError):
        raise BackupToolError(f"dbBackupRetentionDays must be an integer, got {raw!r}") from None
    return max(minimum, PROD_MIN_RETAINED_BACKUPS) if environment == "prod" else minimum


def resolve_targets(
    stack: str,
    *,
    flags: Mapping[str, str | None],
    policy: Policy,
    outputs_file: Path | None = None,
    config_root: Path = REPO_ROOT,
    required: Sequence[str] = (),
) -> BackupTargets:
    """Merge flags over outputs over stack config; BackupToolError names whatever is missing."""
    if not STACK_NAME.match(stack):
        raise BackupToolError(f"invalid stack name {stack!r}")
    outputs = load_outputs_file(outputs_file) if outputs_file else None
    if outputs is None and not all(flags.get(name) for name in required):
        outputs = pulumi_outputs(stack)
    outputs = outputs or {}
    config = stack_config(stack, config_root)

    def pick(field: str, config_key: str | None = None) -> str | None:
        value = flags.get(field) or _from_outputs(outputs, field)
        if value is None and config_key is not None:
            configured = config.get(config_key)
            value = str(configured) if configured else None
        return value

    cloud = str(flags.get("cloud") or config.get("awaterra:cloud") or "aws")
    if cloud not in CLOUDS:
        raise BackupToolError(
            f"awaterra:cloud of stack {stack!r} is {cloud!r}; expected one of {', '.join(CLOUDS)}"
        )
    region = pick("region", REGION_KEYS[cloud])
    if region is None:
        raise BackupToolError(
            f"no region for stack {stack!r}: pass --region "
            f"(Pulumi.{stack}.yaml has no {REGION_KEYS[cloud]})"
        )
    environment = str(config.get("awaterra:environment") or "dev")
    resolved = BackupTargets(
        stack=stack,
        region=region,
        copy_region=pick("copy_region", COPY_REGION_KEYS[cloud]),
        db_instance_id=pick("db_instance_id"),
        bucket=pick("bucket"),
        vault=pick("vault"),
        copy_vault=pick("copy_vault"),
        policy=policy,
        cloud=cloud,
        project=(flags.get("project") or str(config.get("gcp:project") or "")) or None,
        environment=environment,
        min_retained_backups=_min_retained_backups(flags, config, environment),
    )
    if cloud == "gcp" and resolved.project is None:
        raise BackupToolError(
            f"no Google Cloud project for stack {stack!r}: pass --project "
            f"(Pulumi.{stack}.yaml has no gcp:project)"
        )
    missing = [name for name in required if getattr(resolved, name) is None]
    if missing:
        flags_needed = ", ".join(FLAG_NAMES[name] for name in missing)
        raise BackupToolError(
            f"cannot tell which resources to check for stack {stack!r}: pass {flags_needed} "
            "or --outputs-file (the JSON from `pulumi stack output --json`)"
        )
    return resolved
