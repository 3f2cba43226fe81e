"""The Google APIs the stack uses, enabled on the project before anything that needs them.

`ProjectApis(name, ProjectApisArgs(project="my-project"))`

Each API is a `gcp.projects.Service` with `disable_on_destroy=False` and
`disable_dependent_services=False`: destroying the stack (or dropping an API from the list) never
switches an API off under other workloads in the same project. Other components take
`depends_on=[apis]` so the first `pulumi up` does not race the enablement.

`with_apis(DEFAULT_APIS, DATADOG_INTEGRATION_APIS)` adds lists without repeating an API.

Outputs: `services` (the enabled service names, in the order given).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

DEFAULT_APIS: tuple[str, ...] = (
    "compute.googleapis.com",  # VPC, subnets, firewall, load balancer
    "servicenetworking.googleapis.com",  # Private Service Access for Cloud SQL
    "sqladmin.googleapis.com",  # Cloud SQL
    "run.googleapis.com",  # Cloud Run
    "cloudscheduler.googleapis.com",  # the daily maintenance trigger
    "artifactregistry.googleapis.com",  # container images
    "secretmanager.googleapis.com",  # secrets for the service
    "iam.googleapis.com",  # service accounts
    "iamcredentials.googleapis.com",  # IAM database authentication tokens, signed URLs
    "storage.googleapis.com",  # media bucket
    "cloudkms.googleapis.com",  # optional CMEK
    "dns.googleapis.com",  # Cloud DNS
    "identitytoolkit.googleapis.com",  # Identity Platform (sign-in)
    "monitoring.googleapis.com",
    "logging.googleapis.com",
    "cloudtrace.googleapis.com",
)
# What Datadog's Google Cloud integration reads through (with monitoring, already above):
# Cloud Asset Inventory (resource collection) and Resource Manager (the project, its labels).
DATADOG_INTEGRATION_APIS: tuple[str, ...] = (
    "cloudasset.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "monitoring.googleapis.com",
)
_SERVICE = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*\.googleapis\.com$")


def with_apis(*lists: Sequence[str]) -> tuple[str, ...]:
    """The APIs of every list, in order, each once."""
    return tuple(dict.fromkeys(api for apis in lists for api in apis))


@dataclass(frozen=True)
class ProjectApisArgs:
    project: pulumi.Input[str] | None = None  # None: the provider's project
    services: Sequence[str] = DEFAULT_APIS

    def __post_init__(self) -> None:
        if not self.services:
            raise ValueError("ProjectApis: services must name at least one API")
        for service in self.services:
            if not _SERVICE.match(service):
                raise ValueError(
                    f"ProjectApis: {service!r} is not an API name like run.googleapis.com"
                )
        if len(set(self.services)) != len(self.services):
            raise ValueError("ProjectApis: services lists an API twice")


class ProjectApis(pulumi.ComponentResource):
    services: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: ProjectApisArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("awaterra:gcp:ProjectApis", name, None, opts)
        enabled = [
            gcp.projects.Service(
                f"{name}-{service.split('.')[0]}",
                project=args.project,
                service=service,
                disable_on_destroy=False,
                disable_dependent_services=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for service in args.services
        ]
        self.services = pulumi.Output.all(*[s.service for s in enabled]).apply(list)
        self.register_outputs({"services": self.services})
