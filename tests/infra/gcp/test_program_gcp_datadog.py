"""Datadog on the Google Cloud stacks, the whole program under mocks from the real stack files:
gcp-prod turns it on (as Pulumi.prod.yaml does), gcp-dev leaves it off (as Pulumi.dev.yaml).

The monitors must watch this stack's own Cloud Run service, Cloud SQL instance and URL map (the
names the resources were registered with, not constants), the integration's service account
must hold only read-only roles, Datadog's principal may mint tokens for that one account only,
and the APIs the integration reads through must be enabled by the stack.
"""

from __future__ import annotations

import re

import pytest

from components.gcp.apis import DATADOG_INTEGRATION_APIS, DEFAULT_APIS
from components.gcp.database import default_max_connections
from components.gcp.monitoring import IMPERSONATION_ROLE, INTEGRATION_ROLES
from components.settings import SettingsError, load_settings
from ops.offline import RecordedResource, Recording, run_program
from ops.offline_datadog_gcp import DELEGATE_ACCOUNT_EMAIL

KEYS = {"datadogApiKey": "dd-api-key", "datadogAppKey": "dd-app-key"}
MONITOR = "datadog:index/monitor:Monitor"
SLO = "datadog:index/serviceLevelObjective:ServiceLevelObjective"
SYNTHETIC = "datadog:index/syntheticsTest:SyntheticsTest"
STS = "datadog:gcp/integrationSts:IntegrationSts"
ACCOUNT = "gcp:serviceaccount/account:Account"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
SA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
SERVICE = "gcp:projects/service:Service"
RUN = "gcp:cloudrunv2/service:Service"
SQL = "gcp:sql/databaseInstance:DatabaseInstance"
URL_MAP = "gcp:compute/uRLMap:URLMap"
# Any role that could change something: admin, editor, owner, writer, user, creator.
WRITE_ROLE = re.compile(r"(admin|editor|owner|writer|user|creator|developer)", re.IGNORECASE)


@pytest.fixture(scope="module")
def gcp_prod() -> Recording:
    return run_program("gcp-prod", KEYS)


def _project_apis(recording: Recording) -> set[str]:
    return {s.inputs["service"] for s in recording.of_type(SERVICE) if s.name.startswith("apis-")}


def _members(recording: Recording, type_token: str, member: str) -> list[RecordedResource]:
    return [m for m in recording.of_type(type_token) if m.inputs["member"] == member]


def _integration_account(recording: Recording) -> str:
    account = recording.one(ACCOUNT, "monitoring-integration")
    return str(account.outputs["email"])


def test_gcp_prod_builds_the_monitoring_and_exports_its_links(gcp_prod: Recording) -> None:
    gcp_prod.one("awaterra:monitoring:GcpMonitoring")
    outputs = gcp_prod.outputs
    dashboard = gcp_prod.one("datadog:index/dashboardJson:DashboardJson")
    assert outputs["dashboard_url"] == f"https://app.datadoghq.com/dashboard/{dashboard.id}"
    availability, latency = (gcp_prod.one(SLO, name) for name in ("availability", "latency"))
    assert outputs["availability_slo_url"].endswith(f"slo_id={availability.id}")
    assert outputs["latency_slo_url"].endswith(f"slo_id={latency.id}")
    synthetic = gcp_prod.one(SYNTHETIC)
    assert outputs["synthetic_url"].endswith(f"/synthetics/details/{synthetic.id}")
    assert outputs["datadog_gcp_service_account"] == _integration_account(gcp_prod)
    assert synthetic.inputs["requestDefinition"]["url"] == "https://api.example.com/heartbeat"


