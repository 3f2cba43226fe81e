"""The CrossGuard runner: each rule of policy.rules as a pulumi_policy policy.

Resource rules become ResourceValidationPolicies, stack rules StackValidationPolicies; high and
critical rules are mandatory (they fail `pulumi preview`/`up`), the rest advisory. The stack's
name is read from the resource URNs (`urn:pulumi:<stack>::<project>::...`): a policy pack runs
in its own process, where `pulumi.get_stack()` is not the program's stack. The name only locates
Pulumi.<stack>.yaml; its `awaterra:environment` selects the exceptions in policy/exceptions.yaml
and the thresholds (policy.environment).

Values the engine does not know during preview arrive as sentinel strings behind a proxy that
raises `UnknownValueError` on access; `plain()` turns them into `policy.values.UNKNOWN`, which the
rules treat as "can't tell" instead of letting the proxy abort the whole policy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import Severity as PolicySeverity
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

from policy.environment import stack_environment
from policy.exceptions import StackException, find_exception, load_exceptions
from policy.model import Context, Resource, Rule, Scope, Severity
from policy.rules import RULES
from policy.values import UNKNOWN

PACK_NAME = "awaterra-policy"
UNKNOWN_SENTINELS = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)
SEVERITIES = {
    Severity.LOW: PolicySeverity.LOW,
    Severity.MEDIUM: PolicySeverity.MEDIUM,
    Severity.HIGH: PolicySeverity.HIGH,
    Severity.CRITICAL: PolicySeverity.CRITICAL,
}


def plain(value: Any) -> Any:
    """CrossGuard's (proxied) property value as plain data, unknowns as UNKNOWN."""
    if isinstance(value, str):
        return UNKNOWN if value in UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError:
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def stack_of(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::<type>::<name>` -> stack; else the PULUMI_STACK the CLI
    exports to analyzers; else "" (no stack file: production thresholds and no exceptions)."""
    head = urn.split("::", 1)[0]
    if head.startswith("urn:pulumi:"):
        return head.removeprefix("urn:pulumi:")
    return os.environ.get("PULUMI_STACK", "")


def enforcement(rule: Rule) -> EnforcementLevel:
    return EnforcementLevel.MANDATORY if rule.severity.blocking else EnforcementLevel.ADVISORY


def _describe(rule: Rule) -> str:
    return f"{rule.title} [{rule.source}]"


def _resource_policy(
    rule: Rule, exceptions: Mapping[str, Sequence[StackException]]
) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not rule.applies_to(args.resource_type):
            return
        stack = stack_of(args.urn)
        context = Context(stack, stack_environment(stack) if stack else None)
        resource = Resource(args.resource_type, args.name, plain(args.props), args.urn)
        for message in rule.resource_findings(resource, context):
            if not find_exception(exceptions, context.environment, rule.id, args.name, message):
                report_violation(f"{message}. Fix: {rule.remediation}", None)

    return ResourceValidationPolicy(
        name=rule.id,
        description=_describe(rule),
        validate=validate,
        enforcement_level=enforcement(rule),
        severity=SEVERITIES[rule.severity],
        remediation_steps=rule.remediation,
    )


def as_resource(resource: PolicyResource) -> Resource:
    dependencies = {
        key: tuple(dependency.urn for dependency in value)
        for key, value in (resource.property_dependencies or {}).items()
    }
    parent = resource.parent.urn if resource.parent is not None else None
    return Resource(
        resource.resource_type,
        resource.name,
        plain(resource.props),
        resource.urn,
        parent,
        dependencies,
    )


def _stack_policy(
    rule: Rule, exceptions: Mapping[str, Sequence[StackException]]
) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [as_resource(resource) for resource in args.resources]
        stack = next((stack_of(r.urn) for r in resources if stack_of(r.urn)), "")
        context = Context(stack, stack_environment(stack) if stack else None)
        for resource, message in rule.stack_findings(resources, context):
            if not find_exception(exceptions, context.environment, rule.id, resource.name, message):
                report_violation(
                    f"{resource.name}: {message}. Fix: {rule.remediation}", resource.urn
                )

    return StackValidationPolicy(
        name=rule.id,
        description=_describe(rule),
        validate=validate,
        enforcement_level=enforcement(rule),
        severity=SEVERITIES[rule.severity],
        remediation_steps=rule.remediation,
    )


def build_policies(
    rules: Sequence[Rule] = RULES,
    exceptions: Mapping[str, Sequence[StackException]] | None = None,
) -> list[Policy]:
    if exceptions is None:
        exceptions = load_exceptions([rule.id for rule in RULES])
    return [
        _resource_policy(rule, exceptions)
        if rule.scope is Scope.RESOURCE
        else _stack_policy(rule, exceptions)
        for rule in rules
    ]
