"""Stack exceptions: validated, scoped, reported, and none for prod."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.settings import DEFAULTS
from ops.cost import PRICES, estimate
from ops.offline import stack_config
from ops.plan import record
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


def _reason(exception: StackException) -> str:
    return " ".join(exception.reason.split())


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_every_reason_is_true_of_what_the_program_does(environment: str) -> None:
    """Each reason's checkable claims hold for the repository's stack of that environment: the
    settings it cites, the final snapshot, the retention days and the prices it quotes."""
    stack = environment
    config, _ = stack_config(stack)
    recording = record(stack)
    (instance,) = recording.of_type("aws:rds/instance:Instance")
    (backup_plan,) = recording.of_type("aws:backup/plan:Plan")
    (backup_rule,) = backup_plan.inputs["rules"]
    takes_final_snapshot = not instance.inputs.get("skipFinalSnapshot")
    checked = 0
    for exception in load_exceptions(KNOWN).get(environment, []):
        reason = _reason(exception)
        for key, value in re.findall(
            r"awaterra:(\w+) (true|false|none|single|per-az|dev|prod)\b", reason
        ):
            actual = config.get(f"awaterra:{key}", str(DEFAULTS[key]))
            assert actual.lower() == value, f"{exception.rule_id}: awaterra:{key} is {actual}"
            checked += 1
        if "final snapshot" in reason and not takes_final_snapshot:
            # Only a stack that takes one may lean on it.
            assert re.search(r"\b(no|skips the) final snapshot", reason), exception.rule_id
            checked += 1
        kept = r"(\d+) days of recovery points|recovery points, kept (\d+) days"
        for days in re.findall(kept, reason):
            assert int("".join(days)) == backup_rule["lifecycle"]["deleteAfter"], exception.rule_id
            checked += 1
        if "copied to a second region" in reason:
            assert backup_rule.get("copyActions"), exception.rule_id
            checked += 1
        for days in re.findall(r"(\d+) days of automated backups", reason):
            assert int(days) == instance.inputs["backupRetentionPeriod"], exception.rule_id
            checked += 1
        for dollars in re.findall(r"~\$(\d+)/month per gateway", reason):
            per_gateway = (PRICES["nat.hour"].amount + PRICES["ipv4.hour"].amount) * 730
            assert abs(int(dollars) - per_gateway) < 1, exception.rule_id
            checked += 1
        for dollars in re.findall(r"\(~\$(\d+)/month\)", reason):
            assert exception.rule_id == "alb-waf"
            acl = record("prod").of_type("aws:wafv2/webAcl:WebAcl")
            waf = estimate(stack, acl, environment=environment).total
            assert abs(int(dollars) - waf) <= 1, f"WAF would cost ${waf}/month in {environment}"
            checked += 1
    if environment == "dev":
        assert checked >= 10, "the dev reasons make claims this test checks"


def test_the_final_snapshot_claim_is_checked() -> None:
    """The rule the test above applies, on the sentence that was wrong before."""
    wrong = "the final snapshot and AWS Backup still protect its data."
    assert not re.search(r"\b(no|skips the) final snapshot", wrong)


def test_an_exception_for_the_other_cloud_is_not_reported_unused() -> None:
    exceptions = {
        "dev": [
            StackException("alb-waf", "dev", REASON),
            StackException("gcp-sql-deletion-protection", "dev", REASON),
        ]
    }
    instance = db(multiAz=False, deletionProtection=False)
    rules = [RULES_BY_ID[rule] for rule in ("alb-waf", "gcp-sql-deletion-protection")]
    report = evaluate(
        "dev", [instance], [instance], environment="dev", rules=rules, exceptions=exceptions
    )
    # An AWS stack: its unused AWS exception is stale, the Google Cloud one is for gcp stacks.
    assert [e.rule_id for e in report.unused_exceptions] == ["alb-waf"]