def test_monitors_watch_this_stacks_service_database_and_url_map(gcp_prod: Recording) -> None:
    project = gcp_prod.config["gcp:project"]
    service = gcp_prod.one(RUN).outputs["name"]
    instance = gcp_prod.one(SQL).inputs["name"]
    url_map = gcp_prod.one(URL_MAP, "urlmap").outputs["name"]
    queries = {
        m.name.removeprefix("monitoring-"): m.inputs["query"] for m in gcp_prod.of_type(MONITOR)
    }
    scope_run = f"project_id:{project},service_name:{service}"
    scope_sql = f"project_id:{project},database_id:{project}:{instance}"
    scope_lb = f"project_id:{project},url_map_name:{url_map}"
    assert scope_lb in queries["latency-p95"] and scope_lb in queries["error-rate"]
    assert scope_run in queries["no-healthy-hosts"]
    assert queries["tasks-below-desired"].split(" - ")[0].endswith("2")  # serviceMinCount
    assert scope_run in queries["tasks-below-desired"]
    for key in ("db-cpu", "db-free-storage", "db-connections"):
        assert scope_sql in queries[key], key
    # The SLOs read the same load balancer.
    availability = gcp_prod.one(SLO, "availability").inputs["query"]
    assert scope_lb in availability["denominator"] and scope_lb in availability["numerator"]


def test_connection_alert_uses_the_tiers_max_connections(gcp_prod: Recording) -> None:
    tier = gcp_prod.one(SQL).inputs["settings"]["tier"]
    limit = default_max_connections(tier)
    assert (tier, limit) == ("db-custom-2-7680", 400)
    flags = {f["name"] for f in gcp_prod.one(SQL).inputs["settings"]["databaseFlags"]}
    assert "max_connections" not in flags  # so Cloud SQL's default applies
    monitor = gcp_prod.one(MONITOR, "db-connections")
    assert f"({limit})" in monitor.inputs["name"]
    critical = float(monitor.inputs["monitorThresholds"]["critical"])
    assert 0.5 * limit < critical < limit


def test_the_integration_account_holds_read_only_roles_only(gcp_prod: Recording) -> None:
    email = _integration_account(gcp_prod)
    project = gcp_prod.config["gcp:project"]
    grants = [
        m
        for m in gcp_prod.of_type(PROJECT_MEMBER)
        if m.inputs["member"] == f"serviceAccount:{email}"
    ]
    assert sorted(g.inputs["role"] for g in grants) == sorted(INTEGRATION_ROLES)
    for grant in grants:
        assert grant.inputs["project"] == project
        assert not WRITE_ROLE.search(grant.inputs["role"].removeprefix("roles/")), grant.inputs
        assert "condition" not in grant.inputs or grant.inputs["condition"] is None
    # The API's own account gains nothing from the integration.
    api = gcp_prod.one(ACCOUNT, "api-identity").outputs["email"]
    api_roles = {
        m.inputs["role"]
        for m in gcp_prod.of_type(PROJECT_MEMBER)
        if m.inputs["member"] == f"serviceAccount:{api}"
    }
    assert api_roles.isdisjoint(INTEGRATION_ROLES)


def test_token_creation_is_granted_to_datadog_on_that_one_account(gcp_prod: Recording) -> None:
    integration = gcp_prod.one(ACCOUNT, "monitoring-integration")
    creators = [m for m in gcp_prod.of_type(SA_MEMBER) if m.inputs["role"] == IMPERSONATION_ROLE]
    datadog = [
        m for m in creators if m.inputs["member"] == f"serviceAccount:{DELEGATE_ACCOUNT_EMAIL}"
    ]
    assert len(datadog) == 1
    assert datadog[0].inputs["serviceAccountId"] == integration.outputs["name"]
    # Nobody is granted token creation project-wide, Datadog on no other account.
    project_roles = {m.inputs["role"] for m in gcp_prod.of_type(PROJECT_MEMBER)}
    assert IMPERSONATION_ROLE not in project_roles
    sts = gcp_prod.one(STS)
    assert sts.inputs["clientEmail"] == integration.outputs["email"]
    assert (
        sts.inputs["isCspmEnabled"] is False
        and sts.inputs["isSecurityCommandCenterEnabled"] is False
    )


