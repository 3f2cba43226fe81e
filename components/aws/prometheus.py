"""The prometheus alerting path on AWS: Amazon Managed Service for Prometheus and its collector.

`PrometheusAlerting` (created before the service, which runs its collector) makes:

- a workspace encrypted with a customer managed key, its logs in an encrypted log group with
  retention;
- the generated rules (ops/prometheus/rules.yml, exactly) as one rule-groups namespace, and the
  stack's own numbers (task floor, max_connections) as a second;
- an Alertmanager definition routing every alert to an SNS topic encrypted with the same key,
  with the configured e-mail subscriptions; CloudWatch alarms on RDS CPU and free storage (the
  two Datadog monitors Prometheus has no metric for) publish there too;
- `containers()`: an ADOT collector scraping the API's /metrics on loopback and the blackbox
  exporter probing the public /heartbeat, remote-writing with SigV4; `grant_remote_write`
  lets the task role write to this workspace only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import yaml

from components.aws.log_encryption import logs_key_statement
from components.aws.policy_documents import account_context, customer_key, key_policy
from components.monitoring_thresholds import MonitoringThresholds
from components.prometheus_rules import (
    blackbox_document,
    render,
    rules_document,
    stack_rules_document,
)
from components.prometheus_scrape import api_job, heartbeat_job

# Pinned images of the two sidecars (ECR Public / quay.io, linux/amd64 and arm64).
COLLECTOR_IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3"
PROBE_IMAGE = "quay.io/prometheus/blackbox-exporter:v0.25.0"
COLLECTOR_CONTAINER = "prometheus-collector"
PROBE_CONTAINER = "heartbeat-probe"
PROBE_ADDRESS = "127.0.0.1:9115"
COLLECTOR_VOLUME = "collector-tmp"
PROBE_VOLUME = "probe-tmp"
# Amazon Managed Prometheus evaluates rules every minute; scrape often enough for 5m rates.
SCRAPE_INTERVAL = "15s"
HEARTBEAT_INTERVAL = "60s"  # the Datadog synthetic's tick


@dataclass
class PrometheusAlertingArgs:
    environment: str
    heartbeat_url: str
    app_port: int
    min_tasks: int
    db_max_connections: int
    db_instance_identifier: pulumi.Input[str]
    log_group_name: str  # the service's log group (the sidecars log there)
    alert_emails: Sequence[str] = ()
    log_retention_days: int = 30
    thresholds: MonitoringThresholds | None = None

    def __post_init__(self) -> None:
        if not self.heartbeat_url.startswith("https://"):
            raise ValueError(f"heartbeat_url must be https://, got {self.heartbeat_url!r}")
        if self.min_tasks < 1 or self.db_max_connections < 1:
            raise ValueError("min_tasks and db_max_connections must be positive")


def alertmanager_definition(topic_arn: str, region: str) -> str:
    """Every alert to the SNS topic, grouped per alert name, repeated hourly while firing."""
    config = {
        "route": {
            "receiver": "sns",
            "group_by": ["alertname"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "sns",
                "sns_configs": [
                    {
                        "topic_arn": topic_arn,
                        "sigv4": {"region": region},
                        "send_resolved": True,
                        "subject": '[{{ .Status }}] {{ .CommonLabels.alertname }}',
                        "message": (
                            "{{ range .Alerts }}{{ .Annotations.summary }}\n"
                            "{{ .Annotations.description }}\n\nRunbook:\n"
                            "{{ .Annotations.runbook }}\n\n{{ end }}"
                        ),
                    }
                ],
            }
        ],
    }
    return yaml.safe_dump({"alertmanager_config": yaml.safe_dump(config, sort_keys=False)})


def collector_config(
    remote_write_url: str, region: str, app_port: int, heartbeat_url: str
) -> str:
    """The ADOT collector: Prometheus receiver -> ECS task labels -> SigV4 remote write."""
    config = {
        "extensions": {"sigv4auth": {"region": region, "service": "aps"}},
        "receivers": {
            "prometheus": {
                "config": {
                    "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": "10s"},
                    "scrape_configs": [
                        api_job(f"127.0.0.1:{app_port}", SCRAPE_INTERVAL),
                        heartbeat_job(heartbeat_url, PROBE_ADDRESS, HEARTBEAT_INTERVAL),
                    ],
                }
            }
        },
        "processors": {
            # Every task scrapes 127.0.0.1: the task ARN keeps their series apart.
            "resourcedetection": {"detectors": ["env", "ecs"], "timeout": "5s"},
            "batch": {},
        },
        "exporters": {
            "prometheusremotewrite": {
                "endpoint": remote_write_url,
                "auth": {"authenticator": "sigv4auth"},
                "resource_to_telemetry_conversion": {"enabled": True},
            }
        },
        "service": {
            "extensions": ["sigv4auth"],
            "pipelines": {
                "metrics": {
                    "receivers": ["prometheus"],
                    "processors": ["resourcedetection", "batch"],
                    "exporters": ["prometheusremotewrite"],
                }
            },
        },
    }
    # Prometheus' `$` in relabel replacements would be read as env references by the collector.
    return yaml.safe_dump(config, sort_keys=False).replace("$", "$$")


def remote_write_policy(workspace_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "RemoteWriteToThisWorkspaceOnly",
                    "Effect": "Allow",
                    "Action": "aps:RemoteWrite",
                    "Resource": workspace_arn,
                }
            ],
        }
    )


class PrometheusAlerting(pulumi.ComponentResource):
    workspace_arn: pulumi.Output[str]
    workspace_id: pulumi.Output[str]
    query_url: pulumi.Output[str]  # the workspace's Prometheus-compatible endpoint
    remote_write_url: pulumi.Output[str]
    topic_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: PrometheusAlertingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:monitoring:PrometheusAlerting", name, None, opts)
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        context = account_context(self)
        limits = args.thresholds or MonitoringThresholds()
        log_group_name = f"/awaterra/{pulumi.get_stack()}/prometheus"
        key = customer_key(
            f"{name}-key",
            f"{name}: Prometheus workspace, its logs and its alert topic",
            key_policy(
                context.account_id,
                [
                    logs_key_statement(context.account_id, context.region, log_group_name),
                    _service_key_statement("aps.amazonaws.com", context.account_id),
                    _service_key_statement("cloudwatch.amazonaws.com", context.account_id),
                ],
            ),
            child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=log_group_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=key.arn,
            opts=child,
        )
        workspace = aws.amp.Workspace(
            f"{name}-workspace",
            alias=f"awaterra-{args.environment}",
            kms_key_arn=key.arn,
            logging_configuration=aws.amp.WorkspaceLoggingConfigurationArgs(
                log_group_arn=log_group.arn.apply(lambda arn: f"{arn}:*"),
            ),
            opts=child,
        )
        self.rules = aws.amp.RuleGroupNamespace(
            f"{name}-rules",
            name="awaterra",
            workspace_id=workspace.id,
            data=render(rules_document(limits)),
            opts=child,
        )
        aws.amp.RuleGroupNamespace(
            f"{name}-stack-rules",
            name="awaterra-stack",
            workspace_id=workspace.id,
            data=render(stack_rules_document(args.min_tasks, args.db_max_connections)),
            opts=child,
        )
        topic = aws.sns.Topic(
            f"{name}-alerts",
            name=f"awaterra-{args.environment}-alerts",
            kms_master_key_id=key.arn,
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-alerts-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(
                topic=topic.arn, workspace=workspace.arn, account=context.account_id
            ).apply(lambda v: _topic_policy(v["topic"], v["workspace"], v["account"])),
            opts=child,
        )
        for index, email in enumerate(args.alert_emails):
            aws.sns.TopicSubscription(
                f"{name}-alerts-email-{index}",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                opts=child,
            )
        aws.amp.AlertManagerDefinition(
            f"{name}-alertmanager",
            workspace_id=workspace.id,
            definition=pulumi.Output.all(topic.arn, context.region).apply(
                lambda v: alertmanager_definition(v[0], v[1])
            ),
            opts=child,
        )
        self._database_alarms(name, args, limits, topic.arn, child)

        self.workspace_arn = workspace.arn
        self.workspace_id = workspace.id
        self.query_url = workspace.prometheus_endpoint
        self.remote_write_url = workspace.prometheus_endpoint.apply(
            lambda url: f"{url.rstrip('/')}/api/v1/remote_write"
        )
        self.topic_arn = topic.arn
        self.region = context.region
        self.register_outputs(
            {"workspace_arn": self.workspace_arn, "topic_arn": self.topic_arn}
        )

    @staticmethod
    def _database_alarms(
        name: str,
        args: PrometheusAlertingArgs,
        limits: MonitoringThresholds,
        topic_arn: pulumi.Output[str],
        child: pulumi.ResourceOptions,
    ) -> None:
        for key, metric, statistic, operator, threshold in (
            ("db-cpu", "CPUUtilization", "Average", "GreaterThanThreshold", limits.db_cpu_percent),
            (
                "db-free-storage",
                "FreeStorageSpace",
                "Minimum",
                "LessThanThreshold",
                limits.db_free_storage_bytes,
            ),
        ):
            aws.cloudwatch.MetricAlarm(
                f"{name}-{key}",
                alarm_description=f"awaterra {args.environment}: the Datadog {key} monitor's twin",
                namespace="AWS/RDS",
                metric_name=metric,
                dimensions={"DBInstanceIdentifier": args.db_instance_identifier},
                statistic=statistic,
                period=900,  # the Datadog monitors' 15-minute window
                evaluation_periods=1,
                comparison_operator=operator,
                threshold=threshold,
                alarm_actions=[topic_arn],
                ok_actions=[topic_arn],
                opts=child,
            )

    def containers(self, log_region: pulumi.Input[str]) -> list[dict[str, Any]]:
        """The collector and probe sidecars (not essential: they never stop the API)."""
        args = self._args

        def logs(prefix: str) -> dict[str, Any]:
            return {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": args.log_group_name,
                    "awslogs-region": log_region,
                    "awslogs-stream-prefix": prefix,
                },
            }

        config = pulumi.Output.all(self.remote_write_url, self.region).apply(
            lambda v: collector_config(v[0], v[1], args.app_port, args.heartbeat_url)
        )
        probe_command = (
            'printf "%s" "$BLACKBOX_CONFIG" > /tmp/blackbox.yml && exec /bin/blackbox_exporter '
            f"--config.file=/tmp/blackbox.yml --web.listen-address={PROBE_ADDRESS}"
        )
        return [
            {
                "name": COLLECTOR_CONTAINER,
                "image": COLLECTOR_IMAGE,
                "essential": False,
                "user": "10001",
                "readonlyRootFilesystem": True,
                "command": ["--config=env:AOT_CONFIG_CONTENT"],
                "environment": [{"name": "AOT_CONFIG_CONTENT", "value": config}],
                "mountPoints": [{"sourceVolume": COLLECTOR_VOLUME, "containerPath": "/tmp"}],  # noqa: S108
                "logConfiguration": logs("collector"),
            },
            {
                "name": PROBE_CONTAINER,
                "image": PROBE_IMAGE,
                "essential": False,
                "user": "65534",
                "readonlyRootFilesystem": True,
                "entryPoint": ["/bin/sh", "-c"],
                "command": [probe_command],
                "environment": [
                    {"name": "BLACKBOX_CONFIG", "value": render(blackbox_document())}
                ],
                "mountPoints": [{"sourceVolume": PROBE_VOLUME, "containerPath": "/tmp"}],  # noqa: S108
                "logConfiguration": logs("probe"),
            },
        ]

    @staticmethod
    def volumes() -> list[dict[str, str]]:
        return [{"name": COLLECTOR_VOLUME}, {"name": PROBE_VOLUME}]

    def grant_remote_write(self, task_role_arn: pulumi.Input[str]) -> aws.iam.RolePolicy:
        return aws.iam.RolePolicy(
            "prometheus-remote-write",
            role=pulumi.Output.from_input(task_role_arn).apply(role_name),
            policy=self.workspace_arn.apply(remote_write_policy),
            opts=pulumi.ResourceOptions(parent=self),
        )


def role_name(role_arn: str) -> str:
    """`arn:aws:iam::123456789012:role/path/name` -> `name`."""
    return role_arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _service_key_statement(service: str, account_id: pulumi.Input[str]) -> dict[str, Any]:
    """`service` may encrypt with the key for this account's resources only."""
    return {
        "Sid": f"{service.split('.')[0].capitalize()}UsesKey",
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": ["kms:GenerateDataKey*", "kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }


def _topic_policy(topic_arn: str, workspace_arn: str, account_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AlertmanagerOfThisWorkspace",
                    "Effect": "Allow",
                    "Principal": {"Service": "aps.amazonaws.com"},
                    "Action": ["sns:Publish", "sns:GetTopicAttributes"],
                    "Resource": topic_arn,
                    "Condition": {
                        "ArnEquals": {"aws:SourceArn": workspace_arn},
                        "StringEquals": {"aws:SourceAccount": account_id},
                    },
                },
                {
                    "Sid": "CloudWatchAlarmsOfThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                },
            ],
        }
    )
