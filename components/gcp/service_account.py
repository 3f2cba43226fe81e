"""The service's own identity on Google Cloud: a service account with least-privilege bindings.

`ServiceIdentity(name, ServiceIdentityArgs(project="p", account_id="api-prod",
secret_ids=[db_secret.id], cloudsql_instance="api-db"))`

Args (`ServiceIdentityArgs`):
- `project: Input[str]`, `account_id: str` (6-30 lowercase letters, digits, `-`, starting with
  a letter) - required.
- `secret_ids: Sequence[Input[str]] = ()` Secret Manager secrets (`projects/p/secrets/s` or the
  secret's id) the service may read: `roles/secretmanager.secretAccessor` on each secret alone.
- `cloudsql: bool = True` grants `roles/cloudsql.client` (connect through the Cloud SQL
  connector / Auth Proxy) and `roles/cloudsql.instanceUser` (log in with IAM database
  authentication, no password). Both are project-level roles; `cloudsql_instance: Input[str] |
  None` (the instance *name*) adds an IAM condition
  `resource.type == 'sqladmin.googleapis.com/Instance' && resource.name ==
  'projects/<project>/instances/<instance>'` so the grants hold for that instance only. Without
  it they cover every instance of the project (one database per project makes that the same).
- `telemetry: bool = True` grants the three standard write-only roles at project level:
  `roles/logging.logWriter`, `roles/monitoring.metricWriter`, `roles/cloudtrace.agent`.
- `token_creator_on_self: bool = True` grants `roles/iam.serviceAccountTokenCreator` on this
  account only (a binding on the account, not the project): the service can call
  `signBlob` for itself, i.e. keyless V4 signed URLs for its bucket, and cannot impersonate
  any other account.
- `display_name: str | None = None`, `description: str | None = None`.

Nothing else is granted at project level: no owner, editor or viewer, no `iam.*` on the
project. Bucket access is granted by the bucket component on the bucket itself.

Outputs: `email`, `member` (`serviceAccount:<email>`), `account_name` (the account's resource
name, `projects/<project>/serviceAccounts/<email>`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

ACCOUNT_ID = re.compile(r"[a-z]([a-z0-9-]{4,28}[a-z0-9])")
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"  # noqa: S105 (a role name)
CLOUDSQL_ROLES = ("roles/cloudsql.client", "roles/cloudsql.instanceUser")
TELEMETRY_ROLES = ("roles/logging.logWriter", "roles/monitoring.metricWriter",
                   "roles/cloudtrace.agent")  # fmt: skip
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"  # noqa: S105 (a role name)


@dataclass(frozen=True)
class ServiceIdentityArgs:
    project: pulumi.Input[str]
    account_id: str
    secret_ids: Sequence[pulumi.Input[str]] = ()
    cloudsql: bool = True
    cloudsql_instance: pulumi.Input[str] | None = None
    telemetry: bool = True
    token_creator_on_self: bool = True
    display_name: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        if not ACCOUNT_ID.fullmatch(self.account_id):
            raise ValueError(
                f"ServiceIdentity: account_id must be 6-30 lowercase letters, digits or '-', "
                f"starting with a letter and not ending with '-', got {self.account_id!r}"
            )
        if self.cloudsql_instance is not None and not self.cloudsql:
            raise ValueError("ServiceIdentity: cloudsql_instance given but cloudsql=False")
        if isinstance(self.cloudsql_instance, str) and "/" in self.cloudsql_instance:
            raise ValueError(
                "ServiceIdentity: cloudsql_instance is the instance name, not a path: "
                f"{self.cloudsql_instance!r}"
            )


def instance_condition(project: str, instance: str) -> str:
    """The IAM condition that limits a Cloud SQL role to one instance."""
    return (
        "resource.type == 'sqladmin.googleapis.com/Instance' && "
        f"resource.name == 'projects/{project}/instances/{instance}'"
    )


def _slug(role: str) -> str:
    return role.removeprefix("roles/").replace(".", "-").lower()


class ServiceIdentity(pulumi.ComponentResource):
    """Service account + the few bindings the running service needs, and nothing project-wide."""

    email: pulumi.Output[str]
    member: pulumi.Output[str]
    account_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: ServiceIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:gcp:ServiceIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        account = gcp.serviceaccount.Account(
            f"{name}-sa",
            project=args.project,
            account_id=args.account_id,
            display_name=args.display_name or f"{name}: the running service",
            description=args.description
            or "Runs the API: its secrets, its database (IAM login), its own signatures, telemetry",
            opts=child,
        )
        member = account.member

        for index, secret in enumerate(args.secret_ids):
            gcp.secretmanager.SecretIamMember(
                f"{name}-secret-{index}",
                project=args.project,
                secret_id=secret,
                role=SECRET_ACCESSOR,
                member=member,
                opts=child,
            )

        if args.cloudsql:
            condition = None
            if args.cloudsql_instance is not None:
                condition = gcp.projects.IAMMemberConditionArgs(
                    title="this-instance-only",
                    description="Cloud SQL access to the service's own instance",
                    expression=pulumi.Output.all(args.project, args.cloudsql_instance).apply(
                        lambda v: instance_condition(v[0], v[1])
                    ),
                )
            for role in CLOUDSQL_ROLES:
                gcp.projects.IAMMember(
                    f"{name}-{_slug(role)}",
                    project=args.project,
                    role=role,
                    member=member,
                    condition=condition,
                    opts=child,
                )

        if args.telemetry:
            for role in TELEMETRY_ROLES:
                gcp.projects.IAMMember(
                    f"{name}-{_slug(role)}",
                    project=args.project,
                    role=role,
                    member=member,
                    opts=child,
                )

        if args.token_creator_on_self:
            gcp.serviceaccount.IAMMember(
                f"{name}-sign-self",
                service_account_id=account.name,
                role=TOKEN_CREATOR,
                member=member,
                opts=child,
            )

        self.email = account.email
        self.member = member
        self.account_name = account.name
        self.register_outputs(
            {"email": self.email, "member": self.member, "account_name": self.account_name}
        )
