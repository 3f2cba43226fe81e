"""Grafana for the prometheus path: the workspace's data source and the generated dashboard.

Either a Grafana named by URL (`grafanaUrl`, with a service-account token as a secret,
`grafanaToken`), or an Amazon Managed Grafana workspace (IAM Identity Center sign-in, a role
that may only query this stack's Prometheus workspace) with a service account whose token the
provider uses. The dashboard is components.grafana_dashboard's document, the same JSON as
ops/grafana/dashboards/awaterra-api.json; pulumiverse-grafana provisions it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumiverse_grafana as grafana

from components.aws.policy_documents import account_context, assume_role_policy, policy_document
from components.grafana_dashboard import dashboard_document

DATASOURCE_UID = "awaterra-prometheus"
# Amazon Managed Grafana's service-account tokens live at most 30 days; `pulumi up` renews it.
TOKEN_SECONDS = 30 * 24 * 3600
QUERY_ACTIONS = ("aps:QueryMetrics", "aps:GetLabels", "aps:GetSeries", "aps:GetMetricMetadata")


@dataclass
class GrafanaArgs:
    environment: str
    workspace_arn: pulumi.Input[str]
    query_url: pulumi.Input[str]  # the Prometheus workspace endpoint
    region: pulumi.Input[str]
    grafana_url: str | None = None
    grafana_token: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        if (self.grafana_url is None) != (self.grafana_token is None):
            raise ValueError("grafana_url and grafana_token go together")


class Grafana(pulumi.ComponentResource):
    dashboard_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: GrafanaArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:monitoring:Grafana", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.grafana_url is not None:
            assert args.grafana_token is not None
            url: pulumi.Output[str] = pulumi.Output.from_input(args.grafana_url)
            token = pulumi.Output.secret(args.grafana_token)
            # An outside Grafana signs its queries with its own AWS credentials.
            sigv4_auth = "default"
        else:
            url, token = self._managed_workspace(name, args, child)
            sigv4_auth = "ec2_iam_role"  # the workspace's own role
        self.provider = grafana.Provider(
            f"{name}-provider", url=url, auth=token, opts=child
        )
        on_grafana = pulumi.ResourceOptions(parent=self, provider=self.provider)
        grafana.oss.DataSource(
            f"{name}-prometheus",
            name="Prometheus",
            uid=DATASOURCE_UID,
            type="prometheus",
            url=args.query_url,
            is_default=True,
            json_data_encoded=pulumi.Output.from_input(args.region).apply(
                lambda region: json.dumps(
                    {
                        "httpMethod": "POST",
                        "sigV4Auth": True,
                        "sigV4AuthType": sigv4_auth,
                        "sigV4Region": region,
                        "timeInterval": "15s",
                    },
                    sort_keys=True,
                )
            ),
            opts=on_grafana,
        )
        folder = grafana.oss.Folder(f"{name}-folder", title="awaterra", opts=on_grafana)
        dashboard = grafana.oss.Dashboard(
            f"{name}-dashboard",
            folder=folder.uid,
            config_json=json.dumps(dashboard_document(), sort_keys=True),
            overwrite=True,
            opts=on_grafana,
        )
        self.dashboard_url = pulumi.Output.all(url, dashboard.url).apply(
            lambda v: v[1] if v[1].startswith("http") else f"{v[0].rstrip('/')}{v[1]}"
        )
        self.register_outputs({"dashboard_url": self.dashboard_url})

    def _managed_workspace(
        self, name: str, args: GrafanaArgs, child: pulumi.ResourceOptions
    ) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        context = account_context(self)
        role = aws.iam.Role(
            f"{name}-role",
            description=f"{name}: Amazon Managed Grafana reads this stack's Prometheus",
            assume_role_policy=assume_role_policy("grafana.amazonaws.com", context.account_id),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-query",
            role=role.id,
            policy=policy_document(
                [
                    {
                        "Sid": "QueryThisWorkspaceOnly",
                        "Effect": "Allow",
                        "Action": list(QUERY_ACTIONS),
                        "Resource": args.workspace_arn,
                    }
                ]
            ),
            opts=child,
        )
        workspace = aws.grafana.Workspace(
            f"{name}-workspace",
            name=f"awaterra-{args.environment}",
            account_access_type="CURRENT_ACCOUNT",
            authentication_providers=["AWS_SSO"],
            permission_type="CUSTOMER_MANAGED",
            role_arn=role.arn,
            data_sources=["PROMETHEUS"],
            opts=child,
        )
        account = aws.grafana.WorkspaceServiceAccount(
            f"{name}-pulumi",
            name="pulumi",
            grafana_role="ADMIN",
            workspace_id=workspace.id,
            opts=child,
        )
        token = aws.grafana.WorkspaceServiceAccountToken(
            f"{name}-pulumi-token",
            name="pulumi",
            service_account_id=account.service_account_id,
            seconds_to_live=TOKEN_SECONDS,
            workspace_id=workspace.id,
            opts=child,
        )
        url = workspace.endpoint.apply(lambda host: f"https://{host}")
        return url, pulumi.Output.secret(token.key)
