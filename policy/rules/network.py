"""Network exposure: open security groups, the default security group, flow logs, public IPs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from policy.links import refers_to, unresolved
from policy.model import Context, Resource, Severity
from policy.rules._common import each, require_not_true, resource_rule, stack_rule
from policy.rules.types import (
    DEFAULT_SECURITY_GROUP,
    ECS_SERVICE,
    FLOW_LOG,
    INGRESS_RULE,
    LOAD_BALANCER,
    SECURITY_GROUP,
    SECURITY_GROUP_RULE,
    VPC,
)
from policy.values import UNKNOWN, as_int, as_list, get

ANYWHERE = ("0.0.0.0/0", "::/0")
# Remote administration and database ports that must never face the internet.
ADMIN_PORTS = {
    22: "SSH",
    3389: "RDP",
    5432: "PostgreSQL",
    3306: "MySQL",
    1433: "SQL Server",
    6379: "Redis",
    27017: "MongoDB",
}
WEB_PORTS = frozenset({80, 443})
ALL_PROTOCOLS = ("-1", "all")


@dataclass(frozen=True)
class OpenIngress:
    """One ingress permission admitting the whole internet."""

    source: Resource  # the SecurityGroup or the standalone rule resource
    from_port: int
    to_port: int

    def covers(self, port: int) -> bool:
        return self.from_port <= port <= self.to_port

    def describe(self) -> str:
        if (self.from_port, self.to_port) == (0, 65535):
            return "all ports"
        if self.from_port == self.to_port:
            return f"port {self.from_port}"
        return f"ports {self.from_port}-{self.to_port}"


def _port_range(protocol: object, from_port: object, to_port: object) -> tuple[int, int] | None:
    if protocol in ALL_PROTOCOLS:
        return 0, 65535
    low, high = as_int(from_port), as_int(to_port)
    if low is UNKNOWN or high is UNKNOWN:
        return None
    low = 0 if low is None or low < 0 else low
    high = 65535 if high is None or high < 0 else high
    return low, high


def _is_open(*cidrs: object) -> bool:
    for value in cidrs:
        listed = as_list(value)
        if listed is not UNKNOWN and any(cidr in ANYWHERE for cidr in listed):
            return True
    return False


def open_ingress(resource: Resource) -> list[OpenIngress]:
    """Every internet-wide ingress permission a security group or rule resource grants."""
    found: list[OpenIngress] = []
    props = resource.props
    if resource.type in SECURITY_GROUP:
        permissions = as_list(get(props, "ingress"))
        for permission in [] if permissions is UNKNOWN else permissions:
            if _is_open(get(permission, "cidrBlocks"), get(permission, "ipv6CidrBlocks")):
                ports = _port_range(
                    get(permission, "protocol"),
                    get(permission, "fromPort"),
                    get(permission, "toPort"),
                )
                if ports:
                    found.append(OpenIngress(resource, *ports))
    elif resource.type in SECURITY_GROUP_RULE:
        if get(props, "type") == "ingress" and _is_open(
            props.get("cidrBlocks"), props.get("ipv6CidrBlocks")
        ):
            ports = _port_range(props.get("protocol"), props.get("fromPort"), props.get("toPort"))
            if ports:
                found.append(OpenIngress(resource, *ports))
    elif resource.type in INGRESS_RULE:
        if _is_open(props.get("cidrIpv4"), props.get("cidrIpv6")):
            ports = _port_range(props.get("ipProtocol"), props.get("fromPort"), props.get("toPort"))
            if ports:
                found.append(OpenIngress(resource, *ports))
    return found


SG_TYPES = SECURITY_GROUP + SECURITY_GROUP_RULE + INGRESS_RULE


@resource_rule(
    "sg-no-public-admin-ports",
    "No ingress from 0.0.0.0/0 or ::/0 to admin or database ports",
    "AWS FSBP EC2.13 / EC2.14 / EC2.19; checkov CKV_AWS_24 / CKV_AWS_25; CIS 5.2",
    Severity.CRITICAL,
    SG_TYPES,
    "Admit these ports only from a security group (e.g. the service's), never from the internet.",
)
def no_public_admin_ports(resource: Resource, context: Context) -> Iterator[str]:
    for ingress in open_ingress(resource):
        exposed = [f"{port} ({name})" for port, name in ADMIN_PORTS.items() if ingress.covers(port)]
        if exposed:
            yield f"admits the internet on {ingress.describe()}, exposing {', '.join(exposed)}"


def _owner_groups(resources: Sequence[Resource], ingress: OpenIngress) -> list[Resource] | None:
    if ingress.source.type in SECURITY_GROUP:
        return [ingress.source]
    if unresolved(ingress.source, "securityGroupId"):
        return None
    return [
        group
        for group in each(resources, SECURITY_GROUP)
        if refers_to(ingress.source, "securityGroupId", group)
    ]


@stack_rule(
    "sg-public-ingress-web-only",
    "Internet ingress only on 80/443, and only to the load balancer's security group",
    "AWS FSBP EC2.18 (authorized ports 80, 443)",
    Severity.HIGH,
    SG_TYPES + LOAD_BALANCER,
    "Restrict internet-facing rules to the load balancer; services admit only the LB's group.",
)
def public_ingress_web_only(
    resources: Sequence[Resource], context: Context
) -> Iterator[tuple[Resource, str]]:
    balancers = [
        balancer
        for balancer in each(resources, LOAD_BALANCER)
        if get(balancer.props, "internal") is not True
    ]
    for resource in each(resources, SG_TYPES):
        for ingress in open_ingress(resource):
            if not (ingress.from_port == ingress.to_port and ingress.from_port in WEB_PORTS):
                yield resource, f"admits the internet on {ingress.describe()} (only 80/443 allowed)"
                continue
            owners = _owner_groups(resources, ingress)
            if owners is None:
                continue
            for group in owners:
                fronted = any(
                    refers_to(balancer, "securityGroups", group) for balancer in balancers
                )
                if not fronted and not any(unresolved(b, "securityGroups") for b in balancers):
                    yield (
                        resource,
                        (
                            f"admits the internet on {ingress.describe()} but security group "
                            f"{group.name} belongs to no internet-facing load balancer"
                        ),
                    )


@stack_rule(
    "default-sg-no-rules",
    "Each VPC's default security group is adopted with no rules",
    "AWS FSBP EC2.2 / checkov CKV2_AWS_12; CIS 5.4",
    Severity.MEDIUM,
    VPC + DEFAULT_SECURITY_GROUP,
    "Add an aws.ec2.DefaultSecurityGroup for the VPC with no ingress and no egress.",
)
def default_sg_no_rules(
    resources: Sequence[Resource], context: Context
) -> Iterator[tuple[Resource, str]]:
    defaults = each(resources, DEFAULT_SECURITY_GROUP)
    for vpc in each(resources, VPC):
        adopted = [group for group in defaults if refers_to(group, "vpcId", vpc)]
        if not adopted:
            if not any(unresolved(group, "vpcId") for group in defaults):
                yield (
                    vpc,
                    "its default security group is not adopted (AWS's default allows traffic)",
                )
            continue
        for group in adopted:
            for direction in ("ingress", "egress"):
                rules = as_list(get(group.props, direction))
                if rules is not UNKNOWN and rules:
                    yield vpc, f"default security group {group.name} has {direction} rules"


@stack_rule(
    "vpc-flow-logs",
    "Every VPC has flow logs",
    "AWS FSBP EC2.6 / checkov CKV2_AWS_11; CIS 3.7",
    Severity.MEDIUM,
    VPC + FLOW_LOG,
    "Enable awaterra:flowLogs (an aws.ec2.FlowLog for the VPC).",
)
def flow_logs(resources: Sequence[Resource], context: Context) -> Iterator[tuple[Resource, str]]:
    logs = each(resources, FLOW_LOG)
    for vpc in each(resources, VPC):
        if any(refers_to(log, "vpcId", vpc) for log in logs):
            continue
        if not any(unresolved(log, "vpcId") for log in logs):
            yield vpc, "has no flow log"


@resource_rule(
    "ecs-no-public-ip",
    "ECS tasks get no public IP addresses",
    "AWS FSBP ECS.2",
    Severity.MEDIUM,
    ECS_SERVICE,
    "Run tasks in private subnets behind NAT (awaterra:natMode single|per-az).",
)
def ecs_no_public_ip(resource: Resource, context: Context) -> Iterator[str]:
    yield from require_not_true(
        resource,
        "networkConfiguration.assignPublicIp",
        "networkConfiguration.assignPublicIp is true",
    )


RULES = [
    no_public_admin_ports,
    public_ingress_web_only,
    default_sg_no_rules,
    flow_logs,
    ecs_no_public_ip,
]
