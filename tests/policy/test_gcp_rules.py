"""The Google Cloud rules: each names the property it wants fixed, looks only at `gcp:` types,
and leaves the AWS stacks' findings alone. (Violating/compliant examples run for every rule in
test_rules.py through cases.py's CASES; the examples live in gcp_cases.py.)"""

from __future__ import annotations

import pytest

from policy.catalog import markdown
from policy.model import Context, Scope
from policy.rules import RULES, RULES_BY_ID
from tests.policy.cases import CASES
from tests.policy.gcp_cases import (
    GCP_CASES,
    NAMED_PROPERTY,
    WAF_RULES,
    armor_rule,
    bucket,
    firewall,
    key,
    res,
    run,
    sql,
    subnet,
)
from tests.policy.test_rules import messages

GCP_RULES = [rule for rule in RULES if rule.id.startswith("gcp-")]


def test_every_gcp_rule_has_a_case_and_a_named_property() -> None:
    assert {rule.id for rule in GCP_RULES} == {case.rule for case in GCP_CASES}
    assert set(NAMED_PROPERTY) == {rule.id for rule in GCP_RULES}
    assert all(case in CASES for case in GCP_CASES)


def test_gcp_rules_look_only_at_gcp_types() -> None:
    for rule in GCP_RULES:
        assert rule.resource_types and all(t.startswith("gcp:") for t in rule.resource_types)
    for rule in RULES:
        if not rule.id.startswith("gcp-"):
            assert not any(t.startswith("gcp:") for t in rule.resource_types), rule.id


@pytest.mark.parametrize("case", GCP_CASES, ids=lambda case: case.rule)
def test_violation_message_names_the_property(case) -> None:  # type: ignore[no-untyped-def]
    found = messages(RULES_BY_ID[case.rule], case.violating, case.stack)
    assert found, case.rule
    assert any(NAMED_PROPERTY[case.rule] in message for message in found), found


@pytest.mark.parametrize("case", GCP_CASES, ids=lambda case: case.rule)
def test_aws_resource_rules_ignore_gcp_resources(case) -> None:  # type: ignore[no-untyped-def]
    for rule in RULES:
        if rule.id.startswith("gcp-") or rule.scope is not Scope.RESOURCE:
            continue
        assert messages(rule, case.violating, "prod") == [], rule.id


def _found(rule_id: str, resource, stack: str = "prod") -> list[str]:  # type: ignore[no-untyped-def]
    return messages(RULES_BY_ID[rule_id], [resource], stack)


def test_sql_defaults_are_judged() -> None:
    # No ipConfiguration at all: the provider's default is a public IPv4 address, no TLS.
    bare = sql(settings={"tier": "db-f1-micro"})
    assert any("ipv4Enabled" in m for m in _found("gcp-sql-no-public-ip", bare))
    assert any("sslMode" in m for m in _found("gcp-sql-tls", bare))
    assert any("backupConfiguration.enabled" in m for m in _found("gcp-sql-backups", bare))
    private_without_network = sql(
        settings={"ipConfiguration": {"ipv4Enabled": False, "sslMode": "ENCRYPTED_ONLY"}}
    )
    assert _found("gcp-sql-no-public-ip", private_without_network) == [
        "settings.ipConfiguration.privateNetwork is not set (no private IP)"
    ]
    mysql = sql(databaseVersion="MYSQL_8_0", settings={"databaseFlags": []})
    assert _found("gcp-sql-postgres-flags", mysql) == []
    assert _found("gcp-sql-postgres-version", mysql) == []
    assert _found("gcp-sql-postgres-version", sql(databaseVersion="POSTGRES_17")) == []


def test_sql_backup_thresholds_follow_the_stack() -> None:
    settings = {
        "backupConfiguration": {
            "enabled": True,
            "pointInTimeRecoveryEnabled": False,
            "backupRetentionSettings": {"retainedBackups": 7},
        }
    }
    instance = sql(settings=settings, deletionProtection=False)
    assert _found("gcp-sql-backups", instance, "dev") == []
    prod = _found("gcp-sql-backups", instance, "prod")
    assert any("retainedBackups is 7, minimum 14" in m for m in prod)
    assert any("pointInTimeRecoveryEnabled" in m for m in prod)
    assert _found("gcp-sql-deletion-protection", instance, "dev") == ["deletionProtection is false"]


def test_bucket_defaults_fail() -> None:
    bare = res("gcp:storage/bucket:Bucket", "media", location="EU")
    for rule_id in (
        "gcp-bucket-public-access-prevention",
        "gcp-bucket-uniform-access",
        "gcp-bucket-versioning",
        "gcp-bucket-logging",
    ):
        assert _found(rule_id, bare), rule_id
    assert _found("gcp-bucket-uniform-access", bucket()) == []


@pytest.mark.parametrize(
    ("allows", "sources", "caught"),
    [
        ([{"protocol": "tcp", "ports": ["22"]}], ["0.0.0.0/0"], ["SSH"]),
        ([{"protocol": "tcp", "ports": ["3000-4000"]}], ["::/0"], ["RDP", "MySQL"]),
        ([{"protocol": "tcp"}], ["0.0.0.0/0"], ["SSH", "RDP", "PostgreSQL", "MySQL", "HTTP"]),
        ([{"protocol": "all"}], ["0.0.0.0/0"], ["SSH", "RDP", "PostgreSQL", "MySQL", "HTTP"]),
        ([{"protocol": "tcp", "ports": ["443"]}], ["0.0.0.0/0"], []),
        ([{"protocol": "udp", "ports": ["22"]}], ["0.0.0.0/0"], []),
        ([{"protocol": "tcp", "ports": ["22"]}], ["35.235.240.0/20"], []),
    ],
)
def test_firewall_ports(
    allows: list[dict[str, object]], sources: list[str], caught: list[str]
) -> None:
    found = _found(
        "gcp-firewall-no-public-admin-ports", firewall(allows=allows, sourceRanges=sources)
    )
    assert [m.split(" ")[2] for m in found] == caught


