"""The VPC: custom-mode, a subnet per region, Private Service Access for Cloud SQL, no open ports.

`Network(name, NetworkArgs(regions=["us-central1"], cidr_block="10.0.0.0/16"))`

- Custom-mode VPC (`auto_create_subnetworks=False`): no subnet exists that this component did
  not declare. The project's `default` network is never used; stop Google creating it in new
  projects with the organisation policy `compute.skipDefaultNetworkCreation` (and delete it in
  existing ones: it ships with `default-allow-ssh`/`-rdp` rules open to 0.0.0.0/0).
- Per region, two subnets carved from `cidr_block` (a /20 each): `<region>` for workloads and
  `<region>-run` for Cloud Run Direct VPC egress (Cloud Run takes addresses from it as instances
  scale; Google recommends at least a /26 and keeping it for Cloud Run only). Both have Private
  Google Access (Google APIs without public IPs) and VPC flow logs (5-second aggregation,
  `flow_sampling` of flows, all metadata: CIS GCP 3.8).
- Private Service Access: a `VPC_PEERING` global address range (`psa_range`, outside
  `cidr_block`) and the `servicenetworking` connection that Cloud SQL's private IP lives in.
  Pass `psa_connection` as a dependency of the instance.
- Firewall: one rule, deny all ingress from anywhere at the lowest usable priority, logged. GCP's
  implied rules already deny ingress; the explicit rule makes the intent visible and its logs
  show what was refused. No rule allows anything from 0.0.0.0/0: Cloud Run is reached through
  Google's front end, never through this VPC, and Cloud SQL sits in the peered producer network.

Outputs: `network_id`, `network_self_link`, `network_name`, `subnet_ids` and `run_subnet_ids`
(region -> id), `psa_range_name`, `psa_connection_id`; the attribute `psa_connection` is the
resource, for `depends_on`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

ANYWHERE = "0.0.0.0/0"
ROUTING_MODES = ("REGIONAL", "GLOBAL")
AGGREGATION_INTERVALS = (
    "INTERVAL_5_SEC",
    "INTERVAL_30_SEC",
    "INTERVAL_1_MIN",
    "INTERVAL_5_MIN",
    "INTERVAL_10_MIN",
    "INTERVAL_15_MIN",
)
_SUBNET_PREFIX = 20
_REGION = re.compile(r"^[a-z]+(-[a-z]+)+\d+$")
_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class NetworkArgs:
    regions: Sequence[str] = ("us-central1",)
    cidr_block: str = "10.0.0.0/16"
    psa_range: str = "10.100.0.0/16"
    routing_mode: str = "REGIONAL"
    flow_logs: bool = True
    flow_sampling: float = 1.0
    flow_aggregation_interval: str = "INTERVAL_5_SEC"
    firewall_logging: bool = True
    project: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        if not self.regions:
            raise ValueError("Network: regions must name at least one region")
        for region in self.regions:
            if not _REGION.match(region):
                raise ValueError(f"Network: {region!r} is not a region like us-central1")
        if len(set(self.regions)) != len(self.regions):
            raise ValueError("Network: regions lists a region twice")
        try:
            block = ipaddress.IPv4Network(self.cidr_block)
            psa = ipaddress.IPv4Network(self.psa_range)
        except ValueError as error:
            raise ValueError(f"Network: invalid address range: {error}") from None
        if not 8 <= block.prefixlen <= _SUBNET_PREFIX - 1:
            raise ValueError(f"Network: cidr_block must be /8../19, got {self.cidr_block}")
        if 2 * len(self.regions) > 2 ** (_SUBNET_PREFIX - block.prefixlen):
            raise ValueError(
                f"Network: cidr_block {self.cidr_block} has no room for two /{_SUBNET_PREFIX} "
                f"subnets in each of {len(self.regions)} regions"
            )
        if not 8 <= psa.prefixlen <= 24:
            raise ValueError(f"Network: psa_range must be /8../24, got {self.psa_range}")
        if block.overlaps(psa):
            raise ValueError("Network: psa_range must not overlap cidr_block")
        if self.routing_mode not in ROUTING_MODES:
            raise ValueError(f"Network: routing_mode must be one of {ROUTING_MODES}")
        if not 0 < self.flow_sampling <= 1:
            raise ValueError("Network: flow_sampling must be in (0, 1]")
        if self.flow_aggregation_interval not in AGGREGATION_INTERVALS:
            raise ValueError(
                f"Network: flow_aggregation_interval must be one of {AGGREGATION_INTERVALS}"
            )

    def subnet_ranges(self) -> dict[str, tuple[str, str]]:
        """region -> (workload range, Cloud Run egress range), /20s in order from cidr_block."""
        slices = ipaddress.IPv4Network(self.cidr_block).subnets(new_prefix=_SUBNET_PREFIX)
        return {region: (str(next(slices)), str(next(slices))) for region in self.regions}


class Network(pulumi.ComponentResource):
    network_id: pulumi.Output[str]
    network_self_link: pulumi.Output[str]
    network_name: pulumi.Output[str]
    subnet_ids: dict[str, pulumi.Output[str]]
    run_subnet_ids: dict[str, pulumi.Output[str]]
    psa_range_name: pulumi.Output[str]
    psa_connection: gcp.servicenetworking.Connection
    psa_connection_id: pulumi.Output[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("awaterra:gcp:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        network_name = f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}".lower()
        if not _NAME.match(network_name):
            raise ValueError(f"Network: {network_name!r} is not a valid network name")

        network = gcp.compute.Network(
            f"{name}-vpc",
            name=network_name,
            project=args.project,
            auto_create_subnetworks=False,
            routing_mode=args.routing_mode,
            description=f"{network_name}: custom-mode VPC",
            opts=child,
        )
        log_config = (
            gcp.compute.SubnetworkLogConfigArgs(
                aggregation_interval=args.flow_aggregation_interval,
                flow_sampling=args.flow_sampling,
                metadata="INCLUDE_ALL_METADATA",
            )
            if args.flow_logs
            else None
        )

        def subnet(suffix: str, region: str, cidr: str, purpose: str) -> gcp.compute.Subnetwork:
            return gcp.compute.Subnetwork(
                f"{name}-{suffix}",
                name=f"{network_name}-{suffix}",
                project=args.project,
                region=region,
                network=network.id,
                ip_cidr_range=cidr,
                private_ip_google_access=True,
                stack_type="IPV4_ONLY",
                log_config=log_config,
                description=purpose,
                opts=child,
            )

        self.subnet_ids = {}
        self.run_subnet_ids = {}
        for region, (workloads, run_egress) in args.subnet_ranges().items():
            self.subnet_ids[region] = subnet(region, region, workloads, "Workloads").id
            self.run_subnet_ids[region] = subnet(
                f"{region}-run", region, run_egress, "Cloud Run Direct VPC egress only"
            ).id

        psa = ipaddress.IPv4Network(args.psa_range)
        psa_range = gcp.compute.GlobalAddress(
            f"{name}-psa-range",
            name=f"{network_name}-psa",
            project=args.project,
            network=network.id,
            purpose="VPC_PEERING",
            address_type="INTERNAL",
            address=str(psa.network_address),
            prefix_length=psa.prefixlen,
            description="Private Service Access (Cloud SQL private IP)",
            opts=child,
        )
        self.psa_connection = gcp.servicenetworking.Connection(
            f"{name}-psa",
            network=network.id,
            service="servicenetworking.googleapis.com",
            reserved_peering_ranges=[psa_range.name],
            opts=child,
        )
        gcp.compute.Firewall(
            f"{name}-deny-all-ingress",
            name=f"{network_name}-deny-all-ingress",
            project=args.project,
            network=network.id,
            direction="INGRESS",
            # The lowest priority a rule can have; anything more specific wins over it.
            priority=65534,
            source_ranges=[ANYWHERE],
            denies=[gcp.compute.FirewallDenyArgs(protocol="all")],
            log_config=(
                gcp.compute.FirewallLogConfigArgs(metadata="INCLUDE_ALL_METADATA")
                if args.firewall_logging
                else None
            ),
            description="Deny all ingress (explicit, logged)",
            opts=child,
        )

        self.network_id = network.id
        self.network_self_link = network.self_link
        self.network_name = network.name
        self.psa_range_name = psa_range.name
        self.psa_connection_id = self.psa_connection.id
        self.register_outputs(
            {
                "network_id": self.network_id,
                "network_self_link": self.network_self_link,
                "network_name": self.network_name,
                "subnet_ids": self.subnet_ids,
                "run_subnet_ids": self.run_subnet_ids,
                "psa_range_name": self.psa_range_name,
                "psa_connection_id": self.psa_connection_id,
            }
        )
