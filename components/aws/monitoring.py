"""Datadog for an AWS stack: metrics from the AWS integration (load balancer, ECS, RDS) and the
service's own, the AWS wording of every runbook, and the optional keyless AWS integration.

Imports pulumi_datadog (through components.datadog.monitoring): components/aws/stack.py imports
this module only when Datadog is on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_datadog as datadog

from components.aws.monitoring_dashboard import dashboard_document
from components.aws.monitoring_queries import MonitoredScope
from components.aws.monitoring_wording import AWS_HEARTBEAT_STEPS, monitor_specs
from components.datadog.metrics import MetricScope
from components.datadog.monitoring import (
    DEFAULT_SYNTHETIC_LOCATIONS,
    DatadogMonitoring,
    check_common_args,
    heartbeat_url,
    monitoring_tags,
)
from components.datadog.specs import MonitorSpec
from components.monitoring_thresholds import MonitoringThresholds

# Datadog's own AWS account, which assumes the integration role (gov has its own).
DATADOG_AWS_ACCOUNTS = {"ddog-gov.com": "065115117704"}
DATADOG_AWS_ACCOUNT_DEFAULT = "464622532012"
# Read-only permissions for the metrics this stack's dashboard and monitors use.
INTEGRATION_PERMISSIONS = (
    "cloudwatch:Describe*",
    "cloudwatch:Get*",
    "cloudwatch:List*",
    "ec2:Describe*",
    "ecs:Describe*",
    "ecs:List*",
    "elasticloadbalancing:Describe*",
    "rds:Describe*",
    "rds:List*",
    "tag:GetResources",
    "tag:GetTagKeys",
    "tag:GetTagValues",
)
INTEGRATION_NAMESPACES = ("AWS/ApplicationELB", "AWS/ECS", "AWS/RDS")


@dataclass
class MonitoringArgs:
    environment: str
    domain: str
    cluster_name: pulumi.Input[str]
    service_name: pulumi.Input[str]  # the ECS service
    load_balancer_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    db_instance_identifier: pulumi.Input[str]
    db_max_connections: int
    api_key: pulumi.Input[str]
    app_key: pulumi.Input[str]
    site: str = "datadoghq.com"
    # Datadog handles to notify, e.g. "@pagerduty-awaterra @slack-ops"; "" = alerts in the UI only.
    notify: str = ""
    datadog_service: str = "awaterra-api"  # the `service` tag on the API's metrics and traces
    aws_integration: bool = False
    aws_account_id: str | None = None
    aws_region: str = "us-east-1"
    aws_integration_role_name: str | None = None
    thresholds: MonitoringThresholds = field(default_factory=MonitoringThresholds)
    synthetic_locations: Sequence[str] = DEFAULT_SYNTHETIC_LOCATIONS
    heartbeat_path: str = "/heartbeat"

    def __post_init__(self) -> None:
        check_common_args(self)
        if self.aws_integration and not (
            self.aws_account_id and self.aws_account_id.isdigit() and len(self.aws_account_id) == 12
        ):
            raise ValueError(
                "aws_integration needs aws_account_id, the 12-digit AWS account to integrate, "
                f"got {self.aws_account_id!r}"
            )

    @property
    def heartbeat_url(self) -> str:
        return heartbeat_url(self)

    @property
    def tags(self) -> list[str]:
        return monitoring_tags(self)


class Monitoring(DatadogMonitoring):
    """The stack's dashboard, monitors, SLOs, heartbeat synthetic and optional AWS integration."""

    TYPE = "awaterra:monitoring:Monitoring"
    HEARTBEAT_STEPS: Sequence[str] = AWS_HEARTBEAT_STEPS
    _dashboard_document = staticmethod(dashboard_document)

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        self._args: MonitoringArgs
        super().__init__(name, args, opts)

    def _scope(self) -> pulumi.Output[MetricScope]:
        args = self._args
        return pulumi.Output.all(
            args.load_balancer_arn_suffix,
            args.target_group_arn_suffix,
            args.cluster_name,
            args.service_name,
            args.db_instance_identifier,
        ).apply(
            lambda values: MonitoredScope(
                environment=args.environment,
                service=args.datadog_service,
                load_balancer_arn_suffix=values[0],
                target_group_arn_suffix=values[1],
                cluster_name=values[2],
                ecs_service_name=values[3],
                db_instance_identifier=values[4],
            )
        )

    def _monitor_specs(self) -> list[MonitorSpec]:
        return monitor_specs(self._args.thresholds, self._args.db_max_connections)

    def _integration(self, dd: pulumi.ResourceOptions) -> None:
        if self._args.aws_integration:
            self._aws_integration(dd)

    def _aws_integration(self, dd: pulumi.ResourceOptions) -> None:
        args = self._args
        assert args.aws_account_id is not None  # checked in MonitoringArgs
        role_name = args.aws_integration_role_name or f"DatadogIntegration-{args.environment}"
        aws_opts = pulumi.ResourceOptions(parent=self)
        external_id = datadog.aws.IntegrationExternalId(f"{self._name}-external-id", opts=dd)
        datadog_account = DATADOG_AWS_ACCOUNTS.get(args.site, DATADOG_AWS_ACCOUNT_DEFAULT)
        role = aws.iam.Role(
            f"{self._name}-integration-role",
            name=role_name,
            description="Assumed by Datadog to read this stack's CloudWatch metrics and tags",
            assume_role_policy=external_id.id.apply(
                lambda external: _trust_policy(datadog_account, external)
            ),
            opts=aws_opts,
        )
        aws.iam.RolePolicy(
            f"{self._name}-integration-read",
            role=role.id,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": list(INTEGRATION_PERMISSIONS),
                            "Resource": "*",
                        }
                    ],
                }
            ),
            opts=aws_opts,
        )
        datadog.aws.IntegrationAccount(
            f"{self._name}-aws-account",
            aws_account_id=args.aws_account_id,
            aws_partition="aws-us-gov" if args.site == "ddog-gov.com" else "aws",
            aws_regions=datadog.aws.IntegrationAccountAwsRegionsArgs(
                include_onlies=[args.aws_region]
            ),
            auth_config=datadog.aws.IntegrationAccountAuthConfigArgs(
                aws_auth_config_role=datadog.aws.IntegrationAccountAuthConfigAwsAuthConfigRoleArgs(
                    role_name=role.name,
                    external_id=external_id.id,
                )
            ),
            metrics_config=datadog.aws.IntegrationAccountMetricsConfigArgs(
                namespace_filters=datadog.aws.IntegrationAccountMetricsConfigNamespaceFiltersArgs(
                    include_onlies=list(INTEGRATION_NAMESPACES)
                ),
            ),
            logs_config=datadog.aws.IntegrationAccountLogsConfigArgs(
                lambda_forwarder=datadog.aws.IntegrationAccountLogsConfigLambdaForwarderArgs(),
            ),
            resources_config=datadog.aws.IntegrationAccountResourcesConfigArgs(
                cloud_security_posture_management_collection=False,
                extended_collection=False,
            ),
            traces_config=datadog.aws.IntegrationAccountTracesConfigArgs(
                xray_services=datadog.aws.IntegrationAccountTracesConfigXrayServicesArgs(),
            ),
            account_tags=args.tags,
            opts=pulumi.ResourceOptions.merge(dd, pulumi.ResourceOptions(depends_on=[role])),
        )


def _trust_policy(datadog_account: str, external_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{datadog_account}:root"},
                    "Action": "sts:AssumeRole",
                    # The external id stops anyone else's Datadog org from assuming the role.
                    "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
                }
            ],
        }
    )
