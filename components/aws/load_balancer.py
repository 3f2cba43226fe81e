"""The public entry: an internet-facing Application Load Balancer that speaks only HTTPS.

`LoadBalancer(name, LoadBalancerArgs(...))` (created by `ContainerService`; usable alone).

Args (`LoadBalancerArgs`):
- `vpc_id`, `subnet_ids` (public subnets), `security_group_id` (the network's load-balancer SG:
  the `listener_ports(http_redirect)` in, container port out to the service SG),
  `certificate_arn` (from `TlsCertificate`, i.e. the validated certificate) - all required.
- `container_port: int = 8000`, `health_check_path: str = "/heartbeat"`.
- `ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"` (TLS 1.3 + TLS 1.2 with
  forward-secret AEAD ciphers only, hybrid post-quantum key exchange; AWS's current
  recommendation). `ELBSecurityPolicy-TLS13-1-2-2021-06` or a `...-FIPS-PQ-...` variant fit too.
- `deletion_protection: bool = True`; `access_logs_bucket: Input[str] | None = None` (the log
  bucket; SSE-S3 as ALB log delivery requires), `access_logs_prefix: str = "alb"`.
- `blocked_path_patterns: Sequence[str] = ("/metrics*",)` answered 404 at the load balancer.
- `hsts_max_age_seconds: int = 31536000` (`0` leaves the header out).
- `idle_timeout_seconds: int = 60`, `deregistration_delay_seconds: int = 30`,
  `ip_address_type: "ipv4" | "dualstack" = "ipv4"` (dual-stack needs IPv6 subnets).
- `http_redirect: bool = False`: also listen on port 80, answering only a 301 to HTTPS. Off by
  default: the API's clients are apps that are configured with https:// URLs and never type one,
  and a plaintext port only invites a misconfigured client to send its bearer token in clear
  before being redirected. Turn it on for browser-facing hosts (and open port 80 in the network:
  `listener_ports(http_redirect)` is what the security group must admit).

Secure defaults: HTTPS only (no port 80 at all unless `http_redirect`), invalid header fields
dropped, strictest HTTP desync mitigation, the metrics endpoint is never routed to the tasks, HSTS
and `X-Content-Type-Options: nosniff` added to every HTTPS response.

Outputs: `load_balancer_arn`, `load_balancer_arn_suffix`, `dns_name`, `zone_id`,
`target_group_arn`, `target_group_arn_suffix`, `https_listener_arn`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

DEFAULT_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
HTTPS_PORT = 443
HTTP_PORT = 80
NOT_FOUND_BODY = json.dumps(
    {"success": False, "error": {"code": "not_found", "message": "Not found"}},
    separators=(",", ":"),
)


@dataclass(frozen=True)
class LoadBalancerArgs:
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    security_group_id: pulumi.Input[str]
    certificate_arn: pulumi.Input[str]
    container_port: int = 8000
    health_check_path: str = "/heartbeat"
    ssl_policy: str = DEFAULT_SSL_POLICY
    deletion_protection: bool = True
    access_logs_bucket: pulumi.Input[str] | None = None
    access_logs_prefix: str = "alb"
    blocked_path_patterns: Sequence[str] = ("/metrics*",)
    hsts_max_age_seconds: int = 31_536_000
    idle_timeout_seconds: int = 60
    deregistration_delay_seconds: int = 30
    ip_address_type: Literal["ipv4", "dualstack"] = "ipv4"
    http_redirect: bool = False

    def __post_init__(self) -> None:
        if not self.ssl_policy.startswith("ELBSecurityPolicy-TLS13-"):
            raise ValueError(
                f"LoadBalancer: ssl_policy must be a TLS 1.3 policy "
                f"(ELBSecurityPolicy-TLS13-...), got {self.ssl_policy!r}"
            )
        if not self.health_check_path.startswith("/"):
            raise ValueError(
                f"LoadBalancer: health_check_path must start with '/', "
                f"got {self.health_check_path!r}"
            )
        if not 1 <= self.container_port <= 65535:
            raise ValueError(f"LoadBalancer: container_port out of range: {self.container_port}")
        if len(self.blocked_path_patterns) > 5:
            raise ValueError("LoadBalancer: at most 5 blocked_path_patterns (one ALB condition)")
        if self.ip_address_type not in ("ipv4", "dualstack"):
            raise ValueError(f"LoadBalancer: unknown ip_address_type {self.ip_address_type!r}")
        if self.hsts_max_age_seconds < 0:
            raise ValueError("LoadBalancer: hsts_max_age_seconds must be >= 0")


def listener_ports(http_redirect: bool) -> tuple[int, ...]:
    """The ports the load balancer listens on, i.e. what its security group must admit."""
    return (HTTP_PORT, HTTPS_PORT) if http_redirect else (HTTPS_PORT,)


class LoadBalancer(pulumi.ComponentResource):
    """ALB, target group, HTTPS listener (+ blocked paths), optional HTTP->HTTPS redirect."""

    load_balancer_arn: pulumi.Output[str]
    load_balancer_arn_suffix: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    zone_id: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]
    target_group_arn_suffix: pulumi.Output[str]
    https_listener_arn: pulumi.Output[str]
    https_listener: aws.lb.Listener

    def __init__(
        self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:load_balancer:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        access_logs = (
            aws.lb.LoadBalancerAccessLogsArgs(
                bucket=args.access_logs_bucket, prefix=args.access_logs_prefix, enabled=True
            )
            if args.access_logs_bucket is not None
            else None
        )
        balancer = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            subnets=args.subnet_ids,
            security_groups=[args.security_group_id],
            ip_address_type=args.ip_address_type,
            drop_invalid_header_fields=True,
            desync_mitigation_mode="strictest",
            enable_deletion_protection=args.deletion_protection,
            enable_http2=True,
            idle_timeout=args.idle_timeout_seconds,
            access_logs=access_logs,
            opts=child,
        )

        target_group = aws.lb.TargetGroup(
            f"{name}-tg",
            vpc_id=args.vpc_id,
            port=args.container_port,
            protocol="HTTP",
            target_type="ip",
            deregistration_delay=args.deregistration_delay_seconds,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                path=args.health_check_path,
                protocol="HTTP",
                port="traffic-port",
                matcher="200",
                interval=15,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            opts=child,
        )

        hsts = (
            f"max-age={args.hsts_max_age_seconds}; includeSubDomains"
            if args.hsts_max_age_seconds
            else None
        )
        https = aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=balancer.arn,
            port=HTTPS_PORT,
            protocol="HTTPS",
            ssl_policy=args.ssl_policy,
            certificate_arn=args.certificate_arn,
            routing_http_response_strict_transport_security_header_value=hsts,
            routing_http_response_x_content_type_options_header_value="nosniff",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)
            ],
            opts=child,
        )
        if args.http_redirect:
            aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=balancer.arn,
                port=HTTP_PORT,
                protocol="HTTP",
                default_actions=[
                    aws.lb.ListenerDefaultActionArgs(
                        type="redirect",
                        redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                            protocol="HTTPS", port=str(HTTPS_PORT), status_code="HTTP_301"
                        ),
                    )
                ],
                opts=child,
            )
        if args.blocked_path_patterns:
            aws.lb.ListenerRule(
                f"{name}-blocked-paths",
                listener_arn=https.arn,
                priority=1,
                conditions=[
                    aws.lb.ListenerRuleConditionArgs(
                        path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(
                            values=list(args.blocked_path_patterns)
                        )
                    )
                ],
                actions=[
                    aws.lb.ListenerRuleActionArgs(
                        type="fixed-response",
                        fixed_response=aws.lb.ListenerRuleActionFixedResponseArgs(
                            content_type="application/json",
                            status_code="404",
                            message_body=NOT_FOUND_BODY,
                        ),
                    )
                ],
                opts=child,
            )

        self.https_listener = https
        self.load_balancer_arn = balancer.arn
        self.load_balancer_arn_suffix = balancer.arn_suffix
        self.dns_name = balancer.dns_name
        self.zone_id = balancer.zone_id
        self.target_group_arn = target_group.arn
        self.target_group_arn_suffix = target_group.arn_suffix
        self.https_listener_arn = https.arn
        self.register_outputs(
            {
                "load_balancer_arn": self.load_balancer_arn,
                "load_balancer_arn_suffix": self.load_balancer_arn_suffix,
                "dns_name": self.dns_name,
                "zone_id": self.zone_id,
                "target_group_arn": self.target_group_arn,
                "target_group_arn_suffix": self.target_group_arn_suffix,
                "https_listener_arn": self.https_listener_arn,
            }
        )
