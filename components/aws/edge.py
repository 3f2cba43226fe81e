"""The edge filter: a WAFv2 web ACL in front of the load balancer, with its own logs.

`WebAcl(name, WebAclArgs(load_balancer_arn=service.load_balancer_arn, rate_limit=2000))`

Args (`WebAclArgs`):
- `load_balancer_arn: Input[str]` the ALB to protect (required).
- `rate_limit: int = 2000` requests per client IP per 5 minutes before that IP is blocked
  (settings `wafRateLimit`; 10..2,000,000,000); blocked with 429 and the API's error body.
- `managed_rule_groups: Sequence[str]` AWS managed groups, default
  `AWSManagedRulesAmazonIpReputationList`, `AWSManagedRulesCommonRuleSet`,
  `AWSManagedRulesKnownBadInputsRuleSet`, `AWSManagedRulesSQLiRuleSet` (~1,130 WCU, under the
  1,500 included in the base price).
- `count_only_rules: Sequence[str] = ("SizeRestrictions_BODY",)` managed rules switched to
  count: the common rule set blocks bodies over 8 KiB, but the API accepts up to 1 MiB
  (`state` alone may be 16 KiB, event batches more); the service enforces its own limits.
- `log_retention_days: int = 90`, `log_kms_key_arn: Input[str] | None = None` (the log group is
  named `aws-waf-logs-<project>-<stack>-<name>`, as WAF requires; without a key given, the
  component creates a rotating customer-managed key usable by CloudWatch Logs for that group only;
  a given key's policy must allow the same).
- `redacted_headers: Sequence[str] = ("authorization", "cookie")` never written to the logs.
- `admin_allowed_cidrs: Sequence[str] = ()` (settings `adminAllowedCidrs`): when given, a
  request for the admin panel (`/admin` and below) from any other address is blocked with 403,
  first of all rules; IPv4 and IPv6 ranges go into one IP set each. Empty: no such rule, the
  panel is open (it still needs an administrator's sign-in).

Every rule and the ACL emit CloudWatch metrics and sampled requests. Default action: allow.

Outputs: `web_acl_arn`, `log_group_name`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.log_encryption import logs_key_statement
from components.aws.policy_documents import account_context, customer_key, key_policy

COMMON = "AWSManagedRulesCommonRuleSet"
DEFAULT_MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)
RATE_LIMITED_BODY_KEY = "rate-limited"
RATE_LIMITED_BODY = json.dumps(
    {"success": False,
     "error": {"code": "rate_limited", "message": "Too many requests; retry in a few minutes"}},
    separators=(",", ":"),
)  # fmt: skip
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)  # fmt: skip
_METRIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


@dataclass(frozen=True)
class WebAclArgs:
    load_balancer_arn: pulumi.Input[str]
    rate_limit: int = 2000
    managed_rule_groups: Sequence[str] = DEFAULT_MANAGED_RULE_GROUPS
    count_only_rules: Sequence[str] = ("SizeRestrictions_BODY",)
    log_retention_days: int = 90
    log_kms_key_arn: pulumi.Input[str] | None = None
    redacted_headers: Sequence[str] = ("authorization", "cookie")
    admin_allowed_cidrs: Sequence[str] = ()

    def __post_init__(self) -> None:
        for cidr in self.admin_allowed_cidrs:
            check_cidr(cidr)
        if len(set(self.admin_allowed_cidrs)) != len(self.admin_allowed_cidrs):
            raise ValueError("WebAcl: admin_allowed_cidrs lists a range twice")
        if not 10 <= self.rate_limit <= 2_000_000_000:
            raise ValueError(
                f"WebAcl: rate_limit must be between 10 and 2000000000 requests per 5 minutes, "
                f"got {self.rate_limit}"
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"WebAcl: log_retention_days must be one of {LOG_RETENTION_DAYS}, "
                f"got {self.log_retention_days}"
            )
        if len(set(self.managed_rule_groups)) != len(self.managed_rule_groups):
            raise ValueError("WebAcl: managed_rule_groups lists a group twice")


ADMIN_PATH = "/admin"
ADMIN_RULE = "admin-allowed-networks"


def check_cidr(cidr: str) -> str:
    """An IPv4 or IPv6 network in CIDR form, with no host bits set (as WAF requires)."""
    try:
        ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        raise ValueError(
            f"WebAcl: {cidr!r} is not a network in CIDR form such as 203.0.113.0/24 "
            "(no host bits set)"
        ) from None
    if "/" not in cidr:
        raise ValueError(f"WebAcl: {cidr!r} needs a prefix length, e.g. {cidr}/32")
    return cidr


def _admin_rule(
    name: str, ip_set_arns: Sequence[pulumi.Input[str]]
) -> aws.wafv2.WebAclRuleArgs:
    allowed = [
        aws.wafv2.WebAclRuleStatementArgs(
            ip_set_reference_statement=aws.wafv2.WebAclRuleStatementIpSetReferenceStatementArgs(
                arn=arn
            )
        )
        for arn in ip_set_arns
    ]
    from_allowed = (
        allowed[0]
        if len(allowed) == 1
        else aws.wafv2.WebAclRuleStatementArgs(
            or_statement=aws.wafv2.WebAclRuleStatementOrStatementArgs(statements=allowed)
        )
    )
    admin_path = aws.wafv2.WebAclRuleStatementArgs(
        byte_match_statement=aws.wafv2.WebAclRuleStatementByteMatchStatementArgs(
            search_string=ADMIN_PATH,
            positional_constraint="STARTS_WITH",
            field_to_match=aws.wafv2.WebAclRuleStatementByteMatchStatementFieldToMatchArgs(
                uri_path=aws.wafv2.WebAclRuleStatementByteMatchStatementFieldToMatchUriPathArgs()  # type: ignore[no-untyped-call]
            ),
            text_transformations=[
                aws.wafv2.WebAclRuleStatementByteMatchStatementTextTransformationArgs(
                    priority=0, type="URL_DECODE"
                )
            ],
        )
    )
    return aws.wafv2.WebAclRuleArgs(
        name=ADMIN_RULE,
        priority=0,
        action=aws.wafv2.WebAclRuleActionArgs(
            block=aws.wafv2.WebAclRuleActionBlockArgs(
                custom_response=aws.wafv2.WebAclRuleActionBlockCustomResponseArgs(
                    response_code=403
                )
            )
        ),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            and_statement=aws.wafv2.WebAclRuleStatementAndStatementArgs(
                statements=[
                    admin_path,
                    aws.wafv2.WebAclRuleStatementArgs(
                        not_statement=aws.wafv2.WebAclRuleStatementNotStatementArgs(
                            statement=from_allowed
                        )
                    ),
                ]
            )
        ),
        visibility_config=_visibility(_metric_name(name, ADMIN_RULE)),
    )


def _visibility(metric_name: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _metric_name(*parts: str) -> str:
    name = "-".join(parts)[:128]
    if not _METRIC_NAME.match(name):
        raise ValueError(f"WebAcl: {name!r} is not a valid metric name (letters, digits, _ and -)")
    return name


def _managed_rule(
    name: str, group: str, priority: int, count_only: Sequence[str]
) -> aws.wafv2.WebAclRuleArgs:
    overrides = [
        aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
            name=rule,
            action_to_use=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
                count=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()
            ),
        )
        for rule in count_only
    ]  # fmt: skip
    return aws.wafv2.WebAclRuleArgs(
        name=group,
        priority=priority,
        override_action=aws.wafv2.WebAclRuleOverrideActionArgs(
            none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()  # type: ignore[no-untyped-call]
        ),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                vendor_name="AWS", name=group, rule_action_overrides=overrides or None
            )
        ),
        visibility_config=_visibility(_metric_name(name, group)),
    )


def _rate_rule(name: str, priority: int, limit: int) -> aws.wafv2.WebAclRuleArgs:
    return aws.wafv2.WebAclRuleArgs(
        name="rate-limit-per-ip",
        priority=priority,
        action=aws.wafv2.WebAclRuleActionArgs(
            block=aws.wafv2.WebAclRuleActionBlockArgs(
                custom_response=aws.wafv2.WebAclRuleActionBlockCustomResponseArgs(
                    response_code=429, custom_response_body_key=RATE_LIMITED_BODY_KEY
                )
            )
        ),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                aggregate_key_type="IP", limit=limit, evaluation_window_sec=300
            )
        ),
        visibility_config=_visibility(_metric_name(name, "rate-limit-per-ip")),
    )


def _log_delivery_policy(account_id: str, region: str, log_group_arn: str) -> dict[str, Any]:
    """Let the log delivery service write WAF logs into this log group, for this account only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WafLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [f"{log_group_arn}:*"],
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:aws:logs:{region}:{account_id}:*"},
                },
            }
        ],
    }


