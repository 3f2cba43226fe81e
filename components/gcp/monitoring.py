"""Datadog as code for a stack on Google Cloud: the shared monitors, SLOs and synthetic on GCP
metrics.

`GcpMonitoring` is `components.datadog.monitoring.DatadogMonitoring` with Google Cloud's parts:
the scope (components.gcp.monitoring_queries), the dashboard (components.gcp.monitoring_dashboard),
the runbook wording (GCP_WORDING), and the integration: Datadog's keyless
Google Cloud integration (`datadog.gcp.IntegrationSts`). Datadog's own principal impersonates a
read-only service account created here; no key is ever created or stored.
Monitor keys, queries' shape, thresholds, windows and priorities are the shared ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_datadog as datadog
import pulumi_gcp as gcp

from components.datadog.metrics import MetricScope
from components.datadog.monitoring import (
    DEFAULT_SYNTHETIC_LOCATIONS,
    DatadogMonitoring,
    check_common_args,
    heartbeat_url,
    monitoring_tags,
)
from components.datadog.specs import MonitorSpec, Wording, monitor_specs
from components.gcp.monitoring_dashboard import dashboard_document
from components.gcp.monitoring_queries import GcpScope
from components.monitoring_thresholds import MonitoringThresholds

# Datadog's documented roles for the integration's service account, all read-only.
INTEGRATION_ROLES = (
    "roles/monitoring.viewer",
    "roles/compute.viewer",
    "roles/cloudasset.viewer",
    "roles/browser",
)
IMPERSONATION_ROLE = "roles/iam.serviceAccountTokenCreator"
# VMs labelled so are imported (Datadog bills each as a host); this stack runs none.
HOST_FILTERS = ("datadog:monitored",)
_ACCOUNT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")


@dataclass
class GcpMonitoringArgs:
    environment: str
    domain: str  # the public API host the heartbeat synthetic calls
    project_id: str
    cloud_run_service: pulumi.Input[str]  # the Cloud Run service's name
    sql_instance: pulumi.Input[str]  # the Cloud SQL instance's name (not its connection name)
    min_instances: int
    db_max_connections: int
    api_key: pulumi.Input[str]
    app_key: pulumi.Input[str]
    # The external HTTPS load balancer, by exactly one of: its URL map's name, or its backend
    # service (name, id or self link; responses the balancer answers without the backend, such
    # as a URL map redirect, then do not count).
    url_map_name: pulumi.Input[str] | None = None
    backend_service: pulumi.Input[str] | None = None
    site: str = "datadoghq.com"
    notify: str = ""
    datadog_service: str = "awaterra-api"
    gcp_integration: bool = True  # one stack per project only, as on AWS
    integration_account_id: str | None = None  # default datadog-<environment>
    thresholds: MonitoringThresholds = field(default_factory=MonitoringThresholds)
    synthetic_locations: Sequence[str] = DEFAULT_SYNTHETIC_LOCATIONS
    heartbeat_path: str = "/heartbeat"

    def __post_init__(self) -> None:
        check_common_args(self)
        if not _PROJECT_ID.match(self.project_id):
            raise ValueError(
                f"project_id must be a Google Cloud project id, got {self.project_id!r}"
            )
        if (self.url_map_name is None) == (self.backend_service is None):
            raise ValueError(
                "name the load balancer by exactly one of url_map_name or backend_service"
            )
        if self.min_instances < 0:
            raise ValueError(f"min_instances must be >= 0, got {self.min_instances}")
        if not _ACCOUNT_ID.match(self.account_id):
            raise ValueError(
                "the integration's service account id must be 6-30 lowercase letters, digits "
                f"or hyphens, starting with a letter; got {self.account_id!r} "
                "(set integration_account_id)"
            )

    @property
    def account_id(self) -> str:
        return self.integration_account_id or f"datadog-{self.environment}"

    @property
    def heartbeat_url(self) -> str:
        return heartbeat_url(self)

    @property
    def tags(self) -> list[str]:
        return monitoring_tags(self)


# Each monitor's runbook, and its title and meaning where Google Cloud has its own words.
GCP_WORDING: dict[str, Wording] = {
    "latency-p95": {
        "runbook": (
            "Dashboard > API: did Cloud Run's own p95 rise too, or only the load balancer's?",
            "Dashboard > Database: high CPU or connections near the limit point at Cloud SQL; "
            "check Query Insights for slow queries.",
            "Dashboard > Service (Cloud Run): CPU near 100% or instances at max_instances "
            "means too little capacity; raise max instances or the CPU limit.",
            "A fresh deploy? Compare with the previous revision; route traffic back if it "
            "caused this.",
        ),
    },
    "error-rate": {
        "runbook": (
            "Dashboard > Load balancer > 5xx: all 5xx vs Cloud Run's; the difference comes "
            "from the load balancer itself (no instance could answer).",
            "Cloud Run 5xx: search the logs for severity>=ERROR and the request ids; "
            "`/heartbeat` names a failing dependency (database, storage).",
            "Load balancer 5xx: Cloud Run revision status, failed startup probes, the "
            "serverless NEG's backend and Cloud Armor denials.",
        ),
    },
    "no-healthy-hosts": {
        "title": "No running API instances on Cloud Run",
        "meaning": "Cloud Run runs no instance of the API: requests wait for a cold start or fail.",
        "runbook": (
            "Cloud Run console > service > Revisions: is the latest revision ready, or failing "
            "its startup probe (image pull, secrets, migrations, OOM)?",
            "Check the revision's logs for the migrate job and the app's startup errors.",
            "If a deploy caused it, route 100% of traffic to the previous revision.",
        ),
    },
    "tasks-below-desired": {
        "title": "Cloud Run instances below min instances for 15 minutes",
        "meaning": "Cloud Run cannot keep the configured minimum number of instances running.",
        "runbook": (
            "Cloud Run console > service > Logs and Revisions: crash loops, failed probes, "
            "image or secret errors.",
            "Container exits: 'Memory limit exceeded' or a non-zero exit in the logs.",
            "Check the project's Cloud Run quotas (instances, CPU) in the region.",
        ),
    },
    "db-cpu": {
        "runbook": (
            "Query Insights: top queries by load; a missing index or a new query pattern?",
            "Dashboard > Database: connections and disk with the CPU.",
            "Scale up the Cloud SQL tier (a brief restart; a failover with HA) if load is organic.",
        ),
    },
    "db-free-storage": {
        "runbook": (
            "Automatic storage increase grows the disk up to its limit: is the limit reached? "
            "Raise it in the database settings.",
            "Look for unexpected growth (analytics events, bloat) before adding space.",
        ),
    },
    "db-connections": {
        "runbook": (
            "Connections scale with instances x workers x pool size: did Cloud Run scale out?",
            "Lower the pool size or max instances, or raise the Cloud SQL tier.",
            "Look for leaked connections: idle backends in Query Insights / pg_stat_activity.",
        ),
    },
}


def gcp_monitor_specs(limits: MonitoringThresholds, db_max_connections: int) -> list[MonitorSpec]:
    """The shared monitors in Google Cloud's words; queries come from the GcpScope."""
    return monitor_specs(limits, db_max_connections, GCP_WORDING)