def test_the_integration_apis_are_enabled_by_the_stack(gcp_prod: Recording) -> None:
    enabled = _project_apis(gcp_prod)
    assert set(DATADOG_INTEGRATION_APIS) <= enabled
    assert enabled == set(DEFAULT_APIS) | set(DATADOG_INTEGRATION_APIS)
    for api in DATADOG_INTEGRATION_APIS:
        service = gcp_prod.one(SERVICE, f"apis-{api.split('.')[0]}")
        assert service.inputs["project"] == gcp_prod.config["gcp:project"]
        assert service.inputs["disableOnDestroy"] is False
    # The monitoring waits for the APIs (first `pulumi up` on a fresh project).
    monitoring = gcp_prod.one("awaterra:monitoring:GcpMonitoring")
    account = gcp_prod.one(ACCOUNT, "monitoring-integration")
    assert account.parent == monitoring.urn


def test_without_the_integration_nothing_of_it_is_created() -> None:
    recording = run_program("gcp-prod", {**KEYS, "datadogGcpIntegration": "false"})
    recording.one("awaterra:monitoring:GcpMonitoring")
    assert recording.of_type(STS) == []
    assert not _members(recording, SA_MEMBER, f"serviceAccount:{DELEGATE_ACCOUNT_EMAIL}")
    assert not [a for a in recording.of_type(ACCOUNT) if "integration" in a.name]
    enabled = {
        s.inputs["service"] for s in recording.of_type(SERVICE) if s.name.startswith("apis-")
    }
    assert enabled == set(DEFAULT_APIS)
    assert recording.outputs["datadog_gcp_service_account"] is None
    assert recording.outputs["dashboard_url"].startswith("https://app.datadoghq.com/dashboard/")


def test_gcp_dev_has_no_datadog() -> None:
    recording = run_program("gcp-dev")
    assert not [
        r for r in recording if r.type.startswith("datadog:") or r.name.startswith("monitoring")
    ]
    enabled = {
        s.inputs["service"] for s in recording.of_type(SERVICE) if s.name.startswith("apis-")
    }
    assert enabled == set(DEFAULT_APIS)
    for name in ("dashboard_url", "synthetic_url", "datadog_gcp_service_account"):
        assert recording.outputs[name] is None, name


def _problems(stack: str, overrides: dict[str, str]) -> list[str]:
    captured: list[str] = []

    def program() -> None:
        try:
            load_settings()
        except SettingsError as error:
            captured.extend(error.problems)

    run_program(stack, overrides, program=program)
    return captured


def test_the_datadog_settings_are_validated_on_gcp_stacks() -> None:
    assert _problems("gcp-prod", {**KEYS, "datadogGcpIntegration": "maybe"}) == [
        "awaterra:datadogGcpIntegration must be true or false, got 'maybe'"
    ]
    missing = _problems("gcp-prod", {})
    assert any(
        p.startswith("awaterra:datadogApiKey is required when Datadog is on") for p in missing
    )
    assert _problems("gcp-dev", {"datadogSite": "datadog.example"})[0].startswith(
        "awaterra:datadogSite must be one of"
    )
    # Checked even while Datadog is off, so a typo never waits for the day it is turned on.
    assert _problems("gcp-dev", {"datadogGcpIntegration": "yes"})


def test_other_clouds_datadog_keys_are_refused() -> None:
    on_gcp = _problems("gcp-prod", {**KEYS, "datadogAwsIntegration": "true"})
    assert on_gcp == [
        "awaterra:datadogAwsIntegration applies only to AWS stacks "
        "(awaterra:cloud is gcp): remove it from this stack"
    ]
    assert _problems("gcp-dev", {"datadogShipping": "sidecar"})[0].startswith(
        "awaterra:datadogShipping applies only to AWS stacks"
    )
    on_aws = _problems("dev", {"datadogGcpIntegration": "true"})
    assert on_aws == [
        "awaterra:datadogGcpIntegration applies only to Google Cloud stacks "
        "(awaterra:cloud is aws): remove it from this stack"
    ]


def test_a_connection_budget_past_the_tier_is_flagged() -> None:
    # 10 instances x 2 workers x (10 + 2) = 240 connections: over 75% of db-custom-1-3840's 100.
    recording = run_program("gcp-prod", {**KEYS, "dbTier": "db-custom-1-3840"})
    assert any("exceeds 75% of dbTier's max_connections (100)" in w for w in recording.warnings)
    assert not any("max_connections" in w for w in run_program("gcp-prod", KEYS).warnings)
