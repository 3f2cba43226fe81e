"""`make plan STACK=dev|prod ARGS="--config monitoring=prometheus"`: policy-clean, priced and
exported to checkov."""

from __future__ import annotations

from typing import Any

import pytest

from ops.checkov_export import TERRAFORM_TYPES
from ops.plan import build_plan, main, record

PROMETHEUS_TYPES = (
    "aws:amp/workspace:Workspace",
    "aws:amp/ruleGroupNamespace:RuleGroupNamespace",
    "aws:amp/alertManagerDefinition:AlertManagerDefinition",
    "aws:grafana/workspace:Workspace",
    "aws:sns/topic:Topic",
    "aws:sns/topicPolicy:TopicPolicy",
)


def _plan(stack: str) -> dict[str, Any]:
    overrides = {"monitoring": "prometheus", "prometheusAlertEmails": '["ops@example.com"]'}
    if stack == "prod":
        overrides["datadogEnabled"] = ""  # the stack file's older switch says true
    return build_plan(stack, record(stack, tuple(sorted(overrides.items()))))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_prometheus_path_plans_policy_clean_and_priced(stack: str) -> None:
    plan = _plan(stack)
    assert (plan["policy"]["blocking"], plan["policy"]["advisory"]) == (0, 0)
    types = {r["type"] for c in plan["components"] for r in c["resources"]}
    assert set(PROMETHEUS_TYPES) <= types
    assert not any(t.startswith("datadog:") for t in types)
    priced = {item["type"] for item in plan["cost"]["items"]}
    assert {"aws:amp/workspace:Workspace", "aws:grafana/workspace:Workspace"} <= priced
    assert plan["outputs"]["prometheus_workspace_arn"].startswith("arn:aws:aps:")
    # checkov sees every AWS resource of the path.
    assert {t for t in types if t.startswith("aws:")} <= set(TERRAFORM_TYPES)


def test_plan_config_overrides_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["dev", "--config", "monitoring"])
    assert "--config takes KEY=VALUE, got 'monitoring'" in capsys.readouterr().err
