"""ECS container definitions that ship the API's metrics, traces and logs from Fargate to Datadog.

Pure functions, no pulumi_datadog (the ContainerService uses them even when the Monitoring
component is not built). The returned mappings use the ECS task-definition JSON spelling
(camelCase) and their values may be `pulumi.Input`s (the API key secret ARN, the log group),
so resolve them with `pulumi.Output.from_input(...)` before serialising.

Modes (`awaterra:datadogShipping`):
- `none`: nothing is added; logs stay in CloudWatch Logs, tracing stays off.
- `sidecar`: a Datadog Agent container in the task: APM traces from ddtrace, DogStatsD, ECS
  Fargate container metrics, and the service's `/metrics` scraped through the OpenMetrics
  check. Logs stay in CloudWatch Logs.
- `firelens`: the agent as above plus an aws-for-fluent-bit log router; the app's stdout goes
  through FireLens straight to Datadog's log intake (JSON lines parsed into attributes).

Every container here runs with a read-only root filesystem; what they must write goes to
task-level ephemeral volumes (`datadog_volumes(...)`, for `ContainerServiceArgs.extra_volumes`),
one set per sidecar, never the app's `/tmp`:
- the agent follows Datadog's read-only-root guide
  (https://docs.datadoghq.com/containers/guide/readonly-root-filesystem/) and what Datadog's
  terraform-aws-ecs-datadog module (v1.1.1, `dd_readonly_root_filesystem`) does on Fargate:
  volumes at /etc/datadog-agent, /opt/datadog-agent/run, /var/run/datadog and /tmp, plus
  /var/run/s6 (the image runs s6-overlay with S6_READ_ONLY_ROOT=1, which needs it writable; the
  image only declares it as an anonymous VOLUME) and file logging off (it logs to stdout, so
  /var/log/datadog is not written). An empty volume at /etc/datadog-agent would hide the image's
  configuration, so `datadog-agent-init` (same image, not essential, read-only root too) copies
  it into the volume first and the agent starts only after it exited 0 (`dependsOn` SUCCESS).
- the log router writes no state: ECS itself bind-mounts the FireLens socket directory
  (/var/run) and the generated configuration (/fluent-bit/etc), and our configuration buffers in
  memory (no `storage.path`); it gets a writable /tmp for plugins that spool there.

Users: the log router runs as root ("0") because FireLens requires it (aws-for-fluent-bit
troubleshooting/debugging.md, "Amazon ECS FireLens: root is required": ECS creates the log socket
directory root-owned and the container runtime connects to the socket as root;
aws/containers-roadmap#2122 is the open request). The agent and its init container keep the
image's default user (root): Datadog documents an unprivileged (uid 100) agent only for Kubernetes,
where fsGroup makes the volumes writable; Fargate creates ephemeral bind mounts root-owned 0755
and ECS has no fsGroup, and Datadog's ECS Fargate module runs the agent as root as well. The
policy pack excepts exactly these three containers from `ecs-non-root-user` in prod.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components.datadog.metrics import DATADOG_METRIC_NAMESPACE, PROMETHEUS_TO_DATADOG

SHIPPING_MODES = ("none", "sidecar", "firelens")

AGENT_CONTAINER = "datadog-agent"
AGENT_INIT_CONTAINER = "datadog-agent-init"
LOG_ROUTER_CONTAINER = "log-router"
# Where the init container sees the agent's configuration volume while it copies into it.
AGENT_CONFIG_STAGING_PATH = "/opt/datadog-agent-config"
# Task-level ephemeral volume -> the path its container writes (read-only root elsewhere).
AGENT_WRITABLE_PATHS: Mapping[str, str] = {
    "datadog-agent-config": "/etc/datadog-agent",
    "datadog-agent-run": "/opt/datadog-agent/run",
    "datadog-agent-sockets": "/var/run/datadog",
    "datadog-agent-s6": "/var/run/s6",
    "datadog-agent-tmp": "/tmp",  # noqa: S108 (a task volume, not the image's /tmp)
}
LOG_ROUTER_WRITABLE_PATHS: Mapping[str, str] = {
    "log-router-tmp": "/tmp",  # noqa: S108
}
# FireLens needs the router to run as root (see the module docstring).
LOG_ROUTER_USER = "0"
# Datadog documents the floating major tag for ECS Fargate; pin a digest through the args
# when a stack needs byte-for-byte reproducible tasks.
DEFAULT_AGENT_IMAGE = "public.ecr.aws/datadog/agent:7"
DEFAULT_LOG_ROUTER_IMAGE = "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"
TRACE_AGENT_PORT = 8126
DOGSTATSD_PORT = 8125


@dataclass(frozen=True)
class DatadogShippingArgs:
    """What the shipping containers need to know about the stack."""

    mode: str
    site: str
    environment: str
    service: str
    version: pulumi.Input[str]
    region: str
    # Secrets Manager secret holding the plain Datadog API key (see DatadogApiKeySecret).
    api_key_secret_arn: pulumi.Input[str] | None
    # CloudWatch group for the agent's and the log router's own logs.
    log_group_name: pulumi.Input[str]
    # Must be the prefix the task execution role may write under (ContainerService's
    # LOG_STREAM_PREFIX); ECS names the streams <prefix>/<container>/<task id>.
    log_stream_prefix: str = "service"
    app_port: int = 8000
    agent_image: str = DEFAULT_AGENT_IMAGE
    log_router_image: str = DEFAULT_LOG_ROUTER_IMAGE
    agent_memory_reservation_mib: int = 256
    agent_init_memory_reservation_mib: int = 32
    log_router_memory_reservation_mib: int = 64

    def __post_init__(self) -> None:
        if self.mode not in SHIPPING_MODES:
            raise ValueError(
                f"Datadog shipping mode must be one of {', '.join(SHIPPING_MODES)}, "
                f"got {self.mode!r}"
            )
        if self.mode != "none" and self.api_key_secret_arn is None:
            raise ValueError(
                f"Datadog shipping mode {self.mode!r} needs api_key_secret_arn "
                "(the Secrets Manager secret holding the Datadog API key)"
            )

    @property
    def runs_agent(self) -> bool:
        return self.mode in ("sidecar", "firelens")

    @property
    def routes_logs(self) -> bool:
        return self.mode == "firelens"


def _awslogs(args: DatadogShippingArgs) -> dict[str, Any]:
    return {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": args.log_group_name,
            "awslogs-region": args.region,
            "awslogs-stream-prefix": args.log_stream_prefix,
        },
    }


def _env(pairs: Mapping[str, pulumi.Input[str]]) -> list[dict[str, Any]]:
    return [{"name": name, "value": value} for name, value in pairs.items()]


def _unified_tags(args: DatadogShippingArgs) -> str:
    return f"env:{args.environment},service:{args.service}"


def _mounts(writable_paths: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {"sourceVolume": volume, "containerPath": path, "readOnly": False}
        for volume, path in writable_paths.items()
    ]


def agent_init_container(args: DatadogShippingArgs) -> dict[str, Any]:
    """Copies the agent image's /etc/datadog-agent into the (empty) configuration volume."""
    config_volume = next(
        volume for volume, path in AGENT_WRITABLE_PATHS.items() if path == "/etc/datadog-agent"
    )
    return {
        "name": AGENT_INIT_CONTAINER,
        "image": args.agent_image,
        "essential": False,
        "memoryReservation": args.agent_init_memory_reservation_mib,
        # `/.` copies dotfiles too; the image has no ENTRYPOINT, so this replaces its CMD.
        "command": ["sh", "-c", f"cp -R /etc/datadog-agent/. {AGENT_CONFIG_STAGING_PATH}/"],
        "readonlyRootFilesystem": True,
        "mountPoints": [
            {
                "sourceVolume": config_volume,
                "containerPath": AGENT_CONFIG_STAGING_PATH,
                "readOnly": False,
            }
        ],
        "logConfiguration": _awslogs(args),
    }


