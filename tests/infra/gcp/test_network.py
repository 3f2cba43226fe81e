"""Network: custom-mode VPC, private subnets with flow logs, PSA for Cloud SQL, closed ingress."""

from __future__ import annotations

import ipaddress
from typing import Any

import pulumi
import pytest

from components.gcp.network import ANYWHERE, Network, NetworkArgs
from ops.offline import Recording, run_program

SUBNET = "gcp:compute/subnetwork:Subnetwork"
FIREWALL = "gcp:compute/firewall:Firewall"
REGIONS = ["us-central1", "us-east1"]


def build(**overrides: Any) -> Recording:
    def program() -> None:
        network = Network("net", NetworkArgs(**{"regions": REGIONS, **overrides}))
        pulumi.export("network_id", network.network_id)
        pulumi.export("self_link", network.network_self_link)
        pulumi.export("subnets", network.subnet_ids)
        pulumi.export("run_subnets", network.run_subnet_ids)
        pulumi.export("psa", network.psa_connection_id)

    return run_program("prod", program=program, use_stack_file=False)


@pytest.fixture(scope="module")
def secure() -> Recording:
    return build()


def vpc(recording: Recording) -> Any:
    return recording.one("gcp:compute/network:Network")


def test_custom_mode_vpc_never_the_default_network(secure: Recording) -> None:
    inputs = vpc(secure).inputs
    assert inputs["autoCreateSubnetworks"] is False
    assert inputs["routingMode"] == "REGIONAL"
    assert inputs["name"] == "awaterra-prod-net"
    assert secure.outputs["self_link"].endswith("/global/networks/awaterra-prod-net")


def test_two_private_subnets_per_region_with_flow_logs(secure: Recording) -> None:
    subnets = secure.of_type(SUBNET)
    assert sorted(s.inputs["region"] for s in subnets) == sorted(REGIONS * 2)
    for subnet in subnets:
        inputs = subnet.inputs
        assert inputs["network"] == vpc(secure).id
        assert inputs["privateIpGoogleAccess"] is True
        assert inputs["logConfig"] == {
            "aggregationInterval": "INTERVAL_5_SEC",
            "flowSampling": 1.0,
            "metadata": "INCLUDE_ALL_METADATA",
        }
    ranges = [ipaddress.IPv4Network(s.inputs["ipCidrRange"]) for s in subnets]
    assert all(r.subnet_of(ipaddress.IPv4Network("10.0.0.0/16")) for r in ranges)
    assert not any(a.overlaps(b) for i, a in enumerate(ranges) for b in ranges[i + 1 :])


def test_cloud_run_gets_its_own_egress_subnet_in_each_region(secure: Recording) -> None:
    for region in REGIONS:
        run = secure.one(SUBNET, f"net-{region}-run")
        assert run.inputs["region"] == region
        assert secure.outputs["run_subnets"][region] == run.id
        assert secure.outputs["subnets"][region] == secure.named(f"net-{region}").id


def test_private_service_access_for_cloud_sql(secure: Recording) -> None:
    address = secure.one("gcp:compute/globalAddress:GlobalAddress").inputs
    assert address["purpose"] == "VPC_PEERING"
    assert address["addressType"] == "INTERNAL"
    assert (address["address"], address["prefixLength"]) == ("10.100.0.0", 16)
    assert address["network"] == vpc(secure).id
    connection = secure.one("gcp:servicenetworking/connection:Connection")
    assert connection.inputs["service"] == "servicenetworking.googleapis.com"
    assert connection.inputs["reservedPeeringRanges"] == [address["name"]]
    assert connection.inputs["network"] == vpc(secure).id
    assert secure.outputs["psa"] == connection.id


def test_no_firewall_rule_allows_anything_from_anywhere(secure: Recording) -> None:
    rules = secure.of_type(FIREWALL)
    assert rules, "the explicit deny rule is missing"
    for rule in rules:
        if ANYWHERE in rule.inputs.get("sourceRanges", []):
            assert not rule.inputs.get("allows"), rule.name
    (deny,) = rules
    assert deny.inputs["direction"] == "INGRESS"
    assert deny.inputs["denies"] == [{"protocol": "all"}]
    assert deny.inputs["priority"] == 65534
    assert deny.inputs["logConfig"] == {"metadata": "INCLUDE_ALL_METADATA"}


def test_every_child_is_parented_to_the_component(secure: Recording) -> None:
    component = secure.one("awaterra:gcp:Network")
    children = [r for r in secure if r.custom and not r.type.startswith("pulumi:providers:")]
    assert children and all(r.parent == component.urn for r in children)


def test_cheaper_flow_logs_are_an_explicit_choice() -> None:
    recording = build(flow_sampling=0.25, flow_aggregation_interval="INTERVAL_1_MIN")
    for subnet in recording.of_type(SUBNET):
        assert subnet.inputs["logConfig"]["flowSampling"] == 0.25
        assert subnet.inputs["logConfig"]["aggregationInterval"] == "INTERVAL_1_MIN"
    off = build(flow_logs=False, firewall_logging=False)
    assert all("logConfig" not in s.inputs for s in off.of_type(SUBNET))
    assert "logConfig" not in off.one(FIREWALL).inputs
    assert all(s.inputs["privateIpGoogleAccess"] is True for s in off.of_type(SUBNET))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"regions": []}, "at least one region"),
        ({"regions": ["us-central"]}, "is not a region"),
        ({"regions": ["us-east1", "us-east1"]}, "twice"),
        ({"cidr_block": "10.0.0.0/33"}, "invalid address range"),
        ({"cidr_block": "10.0.0.0/20"}, "must be /8../19"),
        ({"cidr_block": "10.0.0.0/19", "regions": ["us-east1", "us-west1"]}, "has no room"),
        ({"psa_range": "10.0.128.0/20"}, "must not overlap"),
        ({"psa_range": "10.200.0.0/28"}, "psa_range must be"),
        ({"routing_mode": "LOCAL"}, "routing_mode"),
        ({"flow_sampling": 0}, "flow_sampling"),
        ({"flow_aggregation_interval": "INTERVAL_2_SEC"}, "flow_aggregation_interval"),
    ],
)
def test_bad_arguments_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NetworkArgs(**overrides)
