"""The global HTTPS load balancer: modern TLS, Cloud Armor with the preconfigured WAF set, logs."""

from __future__ import annotations

import re
from collections.abc import Iterator

from policy.model import Context, Resource, Severity
from policy.rules._common import resource_rule
from policy.rules.gcp_types import BACKEND_SERVICE, HTTPS_PROXY, SECURITY_POLICY, SSL_POLICY
from policy.values import UNKNOWN, as_list, get

STRONG_TLS = ("TLS_1_2", "TLS_1_3")
STRONG_PROFILES = ("MODERN", "RESTRICTED", "CUSTOM")
# Preconfigured WAF rule families every security policy must evaluate (CKV_GCP_73: cve-canary).
REQUIRED_WAF = ("sqli", "xss", "cve-canary")
_WAF_CALL = re.compile(r"evaluatePreconfigured(?:Waf|Expr)\(\s*['\"]([a-z0-9-]+)['\"]")


@resource_rule(
    "gcp-ssl-policy-modern",
    "SSL policies require TLS 1.2+ with the MODERN or RESTRICTED profile",
    "CIS GCP 3.9",
    Severity.HIGH,
    SSL_POLICY,
    'Set min_tls_version="TLS_1_2" and profile="MODERN" (or "RESTRICTED").',
)
def ssl_policy_modern(resource: Resource, context: Context) -> Iterator[str]:
    version = get(resource.props, "minTlsVersion")
    if version is not UNKNOWN and version not in STRONG_TLS:
        yield f"minTlsVersion is {version or 'TLS_1_0 (the default)'}, need TLS_1_2"
    profile = get(resource.props, "profile")
    if profile is not UNKNOWN and profile not in (*STRONG_PROFILES, None):
        yield f"profile is {profile}, need MODERN or RESTRICTED"
    if profile is None:
        yield "profile is not set (the default is COMPATIBLE, weak ciphers)"


@resource_rule(
    "gcp-https-proxy-ssl-policy",
    "HTTPS proxies use the stack's SSL policy (not Google's TLS 1.0 default)",
    "CIS GCP 3.9",
    Severity.HIGH,
    HTTPS_PROXY,
    "Set ssl_policy to the stack's SSLPolicy.",
)
def https_proxy_ssl_policy(resource: Resource, context: Context) -> Iterator[str]:
    if get(resource.props, "sslPolicy") is None:
        yield "sslPolicy is not set (Google's default policy allows TLS 1.0)"


@resource_rule(
    "gcp-backend-cloud-armor",
    "Backend services behind the load balancer have a Cloud Armor policy and request logs",
    "checkov CKV_GCP_73 (Cloud Armor) / CIS GCP 2.x (load balancer logging)",
    Severity.HIGH,
    BACKEND_SERVICE,
    "Set security_policy to the stack's SecurityPolicy and log_config.enable=True.",
)
def backend_cloud_armor(resource: Resource, context: Context) -> Iterator[str]:
    if get(resource.props, "securityPolicy") is None:
        yield "securityPolicy is not set (no Cloud Armor)"
    logging = get(resource.props, "logConfig.enable")
    if logging is not UNKNOWN and logging is not True:
        yield "logConfig.enable is not true (no request logs)"


@resource_rule(
    "gcp-armor-preconfigured-waf",
    "Cloud Armor policies deny the preconfigured SQLi, XSS and Log4j (cve-canary) rule sets",
    "checkov CKV_GCP_73 (Log4j cve-canary) / OWASP CRS via Cloud Armor preconfigured rules",
    Severity.HIGH,
    SECURITY_POLICY,
    "Add deny(403) rules with evaluatePreconfiguredWaf('sqli-v33-stable'), "
    "('xss-v33-stable') and ('cve-canary').",
)
def armor_preconfigured_waf(resource: Resource, context: Context) -> Iterator[str]:
    rules = as_list(get(resource.props, "rules"))
    if rules is UNKNOWN or UNKNOWN in rules:
        return
    found: set[str] = set()
    for rule in rules:
        action, expression = get(rule, "action"), get(rule, "match.expr.expression")
        if action is UNKNOWN or expression is UNKNOWN:
            return
        if get(rule, "preview") is True or not str(action).startswith("deny"):
            continue
        for name in _WAF_CALL.findall(str(expression or "")):
            found.update(family for family in REQUIRED_WAF if name.startswith(family))
    missing = [family for family in REQUIRED_WAF if family not in found]
    if missing:
        yield f"rules lack an enforced deny for preconfigured WAF {', '.join(missing)}"


RULES = [ssl_policy_modern, https_proxy_ssl_policy, backend_cloud_armor, armor_preconfigured_waf]