def agent_container(args: DatadogShippingArgs) -> dict[str, Any]:
    """The Datadog Agent sidecar: APM intake, DogStatsD, Fargate metrics, OpenMetrics scrape."""
    return {
        "name": AGENT_CONTAINER,
        "image": args.agent_image,
        # A broken agent costs telemetry, never the API: the task keeps serving without it.
        "essential": False,
        "memoryReservation": args.agent_memory_reservation_mib,
        "environment": _env(
            {
                "ECS_FARGATE": "true",
                "DD_SITE": args.site,
                "DD_ENV": args.environment,
                "DD_TAGS": _unified_tags(args),
                "DD_APM_ENABLED": "true",
                "DD_DOGSTATSD_NON_LOCAL_TRAFFIC": "false",
                # Logs travel through FireLens (or stay in CloudWatch), never through the agent.
                "DD_LOGS_ENABLED": "false",
                "DD_PROCESS_AGENT_ENABLED": "false",
                # Its own log goes to stdout (awslogs) only: nothing under /var/log/datadog.
                "DD_DISABLE_FILE_LOGGING": "true",
            }
        ),
        "secrets": [{"name": "DD_API_KEY", "valueFrom": args.api_key_secret_arn}],
        "healthCheck": {
            "command": ["CMD-SHELL", "agent health"],
            "interval": 30,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 15,
        },
        "readonlyRootFilesystem": True,
        "mountPoints": _mounts(AGENT_WRITABLE_PATHS),
        "dependsOn": [{"containerName": AGENT_INIT_CONTAINER, "condition": "SUCCESS"}],
        "logConfiguration": _awslogs(args),
    }


def log_router_container(args: DatadogShippingArgs) -> dict[str, Any]:
    """The FireLens log router (aws-for-fluent-bit) that parses the app's JSON lines."""
    return {
        "name": LOG_ROUTER_CONTAINER,
        "image": args.log_router_image,
        # AWS's guidance: without the router the app's log driver has nowhere to write.
        "essential": True,
        "memoryReservation": args.log_router_memory_reservation_mib,
        "firelensConfiguration": {
            "type": "fluentbit",
            "options": {
                "enable-ecs-log-metadata": "true",
                "config-file-type": "file",
                # Shipped inside the image: turns the app's JSON log line into attributes.
                "config-file-value": "/fluent-bit/configs/parse-json.conf",
            },
        },
        "user": LOG_ROUTER_USER,
        "readonlyRootFilesystem": True,
        "mountPoints": _mounts(LOG_ROUTER_WRITABLE_PATHS),
        "logConfiguration": _awslogs(args),
    }