class WebAcl(pulumi.ComponentResource):
    """Regional WAFv2 web ACL (managed rules + per-IP rate limit) attached to the ALB."""

    web_acl_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: WebAclArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:edge:WebAcl", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # The rate rule first: a flood from one address is cut before the managed groups
        # spend inspection on it. Only the common rule set carries count-only overrides.
        # With admin ranges, their rule comes first (one IP set lookup) and the rest move down.
        first = 1 if args.admin_allowed_cidrs else 0
        rules = [_rate_rule(name, first, args.rate_limit)] + [
            _managed_rule(name, group, priority, args.count_only_rules if group == COMMON else ())
            for priority, group in enumerate(args.managed_rule_groups, start=first + 1)
        ]
        if args.admin_allowed_cidrs:
            ip_sets = []
            for version in ("IPV4", "IPV6"):
                addresses = [
                    cidr
                    for cidr in args.admin_allowed_cidrs
                    if ipaddress.ip_network(cidr).version == (4 if version == "IPV4" else 6)
                ]
                if addresses:
                    ip_set = aws.wafv2.IpSet(
                        f"{name}-admin-{version.lower()}",
                        scope="REGIONAL",
                        ip_address_version=version,
                        addresses=sorted(addresses),
                        description=f"{name}: networks allowed to reach {ADMIN_PATH}",
                        opts=child,
                    )
                    ip_sets.append(ip_set.arn)
            rules.insert(0, _admin_rule(name, ip_sets))

        acl = aws.wafv2.WebAcl(
            f"{name}-acl",
            scope="REGIONAL",
            description=f"{name}: managed rule groups and a per-IP rate limit",
            default_action=aws.wafv2.WebAclDefaultActionArgs(
                allow=aws.wafv2.WebAclDefaultActionAllowArgs()
            ),
            rules=rules,
            custom_response_bodies=[
                aws.wafv2.WebAclCustomResponseBodyArgs(
                    key=RATE_LIMITED_BODY_KEY,
                    content=RATE_LIMITED_BODY,
                    content_type="APPLICATION_JSON",
                )
            ],
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True,
                metric_name=_metric_name(name, "acl"),
                sampled_requests_enabled=True,
            ),
            opts=child,
        )
        aws.wafv2.WebAclAssociation(
            f"{name}-association",
            resource_arn=args.load_balancer_arn,
            web_acl_arn=acl.arn,
            opts=child,
        )

        context = account_context(self)
        log_group_name = f"aws-waf-logs-{pulumi.get_project()}-{pulumi.get_stack()}-{name}"
        log_key_arn = args.log_kms_key_arn
        if log_key_arn is None:
            log_key_arn = customer_key(
                f"{name}-log-key",
                f"{name}: WAF logs",
                key_policy(
                    context.account_id,
                    [logs_key_statement(context.account_id, context.region, log_group_name)],
                ),
                child,
            ).arn
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=log_group_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=log_key_arn,
            opts=child,
        )
        delivery = aws.cloudwatch.LogResourcePolicy(
            f"{name}-log-delivery",
            policy_name=f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}-waf-logs",
            policy_document=pulumi.Output.all(
                context.account_id, context.region, log_group.arn
            ).apply(lambda v: json.dumps(_log_delivery_policy(v[0], v[1], v[2]))),
            opts=child,
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-logging",
            resource_arn=acl.arn,
            log_destination_configs=[log_group.arn],
            redacted_fields=[
                aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                    single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(
                        name=header
                    )
                )
                for header in args.redacted_headers
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[delivery]),
        )

        self.web_acl_arn = acl.arn
        self.log_group_name = log_group.name
        self.register_outputs(
            {"web_acl_arn": self.web_acl_arn, "log_group_name": self.log_group_name}
        )
