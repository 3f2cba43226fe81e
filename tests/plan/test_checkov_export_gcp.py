"""The checkov export of pulumi-gcp resources (synthetic recordings, without checkov installed):
google_* types, the Google provider, snake_case arguments, nested blocks as lists, pulumi-gcp's
pluralised blocks in Terraform's singular, labels kept as maps, references by address."""

from __future__ import annotations

from typing import Any

import pytest

from ops.checkov_export import (
    GOOGLE_PROVIDER_NAME,
    GOOGLE_TERRAFORM_TYPES,
    PROVIDER_NAME,
    ExportError,
    exported_resources,
    terraform_plan,
)
from ops.offline import Recording
from policy.rules import RULES
from tests.plan.test_checkov_export import resource

SQL = "gcp:sql/databaseInstance:DatabaseInstance"
NETWORK = "gcp:compute/network:Network"
FIREWALL = "gcp:compute/firewall:Firewall"
ARMOR = "gcp:compute/securityPolicy:SecurityPolicy"
BUCKET = "gcp:storage/bucket:Bucket"
NETWORK_ID = "projects/awaterra-prod/global/networks/awaterra-vpc"


def gcp_recording() -> Recording:
    network = resource(
        NETWORK, "awaterra-vpc", {"autoCreateSubnetworks": False}, outputs={"selfLink": NETWORK_ID}
    )
    database = resource(
        SQL,
        "db",
        {
            "databaseVersion": "POSTGRES_16",
            "region": "europe-west1",
            "deletionProtection": True,
            "settings": {
                "tier": "db-custom-2-7680",
                "userLabels": {"cost-center": "mobile"},
                "ipConfiguration": {
                    "ipv4Enabled": False,
                    "privateNetwork": NETWORK_ID,
                    "sslMode": "ENCRYPTED_ONLY",
                },
                "backupConfiguration": {"enabled": True, "pointInTimeRecoveryEnabled": True},
                "databaseFlags": [
                    {"name": "log_connections", "value": "on"},
                    {"name": "log_disconnections", "value": "on"},
                ],
            },
        },
        depends={"settings": (network.urn,)},
    )
    firewall = resource(
        FIREWALL,
        "allow-health-checks",
        {
            "network": NETWORK_ID,
            "sourceRanges": ["35.191.0.0/16"],
            "allows": [{"protocol": "tcp", "ports": ["8080"]}],
        },
        depends={"network": (network.urn,)},
    )
    armor = resource(
        ARMOR,
        "edge",
        {
            "rules": [
                {
                    "priority": 1000,
                    "action": "deny(403)",
                    "match": {"expr": {"expression": "evaluatePreconfiguredWaf('cve-canary')"}},
                }
            ]
        },
    )
    bucket = resource(
        BUCKET,
        "media",
        {
            "location": "EU",
            "labels": {"managed-by": "pulumi"},
            "uniformBucketLevelAccess": True,
            "versioning": {"enabled": True},
            "lifecycleRules": [{"action": {"type": "Delete"}, "condition": {"age": 30}}],
        },
    )
    aws_key = resource("aws:kms/key:Key", "media-key", {"enableKeyRotation": True})
    return Recording(stack="test", resources=[network, database, firewall, armor, bucket, aws_key])


def exported(recording: Recording) -> dict[str, dict[str, Any]]:
    plan = terraform_plan(recording, "us-east-1", {"project": "awaterra-prod"})
    planned = {r["address"]: r for r in plan["planned_values"]["root_module"]["resources"]}
    configured = {r["address"]: r for r in plan["configuration"]["root_module"]["resources"]}
    return {a: {**planned[a], **configured[a]} for a in planned}


def test_gcp_types_map_to_google_types_under_the_google_provider() -> None:
    resources = exported(gcp_recording())
    database = resources["google_sql_database_instance.db"]
    assert database["provider_name"] == GOOGLE_PROVIDER_NAME
    assert database["provider_config_key"] == "google"
    assert resources["aws_kms_key.media_key"]["provider_name"] == PROVIDER_NAME
    assert resources["aws_kms_key.media_key"]["provider_config_key"] == "aws"
    assert all(t.startswith("google_") for t in GOOGLE_TERRAFORM_TYPES.values())
    assert all(t.startswith("gcp:") for t in GOOGLE_TERRAFORM_TYPES)


