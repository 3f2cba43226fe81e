"""The CrossGuard runner wraps the same rules; unknowns and stack names behave as documented."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pulumi_policy
import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy import environment
from policy.crossguard import PACK_NAME, build_policies, plain, stack_of
from policy.model import Scope
from policy.rules import RULES
from policy.values import UNKNOWN
from tests.policy.cases import GOOD_DB, RDS, urn

PACK_DIR = Path(__file__).resolve().parents[2] / "policy"


def options() -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
    )


def run_resource_policy(
    rule_id: str, props: dict[str, Any], stack: str = "prod", name: str = "db"
) -> list[str]:
    [policy] = [p for p in build_policies() if p.name == rule_id]
    assert isinstance(policy, ResourceValidationPolicy)
    violations: list[str] = []
    args = ResourceValidationArgs(
        RDS, unknown_checking_proxy(props), urn(RDS, name, stack), name, options(), None
    )
    policy.validate(args, lambda message, urn=None: violations.append(message))
    return violations


def test_every_rule_becomes_one_policy_with_matching_kind_and_enforcement() -> None:
    policies = build_policies()
    assert [p.name for p in policies] == [rule.id for rule in RULES]
    for policy, rule in zip(policies, RULES, strict=True):
        kind = ResourceValidationPolicy if rule.scope is Scope.RESOURCE else StackValidationPolicy
        assert isinstance(policy, kind)
        expected = (
            EnforcementLevel.MANDATORY if rule.severity.blocking else EnforcementLevel.ADVISORY
        )
        assert policy.enforcement_level is expected
        assert policy.severity is not None and policy.severity.value == rule.severity.value
        assert rule.source in policy.description


def test_resource_policy_reports_violation_with_remediation() -> None:
    [message] = run_resource_policy("rds-not-public", {**GOOD_DB, "publiclyAccessible": True})
    assert "publiclyAccessible is true" in message and "Fix:" in message
    assert run_resource_policy("rds-not-public", GOOD_DB) == []


def test_unknown_values_during_preview_pass_instead_of_aborting() -> None:
    props = {**GOOD_DB, "storageEncrypted": UNKNOWN_BOOLEAN_VALUE, "kmsKeyId": UNKNOWN_STRING_VALUE}
    assert run_resource_policy("rds-storage-encrypted", props) == []


def test_stack_exceptions_follow_the_urn() -> None:
    single_az = {**GOOD_DB, "multiAz": False}
    assert run_resource_policy("rds-multi-az", single_az, stack="prod")
    assert run_resource_policy("rds-multi-az", single_az, stack="dev") == []


def test_the_stack_file_environment_picks_exceptions_not_the_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(environment, "PROJECT_ROOT", tmp_path)
    (tmp_path / "Pulumi.yaml").write_text((PACK_DIR.parent / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.alice.yaml").write_text("config:\n  awaterra:environment: dev\n")
    (tmp_path / "Pulumi.dev-copy.yaml").write_text("config:\n  awaterra:environment: prod\n")
    single_az = {**GOOD_DB, "multiAz": False}
    assert run_resource_policy("rds-multi-az", single_az, stack="alice") == []
    assert run_resource_policy("rds-multi-az", single_az, stack="dev-copy")
    # No stack file: production thresholds and no exceptions, whatever the name.
    assert run_resource_policy("rds-multi-az", single_az, stack="dev-nofile")


def test_plain_unwraps_proxies_and_unknowns() -> None:
    proxied = unknown_checking_proxy(
        {"a": {"b": [UNKNOWN_STRING_VALUE, "x"]}, "c": UNKNOWN_BOOLEAN_VALUE, "d": 3}
    )
    assert plain(proxied) == {"a": {"b": [UNKNOWN, "x"]}, "c": UNKNOWN, "d": 3}
    assert stack_of("urn:pulumi:prod::awaterra::aws:s3/bucket:Bucket::b") == "prod"


def test_stack_name_falls_back_to_the_cli_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PULUMI_STACK", raising=False)
    assert stack_of("not-a-urn") == ""
    monkeypatch.setenv("PULUMI_STACK", "dev")
    assert stack_of("not-a-urn") == "dev"
    assert stack_of("urn:pulumi:prod::awaterra::aws:s3/bucket:Bucket::b") == "prod"


def _policy_resource(
    type_: str,
    name: str,
    props: dict[str, Any],
    stack: str,
    dependencies: dict[str, list[PolicyResource]] | None = None,
) -> PolicyResource:
    return PolicyResource(
        type_,
        unknown_checking_proxy(props),
        urn(type_, name, stack),
        name,
        options(),
        None,
        None,
        [],
        dependencies or {},
    )


@pytest.mark.parametrize(("stack", "reported"), [("prod", True), ("dev", False)])
def test_stack_policy_follows_property_dependencies(stack: str, reported: bool) -> None:
    vpc = _policy_resource("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"}, stack)
    [policy] = [p for p in build_policies() if p.name == "vpc-flow-logs"]
    assert isinstance(policy, StackValidationPolicy)
    found: list[tuple[str, str | None]] = []
    policy.validate(
        StackValidationArgs([vpc]), lambda message, urn=None: found.append((message, urn))
    )
    assert bool(found) is reported
    if reported:
        assert found[0][1] == vpc.urn
    log = _policy_resource(
        "aws:ec2/flowLog:FlowLog", "flow", {"vpcId": UNKNOWN_STRING_VALUE}, stack, {"vpcId": [vpc]}
    )
    found.clear()
    policy.validate(
        StackValidationArgs([vpc, log]), lambda message, urn=None: found.append((message, urn))
    )
    assert found == []


def test_pack_entry_point_builds_the_pack(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run policy/__main__.py as the CLI would, with PolicyPack replaced (the real one serves gRPC
    forever)."""
    built: dict[str, Any] = {}

    def fake_pack(name: str, policies: list[Any], **kwargs: Any) -> None:
        built.update(name=name, policies=policies)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", fake_pack)
    runpy.run_path(str(PACK_DIR / "__main__.py"), run_name="__main__")
    assert built["name"] == PACK_NAME
    assert [p.name for p in built["policies"]] == [rule.id for rule in RULES]


def test_pack_metadata() -> None:
    import yaml

    manifest = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    requirements = (PACK_DIR / "requirements.txt").read_text()
    assert "pulumi-policy==" in requirements and "pyyaml==" in requirements
