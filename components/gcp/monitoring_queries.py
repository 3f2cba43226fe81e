"""Datadog metric queries for a stack on Google Cloud: the same signals as on AWS, GCP metrics.

The metrics come from Datadog's Google Cloud integration (Cloud Monitoring, crawled every few
minutes). A metric's name is its Cloud Monitoring type with `/` as `.`:
`run.googleapis.com/request_count` is `gcp.run.request_count`. They are scoped by the tags
Datadog puts on them: `project_id` everywhere, `service_name` on Cloud Run, `database_id`
(`<project>:<instance>`) on Cloud SQL and `url_map_name` (or `backend_target_name`, the backend
service) on the load balancer. Cloud Run and the
load balancer report latencies in milliseconds; Cloud SQL reports CPU as a 0-1 fraction: the
fragments convert both, so thresholds read as on AWS (seconds, percent).

The service's own Prometheus metrics are not shipped on Google Cloud (the Cloud Run service has
no Datadog agent sidecar), so every signal here is a GCP metric.
"""

from __future__ import annotations

from dataclasses import dataclass

RUN_REQUESTS = "gcp.run.request_count"
RUN_LATENCIES = "gcp.run.request_latencies"
RUN_INSTANCES = "gcp.run.container.instance_count"
RUN_CPU = "gcp.run.container.cpu.utilizations"
RUN_MEMORY = "gcp.run.container.memory.utilizations"
SQL_UP = "gcp.cloudsql.database.up"
SQL_CPU = "gcp.cloudsql.database.cpu.utilization"
SQL_BACKENDS = "gcp.cloudsql.database.postgresql.num_backends"
SQL_DISK_QUOTA = "gcp.cloudsql.database.disk.quota"
SQL_DISK_USED = "gcp.cloudsql.database.disk.bytes_used"
LB_REQUESTS = "gcp.loadbalancing.https.request_count"
LB_LATENCIES = "gcp.loadbalancing.https.total_latencies"
# The load balancer's response_code_class is the class's first code (500 for 5xx).
LB_5XX_CLASS = "500"


@dataclass(frozen=True)
class GcpScope:
    """The resolved identifiers of what one stack runs on Google Cloud."""

    environment: str
    service: str  # the `service` tag of the stack's Datadog objects
    project_id: str
    cloud_run_service: str
    sql_instance: str
    lb_resource: str  # the URL map's (or backend service's) name
    min_instances: int
    lb_resource_tag: str = "url_map_name"  # or backend_target_name

    @property
    def project(self) -> str:
        return f"project_id:{self.project_id.lower()}"

    @property
    def cloud_run(self) -> str:
        return f"{self.project},service_name:{self.cloud_run_service.lower()}"

    @property
    def database(self) -> str:
        return f"{self.project},database_id:{self.project_id.lower()}:{self.sql_instance.lower()}"

    @property
    def load_balancer(self) -> str:
        return f"{self.project},{self.lb_resource_tag}:{self.lb_resource.lower()}"

    def lb_requests(self) -> str:
        return f"sum:{LB_REQUESTS}{{{self.load_balancer}}}.as_count()"

    def lb_5xx(self) -> str:
        return (
            f"sum:{LB_REQUESTS}{{{self.load_balancer},response_code_class:{LB_5XX_CLASS}}}"
            ".as_count()"
        )

    def run_5xx(self) -> str:
        return f"sum:{RUN_REQUESTS}{{{self.cloud_run},response_code_class:5xx}}.as_count()"

    def lb_p95(self) -> str:
        """In milliseconds, as the load balancer reports it."""
        return f"avg:{LB_LATENCIES}.p95{{{self.load_balancer}}}"

    def p95_seconds(self) -> str:
        return f"{self.lb_p95()} / 1000"

    def five_xx(self) -> str:
        # The load balancer counts every response, the service's 5xx included: counted once.
        return f"default_zero({self.lb_5xx()})"

    def no_healthy_hosts(self) -> str:
        return f"sum:{RUN_INSTANCES}{{{self.cloud_run}}}"

    def capacity_shortfall(self) -> str:
        return f"{self.min_instances} - sum:{RUN_INSTANCES}{{{self.cloud_run}}}"

    def db_cpu_percent(self) -> str:
        return f"avg:{SQL_CPU}{{{self.database}}} * 100"

    def db_free_bytes(self) -> str:
        return f"min:{SQL_DISK_QUOTA}{{{self.database}}} - max:{SQL_DISK_USED}{{{self.database}}}"

    def db_connections(self) -> str:
        # num_backends is per database of the instance; the limit is the instance's.
        return f"sum:{SQL_BACKENDS}{{{self.database}}}"

    def db_up(self) -> str:
        return f"min:{SQL_UP}{{{self.database}}}"

    def availability_good(self) -> str:
        return f"{self.lb_requests()} - {self.lb_5xx()}"

    def availability_total(self) -> str:
        return self.lb_requests()
