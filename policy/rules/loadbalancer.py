"""Application load balancers: HTTPS only, modern TLS, header hygiene, logs, WAF, deletion."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policy.links import referrers
from policy.model import Context, Resource, Severity
from policy.rules._common import each, require_true, resource_rule, stack_rule
from policy.rules.types import LISTENER, LOAD_BALANCER, WEB_ACL_ASSOCIATION
from policy.values import UNKNOWN, as_list, get

# ELB security policies negotiating TLS 1.2 or later only (ELB.17's recommended set and the
# TLS 1.3 family). AWS documents them under "Security policies for your Application Load Balancer".
TLS12_PLUS_POLICIES = frozenset(
    {
        "ELBSecurityPolicy-TLS13-1-3-2021-06",
        "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
        "ELBSecurityPolicy-TLS-1-2-2017-01",
        "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
        "ELBSecurityPolicy-FS-1-2-2019-08",
        "ELBSecurityPolicy-FS-1-2-Res-2019-08",
        "ELBSecurityPolicy-FS-1-2-Res-2020-10",
    }
)


def _application(resource: Resource) -> bool:
    return get(resource.props, "loadBalancerType") in (None, UNKNOWN, "application")


def _redirects_to_https(action: object) -> bool:
    return bool(get(action, "type") == "redirect" and get(action, "redirect.protocol") == "HTTPS")


@resource_rule(
    "alb-https-only",
    "Listeners serve HTTPS; plain HTTP only redirects to HTTPS",
    "AWS FSBP ELB.1 / checkov CKV_AWS_2 / CKV2_AWS_20",
    Severity.HIGH,
    LISTENER,
    "Remove the plain-HTTP listener (LoadBalancerArgs.http_redirect=False, the default) or make "
    "its only default action a redirect to HTTPS:443.",
)
def https_only(resource: Resource, context: Context) -> Iterator[str]:
    protocol = get(resource.props, "protocol")
    if protocol in (UNKNOWN, "HTTPS", "TLS"):
        return
    actions = as_list(get(resource.props, "defaultActions"))
    if actions is UNKNOWN:
        return
    if not actions or not all(_redirects_to_https(action) for action in actions):
        port = get(resource.props, "port")
        yield f"{protocol or 'HTTP'} listener on port {port} does not only redirect to HTTPS"


@resource_rule(
    "alb-tls-policy",
    "HTTPS listeners use a TLS 1.2+ security policy",
    "AWS FSBP ELB.17 / checkov CKV_AWS_103",
    Severity.HIGH,
    LISTENER,
    'Set ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06" (or a TLS13-1-3 policy).',
)
def tls_policy(resource: Resource, context: Context) -> Iterator[str]:
    if get(resource.props, "protocol") not in ("HTTPS", "TLS"):
        return
    policy = get(resource.props, "sslPolicy")
    if policy is UNKNOWN:
        return
    if policy is None:
        yield "sslPolicy is not set (the provider default may allow TLS 1.0/1.1)"
    elif policy not in TLS12_PLUS_POLICIES:
        yield f"sslPolicy {policy} allows protocols older than TLS 1.2"


@resource_rule(
    "alb-drop-invalid-headers",
    "ALBs drop invalid HTTP header fields",
    "AWS FSBP ELB.4 / checkov CKV_AWS_131",
    Severity.MEDIUM,
    LOAD_BALANCER,
    "Set drop_invalid_header_fields=True.",
)
def drop_invalid_headers(resource: Resource, context: Context) -> Iterator[str]:
    if _application(resource):
        yield from require_true(
            resource, "dropInvalidHeaderFields", "dropInvalidHeaderFields is not enabled"
        )


@resource_rule(
    "alb-deletion-protection",
    "Load balancers have deletion protection",
    "AWS FSBP ELB.6 / checkov CKV_AWS_150",
    Severity.MEDIUM,
    LOAD_BALANCER,
    "Set enable_deletion_protection=True (awaterra:lbDeletionProtection).",
)
def deletion_protection(resource: Resource, context: Context) -> Iterator[str]:
    yield from require_true(
        resource, "enableDeletionProtection", "enableDeletionProtection is not enabled"
    )


@resource_rule(
    "alb-access-logs",
    "Load balancers write access logs",
    "AWS FSBP ELB.5 / checkov CKV_AWS_91",
    Severity.MEDIUM,
    LOAD_BALANCER,
    "Enable awaterra:lbAccessLogs (access_logs to the stack's log bucket).",
)
def access_logs(resource: Resource, context: Context) -> Iterator[str]:
    logs = get(resource.props, "accessLogs")
    if logs is UNKNOWN:
        return
    enabled = get(logs, "enabled") if logs else None
    if logs is None or enabled is False or (enabled is None and not get(logs, "bucket")):
        yield "accessLogs are not enabled"


@resource_rule(
    "alb-desync-mitigation",
    "ALBs use defensive or strictest HTTP desync mitigation",
    "AWS FSBP ELB.12",
    Severity.LOW,
    LOAD_BALANCER,
    'Leave desync_mitigation_mode at "defensive" or set "strictest".',
)
def desync_mitigation(resource: Resource, context: Context) -> Iterator[str]:
    mode = get(resource.props, "desyncMitigationMode")
    if mode == "monitor":
        yield 'desyncMitigationMode is "monitor"'


@stack_rule(
    "alb-waf",
    "Internet-facing ALBs are protected by a WAF web ACL",
    "checkov CKV2_AWS_28 (public ALB protected by WAF)",
    Severity.HIGH,
    LOAD_BALANCER + WEB_ACL_ASSOCIATION,
    "Enable awaterra:wafEnabled (a wafv2 WebAclAssociation for the load balancer).",
)
def waf(resources: Sequence[Resource], context: Context) -> Iterator[tuple[Resource, str]]:
    for balancer in each(resources, LOAD_BALANCER):
        if get(balancer.props, "internal") is True or not _application(balancer):
            continue
        associations, undecided = referrers(resources, WEB_ACL_ASSOCIATION, "resourceArn", balancer)
        if not associations and not undecided:
            yield balancer, "no WAF web ACL is associated with this internet-facing load balancer"


RULES = [
    https_only,
    tls_policy,
    drop_invalid_headers,
    deletion_protection,
    access_logs,
    desync_mitigation,
    waf,
]
