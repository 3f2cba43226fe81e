"""The offline plan: grouped by component, scrubbed of secrets and hashes, deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops import plan as plan_module
from ops.offline import REPO_ROOT, SECRET_PLACEHOLDER
from ops.plan import (
    STACK_ROOT,
    build_plan,
    dump,
    main,
    record,
    render_text,
    secret_placeholders,
    settings_of,
    snapshot_diff,
)

pytestmark = pytest.mark.skipif(
    not (REPO_ROOT / "__main__.py").exists(), reason="the Pulumi program (__main__.py) is not there"
)


def test_declared_secrets_missing_from_the_stack_file_get_placeholders() -> None:
    placeholders = secret_placeholders("prod")
    assert placeholders, "prod declares Datadog keys the stack file leaves to `config set --secret`"
    assert set(placeholders.values()) == {SECRET_PLACEHOLDER}
    assert all(key.startswith("awaterra:") for key in placeholders)


def test_every_managed_resource_appears_once_under_its_component() -> None:
    plan = build_plan("dev")
    listed = [(r["type"], r["name"]) for group in plan["components"] for r in group["resources"]]
    assert len(listed) == len(set(listed)) == plan["resource_count"]
    recorded = [
        r
        for r in record("dev").resources
        if r.custom and not r.type.startswith("pulumi:providers:")
    ]
    assert sorted(listed) == sorted((r.type, r.name) for r in recorded)
    paths = [group["component"] for group in plan["components"]]
    assert paths == sorted(paths)
    assert any("awaterra:database:Database" in path for path in paths)
    assert all(path == STACK_ROOT or "(awaterra:" in path for path in paths)


def test_settings_that_matter_are_shown() -> None:
    [instance] = record("prod").of_type("aws:rds/instance:Instance")
    settings = settings_of(instance)
    assert settings["multiAz"] is True and settings["storageEncrypted"] is True
    assert not {"password", "masterPassword"} & set(settings), "no credential in the plan"


def test_plan_has_outputs_policy_and_cost_without_secrets() -> None:
    plan = build_plan("prod")
    assert plan["outputs"] and plan["policy"]["rules"] >= 30
    assert plan["cost"]["total_monthly"] > 0 and plan["cost"]["prices_as_of"]
    text = dump(plan)
    assert SECRET_PLACEHOLDER not in text
    assert "sha256:<digest>" in text or "@sha256" not in text


def test_plan_is_deterministic() -> None:
    first = dump(build_plan("dev"))
    record.cache_clear()
    assert dump(build_plan("dev")) == first


def test_text_rendering_has_every_section() -> None:
    text = render_text(build_plan("dev"))
    for heading in (
        "Plan for stack dev",
        "== ",
        "Outputs:",
        "Policy:",
        "Monthly cost estimate",
        "TOTAL",
    ):
        assert heading in text


def test_snapshot_diff_is_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_module, "SNAPSHOT_DIR", tmp_path)
    current = build_plan("dev")
    (tmp_path / "dev.json").write_text(dump(current))
    assert snapshot_diff("dev", current) == ""
    drifted = dict(current, resource_count=current["resource_count"] + 1)
    diff = snapshot_diff("dev", drifted)
    assert diff.startswith("---") and f'+  "resource_count": {drifted["resource_count"]}' in diff


def test_cli_json_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["dev", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert document["stack"] == "dev"
    assert code == (1 if document["policy"]["blocking"] else 0)


def test_unknown_stack_is_a_clear_error() -> None:
    with pytest.raises(SystemExit, match=r"no Pulumi\.nope\.yaml"):
        build_plan("nope")