def test_the_google_provider_is_configured_only_when_the_stack_has_gcp_resources() -> None:
    plan = terraform_plan(gcp_recording(), "us-east-1", {"project": "awaterra-prod"})
    google = plan["configuration"]["provider_config"]["google"]
    assert google["full_name"] == GOOGLE_PROVIDER_NAME
    assert google["expressions"] == {"project": {"constant_value": "awaterra-prod"}}
    aws_only = Recording(stack="test", resources=[gcp_recording().resources[-1]])
    assert set(terraform_plan(aws_only, "us-east-1")["configuration"]["provider_config"]) == {"aws"}


def test_nested_blocks_are_lists_and_flags_keep_their_plural_terraform_name() -> None:
    database = exported(gcp_recording())["google_sql_database_instance.db"]
    (settings,) = database["values"]["settings"]
    (ip,) = settings["ip_configuration"]
    assert ip == {"ipv4_enabled": False, "ssl_mode": "ENCRYPTED_ONLY"}
    assert settings["backup_configuration"] == [
        {"enabled": True, "point_in_time_recovery_enabled": True}
    ]
    assert settings["database_flags"][0] == {"name": "log_connections", "value": "on"}
    assert settings["user_labels"] == {"cost-center": "mobile"}
    # The VPC's self link is read from the network: a reference, unknown in the plan.
    reference = database["expressions"]["settings"][0]["ip_configuration"][0]["private_network"]
    assert reference["references"] == [
        "google_compute_network.awaterra_vpc.self_link",
        "google_compute_network.awaterra_vpc",
    ]


def test_pulumi_gcp_plural_blocks_take_terraform_singular_names() -> None:
    resources = exported(gcp_recording())
    firewall = resources["google_compute_firewall.allow_health_checks"]["values"]
    assert firewall["allow"] == [{"protocol": "tcp", "ports": ["8080"]}]
    assert firewall["source_ranges"] == ["35.191.0.0/16"]
    (rule,) = resources["google_compute_security_policy.edge"]["values"]["rule"]
    assert rule["match"] == [{"expr": [{"expression": "evaluatePreconfiguredWaf('cve-canary')"}]}]
    bucket = resources["google_storage_bucket.media"]["values"]
    assert bucket["lifecycle_rule"] == [
        {"action": [{"type": "Delete"}], "condition": [{"age": 30}]}
    ]
    assert bucket["labels"] == {"managed-by": "pulumi"}
    assert bucket["versioning"] == [{"enabled": True}]


def test_a_gcp_type_without_a_terraform_type_is_refused_by_name() -> None:
    unknown = resource("gcp:bigquery/dataset:Dataset", "analytics", {})
    with pytest.raises(ExportError, match=r"gcp:bigquery/dataset:Dataset.*GOOGLE_TERRAFORM_TYPES"):
        exported_resources(Recording(stack="test", resources=[unknown]))


def test_every_type_the_gcp_rules_check_is_exported() -> None:
    checked = {t for rule in RULES for t in rule.resource_types if t.startswith("gcp:")}
    assert checked <= set(GOOGLE_TERRAFORM_TYPES)


@pytest.mark.parametrize("stack", ["gcp-dev", "gcp-prod"])
def test_every_google_type_the_stacks_create_is_exported(stack: str) -> None:
    from ops.checkov_export import GOOGLE_TERRAFORM_TYPES
    from ops.offline import run_program

    keys = {"datadogApiKey": "k", "datadogAppKey": "a"} if stack == "gcp-prod" else None
    created = {r.type for r in run_program(stack, keys) if r.type.startswith("gcp:")}
    assert sorted(created - set(GOOGLE_TERRAFORM_TYPES)) == []
