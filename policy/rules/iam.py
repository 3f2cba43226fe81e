"""IAM: no administrator grants, no wildcard actions, no unscoped writes, no open trust."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from policy.model import Context, Resource, Severity
from policy.rules._common import resource_rule
from policy.rules.types import IAM_ATTACHMENTS, IAM_POLICY_DOCUMENTS, IAM_ROLE
from policy.values import UNKNOWN, InvalidDocument, as_list, get, json_document, known_list

ADMIN_POLICY_SUFFIXES = (":policy/AdministratorAccess",)
READ_VERBS = (
    "Get",
    "List",
    "Describe",
    "Head",
    "BatchGet",
    "Query",
    "Scan",
    "Select",
    "View",
    "Search",
    "Lookup",
    "Filter",
    "Validate",
    "Check",
    "Test",
)
# Write actions that support no resource-level permissions, so "Resource": "*" is their only form.
RESOURCELESS_WRITES = frozenset(
    {
        "cloudwatch:putmetricdata",
        "xray:puttracesegments",
        "xray:puttelemetryrecords",
        "ssmmessages:createcontrolchannel",
        "ssmmessages:createdatachannel",
        "ssmmessages:opencontrolchannel",
        "ssmmessages:opendatachannel",
        "ecr:getauthorizationtoken",
    }
)


def documents(resource: Resource) -> Iterator[tuple[str, Any]]:
    """(label, parsed policy document) for each permission policy the resource carries."""
    if resource.type in IAM_ROLE:
        inline = as_list(get(resource.props, "inlinePolicies"))
        for policy in [] if inline is UNKNOWN else inline:
            yield f"inline policy {get(policy, 'name')}", get(policy, "policy")
    else:
        yield "policy", get(resource.props, "policy")


def allow_statements(resource: Resource) -> Iterator[tuple[str, Any] | str]:
    for label, raw in documents(resource):
        try:
            document = json_document(raw)
        except InvalidDocument as error:
            yield f"{label} is {error}"
            continue
        if document is UNKNOWN or document is None:
            continue
        statements = as_list(get(document, "Statement"))
        for statement in [] if statements is UNKNOWN else statements:
            if get(statement, "Effect") == "Allow":
                yield label, statement


def _listed(statement: Any, key: str) -> list[str]:
    values = as_list(get(statement, key))
    return [] if values is UNKNOWN else [str(value) for value in values if value is not UNKNOWN]


def _judge(resource: Resource, judge: Any) -> Iterator[str]:
    for item in allow_statements(resource):
        if isinstance(item, str):
            yield item
            continue
        label, statement = item
        message = judge(statement)
        if message:
            yield f"{label}: {message}"


def _is_admin(statement: Any) -> str | None:
    if "*" in _listed(statement, "Action") and "*" in _listed(statement, "Resource"):
        return 'allows "Action": "*" on "Resource": "*" (full administrator)'
    return None


@resource_rule(
    "iam-no-admin",
    "No policy grants full administrator access (*:*), inline or attached",
    "AWS FSBP IAM.1 / CIS 1.16",
    Severity.CRITICAL,
    IAM_POLICY_DOCUMENTS + IAM_ATTACHMENTS,
    "Grant the specific actions on the specific resources the principal needs.",
)
def no_admin(resource: Resource, context: Context) -> Iterator[str]:
    if resource.type in IAM_ATTACHMENTS:
        arn = get(resource.props, "policyArn")
        if isinstance(arn, str) and arn.endswith(ADMIN_POLICY_SUFFIXES):
            yield f"attaches {arn}"
        return
    yield from _judge(resource, _is_admin)


def _wildcard_actions(statement: Any) -> str | None:
    wild = [
        action for action in _listed(statement, "Action") if action == "*" or action.endswith(":*")
    ]
    if get(statement, "NotAction") is not None:
        return "uses NotAction with Allow (grants everything not listed)"
    return f"allows wildcard actions {', '.join(wild)}" if wild else None


@resource_rule(
    "iam-no-wildcard-actions",
    'No policy allows "*" or "service:*" actions',
    "AWS FSBP IAM.21",
    Severity.HIGH,
    IAM_POLICY_DOCUMENTS,
    "List the actions the principal needs.",
)
def no_wildcard_actions(resource: Resource, context: Context) -> Iterator[str]:
    yield from _judge(resource, _wildcard_actions)


def is_read_only(action: str) -> bool:
    service, _, verb = action.partition(":")
    return bool(service) and verb.startswith(READ_VERBS) and "*" not in verb[:1]


def _unscoped_writes(statement: Any) -> str | None:
    if "*" not in _listed(statement, "Resource"):
        return None
    writes = [
        action
        for action in _listed(statement, "Action")
        if action != "*" and not is_read_only(action) and action.lower() not in RESOURCELESS_WRITES
    ]
    return (
        f'allows write actions on "Resource": "*": {", ".join(sorted(writes))}' if writes else None
    )


@resource_rule(
    "iam-no-unscoped-write",
    'Write actions are scoped to resources, not "Resource": "*"',
    "checkov CKV_AWS_111 / CKV_AWS_356",
    Severity.HIGH,
    IAM_POLICY_DOCUMENTS,
    "Name the ARNs the write actions apply to.",
)
def no_unscoped_write(resource: Resource, context: Context) -> Iterator[str]:
    yield from _judge(resource, _unscoped_writes)


def _wildcard_principal(statement: Any) -> bool:
    principal = get(statement, "Principal")
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any("*" in known_list(value) for value in principal.values() if value is not UNKNOWN)
    return False


@resource_rule(
    "iam-trust-no-wildcard-principal",
    'Role trust policies name their principals (no "*")',
    "checkov CKV_AWS_60",
    Severity.CRITICAL,
    IAM_ROLE,
    "Name the service or account allowed to assume the role.",
)
def trust_no_wildcard_principal(resource: Resource, context: Context) -> Iterator[str]:
    try:
        document = json_document(get(resource.props, "assumeRolePolicy"))
    except InvalidDocument as error:
        yield f"assumeRolePolicy is {error}"
        return
    if document is UNKNOWN or document is None:
        return
    statements = as_list(get(document, "Statement"))
    for statement in [] if statements is UNKNOWN else statements:
        if get(statement, "Effect") == "Allow" and _wildcard_principal(statement):
            yield 'assumeRolePolicy allows any principal ("*") to assume the role'


RULES = [no_admin, no_wildcard_actions, no_unscoped_write, trust_no_wildcard_principal]
