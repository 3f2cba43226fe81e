"""DnsRecord: A and AAAA aliases to the load balancer in the configured zone, no lookups."""

from __future__ import annotations

import pytest

from components.aws.dns import DnsRecord, DnsRecordArgs
from ops.offline import run_program

LB_DNS = "awaterra-alb-1234567890.us-east-1.elb.amazonaws.com"
LB_ZONE = "Z35SXDOTRQ7X7K"


def _args(**overrides: object) -> DnsRecordArgs:
    values: dict[str, object] = {
        "domain": "api.example.com",
        "hosted_zone_id": "Z0TEST",
        "lb_dns_name": LB_DNS,
        "lb_zone_id": LB_ZONE,
    }
    values.update(overrides)
    return DnsRecordArgs(**values)  # type: ignore[arg-type]


def test_alias_records_point_at_the_load_balancer() -> None:
    recording = run_program(
        "dev", program=lambda: DnsRecord("api", _args()), use_stack_file=False
    )
    records = recording.of_type("aws:route53/record:Record")
    assert sorted(r.inputs["type"] for r in records) == ["A", "AAAA"]
    for record in records:
        assert record.inputs["zoneId"] == "Z0TEST"
        assert record.inputs["name"] == "api.example.com"
        assert "ttl" not in record.inputs and "records" not in record.inputs
        assert record.inputs["aliases"] == [
            {"name": LB_DNS, "zoneId": LB_ZONE, "evaluateTargetHealth": True}
        ]
    assert recording.invokes == []


def test_ipv6_record_can_be_left_out() -> None:
    recording = run_program(
        "dev", program=lambda: DnsRecord("api", _args(ipv6=False)), use_stack_file=False
    )
    assert [r.inputs["type"] for r in recording.of_type("aws:route53/record:Record")] == ["A"]


@pytest.mark.parametrize("domain", ["*.example.com", "api.example.com.", "https://x.example.com"])
def test_bad_domain_is_refused(domain: str) -> None:
    with pytest.raises(ValueError, match=r"^DnsRecord: "):
        _args(domain=domain)
