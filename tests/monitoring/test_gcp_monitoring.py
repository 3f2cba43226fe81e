"""GcpMonitoring under Pulumi mocks: the AWS monitors' twins on GCP metrics, keyless integration."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.gcp.monitoring import (
    IMPERSONATION_ROLE,
    INTEGRATION_ROLES,
    GcpMonitoring,
    GcpMonitoringArgs,
)
from components.monitoring_thresholds import MonitoringThresholds
from ops.offline import Recording, run_program
from ops.offline_datadog_gcp import DELEGATE_ACCOUNT_EMAIL
from tests.monitoring.test_monitoring_component import (
    DASHBOARD,
    MONITOR,
    NOTIFY,
    SLO,
    SYNTHETIC,
)
from tests.monitoring.test_monitoring_component import _run as run_aws

PROJECT = "awaterra-prod-4821"
RUN_SERVICE = "awaterra-api"
SQL_INSTANCE = "awaterra-prod-pg"
URL_MAP = "awaterra-prod-lb"
STS = "datadog:gcp/integrationSts:IntegrationSts"
ACCOUNT = "gcp:serviceaccount/account:Account"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
SA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
ALL_GCP_TYPES = ("gcp:projects/", "gcp:serviceaccount/", "gcp:organizations/", "gcp:folder/")


def _args(**overrides: Any) -> GcpMonitoringArgs:
    values: dict[str, Any] = {
        "environment": "prod",
        "domain": "api.example.com",
        "project_id": PROJECT,
        "cloud_run_service": pulumi.Output.from_input(RUN_SERVICE),
        "sql_instance": pulumi.Output.from_input(SQL_INSTANCE),
        "url_map_name": pulumi.Output.from_input(URL_MAP),
        "min_instances": 2,
        "db_max_connections": 400,
        "api_key": pulumi.Output.secret("dd-api-key-value"),
        "app_key": pulumi.Output.secret("dd-app-key-value"),
        "notify": NOTIFY,
    }
    values.update(overrides)
    return GcpMonitoringArgs(**values)


def _run(args_factory: Callable[[], GcpMonitoringArgs]) -> Recording:
    def program() -> None:
        monitoring = GcpMonitoring("monitoring", args_factory())
        pulumi.export("dashboard_url", monitoring.dashboard_url)
        pulumi.export("monitor_ids", monitoring.monitor_ids)

    return run_program("prod", use_stack_file=False, program=program)


@pytest.fixture(scope="module")
def gcp_run() -> Recording:
    return _run(_args)


@pytest.fixture(scope="module")
def aws_run() -> Recording:
    from tests.monitoring.test_monitoring_component import _args as aws_args

    return run_aws(aws_args)


def _monitors(recording: Recording) -> dict[str, dict[str, Any]]:
    return {
        r.name.removeprefix("monitoring-"): r.inputs
        for r in recording.of_type(MONITOR)
    }


def _window(query: str) -> str:
    found = re.findall(r"\((last_\w+)\)", query)
    assert len(found) == 1, query
    return found[0]


def _steps(message: str) -> list[str]:
    runbook = message.split("Runbook:\n", 1)[1].split("\n\nDashboard:", 1)[0]
    return runbook.splitlines()


def test_every_aws_monitor_has_a_gcp_twin_with_the_same_limits(
    aws_run: Recording, gcp_run: Recording
) -> None:
    aws, gcp = _monitors(aws_run), _monitors(gcp_run)
    assert set(aws) == set(gcp)
    assert len(aws) == 9  # 7 query alerts + 2 burn-rate alerts
    for key, twin in aws.items():
        mine = gcp[key]
        assert mine["monitorThresholds"] == twin["monitorThresholds"], key
        assert mine["priority"] == twin["priority"], key
        assert mine["type"] == twin["type"], key
        assert mine.get("notifyNoData") == twin.get("notifyNoData"), key
        assert mine.get("evaluationDelay") == twin.get("evaluationDelay"), key
        assert len(_steps(mine["message"])) == len(_steps(twin["message"])), key
        assert mine["message"].endswith(NOTIFY), key
        if twin["type"] == "query alert":
            assert _window(mine["query"]) == _window(twin["query"]), key
            # The comparison and the threshold on the right are the same text.
            assert mine["query"].rsplit(" ", 2)[-2:] == twin["query"].rsplit(" ", 2)[-2:], key


def test_gcp_monitors_name_gcp_metrics_on_this_stacks_resources(gcp_run: Recording) -> None:
    monitors = _monitors(gcp_run)
    run = f"project_id:{PROJECT},service_name:{RUN_SERVICE}"
    db = f"project_id:{PROJECT},database_id:{PROJECT}:{SQL_INSTANCE}"
    lb = f"project_id:{PROJECT},url_map_name:{URL_MAP}"
    for key, monitor in monitors.items():
        assert "aws." not in monitor["query"], key
        for step in _steps(monitor["message"]):
            assert not re.search(r"\b(ECS|RDS|Fargate|Performance Insights)\b", step), (key, step)
    assert monitors["latency-p95"]["query"] == (
        f"avg(last_10m):avg:gcp.loadbalancing.https.total_latencies.p95{{{lb}}} / 1000 > 0.2"
    )
    assert monitors["error-rate"]["query"] == (
        "sum(last_10m):100 * (default_zero(sum:gcp.loadbalancing.https.request_count"
        f"{{{lb},response_code_class:500}}.as_count())) / clamp_min(default_zero("
        f"sum:gcp.loadbalancing.https.request_count{{{lb}}}.as_count()), 100) > 2"
    )
    assert monitors["no-healthy-hosts"]["query"] == (
        f"max(last_5m):sum:gcp.run.container.instance_count{{{run}}} < 1"
    )
    assert monitors["tasks-below-desired"]["query"] == (
        f"min(last_15m):2 - sum:gcp.run.container.instance_count{{{run}}} > 0"
    )
    assert "below min instances" in monitors["tasks-below-desired"]["name"]
    assert monitors["db-cpu"]["query"] == (
        f"avg(last_15m):avg:gcp.cloudsql.database.cpu.utilization{{{db}}} * 100 > 80"
    )
    assert monitors["db-free-storage"]["query"] == (
        f"min(last_15m):min:gcp.cloudsql.database.disk.quota{{{db}}} - "
        f"max:gcp.cloudsql.database.disk.bytes_used{{{db}}} < 2147483648"
    )
    assert monitors["db-connections"]["query"] == (
        f"avg(last_10m):sum:gcp.cloudsql.database.postgresql.num_backends{{{db}}} > 320"
    )


def test_slos_use_the_load_balancer_with_latency_in_seconds(gcp_run: Recording) -> None:
    availability = gcp_run.named("monitoring-availability").inputs
    lb = f"project_id:{PROJECT},url_map_name:{URL_MAP}"
    total = f"sum:gcp.loadbalancing.https.request_count{{{lb}}}.as_count()"
    assert availability["query"]["denominator"] == total
    assert availability["query"]["numerator"] == (
        f"{total} - sum:gcp.loadbalancing.https.request_count"
        f"{{{lb},response_code_class:500}}.as_count()"
    )
    latency = gcp_run.named("monitoring-latency").inputs
    time_slice = latency["sliSpecification"]["timeSlice"]
    assert time_slice["threshold"] == 0.2
    assert time_slice["query"]["formula"]["formulaExpression"] == "p95 / 1000"
    assert time_slice["query"]["queries"][0]["metricQuery"]["query"] == (
        f"avg:gcp.loadbalancing.https.total_latencies.p95{{{lb}}}"
    )
    assert len(gcp_run.of_type(SLO)) == 2


def test_dashboard_shows_cloud_run_load_balancer_and_cloud_sql(gcp_run: Recording) -> None:
    document = json.loads(gcp_run.one(DASHBOARD).inputs["dashboard"])
    titles = [g["definition"]["title"] for g in document["widgets"]]
    assert titles == [
        "Objectives", "API", "Service (Cloud Run)", "Load balancer", "Database (Cloud SQL)"
    ]
    text = json.dumps(document)
    assert "aws." not in text and "awaterra_" not in text
    for metric in (
        "gcp.run.request_count",
        "gcp.run.request_latencies.p95",
        "gcp.run.container.instance_count",
        "gcp.cloudsql.database.up",
        "gcp.cloudsql.database.cpu.utilization",
        "gcp.cloudsql.database.postgresql.num_backends",
        "gcp.loadbalancing.https.request_count",
        "gcp.loadbalancing.https.total_latencies.p95",
    ):
        assert metric in text, metric
    for group in document["widgets"][1:]:
        for widget in group["definition"]["widgets"]:
            for request in widget["definition"]["requests"]:
                for query in request["queries"]:
                    assert f"project_id:{PROJECT}" in query["query"], query


def test_heartbeat_synthetic_calls_the_public_url_with_gcp_runbook(gcp_run: Recording) -> None:
    test = gcp_run.one(SYNTHETIC).inputs
    assert test["requestDefinition"]["url"] == "https://api.example.com/heartbeat"
    assert "Cloud SQL" in test["message"] and "RDS" not in test["message"]


def test_integration_is_keyless_and_impersonates_the_created_account(gcp_run: Recording) -> None:
    account = gcp_run.one(ACCOUNT)
    assert account.inputs["accountId"] == "datadog-prod"
    assert account.inputs["project"] == PROJECT
    sts = gcp_run.one(STS)
    assert sts.inputs["clientEmail"] == account.outputs["email"]
    assert sts.provider is not None and "monitoring-provider" in sts.provider
    assert sts.inputs["hostFilters"] == ["datadog:monitored"]
    assert sts.inputs["isGlobalLocationEnabled"] is True
    assert sts.inputs["resourceCollectionEnabled"] is True
    assert "env:prod" in sts.inputs["accountTags"]
    assert not [r for r in gcp_run if r.type == "gcp:serviceaccount/key:Key"]


def test_account_gets_datadogs_read_only_roles_on_the_project(gcp_run: Recording) -> None:
    account = gcp_run.one(ACCOUNT)
    grants = gcp_run.of_type(PROJECT_MEMBER)
    assert sorted(g.inputs["role"] for g in grants) == sorted(INTEGRATION_ROLES)
    for grant in grants:
        assert grant.inputs["project"] == PROJECT
        assert grant.inputs["member"] == f"serviceAccount:{account.outputs['email']}"
        assert "condition" not in grant.inputs


def test_only_datadogs_principal_may_impersonate_and_only_that_account(
    gcp_run: Recording,
) -> None:
    account = gcp_run.one(ACCOUNT)
    grant = gcp_run.one(SA_MEMBER)
    assert grant.inputs["serviceAccountId"] == account.outputs["name"]
    assert grant.inputs["role"] == IMPERSONATION_ROLE
    assert grant.inputs["member"] == f"serviceAccount:{DELEGATE_ACCOUNT_EMAIL}"
    # Nothing else grants anything: no project-wide owner/editor, no other binding.
    iam = [r for r in gcp_run if r.type.startswith(ALL_GCP_TYPES) and r.type != ACCOUNT]
    assert {r.type for r in iam} == {PROJECT_MEMBER, SA_MEMBER}
    for resource in iam:
        assert resource.inputs["role"] not in ("roles/owner", "roles/editor")
        assert resource.inputs["member"] != f"serviceAccount:{DELEGATE_ACCOUNT_EMAIL}" or (
            resource.type == SA_MEMBER
        )


def test_no_integration_unless_asked() -> None:
    recording = _run(lambda: _args(gcp_integration=False))
    assert not recording.of_type(STS)
    assert not [r for r in recording if r.type.startswith("gcp:")]
    assert len(recording.of_type(MONITOR)) == 9


def test_thresholds_flow_into_gcp_monitors() -> None:
    limits = MonitoringThresholds(db_cpu_percent=90, db_cpu_warning_percent=75)
    recording = _run(lambda: _args(thresholds=limits, min_instances=1))
    monitors = _monitors(recording)
    assert monitors["db-cpu"]["query"].endswith("* 100 > 90")
    assert monitors["db-cpu"]["monitorThresholds"] == {"critical": "90", "warning": "75"}
    assert monitors["tasks-below-desired"]["query"].startswith("min(last_15m):1 - ")


def test_load_balancer_may_be_named_by_its_backend_service() -> None:
    backend = f"projects/{PROJECT}/global/backendServices/awaterra-prod-backend"
    recording = _run(lambda: _args(url_map_name=None, backend_service=backend))
    lb = f"project_id:{PROJECT},backend_target_name:awaterra-prod-backend"
    monitors = _monitors(recording)
    assert monitors["latency-p95"]["query"].startswith(
        f"avg(last_10m):avg:gcp.loadbalancing.https.total_latencies.p95{{{lb}}} / 1000"
    )
    availability = recording.named("monitoring-availability").inputs
    assert availability["query"]["denominator"] == (
        f"sum:gcp.loadbalancing.https.request_count{{{lb}}}.as_count()"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"project_id": "Bad_Project"}, "project_id must be a Google Cloud project id"),
        ({"min_instances": -1}, "min_instances must be >= 0"),
        ({"backend_service": "awaterra-backend"}, "exactly one of url_map_name or backend_service"),
        ({"url_map_name": None}, "exactly one of url_map_name or backend_service"),
        ({"environment": "a-very-long-environment-name-x"}, "service account id"),
        ({"integration_account_id": "DD"}, "service account id"),
        ({"domain": "https://api.example.com"}, "bare host name"),
        ({"notify": "pagerduty"}, "notify handles start with '@'"),
        ({"site": "datadoghq.org"}, "unknown Datadog site"),
    ],
)
def test_bad_arguments_are_refused_clearly(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        _args(**overrides)
