"""The vocabulary of the rule set: resources as rules see them, rules, findings."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Severity(Enum):
    """How bad a violation is; high and critical block a deployment (mandatory in CrossGuard)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def blocking(self) -> bool:
        return self in (Severity.HIGH, Severity.CRITICAL)


class Scope(Enum):
    """Whether a rule looks at one resource's inputs or at the whole stack."""

    RESOURCE = "resource"
    STACK = "stack"


@dataclass(frozen=True)
class Resource:
    """One resource as a rule sees it.

    `props` are camelCase property values exactly as CrossGuard passes them: a resource's inputs
    for resource rules, its outputs (inputs plus computed state) for stack rules. Values the engine
    does not know yet (during a preview) are `policy.values.UNKNOWN`.
    `property_dependencies` maps an input name to the URNs of the resources it was computed from:
    this is how a stack rule learns which bucket a `BucketVersioning.bucket` input refers to even
    when the bucket's name is not known yet.
    """

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    parent: str | None = None
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    """What a rule may know about where it runs: the stack's name and its environment.

    The environment (`awaterra:environment`, see policy.environment) decides the thresholds, never
    the name: only a stack known to be dev gets dev thresholds; an unknown one is held to
    production thresholds, the safe default for a stack nobody told us about.
    """

    stack: str
    environment: str | None = None

    @property
    def production(self) -> bool:
        return self.environment != "dev"


ResourceCheck = Callable[[Resource, Context], Iterable[str]]
StackCheck = Callable[[Sequence[Resource], Context], Iterable[tuple[Resource, str]]]


@dataclass(frozen=True)
class Rule:
    """One rule: what it guards, where the requirement comes from, and how to check it.

    A resource rule's `check` yields violation messages for one resource of `resource_types`;
    a stack rule's `check` sees every resource and yields (offending resource, message) pairs.
    """

    id: str
    title: str
    source: str
    severity: Severity
    resource_types: tuple[str, ...]
    scope: Scope
    check: Callable[..., Iterable[Any]]  # a ResourceCheck or a StackCheck, as `scope` says
    remediation: str

    def applies_to(self, resource_type: str) -> bool:
        return resource_type in self.resource_types

    def resource_findings(self, resource: Resource, context: Context) -> list[str]:
        """Messages for one resource (a resource rule of its type; [] otherwise)."""
        if self.scope is not Scope.RESOURCE or not self.applies_to(resource.type):
            return []
        return [str(message) for message in self.check(resource, context)]

    def stack_findings(
        self, resources: Sequence[Resource], context: Context
    ) -> list[tuple[Resource, str]]:
        """(offending resource, message) pairs over the whole stack (stack rules; [] otherwise)."""
        if self.scope is not Scope.STACK:
            return []
        return [(resource, str(message)) for resource, message in self.check(resources, context)]


@dataclass(frozen=True)
class Finding:
    """One violation of one rule by one resource; `exception` holds the documented reason when
    the stack has an exception for it (an excepted finding is reported, never enforced)."""

    rule_id: str
    severity: Severity
    resource_type: str
    resource_name: str
    urn: str
    message: str
    exception: str | None = None

    @property
    def excepted(self) -> bool:
        return self.exception is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "severity": self.severity.value,
            "type": self.resource_type,
            "name": self.resource_name,
            "message": self.message,
            "exception": self.exception,
        }