def test_firewall_egress_and_disabled_rules_are_not_ingress() -> None:
    opened = {"sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp", "ports": ["22"]}]}
    assert (
        _found("gcp-firewall-no-public-admin-ports", firewall(direction="EGRESS", **opened)) == []
    )
    assert _found("gcp-firewall-no-public-admin-ports", firewall(disabled=True, **opened)) == []
    # direction absent means INGRESS
    assert _found("gcp-firewall-no-public-admin-ports", firewall(direction=None, **opened))


def test_proxy_only_subnets_need_no_flow_logs() -> None:
    proxy = subnet(purpose="REGIONAL_MANAGED_PROXY", logConfig=None, privateIpGoogleAccess=False)
    assert _found("gcp-subnet-flow-logs", proxy) == []
    assert _found("gcp-subnet-private-google-access", proxy) == []


def test_cloud_run_defaults_and_environments() -> None:
    bare = res("gcp:cloudrunv2/service:Service", "api", location="europe-west1")
    assert _found("gcp-run-ingress", bare) == [
        "ingress is INGRESS_TRAFFIC_ALL (the default): the service is reachable around the "
        "load balancer's WAF"
    ]
    assert _found("gcp-run-default-url-disabled", bare)
    assert _found("gcp-run-ingress", run(ingress="INGRESS_TRAFFIC_INTERNAL_ONLY")) == []
    unprotected = run(deletionProtection=False)
    assert _found("gcp-run-deletion-protection", unprotected, "dev") == []
    assert _found("gcp-run-deletion-protection", unprotected, "staging")


def test_ssl_policy_profile_default_is_weak() -> None:
    found = _found("gcp-ssl-policy-modern", res("gcp:compute/sSLPolicy:SSLPolicy", "tls"))
    assert any("minTlsVersion" in m for m in found) and any("COMPATIBLE" in m for m in found)
    restricted = res(
        "gcp:compute/sSLPolicy:SSLPolicy", "tls", minTlsVersion="TLS_1_2", profile="RESTRICTED"
    )
    assert _found("gcp-ssl-policy-modern", restricted) == []


def test_armor_waf_rules_must_deny_and_enforce() -> None:
    armor = "gcp:compute/securityPolicy:SecurityPolicy"
    previewed = [{**rule, "preview": True} for rule in WAF_RULES[:3]]
    found = _found("gcp-armor-preconfigured-waf", res(armor, "edge", rules=previewed))
    assert found == ["rules lack an enforced deny for preconfigured WAF sqli, xss, cve-canary"]
    allowing = [armor_rule(1000, "evaluatePreconfiguredExpr('cve-canary')", "allow")]
    assert "cve-canary" in _found("gcp-armor-preconfigured-waf", res(armor, "e", rules=allowing))[0]
    combined = [
        armor_rule(
            1000,
            "evaluatePreconfiguredWaf('sqli-v33-stable') || "
            "evaluatePreconfiguredWaf('xss-v33-stable') || evaluatePreconfiguredExpr('cve-canary')",
        )
    ]
    assert _found("gcp-armor-preconfigured-waf", res(armor, "e", rules=combined)) == []


def test_iam_grants() -> None:
    member = "gcp:projects/iAMMember:IAMMember"
    owner_user = res(member, "me", role="roles/owner", member="user:ops@example.com")
    assert _found("gcp-iam-no-basic-roles", owner_user) == []  # humans are CIS 1.x other checks
    binding = res(
        "gcp:projects/iAMBinding:IAMBinding",
        "editors",
        role="roles/editor",
        members=["user:ops@example.com", "serviceAccount:ci@p.iam.gserviceaccount.com"],
    )
    assert _found("gcp-iam-no-basic-roles", binding) == [
        "role roles/editor is granted to serviceAccount:ci@p.iam.gserviceaccount.com"
    ]


def test_kms_rotation_bounds() -> None:
    assert _found("gcp-kms-rotation", key()) == [
        "rotationPeriod is not set (the key never rotates)"
    ]
    assert _found("gcp-kms-rotation", key(rotationPeriod="7776001s"))
    assert _found("gcp-kms-rotation", key(rotationPeriod="2592000s")) == []
    assert _found("gcp-kms-rotation", key(purpose="ASYMMETRIC_SIGN")) == []


def test_log_bucket_retention_thresholds() -> None:
    logs = "gcp:logging/projectBucketConfig:ProjectBucketConfig"
    week = res(logs, "logs", retentionDays=7)
    assert _found("gcp-log-bucket-retention", week, "dev") == []
    assert _found("gcp-log-bucket-retention", week, "prod") == ["retentionDays is 7, minimum 30"]
    assert _found("gcp-log-bucket-retention", res(logs, "logs"), "prod") == []


def test_catalog_lists_the_gcp_rules() -> None:
    table = markdown()
    for rule in GCP_RULES:
        assert f"| `{rule.id}` | {rule.severity.value} |" in table


def test_context_is_used_only_through_production() -> None:
    assert Context("dev-eu", "dev").production is False
    assert Context("prod", "prod").production is True
