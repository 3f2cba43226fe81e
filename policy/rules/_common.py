"""Small building blocks shared by the rule modules."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from policy.model import Context, Resource, Rule, Scope, Severity
from policy.values import UNKNOWN, as_int, get

Check = Callable[..., Iterable[Any]]


def resource_rule(
    id: str,
    title: str,
    source: str,
    severity: Severity,
    types: tuple[str, ...],
    remediation: str,
) -> Callable[[Check], Rule]:
    """Decorator turning `check(resource, context) -> messages` into a registered-ready Rule."""

    def wrap(check: Check) -> Rule:
        return Rule(id, title, source, severity, types, Scope.RESOURCE, check, remediation)

    return wrap


def stack_rule(
    id: str,
    title: str,
    source: str,
    severity: Severity,
    types: tuple[str, ...],
    remediation: str,
) -> Callable[[Check], Rule]:
    """Decorator for `check(resources, context) -> (resource, message)` pairs."""

    def wrap(check: Check) -> Rule:
        return Rule(id, title, source, severity, types, Scope.STACK, check, remediation)

    return wrap


def require_true(resource: Resource, prop: str, message: str) -> Iterator[str]:
    """Violation unless the property is true (UNKNOWN passes; absent fails)."""
    value = get(resource.props, prop)
    if value is not UNKNOWN and value is not True:
        yield message


def require_not_true(resource: Resource, prop: str, message: str) -> Iterator[str]:
    value = get(resource.props, prop)
    if value is True:
        yield message


def require_at_least(resource: Resource, prop: str, minimum: int, what: str) -> Iterator[str]:
    value = as_int(get(resource.props, prop))
    if value is UNKNOWN:
        return
    if value is None:
        yield f"{what} is not set (minimum {minimum})"
    elif value < minimum:
        yield f"{what} is {value}, minimum {minimum}"


def by_environment(context: Context, *, dev: int, prod: int) -> int:
    return prod if context.production else dev


def each(resources: Sequence[Resource], types: tuple[str, ...]) -> list[Resource]:
    return [resource for resource in resources if resource.type in types]
