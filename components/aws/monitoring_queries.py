"""Datadog metric queries for one AWS stack, shared by its dashboard, monitors and SLOs.

AWS metrics (aws.applicationelb.*, aws.ecs.*, aws.rds.*) come from Datadog's AWS integration and
are scoped by the stack's own resource identifiers, which Datadog lowercases into tags. The
service's own metrics come from the Agent sidecar's OpenMetrics scrape of `/metrics`
(components.aws.datadog_shipping) and are scoped by `env`/`service` tags.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MonitoredScope:
    """The resolved identifiers of what one stack runs."""

    environment: str
    service: str
    load_balancer_arn_suffix: str
    target_group_arn_suffix: str
    cluster_name: str
    ecs_service_name: str
    db_instance_identifier: str

    @property
    def load_balancer(self) -> str:
        return f"loadbalancer:{self.load_balancer_arn_suffix.lower()}"

    @property
    def target_group(self) -> str:
        return f"{self.load_balancer},targetgroup:{self.target_group_arn_suffix.lower()}"

    @property
    def ecs_service(self) -> str:
        cluster = self.cluster_name.lower()
        return f"clustername:{cluster},servicename:{self.ecs_service_name.lower()}"

    @property
    def database(self) -> str:
        return f"dbinstanceidentifier:{self.db_instance_identifier.lower()}"

    @property
    def app(self) -> str:
        """The service's own metrics for this stack (fixed env, for monitors)."""
        return f"env:{self.environment},service:{self.service}"

    # Load balancer counts: Datadog's AWS crawler delivers them as counts per minute.
    def lb_requests(self) -> str:
        return f"sum:aws.applicationelb.request_count{{{self.load_balancer}}}.as_count()"

    def lb_target_5xx(self) -> str:
        return f"sum:aws.applicationelb.httpcode_target_5xx{{{self.load_balancer}}}.as_count()"

    def lb_elb_5xx(self) -> str:
        return f"sum:aws.applicationelb.httpcode_elb_5xx{{{self.load_balancer}}}.as_count()"

    def lb_p95(self) -> str:
        return f"avg:aws.applicationelb.target_response_time.p95{{{self.load_balancer}}}"

    def p95_seconds(self) -> str:
        return self.lb_p95()

    def five_xx(self) -> str:
        return f"default_zero({self.lb_target_5xx()}) + default_zero({self.lb_elb_5xx()})"

    def no_healthy_hosts(self) -> str:
        return f"max:aws.applicationelb.healthy_host_count{{{self.target_group}}}"

    def capacity_shortfall(self) -> str:
        return (
            f"avg:aws.ecs.service.desired{{{self.ecs_service}}} - "
            f"avg:aws.ecs.service.running{{{self.ecs_service}}}"
        )

    def db_cpu_percent(self) -> str:
        return f"avg:aws.rds.cpuutilization{{{self.database}}}"

    def db_free_bytes(self) -> str:
        return f"min:aws.rds.free_storage_space{{{self.database}}}"

    def db_connections(self) -> str:
        return f"avg:aws.rds.database_connections{{{self.database}}}"

    def availability_good(self) -> str:
        # RequestCount only counts requests the balancer handed to a target, so requests it
        # rejected itself (503 with no healthy target) are added to the total; every 5xx,
        # from the balancer or from a task, is bad exactly once.
        return f"{self.lb_requests()} - {self.lb_target_5xx()}"

    def availability_total(self) -> str:
        return f"{self.lb_requests()} + {self.lb_elb_5xx()}"
