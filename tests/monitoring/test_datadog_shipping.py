"""Container definitions for shipping telemetry to Datadog, and the API key secret."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components.aws import datadog_shipping as shipping
from components.aws.datadog_secret import DatadogApiKeySecret, DatadogApiKeySecretArgs
from components.datadog.site import api_url, app_url
from ops.offline import run_program
from service.metrics import METRICS

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:datadog-api-key-AbCdEf"


def _args(mode: str, **overrides: Any) -> shipping.DatadogShippingArgs:
    values: dict[str, Any] = {
        "mode": mode,
        "site": "datadoghq.eu",
        "environment": "prod",
        "service": "awaterra-api",
        "version": "abc123",
        "region": "eu-west-1",
        "api_key_secret_arn": SECRET_ARN,
        "log_group_name": "/awaterra/prod/api",
    }
    values.update(overrides)
    return shipping.DatadogShippingArgs(**values)


def _env(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {entry["name"]: entry["value"] for entry in entries}


def test_none_adds_nothing_and_keeps_cloudwatch() -> None:
    args = _args("none", api_key_secret_arn=None)
    assert shipping.datadog_containers(args) == []
    assert shipping.app_log_configuration(args) is None
    assert shipping.app_docker_labels(args) == {}
    assert shipping.app_depends_on(args) == []
    assert shipping.execution_role_secret_arns(args) == []
    assert _env(shipping.app_environment(args)) == {"DD_TRACE_ENABLED": "false"}


def test_sidecar_runs_the_agent_with_the_key_from_secrets_manager() -> None:
    args = _args("sidecar")
    init, agent = shipping.datadog_containers(args)
    assert (init["name"], agent["name"]) == ("datadog-agent-init", "datadog-agent")
    assert agent["essential"] is False
    environment = _env(agent["environment"])
    assert environment["ECS_FARGATE"] == "true"
    assert environment["DD_SITE"] == "datadoghq.eu"
    assert environment["DD_APM_ENABLED"] == "true"
    assert "DD_API_KEY" not in environment  # never a plain value in the task definition
    assert agent["secrets"] == [{"name": "DD_API_KEY", "valueFrom": SECRET_ARN}]
    assert agent["logConfiguration"]["logDriver"] == "awslogs"
    assert agent["logConfiguration"]["options"]["awslogs-group"] == "/awaterra/prod/api"
    # The execution role may only create streams under ContainerService's prefix.
    from components.aws.container_service import LOG_STREAM_PREFIX

    assert agent["logConfiguration"]["options"]["awslogs-stream-prefix"] == LOG_STREAM_PREFIX
    # Sidecar mode leaves the app's logs in CloudWatch.
    assert shipping.app_log_configuration(args) is None
    assert shipping.execution_role_secret_arns(args) == [SECRET_ARN]


def test_app_environment_points_ddtrace_at_the_sidecar() -> None:
    environment = _env(shipping.app_environment(_args("sidecar")))
    assert environment == {
        "DD_TRACE_ENABLED": "true",
        "DD_ENV": "prod",
        "DD_SERVICE": "awaterra-api",
        "DD_VERSION": "abc123",
        "DD_AGENT_HOST": "127.0.0.1",
        "DD_TRACE_AGENT_PORT": "8126",
        "DD_DOGSTATSD_PORT": "8125",
        "DD_LOGS_INJECTION": "false",
    }


def test_firelens_routes_app_logs_to_the_sites_intake_with_a_secret_key() -> None:
    args = _args("firelens")
    containers = {c["name"]: c for c in shipping.datadog_containers(args)}
    assert set(containers) == {"datadog-agent-init", "datadog-agent", "log-router"}
    router = containers["log-router"]
    assert router["firelensConfiguration"]["type"] == "fluentbit"
    assert router["essential"] is True
    log_configuration = shipping.app_log_configuration(args)
    assert log_configuration is not None
    assert log_configuration["logDriver"] == "awsfirelens"
    assert log_configuration["options"]["Name"] == "datadog"
    assert log_configuration["options"]["Host"] == "http-intake.logs.datadoghq.eu"
    assert log_configuration["options"]["TLS"] == "on"
    assert "apikey" not in {k.lower() for k in log_configuration["options"]}
    assert log_configuration["secretOptions"] == [{"name": "apikey", "valueFrom": SECRET_ARN}]
    assert {"containerName": "log-router", "condition": "START"} in shipping.app_depends_on(args)


def test_docker_labels_make_the_agent_scrape_metrics_that_exist() -> None:
    labels = shipping.app_docker_labels(_args("sidecar"))
    assert labels["com.datadoghq.tags.env"] == "prod"
    assert labels["com.datadoghq.tags.version"] == "abc123"
    check = json.loads(labels["com.datadoghq.ad.checks"])
    (instance,) = check["openmetrics"]["instances"]
    assert instance["openmetrics_endpoint"] == "http://%%host%%:8000/metrics"
    assert instance["histogram_buckets_as_distributions"] is True
    (mapping,) = instance["metrics"]
    # Every Prometheus name the agent is told to collect is one the service exports.
    assert set(mapping) <= METRICS.metric_names()
    assert set(mapping) == set(shipping.PROMETHEUS_TO_DATADOG)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mode": "syslog"}, "must be one of none, sidecar, firelens"),
        ({"mode": "sidecar", "api_key_secret_arn": None}, "needs api_key_secret_arn"),
    ],
)
def test_bad_shipping_arguments_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _args(**overrides)


def test_api_key_secret_stores_the_key_as_a_secret() -> None:
    def program() -> None:
        secret = DatadogApiKeySecret(
            "datadog-api-key",
            DatadogApiKeySecretArgs(api_key=pulumi.Output.secret("the-real-key")),
        )
        pulumi.export("arn", secret.secret_arn)

    recording = run_program("prod", use_stack_file=False, program=program)
    version = recording.one("aws:secretsmanager/secretVersion:SecretVersion")
    value = version.inputs["secretString"]
    assert isinstance(value, dict) and value.get("value") == "the-real-key"
    assert value.get("4dabf18193072939515e22adb298388d")  # the secret marker
    secret = recording.one("aws:secretsmanager/secret:Secret")
    assert secret.inputs["recoveryWindowInDays"] == 7
    key = recording.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert secret.inputs["kmsKeyId"] == key.outputs["arn"]  # a customer managed key by default
    assert recording.outputs["arn"] == secret.outputs["arn"]


def test_api_key_secret_refuses_immediate_deletion() -> None:
    with pytest.raises(ValueError, match="between 7 and 30"):
        DatadogApiKeySecretArgs(api_key="k", recovery_window_in_days=0)


@pytest.mark.parametrize(
    ("site", "api", "app"),
    [
        ("datadoghq.com", "https://api.datadoghq.com/", "https://app.datadoghq.com"),
        ("datadoghq.eu", "https://api.datadoghq.eu/", "https://app.datadoghq.eu"),
        ("us5.datadoghq.com", "https://api.us5.datadoghq.com/", "https://us5.datadoghq.com"),
        ("ddog-gov.com", "https://api.ddog-gov.com/", "https://app.ddog-gov.com"),
    ],
)
def test_site_urls(site: str, api: str, app: str) -> None:
    assert api_url(site) == api
    assert app_url(site) == app


def test_settings_and_monitoring_agree_on_the_sites() -> None:
    from components.datadog.site import DATADOG_SITES
    from components.settings import DATADOG_SITES as SETTINGS_SITES

    assert set(SETTINGS_SITES) == set(DATADOG_SITES)



def _mount_paths(container: dict[str, Any]) -> dict[str, str]:
    return {m["containerPath"]: m["sourceVolume"] for m in container.get("mountPoints", [])}


@pytest.mark.parametrize("mode", ["sidecar", "firelens"])
def test_every_container_is_read_only_and_writes_only_to_its_declared_volumes(mode: str) -> None:
    args = _args(mode)
    containers = shipping.datadog_containers(args)
    volumes = [volume["name"] for volume in shipping.datadog_volumes(args)]
    assert len(volumes) == len(set(volumes))
    assert "tmp" not in volumes  # never the app's /tmp volume
    mounted: set[str] = set()
    for container in containers:
        assert container["readonlyRootFilesystem"] is True, container["name"]
        for mount in container.get("mountPoints", []):
            assert mount["sourceVolume"] in volumes, (container["name"], mount)
            assert mount["readOnly"] is False
            mounted.add(mount["sourceVolume"])
    assert mounted == set(volumes), "every declared volume is used, every used one declared"


def test_none_declares_no_volumes() -> None:
    assert shipping.datadog_volumes(_args("none", api_key_secret_arn=None)) == []


def test_sidecar_mode_has_no_log_router_volume() -> None:
    names = {volume["name"] for volume in shipping.datadog_volumes(_args("sidecar"))}
    assert names == set(shipping.AGENT_WRITABLE_PATHS)


def test_agent_writable_paths_follow_datadogs_read_only_root_guide() -> None:
    agent = next(
        c for c in shipping.datadog_containers(_args("sidecar")) if c["name"] == "datadog-agent"
    )
    paths = _mount_paths(agent)
    # docs.datadoghq.com/containers/guide/readonly-root-filesystem (+ /var/run/s6 for s6-overlay).
    assert set(paths) == {
        "/etc/datadog-agent",
        "/opt/datadog-agent/run",
        "/var/run/datadog",
        "/var/run/s6",
        "/tmp",
    }
    assert len(set(paths.values())) == len(paths), "one volume per path"
    # File logging off: /var/log/datadog (not a volume here) is never written.
    assert _env(agent["environment"])["DD_DISABLE_FILE_LOGGING"] == "true"


def test_init_container_fills_the_agents_config_volume_before_the_agent_starts() -> None:
    containers = shipping.datadog_containers(_args("firelens"))
    names = [c["name"] for c in containers]
    assert names.index("datadog-agent-init") < names.index("datadog-agent")
    by_name = {c["name"]: c for c in containers}
    init, agent = by_name["datadog-agent-init"], by_name["datadog-agent"]
    assert init["image"] == agent["image"]  # copies the configuration of the very same agent
    assert init["essential"] is False
    assert "secrets" not in init and "environment" not in init  # it never sees the key
    assert agent["dependsOn"] == [{"containerName": "datadog-agent-init", "condition": "SUCCESS"}]
    (init_mount,) = init["mountPoints"]
    # The init sees the volume elsewhere, so its own /etc/datadog-agent (the source) stays visible.
    assert init_mount["containerPath"] != "/etc/datadog-agent"
    assert init_mount["sourceVolume"] == _mount_paths(agent)["/etc/datadog-agent"]
    shell, flag, script = init["command"]
    assert (shell, flag) == ("sh", "-c")
    assert script == f"cp -R /etc/datadog-agent/. {init_mount['containerPath']}/"
    assert init["logConfiguration"]["logDriver"] == "awslogs"


def test_log_router_runs_as_root_for_firelens_with_only_tmp_writable() -> None:
    router = next(
        c for c in shipping.datadog_containers(_args("firelens")) if c["name"] == "log-router"
    )
    assert router["user"] == "0"  # FireLens requires it (see the module docstring)
    paths = _mount_paths(router)
    assert set(paths) == {"/tmp"}
    # ECS bind-mounts the socket directory and the generated config itself.
    assert not {"/var/run", "/fluent-bit/etc"} & set(paths)
