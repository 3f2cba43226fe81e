"""VPC: no auto-mode (default-style) networks, no internet ingress to admin ports, subnet logs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from policy.model import Context, Resource, Severity
from policy.rules._common import require_true, resource_rule
from policy.rules.gcp_types import FIREWALL, NETWORK, SUBNETWORK
from policy.values import UNKNOWN, as_list, get

WORLD = ("0.0.0.0/0", "::/0")
# SSH, RDP, PostgreSQL, MySQL and plain HTTP (the HTTPS load balancer needs no firewall opening).
FORBIDDEN_PORTS = {22: "SSH", 3389: "RDP", 5432: "PostgreSQL", 3306: "MySQL", 80: "HTTP"}


@resource_rule(
    "gcp-network-custom-mode",
    "VPC networks are custom mode (no auto-created default-style subnets)",
    "CIS GCP 3.1 (no default network) / 3.2 (no legacy network)",
    Severity.MEDIUM,
    NETWORK,
    "Set auto_create_subnetworks=False and create the subnets explicitly.",
)
def custom_mode(resource: Resource, context: Context) -> Iterator[str]:
    value = get(resource.props, "autoCreateSubnetworks")
    if value is not UNKNOWN and value is not False:
        yield "autoCreateSubnetworks is not false (the provider default creates one per region)"


def _covers(ports: Any, port: int) -> bool | None:
    listed = as_list(ports)
    if listed is UNKNOWN or UNKNOWN in listed:
        return None
    if not listed:
        return True  # no ports: every port of the protocol
    for item in listed:
        low, _, high = str(item).partition("-")
        try:
            if int(low) <= port <= int(high or low):
                return True
        except ValueError:
            return None
    return False


@resource_rule(
    "gcp-firewall-no-public-admin-ports",
    "No firewall ingress from 0.0.0.0/0 or ::/0 to SSH, RDP, database or HTTP ports",
    "CIS GCP 3.6 / 3.7 / checkov CKV_GCP_2 / CKV_GCP_3 / CKV_GCP_106",
    Severity.CRITICAL,
    FIREWALL,
    "Restrict source_ranges to the load balancer / IAP ranges, or use IAP TCP forwarding.",
)
def no_public_admin_ports(resource: Resource, context: Context) -> Iterator[str]:
    direction = get(resource.props, "direction")
    if direction is UNKNOWN or direction not in (None, "INGRESS"):
        return
    if get(resource.props, "disabled") is True:
        return
    sources = as_list(get(resource.props, "sourceRanges"))
    if sources is UNKNOWN:
        return
    open_to = [cidr for cidr in sources if cidr in WORLD]
    if not open_to:
        return
    allows = as_list(get(resource.props, "allows"))
    if allows is UNKNOWN:
        return
    for allow in allows:
        protocol = get(allow, "protocol")
        if protocol is UNKNOWN or str(protocol).lower() not in ("tcp", "all"):
            continue
        for port, what in FORBIDDEN_PORTS.items():
            if _covers(get(allow, "ports"), port):
                yield f"allows opens {what} (tcp/{port}) to sourceRanges {', '.join(open_to)}"


@resource_rule(
    "gcp-subnet-flow-logs",
    "Every subnet has VPC flow logs",
    "CIS GCP 3.8 / checkov CKV_GCP_26",
    Severity.MEDIUM,
    SUBNETWORK,
    "Set log_config (aggregation_interval, flow_sampling=0.5, metadata=INCLUDE_ALL_METADATA).",
)
def flow_logs(resource: Resource, context: Context) -> Iterator[str]:
    purpose = get(resource.props, "purpose")
    if purpose not in (None, "PRIVATE", UNKNOWN):
        return  # proxy-only and PSC subnets do not support flow logs
    if get(resource.props, "logConfig") is None:
        yield "logConfig is not set (no flow logs)"


@resource_rule(
    "gcp-subnet-private-google-access",
    "Subnets reach Google APIs privately",
    "checkov CKV_GCP_74",
    Severity.MEDIUM,
    SUBNETWORK,
    "Set private_ip_google_access=True.",
)
def private_google_access(resource: Resource, context: Context) -> Iterator[str]:
    purpose = get(resource.props, "purpose")
    if purpose not in (None, "PRIVATE", UNKNOWN):
        return
    yield from require_true(
        resource, "privateIpGoogleAccess", "privateIpGoogleAccess is not enabled"
    )


RULES = [custom_mode, no_public_admin_ports, flow_logs, private_google_access]
