"""Cloud Run: reachable only through the load balancer, no default URL, deletion protection."""

from __future__ import annotations

from collections.abc import Iterator

from policy.model import Context, Resource, Severity
from policy.rules._common import require_true, resource_rule
from policy.rules.gcp_types import RUN_SERVICE
from policy.values import UNKNOWN, get

INGRESS_ALLOWED = ("INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER", "INGRESS_TRAFFIC_INTERNAL_ONLY")


@resource_rule(
    "gcp-run-ingress",
    "Cloud Run services accept traffic only from the load balancer (and the VPC)",
    "CIS GCP 3.x (limit network exposure); Cloud Run ingress settings",
    Severity.HIGH,
    RUN_SERVICE,
    'Set ingress="INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER".',
)
def ingress(resource: Resource, context: Context) -> Iterator[str]:
    value = get(resource.props, "ingress")
    if value is not UNKNOWN and value not in INGRESS_ALLOWED:
        shown = value if value is not None else "INGRESS_TRAFFIC_ALL (the default)"
        yield f"ingress is {shown}: the service is reachable around the load balancer's WAF"


@resource_rule(
    "gcp-run-default-url-disabled",
    "Cloud Run services have their run.app URL disabled",
    "CIS GCP 3.x (restrict network exposure); Cloud Run default_uri_disabled",
    Severity.MEDIUM,
    RUN_SERVICE,
    "Set default_uri_disabled=True.",
)
def default_url_disabled(resource: Resource, context: Context) -> Iterator[str]:
    yield from require_true(resource, "defaultUriDisabled", "defaultUriDisabled is not true")


@resource_rule(
    "gcp-run-deletion-protection",
    "Cloud Run services have deletion protection in production",
    "CIS GCP 6.7 (keep production recoverable); Cloud Run deletion_protection",
    Severity.HIGH,
    RUN_SERVICE,
    "Leave deletion_protection True (awaterra:deletionProtection) in production.",
)
def deletion_protection(resource: Resource, context: Context) -> Iterator[str]:
    if context.production and get(resource.props, "deletionProtection") is False:
        yield "deletionProtection is false in a production stack"


RULES = [ingress, default_url_disabled, deletion_protection]
