"""The public entry on Google Cloud: a global external HTTPS load balancer with Cloud Armor.

`Edge(name, EdgeArgs(project="p", region="europe-west1", cloud_run_service=run.service_name,
domain="api.example.com", dns_zone="example-com"))`

Args (`EdgeArgs`):
- `project: Input[str]`, `region: str` (the Cloud Run service's), `cloud_run_service:
  Input[str]` (its name), `domain: str` (the API's host name), `dns_zone: str` (the *name* of an
  existing Cloud DNS managed zone that holds `domain`) - required.
- `ssl_profile: "RESTRICTED" | "MODERN" = "RESTRICTED"` and `min_tls_version: "TLS_1_2" |
  "TLS_1_3" = "TLS_1_2"` (RESTRICTED: TLS 1.2 with forward-secret AEAD ciphers only, and
  TLS 1.3; the SSL policy object is named for the stack).
- `http_redirect: bool = False`: also listen on port 80, answering only a 301 to HTTPS (same
  address). Off by default for the reason given in components/aws/load_balancer.py: the clients are
  apps configured with https:// URLs, and a plaintext port only invites a token sent in clear.
- `blocked_paths: Sequence[str] = ("/metrics", "/metrics/*")` answered 404 by the load
  balancer itself (a route with a 100 % fault-injection abort, status 404: the URL map's way
  to answer without a backend), for every host name, so Prometheus metrics are never public.
- `hsts_max_age_seconds: int = 31536000` (0 leaves the header out); `X-Content-Type-Options:
  nosniff` is always added.
- `log_sample_rate: float = 1.0` the share of requests logged by the load balancer (0 < r <= 1).
- Cloud Armor: `waf_rules: Sequence[str]` the preconfigured rule sets denied with 403
  (default `sqli-v33-stable`, `xss-v33-stable`, `lfi-v33-stable`, `rce-v33-stable`,
  `scannerdetection-v33-stable`, `protocolattack-v33-stable`, `cve-canary`),
  `waf_sensitivity: int = 1` (1..4; 1 has the fewest false positives), `waf_preview: bool =
  False` (log what the WAF rules would deny without denying: for tuning a new API surface,
  never as the steady state), `json_parsing: bool =
  True` (the WAF parses JSON bodies instead of matching raw text: fewer false positives on an
  API); a per-client-IP rate rule first: `rate_limit_count: int = 600` requests per
  `rate_limit_interval_seconds: int = 60`, `rate_limit_action: "throttle" | "rate_based_ban" =
  "throttle"` (requests above the rate get 429; a ban blocks the IP for `ban_duration_seconds:
  int = 300` once it exceeds the rate); `adaptive_protection: bool = False` (layer-7 DDoS
  detection: needs Cloud Armor Enterprise for its alerts to be actionable); a final
  `allow` rule at priority 2147483647 (the policy's default rule).
- `dns_ttl: int = 300`, `labels: Mapping[str, str] = {}`.

Creates, every piece with `load_balancing_scheme = EXTERNAL_MANAGED` where it applies: a
serverless NEG for the Cloud Run service, a backend service (logging on, the Cloud Armor policy
attached, HSTS + nosniff response headers), the URL map, a Google-managed certificate for
`domain` (issued once the A record below resolves to the load balancer; until then HTTPS
handshakes fail), the SSL policy, the target HTTPS proxy, a reserved global IPv4 address and the
forwarding rule on 443, and the A record in `dns_zone`.

Outputs: `ip_address`, `url` (`https://<domain>`), `security_policy_id`, `backend_service_id`,
`certificate_id`, `url_map_name` (the HTTPS URL map's name: the load balancer's metrics label).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_gcp as gcp

SCHEME = "EXTERNAL_MANAGED"
HTTPS_PORT = "443"
HTTP_PORT = "80"
DEFAULT_RULE_PRIORITY = 2_147_483_647
RATE_RULE_PRIORITY = 100
WAF_FIRST_PRIORITY = 1000
DEFAULT_WAF_RULES = (
    "sqli-v33-stable",
    "xss-v33-stable",
    "lfi-v33-stable",
    "rce-v33-stable",
    "scannerdetection-v33-stable",
    "protocolattack-v33-stable",
    "cve-canary",
)
RATE_INTERVALS = (10, 30, 60, 120, 180, 240, 300, 600, 900, 1200, 1800, 2700, 3600)
DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
WAF_RULE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
ZONE_NAME = re.compile(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class EdgeArgs:
    project: pulumi.Input[str]
    region: str
    cloud_run_service: pulumi.Input[str]
    domain: str
    dns_zone: str
    ssl_profile: Literal["RESTRICTED", "MODERN"] = "RESTRICTED"
    min_tls_version: Literal["TLS_1_2", "TLS_1_3"] = "TLS_1_2"
    http_redirect: bool = False
    blocked_paths: Sequence[str] = ("/metrics", "/metrics/*")
    hsts_max_age_seconds: int = 31_536_000
    log_sample_rate: float = 1.0
    waf_rules: Sequence[str] = DEFAULT_WAF_RULES
    waf_sensitivity: int = 1
    waf_preview: bool = False
    json_parsing: bool = True
    rate_limit_count: int = 600
    rate_limit_interval_seconds: int = 60
    rate_limit_action: Literal["throttle", "rate_based_ban"] = "throttle"
    ban_duration_seconds: int = 300
    adaptive_protection: bool = False
    dns_ttl: int = 300
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = [p for p in self._problems() if p]
        if problems:
            raise ValueError("Edge: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        return [
            "" if DOMAIN.fullmatch(self.domain) else f"domain is not a host name: {self.domain!r}",
            "" if ZONE_NAME.fullmatch(self.dns_zone)
            else f"dns_zone must be a managed zone's name, got {self.dns_zone!r}",
            "" if self.ssl_profile in ("RESTRICTED", "MODERN")
            else f"ssl_profile must be RESTRICTED or MODERN, got {self.ssl_profile!r}",
            "" if self.min_tls_version in ("TLS_1_2", "TLS_1_3")
            else f"min_tls_version must be TLS_1_2 or TLS_1_3, got {self.min_tls_version!r}",
            "" if all(p.startswith("/") for p in self.blocked_paths)
            else f"blocked_paths must start with '/': {list(self.blocked_paths)}",
            "" if self.hsts_max_age_seconds >= 0 else "hsts_max_age_seconds must be >= 0",
            "" if 0 < self.log_sample_rate <= 1
            else f"log_sample_rate must be in (0, 1], got {self.log_sample_rate}",
            "" if self.waf_rules and all(WAF_RULE.fullmatch(r) for r in self.waf_rules)
            and len(set(self.waf_rules)) == len(self.waf_rules)
            else f"waf_rules must be distinct preconfigured rule names: {list(self.waf_rules)}",
            "" if 1 <= self.waf_sensitivity <= 4
            else f"waf_sensitivity must be 1..4, got {self.waf_sensitivity}",
            "" if self.rate_limit_count >= 1
            else f"rate_limit_count must be >= 1, got {self.rate_limit_count}",
            "" if self.rate_limit_interval_seconds in RATE_INTERVALS
            else f"rate_limit_interval_seconds must be one of {RATE_INTERVALS}",
            "" if self.rate_limit_action in ("throttle", "rate_based_ban")
            else f"rate_limit_action must be throttle or rate_based_ban, "
            f"got {self.rate_limit_action!r}",
            "" if self.ban_duration_seconds >= 1 else "ban_duration_seconds must be >= 1",
            "" if self.dns_ttl >= 1 else "dns_ttl must be >= 1",
        ]  # fmt: skip


def waf_expression(rule: str, sensitivity: int) -> str:
    return f"evaluatePreconfiguredWaf('{rule}', {{'sensitivity': {sensitivity}}})"


def _all_ips() -> gcp.compute.SecurityPolicyRuleMatchArgs:
    return gcp.compute.SecurityPolicyRuleMatchArgs(
        versioned_expr="SRC_IPS_V1",
        config=gcp.compute.SecurityPolicyRuleMatchConfigArgs(src_ip_ranges=["*"]),
    )


def security_rules(args: EdgeArgs) -> list[gcp.compute.SecurityPolicyRuleArgs]:
    """Rate rule first (a flood is cut before WAF inspection), then the WAF, then allow."""
    ban = args.rate_limit_action == "rate_based_ban"
    rate = gcp.compute.SecurityPolicyRuleArgs(
        priority=RATE_RULE_PRIORITY,
        description=(
            f"per-IP limit: {args.rate_limit_count} requests / {args.rate_limit_interval_seconds}s"
        ),
        action=args.rate_limit_action,
        match=_all_ips(),
        rate_limit_options=gcp.compute.SecurityPolicyRuleRateLimitOptionsArgs(
            conform_action="allow",
            exceed_action="deny(429)",
            enforce_on_key="IP",
            rate_limit_threshold=gcp.compute.SecurityPolicyRuleRateLimitOptionsRateLimitThresholdArgs(
                count=args.rate_limit_count, interval_sec=args.rate_limit_interval_seconds
            ),
            ban_duration_sec=args.ban_duration_seconds if ban else None,
        ),
    )
    waf = [
        gcp.compute.SecurityPolicyRuleArgs(
            priority=WAF_FIRST_PRIORITY + index,
            description=f"preconfigured WAF: {rule}",
            action="deny(403)",
            preview=args.waf_preview,
            match=gcp.compute.SecurityPolicyRuleMatchArgs(
                expr=gcp.compute.SecurityPolicyRuleMatchExprArgs(
                    expression=waf_expression(rule, args.waf_sensitivity)
                )
            ),
        )
        for index, rule in enumerate(args.waf_rules)
    ]
    default = gcp.compute.SecurityPolicyRuleArgs(
        priority=DEFAULT_RULE_PRIORITY,
        description="default: allow what no rule above denied",
        action="allow",
        match=_all_ips(),
    )
    return [rate, *waf, default]


def _response_headers(args: EdgeArgs) -> list[str]:
    headers = ["X-Content-Type-Options: nosniff"]
    if args.hsts_max_age_seconds:
        headers.insert(
            0, f"Strict-Transport-Security: max-age={args.hsts_max_age_seconds}; includeSubDomains"
        )
    return headers


class Edge(pulumi.ComponentResource):
    """Global external HTTPS LB (EXTERNAL_MANAGED) -> serverless NEG, Cloud Armor, DNS A record."""

    ip_address: pulumi.Output[str]
    url: str
    security_policy_id: pulumi.Output[str]
    backend_service_id: pulumi.Output[str]
    certificate_id: pulumi.Output[str]
    url_map_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:gcp:Edge", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        project = args.project

        policy = gcp.compute.SecurityPolicy(
            f"{name}-armor",
            project=project,
            type="CLOUD_ARMOR",
            description=f"{name}: per-IP rate limit and preconfigured WAF rules",
            rules=security_rules(args),
            advanced_options_config=gcp.compute.SecurityPolicyAdvancedOptionsConfigArgs(
                json_parsing="STANDARD" if args.json_parsing else "DISABLED",
                log_level="NORMAL",
            ),
            adaptive_protection_config=gcp.compute.SecurityPolicyAdaptiveProtectionConfigArgs(
                layer7_ddos_defense_config=gcp.compute.SecurityPolicyAdaptiveProtectionConfigLayer7DdosDefenseConfigArgs(
                    enable=True
                )
            )
            if args.adaptive_protection
            else None,
            opts=child,
        )

        neg = gcp.compute.RegionNetworkEndpointGroup(
            f"{name}-neg",
            project=project,
            region=args.region,
            network_endpoint_type="SERVERLESS",
            cloud_run=gcp.compute.RegionNetworkEndpointGroupCloudRunArgs(
                service=args.cloud_run_service
            ),
            opts=child,
        )
        backend = gcp.compute.BackendService(
            f"{name}-backend",
            project=project,
            description=f"{name}: the Cloud Run service",
            load_balancing_scheme=SCHEME,
            protocol="HTTPS",
            backends=[gcp.compute.BackendServiceBackendArgs(group=neg.id)],
            security_policy=policy.self_link,
            log_config=gcp.compute.BackendServiceLogConfigArgs(
                enable=True, sample_rate=args.log_sample_rate
            ),
            custom_response_headers=_response_headers(args),
            opts=child,
        )

        blocked = (
            [
                gcp.compute.URLMapPathMatcherPathRuleArgs(
                    paths=list(args.blocked_paths),
                    service=backend.id,
                    route_action=gcp.compute.URLMapPathMatcherPathRuleRouteActionArgs(
                        fault_injection_policy=gcp.compute.URLMapPathMatcherPathRuleRouteActionFaultInjectionPolicyArgs(
                            abort=gcp.compute.URLMapPathMatcherPathRuleRouteActionFaultInjectionPolicyAbortArgs(
                                http_status=404, percentage=100
                            )
                        )
                    ),
                )
            ]
            if args.blocked_paths
            else None
        )  # fmt: skip
        url_map = gcp.compute.URLMap(
            f"{name}-urlmap",
            project=project,
            description=f"{name}: everything to the service except the blocked paths",
            default_service=backend.id,
            # "*": the blocked paths are blocked whatever Host header a client sends.
            host_rules=[gcp.compute.URLMapHostRuleArgs(hosts=["*"], path_matcher="api")],
            path_matchers=[
                gcp.compute.URLMapPathMatcherArgs(
                    name="api", default_service=backend.id, path_rules=blocked
                )
            ],
            opts=child,
        )

        certificate = gcp.compute.ManagedSslCertificate(
            f"{name}-cert",
            project=project,
            type="MANAGED",
            managed=gcp.compute.ManagedSslCertificateManagedArgs(domains=[args.domain]),
            opts=child,
        )
        ssl_policy = gcp.compute.SSLPolicy(
            f"{name}-tls",
            project=project,
            description=f"{name}: {args.ssl_profile}, {args.min_tls_version} or newer",
            profile=args.ssl_profile,
            min_tls_version=args.min_tls_version,
            opts=child,
        )
        https_proxy = gcp.compute.TargetHttpsProxy(
            f"{name}-https",
            project=project,
            url_map=url_map.id,
            ssl_certificates=[certificate.id],
            ssl_policy=ssl_policy.id,
            opts=child,
        )
        address = gcp.compute.GlobalAddress(
            f"{name}-ip",
            project=project,
            description=f"{name}: the API's public address",
            address_type="EXTERNAL",
            ip_version="IPV4",
            labels=dict(args.labels) or None,
            opts=child,
        )
        gcp.compute.GlobalForwardingRule(
            f"{name}-https-rule",
            project=project,
            load_balancing_scheme=SCHEME,
            ip_protocol="TCP",
            ip_address=address.address,
            port_range=HTTPS_PORT,
            target=https_proxy.id,
            labels=dict(args.labels) or None,
            opts=child,
        )

        if args.http_redirect:
            redirect_map = gcp.compute.URLMap(
                f"{name}-redirect",
                project=project,
                description=f"{name}: port 80 answers only a redirect to HTTPS",
                default_url_redirect=gcp.compute.URLMapDefaultUrlRedirectArgs(
                    https_redirect=True,
                    strip_query=False,
                    redirect_response_code="MOVED_PERMANENTLY_DEFAULT",
                ),
                opts=child,
            )
            http_proxy = gcp.compute.TargetHttpProxy(
                f"{name}-http", project=project, url_map=redirect_map.id, opts=child
            )
            gcp.compute.GlobalForwardingRule(
                f"{name}-http-rule",
                project=project,
                load_balancing_scheme=SCHEME,
                ip_protocol="TCP",
                ip_address=address.address,
                port_range=HTTP_PORT,
                target=http_proxy.id,
                labels=dict(args.labels) or None,
                opts=child,
            )

        gcp.dns.RecordSet(
            f"{name}-a",
            project=project,
            managed_zone=args.dns_zone,
            name=f"{args.domain}.",
            type="A",
            ttl=args.dns_ttl,
            rrdatas=[address.address],
            opts=child,
        )

        self.ip_address = address.address
        self.url = f"https://{args.domain}"
        self.security_policy_id = policy.id
        self.backend_service_id = backend.id
        self.certificate_id = certificate.id
        # What the load balancer's metrics are labelled with (url_map_name), e.g. for Datadog.
        self.url_map_name = url_map.name
        self.register_outputs(
            {
                "ip_address": self.ip_address,
                "url": self.url,
                "security_policy_id": self.security_policy_id,
                "backend_service_id": self.backend_service_id,
                "certificate_id": self.certificate_id,
                "url_map_name": self.url_map_name,
            }
        )
