"""Network: subnets per zone, NAT modes, the security group chain, locked default SG, flow logs."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from components.aws.network import Network, NetworkArgs
from ops.offline import RecordedResource, Recording, run_program
from tests.infra.policy_helpers import as_list, document, statements

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG = "aws:ec2/securityGroup:SecurityGroup"
ZONES_INVOKE = "aws:index/getAvailabilityZones:getAvailabilityZones"


def build(**kwargs: Any) -> tuple[Recording, dict[str, Network]]:
    built: dict[str, Network] = {}

    def program() -> None:
        built["net"] = Network("net", NetworkArgs(**kwargs))

    return run_program("test", program=program, use_stack_file=False), built


@pytest.fixture(scope="module")
def prod() -> Recording:
    return build(az_count=3, nat_mode="per-az", flow_logs=True, flow_log_retention_days=90)[0]


@pytest.fixture(scope="module")
def dev() -> tuple[Recording, dict[str, Network]]:
    return build(az_count=2, nat_mode="none", flow_logs=False)


def group_id(recording: Recording, suffix: str) -> str:
    return recording.one(SG, f"net-{suffix}-sg").id


def rules_of(recording: Recording, token: str, group: str) -> list[RecordedResource]:
    return [r for r in recording.of_type(token) if r.inputs["securityGroupId"] == group]


def ports(rule: RecordedResource) -> tuple[int, int]:
    return int(rule.inputs["fromPort"]), int(rule.inputs["toPort"])


def test_subnets_one_public_and_one_private_per_zone_inside_the_vpc(prod: Recording) -> None:
    subnets = prod.of_type("aws:ec2/subnet:Subnet")
    public = [s for s in subnets if s.inputs["tags"]["tier"] == "public"]
    private = [s for s in subnets if s.inputs["tags"]["tier"] == "private"]
    assert len(public) == len(private) == 3
    assert {s.inputs["availabilityZone"] for s in public} == {
        "us-east-1a",
        "us-east-1b",
        "us-east-1c",
    }
    assert {s.inputs["availabilityZone"] for s in private} == {
        "us-east-1a",
        "us-east-1b",
        "us-east-1c",
    }
    vpc = ipaddress.IPv4Network(prod.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"])
    blocks = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in subnets]
    assert all(block.subnet_of(vpc) for block in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)


def test_zones_come_from_one_invoke_or_from_config() -> None:
    asked, _ = build(az_count=2)
    assert [token for token, _ in asked.invokes].count(ZONES_INVOKE) == 1
    given, _ = build(az_count=2, availability_zones=("eu-west-1b", "eu-west-1c", "eu-west-1a"))
    assert ZONES_INVOKE not in [token for token, _ in given.invokes]
    zones = {s.inputs["availabilityZone"] for s in given.of_type("aws:ec2/subnet:Subnet")}
    assert zones == {"eu-west-1b", "eu-west-1c"}


def test_default_security_group_is_stripped_of_every_rule(prod: Recording) -> None:
    default = prod.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default.inputs["vpcId"] == prod.one("aws:ec2/vpc:Vpc").id
    assert default.inputs.get("ingress", []) == [] and default.inputs.get("egress", []) == []


def internet_rules(recording: Recording) -> list[RecordedResource]:
    return [
        r
        for r in recording.of_type(INGRESS)
        if r.inputs.get("cidrIpv4") or r.inputs.get("cidrIpv6")
    ]


def test_only_443_on_the_load_balancer_is_open_to_the_internet_by_default(
    prod: Recording,
) -> None:
    open_rules = internet_rules(prod)
    assert [ports(r) for r in open_rules] == [(443, 443)]
    assert [r.inputs["cidrIpv4"] for r in open_rules] == ["0.0.0.0/0"]
    assert {r.inputs["securityGroupId"] for r in open_rules} == {group_id(prod, "lb")}
    assert all(r.inputs["ipProtocol"] == "tcp" for r in prod.of_type(INGRESS))
    assert all(ports(r) != (80, 80) for r in prod.of_type(INGRESS))
    assert "HTTP/" not in prod.one(SG, "net-lb-sg").inputs["description"]


def test_port_80_opens_only_when_the_load_balancer_redirects_it() -> None:
    recording, _ = build(public_ports=(80, 443))
    open_rules = internet_rules(recording)
    assert sorted(ports(r) for r in open_rules) == [(80, 80), (443, 443)]
    assert {r.inputs["securityGroupId"] for r in open_rules} == {group_id(recording, "lb")}
    assert recording.named("net-lb-in-80").inputs["cidrIpv4"] == "0.0.0.0/0"


def test_service_is_reachable_only_from_the_load_balancer_on_its_port(prod: Recording) -> None:
    (rule,) = rules_of(prod, INGRESS, group_id(prod, "service"))
    assert rule.inputs["referencedSecurityGroupId"] == group_id(prod, "lb")
    assert ports(rule) == (8000, 8000)
    (lb_out,) = rules_of(prod, EGRESS, group_id(prod, "lb"))
    assert lb_out.inputs["referencedSecurityGroupId"] == group_id(prod, "service")
    assert ports(lb_out) == (8000, 8000)


def test_database_is_reachable_only_from_the_service_and_reaches_nothing(prod: Recording) -> None:
    database = group_id(prod, "db")
    (rule,) = rules_of(prod, INGRESS, database)
    assert rule.inputs["referencedSecurityGroupId"] == group_id(prod, "service")
    assert ports(rule) == (5432, 5432)
    assert rules_of(prod, EGRESS, database) == []


def test_service_egress_is_postgres_to_the_database_and_https_only(prod: Recording) -> None:
    egress = rules_of(prod, EGRESS, group_id(prod, "service"))
    by_port = {ports(r): r.inputs for r in egress}
    assert set(by_port) == {(5432, 5432), (443, 443)}
    assert by_port[(5432, 5432)]["referencedSecurityGroupId"] == group_id(prod, "db")
    assert by_port[(443, 443)]["cidrIpv4"] == "0.0.0.0/0"


def test_per_az_nat_gives_each_private_subnet_its_own_gateway(prod: Recording) -> None:
    nats = prod.of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == 3
    public_ids = {
        s.id for s in prod.of_type("aws:ec2/subnet:Subnet") if s.inputs["tags"]["tier"] == "public"
    }
    assert {n.inputs["subnetId"] for n in nats} == public_ids
    private_tables = [
        t for t in prod.of_type("aws:ec2/routeTable:RouteTable") if "private" in t.name
    ]
    targets = [t.inputs["routes"][0]["natGatewayId"] for t in private_tables]
    assert sorted(targets) == sorted(n.id for n in nats)


def test_public_route_goes_to_the_internet_gateway(prod: Recording) -> None:
    table = prod.one("aws:ec2/routeTable:RouteTable", "public-rt")
    (route,) = table.inputs["routes"]
    assert route["cidrBlock"] == "0.0.0.0/0"
    assert route["gatewayId"] == prod.one("aws:ec2/internetGateway:InternetGateway").id


def test_single_nat_serves_every_zone() -> None:
    recording, _ = build(az_count=3, nat_mode="single", flow_logs=False)
    (nat,) = recording.of_type("aws:ec2/natGateway:NatGateway")
    private_tables = [
        t for t in recording.of_type("aws:ec2/routeTable:RouteTable") if "private" in t.name
    ]
    assert {t.inputs["routes"][0]["natGatewayId"] for t in private_tables} == {nat.id}


def test_without_nat_the_service_runs_in_public_subnets_with_public_ips(
    dev: tuple[Recording, dict[str, Network]],
) -> None:
    recording, built = dev
    assert recording.of_type("aws:ec2/natGateway:NatGateway") == []
    assert recording.of_type("aws:ec2/eip:Eip") == []
    private_tables = [
        t for t in recording.of_type("aws:ec2/routeTable:RouteTable") if "private" in t.name
    ]
    assert all(not t.inputs.get("routes") for t in private_tables)
    network = built["net"]
    assert network.assign_public_ip is True
    # The service SG still admits only the load balancer.
    (rule,) = rules_of(recording, INGRESS, group_id(recording, "service"))
    assert rule.inputs["referencedSecurityGroupId"] == group_id(recording, "lb")


def test_s3_gateway_endpoint_serves_every_route_table(prod: Recording) -> None:
    endpoint = prod.one("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert endpoint.inputs["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"
    tables = {t.id for t in prod.of_type("aws:ec2/routeTable:RouteTable")}
    assert set(endpoint.inputs["routeTableIds"]) == tables


def test_flow_logs_go_to_a_kms_encrypted_group_with_retention(prod: Recording) -> None:
    flow_log = prod.one("aws:ec2/flowLog:FlowLog")
    group = prod.one("aws:cloudwatch/logGroup:LogGroup")
    key = prod.one("aws:kms/key:Key", "flow-logs")
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["vpcId"] == prod.one("aws:ec2/vpc:Vpc").id
    assert flow_log.inputs["logDestination"] == group.outputs["arn"]
    assert group.inputs["retentionInDays"] == 90
    assert group.inputs["kmsKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    (logs_use,) = [s for s in statements(key) if s["Sid"] == "CloudWatchLogsUsesKeyForThisGroup"]
    assert logs_use["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    condition = logs_use["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
    assert condition.endswith(f":log-group:{group.inputs['name']}")


def test_flow_log_role_may_only_write_to_its_group(prod: Recording) -> None:
    role = prod.one("aws:iam/role:Role", "flow-logs")
    (trust,) = statements(role, "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"
    assert prod.one("aws:ec2/flowLog:FlowLog").inputs["iamRoleArn"] == role.outputs["arn"]
    policy = prod.one("aws:iam/rolePolicy:RolePolicy", "flow-logs")
    assert policy.inputs["role"] == role.id
    (grant,) = document(policy)["Statement"]
    assert set(grant["Action"]) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogStreams",
    }
    group_arn = prod.one("aws:cloudwatch/logGroup:LogGroup").outputs["arn"]
    assert set(as_list(grant["Resource"])) == {group_arn, f"{group_arn}:*"}


def test_no_flow_logs_when_disabled(dev: tuple[Recording, dict[str, Network]]) -> None:
    recording, built = dev
    assert recording.of_type("aws:ec2/flowLog:FlowLog") == []
    assert built["net"].flow_log_group_name is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cidr_block": "10.0.0.0/8"}, "must be /16../24"),
        ({"cidr_block": "banana"}, "is invalid"),
        ({"az_count": 1}, "az_count must be 2.."),
        ({"nat_mode": "shared"}, "nat_mode must be one of"),
        ({"az_count": 3, "availability_zones": ("us-east-1a",)}, "1 availability_zones given"),
        ({"public_ports": (22, 443)}, "public_ports must be distinct ports among"),
        ({"public_ports": ()}, "public_ports must be distinct ports among"),
        ({"public_ports": (443, 443)}, "public_ports must be distinct ports among"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NetworkArgs(**kwargs)
