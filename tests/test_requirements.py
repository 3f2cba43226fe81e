"""The pins: every requirements file pins exactly, and requirements/constraints.txt pins the
whole dependency tree at the same versions (so the image and `make test` install one set)."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements"
# name[extras]==version, optionally with an environment marker (`; sys_platform != "win32"`).
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]+\])?==([^\s;]+)\s*(;.+)?$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-r "):
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: not an exact pin: {raw!r}"
        found[canonical(match.group(1))] = match.group(3)
    return found


CONSTRAINTS = pins(REQUIREMENTS / "constraints.txt")


@pytest.mark.parametrize("name", ["service.txt", "infra.txt", "dev.txt", "datadog.txt"])
def test_every_direct_pin_is_the_constrained_version(name: str) -> None:
    direct = pins(REQUIREMENTS / name)
    assert direct, f"{name} pins nothing"
    for package, version in direct.items():
        assert CONSTRAINTS.get(package) == version, (
            f"{name} pins {package}=={version}, constraints.txt has {CONSTRAINTS.get(package)}: "
            "run `make lock`"
        )


def test_the_test_environment_is_the_constrained_one() -> None:
    installed = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    drift = {
        package: (version, installed[package])
        for package, version in CONSTRAINTS.items()
        if package in installed and installed[package] != version
    }
    assert not drift, f"installed versions differ from constraints.txt (wanted, found): {drift}"
