"""Stack exceptions: validated, scoped, reported, and none for prod."""

from __future__ import annotations

import re
from typing import Any

import pytest

from policy.engine import evaluate
from policy.exceptions import (
    EXCEPTIONS_FILE,
    ExceptionsError,
    StackException,
    find_exception,
    load_exceptions,
    parse_exceptions,
)
from policy.model import Severity
from policy.rules import RULES, RULES_BY_ID
from tests.policy.cases import db

KNOWN = [rule.id for rule in RULES]
ENV = "environments"
REASON = "a reason that is long enough to explain itself"


def test_the_repository_file_is_valid_and_prod_exceptions_are_narrow() -> None:
    exceptions = load_exceptions(KNOWN)
    assert exceptions["dev"], "dev documents its trade-offs"
    for exception in exceptions["prod"]:
        assert exception.messages != ("*",), f"prod exception {exception.rule_id} is not scoped"
        assert not any(
            pattern.startswith(("container app:", "container migrate:"))
            for pattern in exception.messages
        ), "the app's own containers get none"
        assert RULES_BY_ID[exception.rule_id].severity is not Severity.CRITICAL


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ([], "must be a mapping"),
        ({ENV: {"dev": [{"rule": "no-such-rule", "reason": REASON}]}}, "unknown rule"),
        ({ENV: {"dev": [{"rule": "rds-multi-az", "reason": "short"}]}}, "needs a reason"),
        (
            {ENV: {"dev": [{"rule": "rds-multi-az", "reason": REASON, "resources": "db"}]}},
            "resources must be a list",
        ),
        (
            {ENV: {"dev": [{"rule": "rds-multi-az", "reason": REASON, "until": "never"}]}},
            "unknown keys",
        ),
        ({"environments": {"dev": ["rds-multi-az"]}}, "must be a mapping"),
    ],
)
def test_malformed_exceptions_are_refused(document: Any, error: str) -> None:
    with pytest.raises(ExceptionsError, match=error):
        parse_exceptions(document, KNOWN)


def test_exceptions_match_rule_stack_resource_and_message() -> None:
    parsed = parse_exceptions(
        {
            "environments": {
                "dev": [
                    {
                        "rule": "ecs-readonly-rootfs",
                        "reason": REASON,
                        "resources": ["api-*"],
                        "messages": ["container datadog-agent:*"],
                    },
                ]
            }
        },
        KNOWN,
    )
    assert find_exception(
        parsed,
        "dev",
        "ecs-readonly-rootfs",
        "api-task",
        "container datadog-agent: readonlyRootFilesystem is not true",
    )
    assert not find_exception(
        parsed,
        "dev",
        "ecs-readonly-rootfs",
        "api-task",
        "container app: readonlyRootFilesystem is not true",
    )
    assert not find_exception(
        parsed, "dev", "ecs-readonly-rootfs", "worker-task", "container datadog-agent: x"
    )
    assert not find_exception(
        parsed, "prod", "ecs-readonly-rootfs", "api-task", "container datadog-agent: x"
    )


def test_engine_marks_excepted_findings_and_reports_unused_exceptions() -> None:
    exceptions = {
        "dev": [
            StackException("rds-multi-az", "dev", REASON),
            StackException("alb-waf", "dev", REASON),
        ]
    }
    instance = db(multiAz=False, deletionProtection=False)
    rules = [RULES_BY_ID[rule] for rule in ("rds-multi-az", "rds-deletion-protection", "alb-waf")]
    # The environment picks the exceptions, not the stack's name.
    report = evaluate(
        "dev-alice", [instance], [instance], environment="dev", rules=rules, exceptions=exceptions
    )
    by_rule = {finding.rule_id: finding for finding in report.findings}
    assert by_rule["rds-multi-az"].excepted and by_rule["rds-multi-az"].exception == REASON
    assert not by_rule["rds-deletion-protection"].excepted
    assert [finding.rule_id for finding in report.blocking] == ["rds-deletion-protection"]
    assert [e.rule_id for e in report.unused_exceptions] == ["alb-waf"]
    prod = evaluate(
        "dev", [instance], [instance], environment="prod", rules=rules, exceptions=exceptions
    )
    assert not any(finding.excepted for finding in prod.findings)
    unknown = evaluate(
        "dev", [instance], [instance], environment=None, rules=rules, exceptions=exceptions
    )
    assert not any(finding.excepted for finding in unknown.findings)
    assert {f.severity for f in prod.blocking} <= {Severity.HIGH, Severity.CRITICAL}


def test_exceptions_file_explains_its_format() -> None:
    text = EXCEPTIONS_FILE.read_text()
    assert "reason" in text and "messages" in text and "unused" in text


def test_docs_list_every_rule_and_exception() -> None:
    docs = (EXCEPTIONS_FILE.parents[1] / "docs" / "policy-plan-cost.md").read_text()
    missing = [rule.id for rule in RULES if f"`{rule.id}`" not in docs]
    assert not missing, f"docs/policy-plan-cost.md lacks rules {missing} (python -m policy.catalog)"
    exceptions = load_exceptions(KNOWN)
    for stack, entries in exceptions.items():
        for exception in entries:
            assert f"| {stack} | `{exception.rule_id}`" in docs, (stack, exception.rule_id)
    documented = re.findall(r"^\| (\w+) \| `([a-z0-9-]+)`", docs, flags=re.MULTILINE)
    stale = [
        (stack, rule)
        for stack, rule in documented
        if stack in exceptions and rule not in {e.rule_id for e in exceptions[stack]}
    ]
    assert not stale, f"docs list exceptions that policy/exceptions.yaml no longer has: {stale}"
