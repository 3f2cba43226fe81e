"""WebAcl: managed rule groups, per-IP rate limit, attached to the ALB, logs without secrets."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components.aws.edge import WebAcl, WebAclArgs
from ops.offline import Recording, run_program

ALB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/api/50dc6c49"
MANAGED = {
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesSQLiRuleSet",
}


def _run(args: WebAclArgs) -> Recording:
    def program() -> None:
        acl = WebAcl("edge", args)
        pulumi.export("web_acl_arn", acl.web_acl_arn)
        pulumi.export("log_group_name", acl.log_group_name)

    return run_program("prod", program=program, use_stack_file=False)


@pytest.fixture(scope="module")
def recording() -> Recording:
    return _run(WebAclArgs(load_balancer_arn=ALB_ARN, rate_limit=1500))


def _rules(recording: Recording) -> dict[str, dict[str, Any]]:
    acl = recording.one("aws:wafv2/webAcl:WebAcl").inputs
    return {rule["name"]: rule for rule in acl["rules"]}


def test_acl_is_regional_and_allows_by_default(recording: Recording) -> None:
    acl = recording.one("aws:wafv2/webAcl:WebAcl").inputs
    assert acl["scope"] == "REGIONAL"
    assert acl["defaultAction"] == {"allow": {}}
    assert acl["visibilityConfig"]["cloudwatchMetricsEnabled"] is True
    assert acl["visibilityConfig"]["sampledRequestsEnabled"] is True


def test_managed_rule_groups_are_enforced(recording: Recording) -> None:
    rules = _rules(recording)
    managed = {n: r for n, r in rules.items() if "managedRuleGroupStatement" in r["statement"]}
    assert set(managed) == MANAGED
    for rule in managed.values():
        statement = rule["statement"]["managedRuleGroupStatement"]
        assert statement["vendorName"] == "AWS"
        assert rule["overrideAction"] == {"none": {}}  # block as AWS intends, not count
        assert rule["visibilityConfig"]["cloudwatchMetricsEnabled"] is True
    common = managed["AWSManagedRulesCommonRuleSet"]["statement"]["managedRuleGroupStatement"]
    # Only the 8 KiB body-size rule is relaxed (the API accepts up to 1 MiB bodies).
    assert common["ruleActionOverrides"] == [
        {"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}
    ]
    for name in MANAGED - {"AWSManagedRulesCommonRuleSet"}:
        assert "ruleActionOverrides" not in managed[name]["statement"]["managedRuleGroupStatement"]


def test_rate_rule_blocks_per_ip_over_the_limit_with_429(recording: Recording) -> None:
    rule = _rules(recording)["rate-limit-per-ip"]
    assert rule["statement"]["rateBasedStatement"] == {
        "aggregateKeyType": "IP", "limit": 1500, "evaluationWindowSec": 300
    }
    block = rule["action"]["block"]["customResponse"]
    assert block["responseCode"] == 429
    acl = recording.one("aws:wafv2/webAcl:WebAcl").inputs
    [body] = [b for b in acl["customResponseBodies"] if b["key"] == block["customResponseBodyKey"]]
    assert body["contentType"] == "APPLICATION_JSON"
    assert json.loads(body["content"])["error"]["code"] == "rate_limited"
    priorities = [r["priority"] for r in _rules(recording).values()]
    assert len(set(priorities)) == len(priorities)


def test_acl_is_attached_to_the_load_balancer(recording: Recording) -> None:
    association = recording.one("aws:wafv2/webAclAssociation:WebAclAssociation").inputs
    assert association["resourceArn"] == ALB_ARN
    assert association["webAclArn"] == recording.one("aws:wafv2/webAcl:WebAcl").outputs["arn"]
    assert recording.outputs["web_acl_arn"] == association["webAclArn"]


def test_logs_go_to_a_waf_log_group_with_retention_and_without_credentials(
    recording: Recording,
) -> None:
    log_group = recording.one("aws:cloudwatch/logGroup:LogGroup")
    assert log_group.inputs["name"].startswith("aws-waf-logs-")
    assert log_group.inputs["retentionInDays"] == 90
    key = recording.one("aws:kms/key:Key")
    assert log_group.inputs["kmsKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    [logs_statement] = [
        s for s in json.loads(key.inputs["policy"])["Statement"] if "Service" in s["Principal"]
    ]
    assert logs_statement["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == (
        f"arn:aws:logs:us-east-1:123456789012:log-group:{log_group.inputs['name']}"
    )
    logging = recording.one("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
    assert logging.inputs["logDestinationConfigs"] == [log_group.outputs["arn"]]
    assert logging.inputs["resourceArn"] == recording.one("aws:wafv2/webAcl:WebAcl").outputs["arn"]
    redacted = {f["singleHeader"]["name"] for f in logging.inputs["redactedFields"]}
    assert redacted == {"authorization", "cookie"}
    policy = json.loads(
        recording.one("aws:cloudwatch/logResourcePolicy:LogResourcePolicy").inputs["policyDocument"]
    )
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert statement["Resource"] == [f"{log_group.outputs['arn']}:*"]
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate_limit": 5}, "rate_limit must be between 10"),
        ({"log_retention_days": 17}, "log_retention_days"),
        ({"managed_rule_groups": ("AWSManagedRulesSQLiRuleSet",) * 2}, "twice"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WebAclArgs(load_balancer_arn=ALB_ARN, **kwargs)


def test_a_given_log_key_is_used_instead_of_a_new_one() -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/shared"
    recording = _run(WebAclArgs(load_balancer_arn=ALB_ARN, log_kms_key_arn=key))
    assert recording.of_type("aws:kms/key:Key") == []
    assert recording.one("aws:cloudwatch/logGroup:LogGroup").inputs["kmsKeyId"] == key
