"""Every rule catches its violation and passes its compliant twin (table in cases.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from policy.engine import check_resource, check_stack
from policy.model import Context, Resource, Rule, Scope, Severity
from policy.rules import RULES, RULES_BY_ID
from policy.values import UNKNOWN
from tests.policy.cases import CASES, Case, db, res

CASES_BY_RULE = {case.rule: case for case in CASES}


def messages(rule: Rule, resources: Sequence[Resource], stack: str) -> list[str]:
    context = Context(stack, stack)
    if rule.scope is Scope.STACK:
        return [
            f"{resource.name}: {message}"
            for resource, message in check_stack(rule, resources, context)
        ]
    return [
        message for resource in resources for message in check_resource(rule, resource, context)
    ]


def test_every_rule_has_a_case() -> None:
    missing = sorted(set(RULES_BY_ID) - set(CASES_BY_RULE))
    assert not missing, (
        f"rules without a violating/compliant case in tests/policy/cases.py: {missing}"
    )
    unknown = sorted(set(CASES_BY_RULE) - set(RULES_BY_ID))
    assert not unknown, f"cases for rules that do not exist: {unknown}"
    assert len(CASES) == len(CASES_BY_RULE), "one case per rule"


def test_rule_set_is_complete_and_described() -> None:
    assert len(RULES) >= 30
    for rule in RULES:
        assert rule.id and rule.title and rule.remediation, rule.id
        assert any(
            tag in rule.source
            for tag in ("FSBP", "CIS", "checkov", "Well-Architected", "AWS Config")
        ), rule.id
        assert rule.resource_types, rule.id
    blocking = [rule for rule in RULES if rule.severity.blocking]
    assert blocking and len(blocking) < len(RULES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.rule)
def test_rule_catches_violation(case: Case) -> None:
    found = messages(RULES_BY_ID[case.rule], case.violating, case.stack)
    assert found, f"{case.rule} missed its violating example"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.rule)
def test_rule_passes_compliant(case: Case) -> None:
    assert messages(RULES_BY_ID[case.rule], case.compliant, case.stack) == []


def _unknown_leaves(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _unknown_leaves(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unknown_leaves(item) for item in value]
    return UNKNOWN


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.rule)
def test_unknown_values_are_never_violations(case: Case) -> None:
    """A preview's unknowns are "can't tell": the violating example with every value it sets
    replaced by UNKNOWN (and no property dependencies) reports nothing and raises nothing."""
    unknown = [
        replace(r, props=_unknown_leaves(dict(r.props)), property_dependencies={})
        for r in case.violating
    ]
    found = messages(RULES_BY_ID[case.rule], unknown, case.stack)
    assert case.absent or found == []


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.rule)
def test_whole_property_unknown(case: Case) -> None:
    """Whole objects unknown (UNKNOWN_OBJECT_VALUE at the top) are "can't tell" too."""
    unknown = [
        replace(r, props={key: UNKNOWN for key in r.props}, property_dependencies={})
        for r in case.violating
    ]
    found = messages(RULES_BY_ID[case.rule], unknown, case.stack)
    assert case.absent or found == []


def test_rules_ignore_other_types() -> None:
    bucket = res("aws:s3/bucket:Bucket", "b", bucket="b")
    for rule in RULES:
        if rule.scope is Scope.RESOURCE and not rule.applies_to(bucket.type):
            assert check_resource(rule, bucket, Context("prod")) == []


@pytest.mark.parametrize(
    ("rule_id", "resource", "dev_ok", "prod_ok"),
    [
        ("rds-backup-retention", db(backupRetentionPeriod=7), True, False),
        ("rds-backup-retention", db(backupRetentionPeriod=3), False, False),
        ("rds-backup-retention", db(backupRetentionPeriod=14), True, True),
        (
            "log-group-retention",
            res("aws:cloudwatch/logGroup:LogGroup", "l", retentionInDays=14),
            True,
            False,
        ),
        (
            "log-group-retention",
            res("aws:cloudwatch/logGroup:LogGroup", "l", retentionInDays=0),
            False,
            False,
        ),
        (
            "backup-plan-retention",
            res(
                "aws:backup/plan:Plan",
                "p",
                rules=[{"ruleName": "daily", "lifecycle": {"deleteAfter": 7}}],
            ),
            True,
            False,
        ),
        (
            "backup-plan-retention",
            res("aws:backup/plan:Plan", "p", rules=[{"ruleName": "daily"}]),
            False,
            False,
        ),
    ],
)
def test_production_thresholds(
    rule_id: str, resource: Resource, dev_ok: bool, prod_ok: bool
) -> None:
    rule = RULES_BY_ID[rule_id]
    assert (check_resource(rule, resource, Context("dev-alice", "dev")) == []) is dev_ok
    assert (check_resource(rule, resource, Context("test", "prod")) == []) is prod_ok


def test_the_environment_decides_the_thresholds_never_the_name() -> None:
    assert not Context("dev-alice", "dev").production and not Context("test", "dev").production
    assert Context("dev", "prod").production
    # Unknown environment: the safe default, whatever the name says.
    assert Context("dev", None).production and Context("staging").production


@pytest.mark.parametrize(
    ("port", "cidr", "caught"),
    [
        (22, "0.0.0.0/0", True),
        (3389, "::/0", True),
        (5432, "0.0.0.0/0", True),
        (443, "0.0.0.0/0", False),
        (5432, "10.0.0.0/8", False),
    ],
)
def test_admin_ports(port: int, cidr: str, caught: bool) -> None:
    key = "cidrIpv6" if ":" in cidr else "cidrIpv4"
    rule_resource = res(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "r",
        ipProtocol="tcp",
        fromPort=port,
        toPort=port,
        **{key: cidr},
    )
    found = check_resource(RULES_BY_ID["sg-no-public-admin-ports"], rule_resource, Context("prod"))
    assert bool(found) is caught


def test_all_protocols_rule_exposes_every_admin_port() -> None:
    group = res(
        "aws:ec2/securityGroup:SecurityGroup",
        "open",
        ingress=[{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}],
    )
    [message] = check_resource(RULES_BY_ID["sg-no-public-admin-ports"], group, Context("prod"))
    assert "all ports" in message and "22 (SSH)" in message and "5432 (PostgreSQL)" in message


def test_admin_attachment_is_caught() -> None:
    attachment = res(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "a",
        role="r",
        policyArn="arn:aws:iam::aws:policy/AdministratorAccess",
    )
    assert check_resource(RULES_BY_ID["iam-no-admin"], attachment, Context("dev"))


def test_invalid_json_documents_are_reported_not_crashed() -> None:
    policy = res("aws:iam/policy:Policy", "p", policy="{not json")
    [message] = check_resource(RULES_BY_ID["iam-no-admin"], policy, Context("prod"))
    assert "not valid JSON" in message


def test_unlinked_stack_references_are_undecided() -> None:
    """A sub-resource whose bucket input is unknown (and has no dependency) could belong to any
    bucket: the bucket is not reported as missing it."""
    bucket = res("aws:s3/bucket:Bucket", "b", bucket="b")
    block = res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "pab", bucket=UNKNOWN)
    assert (
        check_stack(RULES_BY_ID["s3-public-access-block"], [bucket, block], Context("prod")) == []
    )
    assert check_stack(RULES_BY_ID["s3-public-access-block"], [bucket], Context("prod"))


def test_severity_blocking() -> None:
    assert Severity.CRITICAL.blocking and Severity.HIGH.blocking
    assert not Severity.MEDIUM.blocking and not Severity.LOW.blocking
