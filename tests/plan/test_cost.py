"""The cost estimate: itemised, summed, dated, and dev within its $60/month target."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from ops.cost import PRICES, PRICES_AS_OF, USAGE, CostError, estimate, render
from ops.offline import REPO_ROOT
from ops.plan import record

DEV_TARGET = 60.0
needs_program = pytest.mark.skipif(
    not (REPO_ROOT / "__main__.py").exists(), reason="the Pulumi program (__main__.py) is not there"
)


@dataclass
class Fake:
    type: str
    name: str
    inputs: dict[str, Any] = field(default_factory=dict)


SMALL_STACK = [
    Fake("aws:ecs/taskDefinition:TaskDefinition", "task", {"cpu": "512", "memory": "1024"}),
    Fake(
        "aws:ecs/service:Service",
        "svc",
        {"desiredCount": 2, "networkConfiguration": {"assignPublicIp": True}},
    ),
    Fake(
        "aws:rds/instance:Instance",
        "db",
        {
            "instanceClass": "db.t4g.micro",
            "allocatedStorage": 20,
            "multiAz": True,
            "manageMasterUserPassword": True,
        },
    ),
    Fake("aws:lb/loadBalancer:LoadBalancer", "lb", {"subnets": ["a", "b"]}),
    Fake("aws:ec2/natGateway:NatGateway", "nat"),
    Fake("aws:kms/key:Key", "key"),
]


def test_items_sum_to_total_and_follow_the_price_table() -> None:
    result = estimate("dev", SMALL_STACK)
    assert result.total == pytest.approx(sum(item.monthly for item in result.items), abs=0.01)
    by_what = {item.what: item for item in result.items}
    fargate = by_what["2 task(s) x 0.5 vCPU (x86)"]
    assert fargate.monthly == pytest.approx(
        2 * 0.5 * 730 * PRICES["fargate.vcpu.x86"].amount, abs=0.01
    )
    database = by_what["db.t4g.micro Multi-AZ"]
    assert database.monthly == pytest.approx(730 * 0.016 * 2, abs=0.01)
    assert by_what["NAT gateway hours"].monthly == pytest.approx(730 * 0.045, abs=0.01)
    assert by_what["2 task public IPv4 address(es)"].quantity == 2 * 730
    assert all(item.source for item in result.items)


def test_unknown_instance_class_is_a_clear_error() -> None:
    with pytest.raises(CostError, match=r"no price for RDS class db\.x9\.huge"):
        estimate("dev", [Fake("aws:rds/instance:Instance", "db", {"instanceClass": "db.x9.huge"})])


def test_rendering_prints_date_assumptions_and_total() -> None:
    text = render(estimate("prod", SMALL_STACK))
    assert PRICES_AS_OF in text and "hours_per_month" in text and "TOTAL" in text
    assert set(USAGE) == {"dev", "prod"}


@needs_program
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_real_program_itemisation_sums_to_total(stack: str) -> None:
    result = estimate(stack, record(stack).resources)
    assert result.items and result.total == pytest.approx(
        sum(i.monthly for i in result.items), abs=0.01
    )


@needs_program
def test_dev_stays_within_its_monthly_target() -> None:
    result = estimate("dev", record("dev").resources)
    assert result.total <= DEV_TARGET, render(result)


@needs_program
def test_prod_costs_more_than_dev_for_its_redundancy() -> None:
    dev = estimate("dev", record("dev").resources).total
    prod = estimate("prod", record("prod").resources).total
    assert prod > 3 * dev


@pytest.mark.parametrize(
    ("tier", "users", "expected"),
    [
        ("LITE", 50, 0.0),
        ("ESSENTIALS", 50, 0.0),
        ("PLUS", 50, 1.0),
        ("LITE", 12_000, 11.0),
        ("ESSENTIALS", 12_000, 30.0),
        ("PLUS", 12_000, 240.0),
        (None, 12_000, 30.0),  # unset: Cognito's default plan, ESSENTIALS
    ],
)
def test_each_cognito_plan_is_priced_with_its_own_free_tier(
    tier: str | None, users: int, expected: float
) -> None:
    inputs = {"userPoolTier": tier} if tier else {}
    usage = replace(USAGE["dev"], monthly_active_users=users)
    result = estimate("x", [Fake("aws:cognito/userPool:UserPool", "pool", inputs)], usage)
    (item,) = [i for i in result.items if i.type == "aws:cognito/userPool:UserPool"]
    assert item.monthly == pytest.approx(expected)


def test_an_unpriced_cognito_plan_is_a_clear_error() -> None:
    with pytest.raises(CostError, match="no price for Cognito plan GOLD"):
        estimate("dev", [Fake("aws:cognito/userPool:UserPool", "p", {"userPoolTier": "GOLD"})])


@needs_program
def test_prod_pays_for_plus_and_dev_stays_free_on_essentials() -> None:
    def pool_cost(stack: str) -> float:
        (item,) = [
            i
            for i in estimate(stack, record(stack).resources).items
            if i.type == "aws:cognito/userPool:UserPool"
        ]
        return item.monthly

    assert pool_cost("dev") == 0.0
    assert pool_cost("prod") == pytest.approx(USAGE["prod"].monthly_active_users * 0.02)


def test_usage_follows_the_environment_not_the_name() -> None:
    stack = [Fake("aws:s3/bucket:Bucket", "media")]
    assert estimate("dev-alice", stack, environment="dev").assumptions["environment"] == "dev"
    assert estimate("test", stack, environment="dev").total == estimate("dev", stack).total
    # No environment known: prod's (the larger) assumptions.
    assert estimate("nobody", stack).assumptions["environment"] == "prod"
