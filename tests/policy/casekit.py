"""The shape of a rule example: a synthetic resource as CrossGuard would pass it, and a case
pairing violating and compliant resources (shared by cases.py and gcp_cases.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from policy.model import Resource


def urn(type_: str, name: str, stack: str = "prod") -> str:
    return f"urn:pulumi:{stack}::awaterra::{type_}::{name}"


def res(
    type_: str, name_: str, deps: dict[str, list[Resource]] | None = None, **props: Any
) -> Resource:
    """A resource; `deps` gives property dependencies on other test resources."""
    return Resource(
        type_,
        name_,
        props,
        urn(type_, name_),
        None,
        {key: tuple(r.urn for r in targets) for key, targets in (deps or {}).items()},
    )


@dataclass(frozen=True)
class Case:
    rule: str
    violating: tuple[Resource, ...]
    compliant: tuple[Resource, ...]
    stack: str = "prod"
    # The violation is a missing setting or resource (not a wrong value), so turning the values
    # the example does set into unknowns cannot hide it.
    absent: bool = False


def case(
    rule: str,
    violating: Resource | list[Resource],
    compliant: Resource | list[Resource],
    stack: str = "prod",
    absent: bool = False,
) -> Case:
    as_tuple = lambda x: tuple(x) if isinstance(x, list) else (x,)  # noqa: E731
    return Case(rule, as_tuple(violating), as_tuple(compliant), stack, absent)