class GcpMonitoring(DatadogMonitoring):
    """The stack's dashboard, monitors, SLOs, heartbeat and keyless GCP integration."""

    TYPE = "awaterra:monitoring:GcpMonitoring"
    P95_FORMULA = "p95 / 1000"  # the load balancer reports milliseconds
    HEARTBEAT_STEPS: Sequence[str] = (
        "Open the test result: DNS, TLS, timeout or the 503 body naming the failing "
        "check (database, storage).",
        "Dashboard > Load balancer: 5xx from the balancer? Dashboard > Service: instances running?",
        "Database check failing: Cloud SQL operations and connections; storage check: the "
        "bucket and the service account's roles.",
    )
    _dashboard_document = staticmethod(dashboard_document)

    integration_service_account_email: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: GcpMonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        self._args: GcpMonitoringArgs
        self.integration_service_account_email = None
        super().__init__(name, args, opts)

    def _scope(self) -> pulumi.Output[MetricScope]:
        args = self._args
        by_url_map = args.url_map_name is not None
        lb = args.url_map_name if by_url_map else args.backend_service
        return pulumi.Output.all(args.cloud_run_service, args.sql_instance, lb).apply(
            lambda values: GcpScope(
                environment=args.environment,
                service=args.datadog_service,
                project_id=args.project_id,
                cloud_run_service=values[0],
                sql_instance=values[1],
                lb_resource=str(values[2]).rsplit("/", 1)[-1],
                lb_resource_tag="url_map_name" if by_url_map else "backend_target_name",
                min_instances=args.min_instances,
            )
        )

    def _monitor_specs(self) -> list[MonitorSpec]:
        return gcp_monitor_specs(self._args.thresholds, self._args.db_max_connections)

    def _integration(self, dd: pulumi.ResourceOptions) -> None:
        args = self._args
        if not args.gcp_integration:
            return
        gcp_opts = pulumi.ResourceOptions(parent=self)
        account = gcp.serviceaccount.Account(
            f"{self._name}-integration-sa",
            project=args.project_id,
            account_id=args.account_id,
            display_name=f"Datadog integration ({args.environment})",
            description="Impersonated by Datadog to read this project's metrics and resources",
            opts=gcp_opts,
        )
        member = pulumi.Output.concat("serviceAccount:", account.email)
        grants = [
            gcp.projects.IAMMember(
                f"{self._name}-integration-{role.removeprefix('roles/').replace('.', '-')}",
                project=args.project_id,
                role=role,
                member=member,
                opts=gcp_opts,
            )
            for role in INTEGRATION_ROLES
        ]
        sts = datadog.gcp.IntegrationSts(
            f"{self._name}-gcp-integration",
            client_email=account.email,
            account_tags=args.tags,
            automute=True,
            host_filters=list(HOST_FILTERS),
            # The load balancer's metrics are reported in the `global` location.
            is_global_location_enabled=True,
            resource_collection_enabled=True,
            is_cspm_enabled=False,
            is_security_command_center_enabled=False,
            is_resource_change_collection_enabled=False,
            is_per_project_quota_enabled=True,
            opts=pulumi.ResourceOptions.merge(dd, pulumi.ResourceOptions(depends_on=grants)),
        )
        # Datadog's principal for this org may mint tokens for this one account, nothing else.
        gcp.serviceaccount.IAMMember(
            f"{self._name}-integration-token-creator",
            service_account_id=account.name,
            role=IMPERSONATION_ROLE,
            member=pulumi.Output.concat("serviceAccount:", sts.delegate_account_email),
            opts=gcp_opts,
        )
        self.integration_service_account_email = account.email
