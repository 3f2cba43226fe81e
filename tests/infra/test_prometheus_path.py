"""The prometheus alerting path of an AWS stack under Pulumi mocks (monitoring prometheus)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from components.aws.database import default_max_connections
from components.grafana_dashboard import dashboard_document
from components.prometheus_rules import API_JOB, HEARTBEAT_JOB, render, stack_rules_document
from ops.offline import RecordedResource, Recording, run_program
from ops.prometheus_files import DIRECTORY

SECRET_SIG = "4dabf18193072939515e22adb298388d"
PROMETHEUS = {"monitoring": "prometheus", "prometheusAlertEmails": '["ops@example.com"]'}


@pytest.fixture(scope="module")
def dev() -> Recording:
    return run_program("dev", PROMETHEUS)


@pytest.fixture(scope="module")
def prod_both() -> Recording:
    return run_program(
        "prod",
        {
            "monitoring": "both",
            "datadogApiKey": "dd-api",
            "datadogAppKey": "dd-app",
            "grafanaUrl": "https://grafana.example.com",
            "grafanaToken": "glsa_secret_token",
        },
    )


def _policy(resource: RecordedResource) -> dict[str, Any]:
    policy = resource.inputs["policy"]
    document: dict[str, Any] = json.loads(policy) if isinstance(policy, str) else policy
    return document


def _containers(recording: Recording) -> dict[str, dict[str, Any]]:
    task = recording.one("aws:ecs/taskDefinition:TaskDefinition", "api-task")
    return {c["name"]: c for c in json.loads(task.inputs["containerDefinitions"])}


def test_the_workspace_is_encrypted_and_logs_to_an_encrypted_group_with_retention(
    dev: Recording,
) -> None:
    workspace = dev.one("aws:amp/workspace:Workspace")
    key = dev.named("prometheus-key")
    assert workspace.inputs["kmsKeyArn"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    group = dev.named("prometheus-logs")
    assert group.inputs["kmsKeyId"] == key.outputs["arn"]
    assert group.inputs["retentionInDays"] == 14  # dev's logRetentionDays
    assert workspace.inputs["loggingConfiguration"]["logGroupArn"] == f"{group.outputs['arn']}:*"


def test_the_rules_namespace_is_the_generated_file(dev: Recording) -> None:
    rules = dev.named("prometheus-rules")
    assert rules.inputs["data"] == (DIRECTORY / "rules.yml").read_text()
    stack = dev.named("prometheus-stack-rules")
    # dev: serviceMinCount 1 and db.t4g.micro's max_connections.
    expected = stack_rules_document(1, default_max_connections("db.t4g.micro") or 0)
    assert stack.inputs["data"] == render(expected)
    for resource in (rules, stack):
        assert resource.inputs["workspaceId"] == dev.one("aws:amp/workspace:Workspace").id


def test_alerts_go_to_an_encrypted_topic_with_the_configured_subscriptions(dev: Recording) -> None:
    topic = dev.one("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == dev.named("prometheus-key").outputs["arn"]
    (subscription,) = dev.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs["protocol"] == "email"
    assert subscription.inputs["endpoint"] == "ops@example.com"
    definition = yaml.safe_load(
        dev.one("aws:amp/alertManagerDefinition:AlertManagerDefinition").inputs["definition"]
    )
    config = yaml.safe_load(definition["alertmanager_config"])
    (receiver,) = config["receivers"]
    assert config["route"]["receiver"] == receiver["name"]
    assert receiver["sns_configs"][0]["topic_arn"] == topic.outputs["arn"]
    policy = _policy(dev.one("aws:sns/topicPolicy:TopicPolicy"))
    aps = next(s for s in policy["Statement"] if s["Principal"]["Service"] == "aps.amazonaws.com")
    workspace = dev.one("aws:amp/workspace:Workspace")
    assert aps["Condition"]["ArnEquals"]["aws:SourceArn"] == workspace.outputs["arn"]
    key_policy = _policy(dev.named("prometheus-key"))
    services = {
        json.dumps(s["Principal"].get("Service")) for s in key_policy["Statement"]
    }
    assert '"aps.amazonaws.com"' in services and '"cloudwatch.amazonaws.com"' in services


def test_the_rds_monitors_without_a_prometheus_metric_are_cloudwatch_alarms(
    dev: Recording,
) -> None:
    topic = dev.one("aws:sns/topic:Topic").outputs["arn"]
    alarms = {a.name: a.inputs for a in dev.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    cpu, storage = alarms["prometheus-db-cpu"], alarms["prometheus-db-free-storage"]
    assert (cpu["metricName"], cpu["threshold"], cpu["period"]) == ("CPUUtilization", 80, 900)
    assert storage["threshold"] == 2 * 1024**3
    assert storage["comparisonOperator"] == "LessThanThreshold"
    for alarm in (cpu, storage):
        assert alarm["alarmActions"] == [topic]


def test_the_task_runs_the_collector_and_may_write_to_this_workspace_only(dev: Recording) -> None:
    containers = _containers(dev)
    collector, probe = containers["prometheus-collector"], containers["heartbeat-probe"]
    for sidecar in (collector, probe):
        assert sidecar["essential"] is False
        assert sidecar["readonlyRootFilesystem"] is True
        assert sidecar["user"] not in ("0", "root")
    config = yaml.safe_load(
        next(e["value"] for e in collector["environment"] if e["name"] == "AOT_CONFIG_CONTENT")
    )
    workspace = dev.one("aws:amp/workspace:Workspace").outputs
    exporter = config["exporters"]["prometheusremotewrite"]
    assert exporter["endpoint"] == f"{workspace['prometheusEndpoint']}api/v1/remote_write"
    assert exporter["auth"] == {"authenticator": "sigv4auth"}
    assert config["extensions"]["sigv4auth"]["service"] == "aps"
    jobs = {j["job_name"]: j for j in config["receivers"]["prometheus"]["config"]["scrape_configs"]}
    assert jobs[API_JOB]["static_configs"] == [{"targets": ["127.0.0.1:8000"]}]
    assert jobs[HEARTBEAT_JOB]["static_configs"] == [
        {"targets": ["https://api.dev.example.com/heartbeat"]}
    ]
    grant = dev.named("prometheus-remote-write")
    (statement,) = _policy(grant)["Statement"]
    assert statement == {
        "Sid": "RemoteWriteToThisWorkspaceOnly",
        "Effect": "Allow",
        "Action": "aps:RemoteWrite",
        "Resource": workspace["arn"],
    }
    task_role = dev.named("api-task")
    assert grant.inputs["role"] == task_role.outputs["arn"].rsplit(":", 1)[-1].rsplit("/")[-1]


def test_managed_grafana_gets_the_data_source_and_the_generated_dashboard(
    dev: Recording,
) -> None:
    workspace = dev.one("aws:grafana/workspace:Workspace").inputs
    assert workspace["dataSources"] == ["PROMETHEUS"]
    assert workspace["permissionType"] == "CUSTOMER_MANAGED"
    query = dev.named("grafana-query")
    (statement,) = _policy(query)["Statement"]
    assert statement["Resource"] == dev.one("aws:amp/workspace:Workspace").outputs["arn"]
    assert all(action.startswith("aps:Get") or action == "aps:QueryMetrics"
               for action in statement["Action"])
    source = dev.one("grafana:oss/dataSource:DataSource").inputs
    assert source["url"] == dev.one("aws:amp/workspace:Workspace").outputs["prometheusEndpoint"]
    assert json.loads(source["jsonDataEncoded"])["sigV4Auth"] is True
    dashboard = dev.one("grafana:oss/dashboard:Dashboard")
    assert json.loads(dashboard.inputs["configJson"]) == dashboard_document()
    assert dashboard.provider is not None and "grafana-provider" in dashboard.provider
    provider = dev.one("pulumi:providers:grafana").inputs
    assert provider["auth"][SECRET_SIG]


def test_outputs_name_the_dashboard_and_the_workspace(dev: Recording) -> None:
    outputs = dev.outputs
    assert outputs["grafana_dashboard_url"].startswith("https://g-")
    assert outputs["grafana_dashboard_url"].endswith("/d/awaterra-api/awaterra-api")
    assert outputs["prometheus_workspace_arn"].startswith("arn:aws:aps:")


def _panel_links(recording: Recording) -> dict[str, str]:
    app = _containers(recording)["app"]
    env = {e["name"]: e["value"] for e in app["environment"]}
    links: dict[str, str] = json.loads(env["ADMIN_LINKS"])
    return links


def test_the_panels_status_page_links_the_grafana_dashboard(
    dev: Recording, prod_both: Recording
) -> None:
    assert _panel_links(dev)["Grafana dashboard"] == dev.outputs["grafana_dashboard_url"]
    both = _panel_links(prod_both)
    assert both["Grafana dashboard"] == prod_both.outputs["grafana_dashboard_url"]
    assert "Datadog dashboards" in both
    assert "Grafana dashboard" not in _panel_links(run_program("dev", {}))


def test_a_grafana_named_by_url_uses_its_token_as_a_secret(prod_both: Recording) -> None:
    assert not prod_both.of_type("aws:grafana/workspace:Workspace")
    provider = prod_both.one("pulumi:providers:grafana").inputs
    assert provider["url"] == "https://grafana.example.com"
    assert provider["auth"][SECRET_SIG]
    assert "glsa_secret_token" not in json.dumps(
        {k: v for k, v in provider.items() if k != "auth"}
    )
    # both: the Datadog monitors are there too.
    assert prod_both.of_type("datadog:index/monitor:Monitor")
    assert prod_both.outputs["grafana_dashboard_url"].startswith("https://grafana.example.com/")


def test_datadog_only_and_none_stacks_create_nothing_of_the_prometheus_path() -> None:
    recording = run_program("dev", {})
    prometheus_types = ("aws:amp/", "aws:grafana/", "grafana:", "pulumi:providers:grafana")
    assert not [r for r in recording if r.type.startswith(prometheus_types)]
    assert recording.outputs["grafana_dashboard_url"] is None
    assert recording.outputs["prometheus_workspace_arn"] is None
    assert "prometheus-collector" not in _containers(recording)
