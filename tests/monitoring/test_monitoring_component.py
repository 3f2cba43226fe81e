"""The Monitoring component under Pulumi mocks: monitors, SLOs, synthetics, dashboard, provider."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pulumi
import pytest

from components.aws.monitoring import Monitoring, MonitoringArgs, monitor_specs
from components.aws.monitoring_dashboard import GROUP_TITLES
from components.monitoring_thresholds import MonitoringThresholds
from ops.offline import Recording, run_program

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # Pulumi's marker for a secret value
SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270"
MONITOR = "datadog:index/monitor:Monitor"
SLO = "datadog:index/serviceLevelObjective:ServiceLevelObjective"
SYNTHETIC = "datadog:index/syntheticsTest:SyntheticsTest"
DASHBOARD = "datadog:index/dashboardJson:DashboardJson"
NOTIFY = "@pagerduty-awaterra @slack-awaterra-ops"
LB_SUFFIX = "app/awaterra-prod-lb/50dc6c495c0c9188"


def _args(**overrides: Any) -> MonitoringArgs:
    values: dict[str, Any] = {
        "environment": "prod",
        "domain": "api.example.com",
        "cluster_name": "awaterra-prod",
        "service_name": "awaterra-api",
        "load_balancer_arn_suffix": LB_SUFFIX,
        "target_group_arn_suffix": "targetgroup/awaterra-prod-tg/6d0ecf831eec9f09",
        "db_instance_identifier": "awaterra-prod-db",
        "db_max_connections": 400,
        "api_key": pulumi.Output.secret("dd-api-key-value"),
        "app_key": pulumi.Output.secret("dd-app-key-value"),
        "notify": NOTIFY,
    }
    values.update(overrides)
    return MonitoringArgs(**values)


def _run(args_factory: Callable[[], MonitoringArgs]) -> Recording:
    def program() -> None:
        monitoring = Monitoring("monitoring", args_factory())
        pulumi.export("dashboard_url", monitoring.dashboard_url)
        pulumi.export("availability_slo_url", monitoring.availability_slo_url)
        pulumi.export("latency_slo_url", monitoring.latency_slo_url)
        pulumi.export("synthetic_url", monitoring.synthetic_url)
        pulumi.export("monitor_ids", monitoring.monitor_ids)

    return run_program("prod", use_stack_file=False, program=program)


@pytest.fixture(scope="module")
def recording() -> Recording:
    return _run(_args)


def _monitor(recording: Recording, key: str) -> dict[str, Any]:
    return recording.named(f"monitoring-{key}").inputs


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG_VALUE


def test_provider_is_explicit_with_keys_as_secrets(recording: Recording) -> None:
    provider = recording.one("pulumi:providers:datadog")
    assert provider.inputs["apiUrl"] == "https://api.datadoghq.com/"
    assert _is_secret(provider.inputs["apiKey"])
    assert provider.inputs["apiKey"]["value"] == "dd-api-key-value"
    assert _is_secret(provider.inputs["appKey"])
    datadog_resources = [r for r in recording if r.type.startswith("datadog:")]
    assert datadog_resources
    for resource in datadog_resources:
        assert resource.provider is not None and "monitoring-provider" in resource.provider


def test_p95_latency_monitor_fires_above_200ms(recording: Recording) -> None:
    monitor = _monitor(recording, "latency-p95")
    assert monitor["type"] == "query alert"
    assert "aws.applicationelb.target_response_time.p95" in monitor["query"]
    assert f"loadbalancer:{LB_SUFFIX}" in monitor["query"]
    assert monitor["query"].endswith("> 0.2")
    assert monitor["monitorThresholds"] == {"critical": "0.2", "warning": "0.15"}
    assert monitor["evaluationDelay"] >= 600  # CloudWatch metrics arrive late


def test_error_rate_monitor_is_guarded_against_low_traffic(recording: Recording) -> None:
    query = _monitor(recording, "error-rate")["query"]
    assert "httpcode_target_5xx" in query and "httpcode_elb_5xx" in query
    assert "clamp_min(default_zero(sum:aws.applicationelb.request_count" in query
    assert ", 100)" in query  # at least 100 requests per window in the denominator
    assert query.endswith("> 2")


def test_every_monitor_pages_with_a_runbook_and_the_dashboard(recording: Recording) -> None:
    monitors = recording.of_type(MONITOR)
    expected = {spec.key for spec in monitor_specs(MonitoringThresholds(), 400)}
    expected |= {"burn-rate-fast", "burn-rate-slow"}
    assert {m.name.removeprefix("monitoring-") for m in monitors} == expected
    dashboard_url = recording.outputs["dashboard_url"]
    for monitor in monitors:
        message = monitor.inputs["message"]
        assert "Runbook:\n1. " in message, monitor.name
        assert NOTIFY in message, monitor.name
        assert dashboard_url in message, monitor.name
        assert monitor.inputs["name"].startswith("[awaterra prod] ")
        assert "env:prod" in monitor.inputs["tags"]


def test_infrastructure_monitors_watch_this_stacks_resources(recording: Recording) -> None:
    hosts = _monitor(recording, "no-healthy-hosts")
    assert "healthy_host_count{" in hosts["query"] and hosts["query"].endswith("< 1")
    assert "targetgroup:targetgroup/awaterra-prod-tg/6d0ecf831eec9f09" in hosts["query"]
    assert hosts["notifyNoData"] is True
    tasks = _monitor(recording, "tasks-below-desired")["query"]
    assert "aws.ecs.service.desired{clustername:awaterra-prod,servicename:awaterra-api}" in tasks
    assert "aws.ecs.service.running" in tasks and tasks.endswith("> 0")
    cpu = _monitor(recording, "db-cpu")
    assert "aws.rds.cpuutilization{dbinstanceidentifier:awaterra-prod-db}" in cpu["query"]
    assert cpu["monitorThresholds"] == {"critical": "80", "warning": "70"}
    storage = _monitor(recording, "db-free-storage")
    assert "aws.rds.free_storage_space" in storage["query"]
    assert storage["query"].endswith(f"< {2 * 1024**3}")
    connections = _monitor(recording, "db-connections")
    assert "aws.rds.database_connections" in connections["query"]
    assert connections["monitorThresholds"] == {"critical": "320", "warning": "280"}


def test_availability_slo_is_999_over_7_and_30_days_from_the_load_balancer(
    recording: Recording,
) -> None:
    slo = recording.named("monitoring-availability").inputs
    assert slo["type"] == "metric"
    assert {(t["timeframe"], t["target"]) for t in slo["thresholds"]} == {
        ("7d", 99.9), ("30d", 99.9)
    }
    numerator, denominator = slo["query"]["numerator"], slo["query"]["denominator"]
    assert "aws.applicationelb.request_count" in numerator
    assert "- sum:aws.applicationelb.httpcode_target_5xx" in numerator
    assert "aws.applicationelb.request_count" in denominator
    assert "+ sum:aws.applicationelb.httpcode_elb_5xx" in denominator


def test_latency_slo_is_a_time_slice_on_p95_within_200ms(recording: Recording) -> None:
    slo = recording.named("monitoring-latency").inputs
    assert slo["type"] == "time_slice"
    time_slice = slo["sliSpecification"]["timeSlice"]
    assert time_slice["comparator"] == "<="
    assert time_slice["threshold"] == 0.2
    query = time_slice["query"]["queries"][0]["metricQuery"]["query"]
    assert query.startswith("avg:aws.applicationelb.target_response_time.p95{")
    assert {t["timeframe"] for t in slo["thresholds"]} == {"7d", "30d"}


def test_burn_rate_monitors_alert_on_the_availability_slo(recording: Recording) -> None:
    slo_id = recording.named("monitoring-availability").id
    fast = _monitor(recording, "burn-rate-fast")
    slow = _monitor(recording, "burn-rate-slow")
    for monitor in (fast, slow):
        assert monitor["type"] == "slo alert"
        assert monitor["query"].startswith(f'burn_rate("{slo_id}").over("30d")')
    assert '.long_window("1h").short_window("5m") > 14.4' in fast["query"]
    assert '.long_window("6h").short_window("30m") > 6' in slow["query"]


def test_heartbeat_synthetic_checks_status_and_time_every_minute(recording: Recording) -> None:
    test = recording.one(SYNTHETIC).inputs
    assert test["type"] == "api" and test["subtype"] == "http" and test["status"] == "live"
    assert test["requestDefinition"]["url"] == "https://api.example.com/heartbeat"
    assert test["requestDefinition"]["method"] == "GET"
    assert len(set(test["locations"])) >= 2
    assert test["optionsList"]["tickEvery"] == 60
    assertions = {(a["type"], a["operator"]): a for a in test["assertions"]}
    assert assertions[("statusCode", "is")]["target"] == "200"
    assert int(assertions[("responseTime", "lessThan")]["target"]) <= 2000
    assert assertions[("body", "validatesJSONPath")]["targetjsonpath"]["targetvalue"] == "ok"
    assert NOTIFY in test["message"] and "Runbook:" in test["message"]


def _widgets(recording: Recording) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    document = json.loads(recording.one(DASHBOARD).inputs["dashboard"])
    return document, document["widgets"]


def test_dashboard_groups_top_down_and_every_widget_has_title_and_query(
    recording: Recording,
) -> None:
    document, groups = _widgets(recording)
    assert [g["definition"]["title"] for g in groups] == list(GROUP_TITLES)
    variables = {v["name"]: v for v in document["template_variables"]}
    assert variables["env"]["prefix"] == "env" and variables["env"]["default"] == "prod"
    for group in groups:
        assert group["definition"]["type"] == "group"
        assert group["definition"]["widgets"], group["definition"]["title"]
        for widget in group["definition"]["widgets"]:
            definition = widget["definition"]
            assert definition["title"].strip()
            if definition["type"] == "slo":
                assert definition["slo_id"]
                continue
            for request in definition["requests"]:
                assert request["queries"], definition["title"]
                assert all(q["query"].strip() for q in request["queries"])
                assert request["formulas"], definition["title"]
                names = {q["name"] for q in request["queries"]}
                for formula in request["formulas"]:
                    assert any(name in formula["formula"] for name in names)
                    assert "unit" in formula.get("number_format", {}), definition["title"]


def _group(groups: list[dict[str, Any]], title: str) -> list[dict[str, Any]]:
    group = next(g for g in groups if g["definition"]["title"] == title)
    return [w["definition"] for w in group["definition"]["widgets"]]


def _queries(widget: dict[str, Any]) -> str:
    return " ".join(q["query"] for r in widget["requests"] for q in r["queries"])


def test_dashboard_content_per_group(recording: Recording) -> None:
    _, groups = _widgets(recording)
    api = _group(groups, "API")
    latency = next(w for w in api if w["title"].startswith("Latency p50"))
    assert all(f"{p}:awaterra.http.request.duration{{" in _queries(latency)
               for p in ("p50", "p95", "p99"))
    assert latency["markers"][0]["value"] == "y = 0.2"
    assert any("by {route}" in _queries(w) and "status:5*" in _queries(w) for w in api)
    assert any("status:4*" in _queries(w) for w in api)
    service = " ".join(_queries(w) for w in _group(groups, "Service (ECS)"))
    for metric in ("service.running", "service.desired", "cpuutilization", "memory_utilization"):
        assert metric in service
    lb = " ".join(_queries(w) for w in _group(groups, "Load balancer"))
    for metric in ("healthy_host_count", "target_response_time", "httpcode_elb_5xx",
                   "httpcode_target_5xx"):
        assert metric in lb
    database = _group(groups, "Database")
    connections = next(w for w in database if w["title"].startswith("Connections vs limit"))
    assert {"y = 400", "y = 320"} <= {m["value"] for m in connections["markers"]}
    db = " ".join(_queries(w) for w in database)
    for metric in ("rds.cpuutilization", "free_storage_space", "read_latency", "write_latency"):
        assert metric in db
    objectives = _group(groups, "Objectives")
    slo_ids = {recording.named("monitoring-availability").id,
               recording.named("monitoring-latency").id}
    assert {w["slo_id"] for w in objectives} == slo_ids


def test_outputs_link_to_the_datadog_app(recording: Recording) -> None:
    outputs = recording.outputs
    dashboard_id = recording.one(DASHBOARD).id
    assert outputs["dashboard_url"] == f"https://app.datadoghq.com/dashboard/{dashboard_id}"
    slo_id = recording.named("monitoring-availability").id
    assert outputs["availability_slo_url"] == f"https://app.datadoghq.com/slo?slo_id={slo_id}"
    synthetic_id = recording.one(SYNTHETIC).id
    assert outputs["synthetic_url"] == (
        f"https://app.datadoghq.com/synthetics/details/{synthetic_id}"
    )
    assert set(outputs["monitor_ids"]) >= {"latency-p95", "error-rate", "burn-rate-fast"}


def test_no_aws_integration_unless_asked(recording: Recording) -> None:
    assert not [r for r in recording if "integration" in r.type.lower()]
    assert not recording.of_type("aws:iam/role:Role")


def test_aws_integration_role_trusts_datadog_with_the_external_id() -> None:
    recording = _run(lambda: _args(aws_integration=True, aws_account_id="123456789012",
                                   site="datadoghq.eu"))
    external_id = recording.one("datadog:aws/integrationExternalId:IntegrationExternalId").id
    role = recording.one("aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"AWS": "arn:aws:iam::464622532012:root"}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": external_id}}
    policy = json.loads(recording.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    actions = policy["Statement"][0]["Action"]
    assert all(action.split(":")[1].startswith(("Describe", "Get", "List")) for action in actions)
    account = recording.one("datadog:aws/integrationAccount:IntegrationAccount").inputs
    assert account["awsAccountId"] == "123456789012"
    assert account["authConfig"]["awsAuthConfigRole"]["externalId"] == external_id
    assert account["awsRegions"]["includeOnlies"] == ["us-east-1"]
    provider = recording.one("pulumi:providers:datadog")
    assert provider.inputs["apiUrl"] == "https://api.datadoghq.eu/"
    assert recording.outputs["dashboard_url"].startswith("https://app.datadoghq.eu/dashboard/")


def test_thresholds_flow_into_monitors_and_slos() -> None:
    limits = MonitoringThresholds(latency_p95_seconds=0.3, latency_p95_warning_seconds=0.25,
                                  availability_target_percent=99.5, error_rate_min_requests=500)
    recording = _run(lambda: _args(thresholds=limits, notify=""))
    assert _monitor(recording, "latency-p95")["query"].endswith("> 0.3")
    assert ", 500)" in _monitor(recording, "error-rate")["query"]
    slo = recording.named("monitoring-availability").inputs
    assert {t["target"] for t in slo["thresholds"]} == {99.5}
    assert "@" not in _monitor(recording, "db-cpu")["message"]  # no handles: UI only


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"site": "datadoghq.org"}, "unknown Datadog site"),
        ({"notify": "pagerduty-awaterra"}, "start with '@'"),
        ({"domain": "https://api.example.com"}, "bare host name"),
        ({"db_max_connections": 0}, "db_max_connections"),
        ({"synthetic_locations": ("aws:us-east-1",)}, "at least two"),
        ({"aws_integration": True}, "aws_account_id"),
        ({"aws_integration": True, "aws_account_id": "12345"}, "12-digit"),
    ],
)
def test_bad_arguments_are_refused_clearly(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _args(**overrides)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latency_p95_warning_seconds", 0.25),  # warning above critical
        ("availability_target_percent", 100.0),
        ("error_rate_min_requests", 0),
        ("db_free_storage_warning_gib", 1.0),
    ],
)
def test_bad_thresholds_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field.split("_")[0]):
        replace(MonitoringThresholds(), **{field: value})
