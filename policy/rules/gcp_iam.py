"""Google Cloud IAM: no basic roles or impersonation grants to service accounts, no SA keys."""

from __future__ import annotations

from collections.abc import Iterator

from policy.model import Context, Resource, Severity
from policy.rules._common import resource_rule
from policy.rules.gcp_types import PROJECT_IAM, SERVICE_ACCOUNT_KEY
from policy.values import get, known_list

BASIC_ROLES = ("roles/owner", "roles/editor")
IMPERSONATION_ROLES = ("roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator")


def _members(resource: Resource) -> list[str]:
    members = [get(resource.props, "member"), *known_list(get(resource.props, "members"))]
    return [member for member in members if isinstance(member, str)]


@resource_rule(
    "gcp-iam-no-basic-roles",
    "No project-level owner/editor grant to a service account",
    "CIS GCP 1.5 / checkov CKV_GCP_117",
    Severity.CRITICAL,
    PROJECT_IAM,
    "Grant the predefined roles the service needs (roles/cloudsql.client, ...).",
)
def no_basic_roles(resource: Resource, context: Context) -> Iterator[str]:
    role = get(resource.props, "role")
    if role not in BASIC_ROLES:
        return
    for member in _members(resource):
        if member.startswith("serviceAccount:"):
            yield f"role {role} is granted to {member}"


@resource_rule(
    "gcp-iam-no-project-impersonation",
    "No project-level Service Account User / Token Creator grants",
    "CIS GCP 1.6 / checkov CKV_GCP_41 / CKV_GCP_49",
    Severity.HIGH,
    PROJECT_IAM,
    "Grant roles/iam.serviceAccountUser on the one service account, not the project.",
)
def no_project_impersonation(resource: Resource, context: Context) -> Iterator[str]:
    role = get(resource.props, "role")
    if role in IMPERSONATION_ROLES:
        yield f"role {role} is granted at project level to {', '.join(_members(resource))}"


@resource_rule(
    "gcp-no-service-account-keys",
    "No user-managed service account keys",
    "CIS GCP 1.4",
    Severity.HIGH,
    SERVICE_ACCOUNT_KEY,
    "Use the runtime's attached service account or workload identity federation.",
)
def no_service_account_keys(resource: Resource, context: Context) -> Iterator[str]:
    yield f"serviceAccountId {get(resource.props, 'serviceAccountId')!s} gets a user-managed key"


RULES = [no_basic_roles, no_project_impersonation, no_service_account_keys]
