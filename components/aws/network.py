"""The VPC: public and private subnets over several zones, NAT, flow logs and the security groups.

`Network(name, NetworkArgs(cidr_block="10.0.0.0/16", az_count=3, nat_mode="per-az"))`

Security groups form a chain that references groups, never address ranges, past the load
balancer: internet -> load balancer (`public_ports`: 443 only by default, 80 as well when the
load balancer redirects it, see `components.aws.load_balancer.listener_ports`) -> service (the
container port, only from the load balancer) -> database (5432, only from the service). The
database group has no egress; the service may reach the database and HTTPS (ECR, Secrets
Manager, S3, the JWKS URL, Datadog).
The VPC's default security group is taken over and left without rules, so anything launched
without a group can talk to nothing.

`nat_mode`:
- `per-az` (the default, prod): a NAT gateway per zone; tasks run in private subnets.
- `single`: one NAT gateway for every zone (cheaper, one zone's outage cuts egress).
- `none` (dev): no NAT; the service runs in public subnets with public IPs. Its security group
  still admits only the load balancer, so the only difference is the egress path and cost.

Outputs: `vpc_id`, `public_subnet_ids`, `private_subnet_ids`, `service_subnet_ids`,
`assign_public_ip` (a plain bool), `lb_security_group_id`, `service_security_group_id`,
`database_security_group_id`, `availability_zones`, `flow_log_group_name` (None without flow logs).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.policy_documents import (
    account_context,
    assume_role_policy,
    customer_key,
    key_policy,
    policy_document,
)

NAT_MODES = ("none", "single", "per-az")
ANYWHERE = "0.0.0.0/0"
# What a load balancer may be reached on from the internet (AWS FSBP EC2.18's authorised ports).
WEB_PORTS = (80, 443)
# Each zone gets one public and one private subnet, 1/16th of the VPC each.
_SUBNET_PREFIX_DELTA = 4
_PRIVATE_BLOCK_OFFSET = 8


@dataclass(frozen=True)
class NetworkArgs:
    cidr_block: str = "10.0.0.0/16"
    az_count: int = 2
    # Empty: the region's available zones, asked from AWS once.
    availability_zones: Sequence[str] = ()
    nat_mode: str = "per-az"
    flow_logs: bool = True
    flow_log_retention_days: int = 365
    service_port: int = 8000
    database_port: int = 5432
    # Ports the load balancer accepts from the internet: exactly the ports it listens on
    # (components.aws.load_balancer.listener_ports); 80 only when it redirects to 443.
    public_ports: Sequence[int] = (443,)

    def __post_init__(self) -> None:
        try:
            network = ipaddress.IPv4Network(self.cidr_block)
        except ValueError as error:
            raise ValueError(
                f"Network: cidr_block {self.cidr_block!r} is invalid: {error}"
            ) from None
        if not 16 <= network.prefixlen <= 24:
            raise ValueError(f"Network: cidr_block must be /16../24, got {self.cidr_block}")
        if not 2 <= self.az_count <= _PRIVATE_BLOCK_OFFSET:
            raise ValueError(
                f"Network: az_count must be 2..{_PRIVATE_BLOCK_OFFSET}, got {self.az_count}"
            )
        if self.availability_zones and len(self.availability_zones) < self.az_count:
            raise ValueError(
                f"Network: {len(self.availability_zones)} availability_zones given, "
                f"az_count is {self.az_count}"
            )
        if self.nat_mode not in NAT_MODES:
            raise ValueError(f"Network: nat_mode must be one of {NAT_MODES}, got {self.nat_mode!r}")
        ports = list(self.public_ports)
        if not ports or len(set(ports)) != len(ports) or not set(ports) <= set(WEB_PORTS):
            raise ValueError(
                f"Network: public_ports must be distinct ports among {WEB_PORTS}, "
                f"got {tuple(self.public_ports)}"
            )

    def subnet_blocks(self) -> tuple[list[str], list[str]]:
        """(public, private) CIDR blocks, one of each per zone."""
        network = ipaddress.IPv4Network(self.cidr_block)
        blocks = [str(b) for b in network.subnets(prefixlen_diff=_SUBNET_PREFIX_DELTA)]
        public = blocks[: self.az_count]
        private = blocks[_PRIVATE_BLOCK_OFFSET : _PRIVATE_BLOCK_OFFSET + self.az_count]
        return public, private


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]
    service_subnet_ids: pulumi.Output[list[str]]
    assign_public_ip: bool
    lb_security_group_id: pulumi.Output[str]
    service_security_group_id: pulumi.Output[str]
    database_security_group_id: pulumi.Output[str]
    availability_zones: list[str]
    flow_log_group_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("awaterra:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        zones = self._zones(args)
        public_blocks, private_blocks = args.subnet_blocks()

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr_block,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        # Adopt the default group and strip every rule from it.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags={"Name": f"{name}-default-locked"},
            opts=child,
        )
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags={"Name": f"{name}-igw"}, opts=child
        )

        public_subnets = [
            aws.ec2.Subnet(
                f"{name}-public-{index}",
                vpc_id=vpc.id,
                cidr_block=block,
                availability_zone=zone,
                # Nothing gets a public IP unless it asks (the dev service does, explicitly).
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{zone}", "tier": "public"},
                opts=child,
            )
            for index, (zone, block) in enumerate(zip(zones, public_blocks, strict=True))
        ]
        private_subnets = [
            aws.ec2.Subnet(
                f"{name}-private-{index}",
                vpc_id=vpc.id,
                cidr_block=block,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-private-{zone}", "tier": "private"},
                opts=child,
            )
            for index, (zone, block) in enumerate(zip(zones, private_blocks, strict=True))
        ]

        public_routes = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block=ANYWHERE, gateway_id=gateway.id)],
            tags={"Name": f"{name}-public"},
            opts=child,
        )
        for index, subnet in enumerate(public_subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-rta-{index}",
                subnet_id=subnet.id,
                route_table_id=public_routes.id,
                opts=child,
            )

        nat_ids = self._nat_gateways(name, args, public_subnets, gateway, child)
        private_route_tables = []
        for index, subnet in enumerate(private_subnets):
            routes = []
            if nat_ids:
                nat_id = nat_ids[index] if args.nat_mode == "per-az" else nat_ids[0]
                routes.append(
                    aws.ec2.RouteTableRouteArgs(cidr_block=ANYWHERE, nat_gateway_id=nat_id)
                )
            table = aws.ec2.RouteTable(
                f"{name}-private-rt-{index}",
                vpc_id=vpc.id,
                routes=routes,
                tags={"Name": f"{name}-private-{zones[index]}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-rta-{index}",
                subnet_id=subnet.id,
                route_table_id=table.id,
                opts=child,
            )
            private_route_tables.append(table)

        # S3 through a gateway endpoint: free, and media traffic never crosses a NAT.
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        aws.ec2.VpcEndpoint(
            f"{name}-s3-endpoint",
            vpc_id=vpc.id,
            service_name=pulumi.Output.concat("com.amazonaws.", region, ".s3"),
            vpc_endpoint_type="Gateway",
            route_table_ids=[public_routes.id, *(t.id for t in private_route_tables)],
            tags={"Name": f"{name}-s3"},
            opts=child,
        )

        lb_sg, service_sg, database_sg = self._security_groups(name, args, vpc, child)

        self.flow_log_group_name = (
            self._flow_logs(name, args, vpc, child) if args.flow_logs else None
        )
        self.vpc_id = vpc.id
        self.availability_zones = list(zones)
        self.public_subnet_ids = pulumi.Output.all(*(s.id for s in public_subnets))
        self.private_subnet_ids = pulumi.Output.all(*(s.id for s in private_subnets))
        self.assign_public_ip = args.nat_mode == "none"
        self.service_subnet_ids = (
            self.public_subnet_ids if self.assign_public_ip else self.private_subnet_ids
        )
        self.lb_security_group_id = lb_sg.id
        self.service_security_group_id = service_sg.id
        self.database_security_group_id = database_sg.id
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "service_subnet_ids": self.service_subnet_ids,
                "lb_security_group_id": self.lb_security_group_id,
                "service_security_group_id": self.service_security_group_id,
                "database_security_group_id": self.database_security_group_id,
            }
        )

    def _zones(self, args: NetworkArgs) -> list[str]:
        if args.availability_zones:
            return list(args.availability_zones[: args.az_count])
        available = aws.get_availability_zones(
            state="available", opts=pulumi.InvokeOptions(parent=self)
        ).names
        if len(available) < args.az_count:
            raise ValueError(
                f"Network: the region has {len(available)} available zones, "
                f"az_count is {args.az_count}"
            )
        return list(available[: args.az_count])

    def _nat_gateways(
        self,
        name: str,
        args: NetworkArgs,
        public_subnets: list[aws.ec2.Subnet],
        gateway: aws.ec2.InternetGateway,
        child: pulumi.ResourceOptions,
    ) -> list[pulumi.Output[str]]:
        if args.nat_mode == "none":
            return []
        count = len(public_subnets) if args.nat_mode == "per-az" else 1
        nat_ids = []
        for index in range(count):
            address = aws.ec2.Eip(
                f"{name}-nat-eip-{index}",
                domain="vpc",
                tags={"Name": f"{name}-nat-{index}"},
                opts=child,
            )
            nat = aws.ec2.NatGateway(
                f"{name}-nat-{index}",
                allocation_id=address.id,
                subnet_id=public_subnets[index].id,
                tags={"Name": f"{name}-nat-{index}"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
            )
            nat_ids.append(nat.id)
        return nat_ids

    def _security_groups(
        self, name: str, args: NetworkArgs, vpc: aws.ec2.Vpc, child: pulumi.ResourceOptions
    ) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        # Rules are separate resources so the groups can reference each other without a cycle.
        def group(suffix: str, description: str) -> aws.ec2.SecurityGroup:
            return aws.ec2.SecurityGroup(
                f"{name}-{suffix}-sg",
                vpc_id=vpc.id,
                description=description,
                revoke_rules_on_delete=True,
                tags={"Name": f"{name}-{suffix}"},
                opts=child,
            )

        # The description is immutable (AWS replaces the group on change): it names what is open.
        web = "HTTP/HTTPS" if 80 in args.public_ports else "HTTPS"
        lb = group("lb", f"Load balancer: {web} from the internet, to the service only")
        service = group("service", "Service tasks: from the load balancer only")
        database = group("db", "PostgreSQL: from the service only")

        def ingress(
            rule: str,
            target: aws.ec2.SecurityGroup,
            port: int,
            description: str,
            source: aws.ec2.SecurityGroup | None = None,
        ) -> None:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{rule}",
                security_group_id=target.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                referenced_security_group_id=source.id if source is not None else None,
                cidr_ipv4=None if source is not None else ANYWHERE,
                description=description,
                opts=child,
            )

        def egress(
            rule: str,
            origin: aws.ec2.SecurityGroup,
            port: int,
            description: str,
            destination: aws.ec2.SecurityGroup | None = None,
        ) -> None:
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-{rule}",
                security_group_id=origin.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                referenced_security_group_id=destination.id if destination is not None else None,
                cidr_ipv4=None if destination is not None else ANYWHERE,
                description=description,
                opts=child,
            )

        for port in args.public_ports:
            ingress(f"lb-in-{port}", lb, port, f"Internet to the load balancer on {port}")
        egress("lb-out-service", lb, args.service_port, "Load balancer to the service", service)
        ingress("service-in-lb", service, args.service_port, "From the load balancer", lb)
        egress("service-out-db", service, args.database_port, "Service to PostgreSQL", database)
        egress("service-out-https", service, 443, "AWS APIs, ECR, JWKS, Datadog over HTTPS")
        ingress("db-in-service", database, args.database_port, "From the service", service)
        return lb, service, database

    def _flow_logs(
        self, name: str, args: NetworkArgs, vpc: aws.ec2.Vpc, child: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        context = account_context(self)
        group_name = f"/vpc/{pulumi.get_project()}-{pulumi.get_stack()}/{name}/flow-logs"
        group_arn = pulumi.Output.concat(
            "arn:aws:logs:", context.region, ":", context.account_id, ":log-group:", group_name
        )
        key = customer_key(
            f"{name}-flow-logs-key",
            "VPC flow logs",
            key_policy(
                context.account_id,
                [
                    {
                        "Sid": "CloudWatchLogsUsesKeyForThisGroup",
                        "Effect": "Allow",
                        "Principal": {
                            "Service": pulumi.Output.concat(
                                "logs.", context.region, ".amazonaws.com"
                            )
                        },
                        "Action": [
                            "kms:Encrypt*",
                            "kms:Decrypt*",
                            "kms:ReEncrypt*",
                            "kms:GenerateDataKey*",
                            "kms:Describe*",
                        ],
                        "Resource": "*",
                        "Condition": {
                            "ArnEquals": {"kms:EncryptionContext:aws:logs:arn": group_arn}
                        },
                    }
                ],
            ),
            child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=group_name,
            retention_in_days=args.flow_log_retention_days,
            kms_key_id=key.arn,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            assume_role_policy=assume_role_policy(
                "vpc-flow-logs.amazonaws.com", context.account_id
            ),
            description="VPC flow logs delivery to its own log group",
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=policy_document(
                [
                    {
                        "Sid": "WriteFlowLogsToOneGroup",
                        "Effect": "Allow",
                        "Action": [
                            "logs:CreateLogStream",
                            "logs:PutLogEvents",
                            "logs:DescribeLogStreams",
                        ],
                        "Resource": [log_group.arn, pulumi.Output.concat(log_group.arn, ":*")],
                    }
                ]
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            opts=child,
        )
        return log_group.name
