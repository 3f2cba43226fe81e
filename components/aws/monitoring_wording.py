"""The AWS words of every monitor's runbook (ECS, RDS, the load balancer), without Datadog.

Shared by the Datadog monitors (components/aws/monitoring.py) and the Prometheus rules
(components/prometheus_rules.py), which a stack without Datadog generates too.
"""

from __future__ import annotations

from collections.abc import Sequence

from components.datadog.specs import MonitorSpec, Wording
from components.datadog.specs import monitor_specs as shared_monitor_specs
from components.monitoring_thresholds import MonitoringThresholds

# Each monitor's title, meaning and runbook where AWS has its own words.
AWS_WORDING: dict[str, Wording] = {
    "latency-p95": {
        "runbook": (
            "Dashboard > API: find the endpoint whose p95 rose (Latency p95 by endpoint).",
            "Dashboard > Database: high CPU, read/write latency or a full connection pool "
            "point at the database; check slow queries in Performance Insights.",
            "Dashboard > Service (ECS): CPU near 100% means too few tasks; raise "
            "serviceMaxCount or the task size.",
            "A fresh deploy? Compare with the previous image tag; roll back if it caused this.",
        ),
    },
    "error-rate": {
        "runbook": (
            "Dashboard > Load balancer > 5xx: balancer 5xx (502/503/504) mean tasks are "
            "unreachable or unhealthy; task 5xx mean the API itself fails.",
            "Task 5xx: search the logs for level:error and the request ids; "
            "`/heartbeat` names a failing dependency (database, storage).",
            "Balancer 5xx: check healthy targets and the ECS service events (failed "
            "health checks, OOM kills, deployment circuit breaker).",
        ),
    },
    "no-healthy-hosts": {
        "title": "No healthy API tasks behind the load balancer",
        "runbook": (
            "ECS console > service > Events and stopped tasks: why do tasks fail health "
            "checks or stop (image pull, secrets, migrations, OOM)?",
            "Check the task logs for the migrate container and the app's startup errors.",
            "If a deploy caused it and the circuit breaker did not roll back, redeploy the "
            "previous image tag.",
        ),
    },
    "tasks-below-desired": {
        "title": "Running API tasks below desired for 15 minutes",
        "meaning": "ECS cannot keep the desired number of tasks running.",
        "runbook": (
            "ECS console > service > Events: capacity, image pull, secret or subnet errors.",
            "Stopped tasks' 'stopped reason': Essential container exited / OutOfMemory / "
            "health check failures.",
            "Check the Fargate service quota and the subnets' free IP addresses.",
        ),
    },
    "db-cpu": {
        "runbook": (
            "Performance Insights: top SQL by load; a missing index or a new query pattern?",
            "Dashboard > Database > Query duration by statement type.",
            "Scale up dbInstanceClass (a brief failover on Multi-AZ) if load is organic.",
        ),
    },
    "db-free-storage": {
        "runbook": (
            "Storage autoscaling grows the volume up to dbMaxAllocatedStorageGb: is that "
            "limit reached? Raise it with `pulumi config set dbMaxAllocatedStorageGb`.",
            "Look for unexpected growth (analytics events, bloat) before adding space.",
        ),
    },
    "db-connections": {
        "runbook": (
            "Connections scale with tasks x workers x pool size: did autoscaling add tasks?",
            "Lower servicePoolSize or serviceMaxCount, or raise the instance class.",
            "Look for leaked connections: Dashboard > Database > pool checked out vs size.",
        ),
    },
}


def monitor_specs(limits: MonitoringThresholds, db_max_connections: int) -> list[MonitorSpec]:
    """The shared monitors in AWS's words."""
    return shared_monitor_specs(limits, db_max_connections, AWS_WORDING)

AWS_HEARTBEAT_STEPS: Sequence[str] = (
    "Open the test result: DNS, TLS, timeout or the 503 body naming the failing "
    "check (database, storage).",
    "Dashboard > Load balancer: healthy targets? Dashboard > Service: tasks running?",
    "Database check failing: RDS events and connections; storage check: S3 and the task role.",
)
