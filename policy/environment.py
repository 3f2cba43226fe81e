"""Which rules a stack gets: decided by its `awaterra:environment` setting, never its name.

A copy of dev under another name (`test`, `dev-alice`) is a dev stack because its file says
`awaterra:environment: dev`; a stack whose environment cannot be read gets production thresholds
and no exceptions (the safe default). The offline plan passes the config it ran the program
with; CrossGuard, which runs in its own process, reads the stack's file next to Pulumi.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ENVIRONMENTS = ("dev", "prod")
ENVIRONMENT_KEY = "awaterra:environment"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def declared_default(root: Path | None = None) -> str | None:
    """The default Pulumi.yaml declares for `environment` (what the program uses when unset)."""
    root = root or PROJECT_ROOT
    try:
        project = yaml.safe_load((root / "Pulumi.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    spec = (project.get("config") or {}).get("environment")
    default = spec.get("default") if isinstance(spec, Mapping) else None
    return str(default) if default in ENVIRONMENTS else None


def environment_of(config: Mapping[str, Any], root: Path | None = None) -> str | None:
    """dev or prod from a stack's config (`awaterra:environment`, else the declared default);
    None when the value is neither (the program refuses such a stack anyway)."""
    value = config.get(ENVIRONMENT_KEY, config.get("environment"))
    if value is None or value == "":
        return declared_default(root)
    return str(value) if str(value) in ENVIRONMENTS else None


def stack_environment(stack: str, root: Path | None = None) -> str | None:
    """The environment Pulumi.<stack>.yaml sets; None when the file is missing or unreadable."""
    root = root or PROJECT_ROOT
    try:
        document = yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    config = document.get("config") if isinstance(document, Mapping) else None
    return environment_of(config if isinstance(config, Mapping) else {}, root)


CLOUDS = ("aws", "gcp")
CLOUD_KEY = "awaterra:cloud"


def stack_cloud(stack: str, root: Path | None = None) -> str:
    """aws or gcp, as Pulumi.<stack>.yaml sets `awaterra:cloud` (aws when unset or unreadable:
    the program's default)."""
    root = root or PROJECT_ROOT
    try:
        document = yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return "aws"
    config = document.get("config") if isinstance(document, Mapping) else None
    value = config.get(CLOUD_KEY) if isinstance(config, Mapping) else None
    return str(value) if value in CLOUDS else "aws"
