"""The environment setting, not the stack's name, picks a stack's rules (both runners)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.offline import REPO_ROOT
from policy.environment import environment_of, stack_environment


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text((REPO_ROOT / "Pulumi.yaml").read_text())
    return tmp_path


def test_the_repository_stacks_say_what_they_are() -> None:
    assert stack_environment("dev") == "dev"
    assert stack_environment("prod") == "prod"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("dev-alice", "config:\n  awaterra:environment: dev\n", "dev"),
        ("test", "config:\n  awaterra:environment: dev\n", "dev"),
        ("devtest", "config:\n  awaterra:environment: prod\n", "prod"),
        # Unset: the default Pulumi.yaml declares, as the program uses.
        ("sandbox", "config:\n  aws:region: us-east-1\n", "dev"),
        ("staging", "config:\n  awaterra:environment: staging\n", None),
        ("broken", "config: [\n", None),
    ],
)
def test_the_stack_file_decides(project: Path, name: str, text: str, expected: str | None) -> None:
    (project / f"Pulumi.{name}.yaml").write_text(text)
    assert stack_environment(name, project) == expected


def test_no_stack_file_means_unknown(project: Path) -> None:
    assert stack_environment("nowhere", project) is None


def test_config_as_the_engine_passes_it() -> None:
    assert environment_of({"awaterra:environment": "prod"}) == "prod"
    assert environment_of({}) == "dev"
    assert environment_of({"awaterra:environment": "qa"}) is None
