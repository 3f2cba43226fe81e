"""The rules on the real program: prod clean, dev only its documented exceptions."""

from __future__ import annotations

import pytest

from ops.offline import REPO_ROOT
from ops.plan import record
from policy.engine import Report, evaluate_recording
from policy.rules import RULES

pytestmark = pytest.mark.skipif(
    not (REPO_ROOT / "__main__.py").exists(), reason="the Pulumi program (__main__.py) is not there"
)


def report_for(stack: str) -> Report:
    return evaluate_recording(stack, record(stack).resources)


def describe(report: Report) -> str:
    return "\n".join(
        f"{f.severity.value} {f.rule_id} {f.resource_name}: {f.message}" for f in report.unexcepted
    )


def test_prod_has_no_unexcepted_findings() -> None:
    report = report_for("prod")
    assert report.unexcepted == [], "prod violates:\n" + describe(report)
    assert report.unused_exceptions == [], (
        "exceptions that match nothing (remove them): "
        + ", ".join(e.rule_id for e in report.unused_exceptions)
    )
    excepted = {f.resource_name for f in report.findings if f.excepted}
    assert excepted <= {"api-task"}, "prod's only exceptions are the Datadog sidecars of the task"


def test_dev_differs_only_by_documented_exceptions() -> None:
    report = report_for("dev")
    assert report.unexcepted == [], "dev violates (fix, or document an exception):\n" + describe(
        report
    )
    assert report.unused_exceptions == [], (
        "exceptions that match nothing (remove them): "
        + ", ".join(e.rule_id for e in report.unused_exceptions)
    )


def test_most_rules_apply_to_the_program() -> None:
    """Guards against rules silently checking nothing (a renamed type token, say)."""
    types = {resource.type for resource in record("prod").resources}
    # prod's stack file runs Datadog; the prometheus path's resources are recorded with it on.
    types |= {r.type for r in record("prod", (("monitoring", "both"),)).resources}
    # The AWS program creates no `gcp:` resources: the Google Cloud rules are exercised by
    # tests/policy/test_gcp_rules.py until a GCP stack is recorded.
    aws_rules = [rule for rule in RULES if not rule.resource_types[0].startswith("gcp:")]
    idle = [rule.id for rule in aws_rules if not set(rule.resource_types) & types]
    assert set(idle) <= {"sqs-queue-encrypted"}, idle