def datadog_containers(args: DatadogShippingArgs) -> list[dict[str, Any]]:
    """The containers to add beside the app (`ContainerServiceArgs.extra_containers`)."""
    containers: list[dict[str, Any]] = []
    if args.runs_agent:
        containers += [agent_init_container(args), agent_container(args)]
    if args.routes_logs:
        containers.append(log_router_container(args))
    return containers


def datadog_volumes(args: DatadogShippingArgs) -> list[dict[str, str]]:
    """The task volumes those containers mount (for `ContainerServiceArgs.extra_volumes`)."""
    names: list[str] = []
    if args.runs_agent:
        names += AGENT_WRITABLE_PATHS
    if args.routes_logs:
        names += LOG_ROUTER_WRITABLE_PATHS
    return [{"name": name} for name in names]


def log_intake_host(site: str) -> str:
    return f"http-intake.logs.{site}"


def app_log_configuration(args: DatadogShippingArgs) -> dict[str, Any] | None:
    """The app container's log configuration, or None to keep CloudWatch (`awslogs`)."""
    if not args.routes_logs:
        return None
    return {
        "logDriver": "awsfirelens",
        "options": {
            "Name": "datadog",
            "Host": log_intake_host(args.site),
            "TLS": "on",
            "compress": "gzip",
            "provider": "ecs",
            "dd_service": args.service,
            "dd_source": "python",
            "dd_tags": f"env:{args.environment}",
            "retry_limit": "5",
        },
        # The key reaches fluent-bit from Secrets Manager; it is never in the task definition.
        "secretOptions": [{"name": "apikey", "valueFrom": args.api_key_secret_arn}],
    }


def image_build_args(mode: str) -> dict[str, str]:
    """Build arguments for the service image: ddtrace goes in only when an agent receives traces."""
    if mode in ("sidecar", "firelens"):
        return {"SERVICE_EXTRAS": "datadog"}
    return {}


def app_environment(args: DatadogShippingArgs) -> list[dict[str, Any]]:
    """Environment for the app container: ddtrace settings and unified service tags."""
    if not args.runs_agent:
        return _env({"DD_TRACE_ENABLED": "false"})
    return _env(
        {
            "DD_TRACE_ENABLED": "true",
            "DD_ENV": args.environment,
            "DD_SERVICE": args.service,
            "DD_VERSION": args.version,
            # awsvpc tasks share a network namespace: the sidecar is on localhost.
            "DD_AGENT_HOST": "127.0.0.1",
            "DD_TRACE_AGENT_PORT": str(TRACE_AGENT_PORT),
            "DD_DOGSTATSD_PORT": str(DOGSTATSD_PORT),
            # The service adds dd.trace_id/dd.span_id to its own JSON logs (service.tracing).
            "DD_LOGS_INJECTION": "false",
        }
    )


def openmetrics_check(args: DatadogShippingArgs) -> dict[str, Any]:
    """The Agent's OpenMetrics check for the service's /metrics (an autodiscovery template)."""
    return {
        "openmetrics": {
            "init_config": {},
            "instances": [
                {
                    "openmetrics_endpoint": f"http://%%host%%:{args.app_port}/metrics",
                    "namespace": DATADOG_METRIC_NAMESPACE,
                    "metrics": [dict(PROMETHEUS_TO_DATADOG)],
                    "histogram_buckets_as_distributions": True,
                    "collect_counters_with_distributions": True,
                    "tags": [f"env:{args.environment}", f"service:{args.service}"],
                }
            ],
        }
    }


def app_docker_labels(args: DatadogShippingArgs) -> dict[str, Any]:
    """Docker labels for the app container: unified tags and the /metrics scrape template."""
    if not args.runs_agent:
        return {}
    return {
        "com.datadoghq.tags.env": args.environment,
        "com.datadoghq.tags.service": args.service,
        "com.datadoghq.tags.version": args.version,
        "com.datadoghq.ad.checks": json.dumps(openmetrics_check(args), sort_keys=True),
    }


def app_depends_on(args: DatadogShippingArgs) -> list[dict[str, str]]:
    """`dependsOn` entries for the app container (the router must be up before the app logs)."""
    dependencies = []
    if args.routes_logs:
        dependencies.append({"containerName": LOG_ROUTER_CONTAINER, "condition": "START"})
    if args.runs_agent:
        dependencies.append({"containerName": AGENT_CONTAINER, "condition": "START"})
    return dependencies


def execution_role_secret_arns(args: DatadogShippingArgs) -> list[pulumi.Input[str]]:
    """Secrets the task execution role must read (secretsmanager:GetSecretValue)."""
    if args.mode == "none" or args.api_key_secret_arn is None:
        return []
    return [args.api_key_secret_arn]
