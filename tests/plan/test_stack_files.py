"""The offline plan on stack files someone just edited: bad values, YAML errors, unknown keys,
placeholders, and copies of dev or prod under other names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ops import offline, plan
from ops.offline import REPO_ROOT

DEV = (REPO_ROOT / "Pulumi.dev.yaml").read_text()
PROD = (REPO_ROOT / "Pulumi.prod.yaml").read_text()


@pytest.fixture
def stacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory of stack files the plan reads instead of the repository's."""
    monkeypatch.setattr(offline, "STACK_DIR", tmp_path)
    plan.record.cache_clear()
    yield tmp_path
    plan.record.cache_clear()


def run_plan(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = plan.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_bad_values_are_one_line_each_with_key_value_and_allowed(
    stacks: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = DEV.replace("awaterra:dbBackupRetentionDays: 7", "awaterra:dbBackupRetentionDays: -1")
    text = text.replace("awaterra:natMode: none", "awaterra:natMode: sometimes")
    (stacks / "Pulumi.broken.yaml").write_text(text)
    code, out, err = run_plan(capsys, "broken")
    assert code == plan.CONFIG_ERROR_EXIT == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines == [
        "stack broken: invalid configuration, nothing planned",
        "error: awaterra:natMode must be one of none, single, per-az, got 'sometimes'",
        "error: awaterra:dbBackupRetentionDays must be >= 0, got -1",
    ]


def test_a_yaml_error_is_one_line_with_file_line_column_and_problem(
    stacks: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = DEV.splitlines()
    index = next(i for i, line in enumerate(lines) if "awaterra:azCount" in line)
    lines[index] = "   " + lines[index]  # one level too deep
    (stacks / "Pulumi.indent.yaml").write_text("\n".join(lines) + "\n")
    code, out, err = run_plan(capsys, "indent")
    assert code == 2 and out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"error: Pulumi.indent.yaml:{index + 1}:")
    assert line.endswith("expected <block end>, but found '<block mapping start>'")


def test_a_stack_file_that_is_not_a_config_mapping_is_one_line(
    stacks: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (stacks / "Pulumi.list.yaml").write_text("config:\n  - awaterra:domain\n")
    code, _, err = run_plan(capsys, "list")
    assert code == 2
    assert err.splitlines() == [
        "error: Pulumi.list.yaml: must be a mapping with a `config:` mapping of keys"
    ]


def test_an_unknown_key_names_the_nearest_known_one_and_other_namespaces_pass(
    stacks: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = DEV.replace("awaterra:dbMultiAz: false", "awaterra:dbMultiaz: false")
    text += "  gcp:project: awaterra-dev\n  datadog:site: datadoghq.eu\n  awaterra:zzz: 1\n"
    (stacks / "Pulumi.typo.yaml").write_text(text)
    code, _, err = run_plan(capsys, "typo")
    assert code == 2
    assert err.splitlines()[1:] == [
        "error: awaterra:dbMultiaz is not a setting of this program (Pulumi.yaml declares every "
        "key); did you mean awaterra:dbMultiAz?",
        "error: awaterra:zzz is not a setting of this program (Pulumi.yaml declares every key)",
    ]


def test_the_placeholders_are_planned_with_a_loud_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_plan(capsys, "prod")
    assert code == 0
    head = out.split("\n== ", 1)[0]
    # domain, hostedZoneId and the firebase block's five placeholders.
    assert "!! 7 WARNING(S): read before deploying" in head
    assert "awaterra:firebase.projectId is the stack file's placeholder" in head
    assert "awaterra:domain is the stack file's placeholder 'api.example.com'" in head
    assert "awaterra:hostedZoneId is the stack file's placeholder 'Z0000000000000EXAMPLE'" in head
    assert "refused by a real preview/up" in head


def test_real_names_plan_without_warnings(stacks: Path) -> None:
    text = DEV.replace("api.dev.example.com", "api.dev.awaterra.test").replace(
        "Z0000000000000EXAMPLE", "Z0123456789ABCDEFGHIJ"
    )
    (stacks / "Pulumi.mine.yaml").write_text(text)
    assert plan.build_plan("mine")["warnings"] == []


@pytest.mark.parametrize("name", ["test", "dev-alice"])
def test_a_copy_of_dev_under_another_name_gets_dev_rules(stacks: Path, name: str) -> None:
    (stacks / "Pulumi.dev.yaml").write_text(DEV)
    (stacks / f"Pulumi.{name}.yaml").write_text(DEV)
    dev, copy = plan.build_plan("dev"), plan.build_plan(name)
    assert copy["environment"] == "dev"
    assert copy["rules_applied"] == (
        f"stack {name}: environment dev (awaterra:environment) — dev exceptions from "
        "policy/exceptions.yaml, dev thresholds, dev cost assumptions"
    )
    assert copy["policy"]["blocking"] == 0
    assert copy["policy"]["excepted"] == dev["policy"]["excepted"] > 0
    assert [f["exception"] for f in copy["policy"]["findings"]] == [
        f["exception"] for f in dev["policy"]["findings"]
    ]
    assert copy["cost"]["assumptions"] == dev["cost"]["assumptions"]
    assert copy["cost"]["total_monthly"] == dev["cost"]["total_monthly"]


def test_a_stack_named_dev_that_says_prod_gets_prod_rules(stacks: Path) -> None:
    (stacks / "Pulumi.dev-but-prod.yaml").write_text(PROD)
    copy = plan.build_plan("dev-but-prod")
    assert copy["environment"] == "prod"
    assert copy["rules_applied"].startswith("stack dev-but-prod: environment prod")
    assert copy["cost"]["assumptions"]["environment"] == "prod"
    # dev's exceptions (e.g. rds-multi-az) are not prod's: none of them is used here.
    excepted = {f["rule"] for f in copy["policy"]["findings"] if f["exception"]}
    assert excepted <= {"ecs-non-root-user"}


def test_the_text_plan_says_which_rules_apply(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_plan(capsys, "dev")
    assert out.splitlines()[1] == (
        "stack dev: environment dev (awaterra:environment) — dev exceptions from "
        "policy/exceptions.yaml, dev thresholds, dev cost assumptions"
    )
