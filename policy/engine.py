"""The offline runner: every rule over a stack's resources, exceptions applied.

CrossGuard (policy.crossguard) is the other runner of the same rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from policy.environment import stack_environment
from policy.exceptions import StackException, find_exception, load_exceptions
from policy.model import Context, Finding, Resource, Rule, Scope
from policy.rules import RULES


class Recorded(Protocol):
    """What the engine needs of an `ops.offline.RecordedResource` (kept structural so the pack
    does not depend on ops/)."""

    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    id: str
    urn: str
    parent: str | None
    property_dependencies: dict[str, tuple[str, ...]]


def views(recorded: Iterable[Recorded]) -> tuple[list[Resource], list[Resource]]:
    """(inputs view for resource rules, outputs view for stack rules), as CrossGuard sees them."""
    inputs, outputs = [], []
    for item in recorded:
        common: dict[str, Any] = {
            "type": item.type,
            "name": item.name,
            "urn": item.urn,
            "parent": item.parent,
            "property_dependencies": dict(item.property_dependencies),
        }
        inputs.append(Resource(props=dict(item.inputs), **common))
        outputs.append(Resource(props={"id": item.id, **item.outputs}, **common))
    return inputs, outputs


@dataclass
class Report:
    """All findings of one run, and which exceptions matched nothing."""

    stack: str
    environment: str | None = None
    findings: list[Finding] = field(default_factory=list)
    unused_exceptions: list[StackException] = field(default_factory=list)

    @property
    def unexcepted(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.excepted]

    @property
    def blocking(self) -> list[Finding]:
        return [finding for finding in self.unexcepted if finding.severity.blocking]

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "environment": self.environment,
            "findings": [finding.as_dict() for finding in self.findings],
            "unused_exceptions": [
                {"rule": e.rule_id, "resources": list(e.resources), "reason": e.reason}
                for e in self.unused_exceptions
            ],
        }


def check_resource(rule: Rule, resource: Resource, context: Context) -> list[str]:
    return rule.resource_findings(resource, context)


def check_stack(
    rule: Rule, resources: Sequence[Resource], context: Context
) -> list[tuple[Resource, str]]:
    return rule.stack_findings(resources, context)


def evaluate(
    stack: str,
    inputs: Sequence[Resource],
    outputs: Sequence[Resource],
    *,
    environment: str | Literal["from-stack-file"] | None = "from-stack-file",
    rules: Sequence[Rule] = RULES,
    exceptions: Mapping[str, Sequence[StackException]] | None = None,
) -> Report:
    """Every rule over the resources; `environment` (dev, prod, or None for unknown) picks the
    thresholds and the exceptions; by default it is read from Pulumi.<stack>.yaml."""
    if exceptions is None:
        exceptions = load_exceptions([rule.id for rule in RULES])
    if environment == "from-stack-file":
        environment = stack_environment(stack)
    context = Context(stack, environment)
    raw: list[tuple[Rule, Resource, str]] = []
    for rule in rules:
        if rule.scope is Scope.RESOURCE:
            for resource in inputs:
                raw.extend(
                    (rule, resource, message) for message in check_resource(rule, resource, context)
                )
        else:
            raw.extend(
                (rule, resource, message)
                for resource, message in check_stack(rule, outputs, context)
            )
    report = Report(stack, environment)
    used: set[StackException] = set()
    for rule, resource, message in raw:
        exception = find_exception(exceptions, environment, rule.id, resource.name, message)
        if exception:
            used.add(exception)
        report.findings.append(
            Finding(
                rule.id,
                rule.severity,
                resource.type,
                resource.name,
                resource.urn,
                message,
                exception.reason if exception else None,
            )
        )
    report.findings.sort(key=lambda f: (f.rule_id, f.resource_type, f.resource_name, f.message))
    # An exception for a rule none of whose resource types this stack has (an AWS rule on a
    # Google Cloud stack) is not stale: it is for the environment's stacks on the other cloud.
    clouds = {resource.type.split(":")[0] for resource in inputs}
    by_id = {rule.id: rule for rule in rules}

    def concerns_this_stack(exception: StackException) -> bool:
        rule = by_id.get(exception.rule_id)
        if rule is None or not rule.resource_types:
            return True
        return bool(clouds & {token.split(":")[0] for token in rule.resource_types})

    report.unused_exceptions = [
        e
        for e in exceptions.get(environment or "", ())
        if e not in used and concerns_this_stack(e)
    ]
    return report


def evaluate_recording(
    stack: str,
    recorded: Iterable[Recorded],
    environment: str | Literal["from-stack-file"] | None = "from-stack-file",
) -> Report:
    inputs, outputs = views(recorded)
    return evaluate(stack, inputs, outputs, environment=environment)
