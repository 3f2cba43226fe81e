"""ADMIN_LINKS for the panel's status page: where to look next, computed from the settings.

The API docs and the service's CloudWatch log group always; with Datadog on, its dashboards,
SLOs, synthetic tests and logs, each as a search on the stack's `env` and `service` tags. They
are searches rather than the monitoring component's own dashboard or SLO URLs because those
depend (through the monitors' queries) on the ECS service, whose task definition carries
ADMIN_LINKS: linking them directly would make the task depend on itself. On the prometheus
path the stack adds the Grafana dashboard itself, which depends on the workspace alone.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from components.datadog.site import app_url


def cloudwatch_log_group_url(region: str, log_group: str) -> str:
    # The console escapes the log group name twice ("/" is "$252F").
    escaped = quote(log_group, safe="").replace("%", "$25")
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logsV2:log-groups/log-group/{escaped}"
    )


def admin_links(
    *,
    domain: str,
    region: str,
    log_group: str,
    datadog_site: str | None,
    environment: str,
    service: str,
) -> dict[str, str]:
    links = {
        "API docs": f"https://{domain}/docs",
        "Service logs (CloudWatch)": cloudwatch_log_group_url(region, log_group),
    }
    if datadog_site is not None:
        app = app_url(datadog_site)
        tags = f"env:{environment} service:{service}"
        links.update(
            {
                "Datadog dashboards": f"{app}/dashboard/lists?{urlencode({'q': service})}",
                "Datadog SLOs": f"{app}/slo/manage?{urlencode({'query': tags})}",
                "Datadog synthetic tests": f"{app}/synthetics/tests?{urlencode({'query': tags})}",
                "Datadog logs": f"{app}/logs?{urlencode({'query': tags})}",
            }
        )
    return links
