"""Reading property values safely, with "not known yet" as a first-class answer.

During `pulumi preview`, a property computed from another resource's output (an ARN, a
generated name, a JSON document embedding either) is unknown. A rule must not report a
violation it cannot see: every helper here returns `UNKNOWN` for such values, and rules treat
`UNKNOWN` as "can't tell" (pass). The same rules see everything at `pulumi up` (inputs are
resolved before each create/update) and in the offline plan, so nothing is skipped for good.
A property that is simply absent is *not* unknown: it takes the provider's default, and rules
judge that default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, Final, Literal


class _Unknown(Enum):
    """The single "value not known during preview" marker (an enum member, so type checkers
    narrow `value is UNKNOWN`)."""

    UNKNOWN = "UNKNOWN"

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        raise TypeError("UNKNOWN has no truth value: test `is UNKNOWN` first")


UNKNOWN: Final = _Unknown.UNKNOWN


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def get(props: Mapping[str, Any] | Any, path: str) -> Any:
    """`props["a"]["b"][0]` for path "a.b.0": None when absent, UNKNOWN when any step is."""
    current: Any = props
    for step in path.split("."):
        if current is UNKNOWN:
            return UNKNOWN
        if isinstance(current, Mapping):
            current = current.get(step)
        elif isinstance(current, Sequence) and not isinstance(current, str) and step.isdigit():
            index = int(step)
            current = current[index] if index < len(current) else None
        else:
            return None
        if current is None:
            return None
    return current


def as_list(value: Any) -> list[Any] | Literal[_Unknown.UNKNOWN]:
    """A property that may be one item, a list, absent (empty) or unknown."""
    if value is UNKNOWN:
        return _Unknown.UNKNOWN
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [item for item in value]
    return [value]


def known_list(value: Any) -> list[Any]:
    """`as_list`, with an unknown list read as empty: for loops that judge only what is known."""
    listed = as_list(value)
    return [] if listed is UNKNOWN else listed


def as_int(value: Any) -> int | _Unknown | None:
    """Integers arrive as int, float or numeric strings depending on the runner."""
    if value is UNKNOWN or value is None:
        return value
    if isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def as_bool(value: Any) -> bool | _Unknown | None:
    if value is UNKNOWN or value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


class InvalidDocument(ValueError):
    """A JSON document property (IAM policy, container definitions) that does not parse."""


def json_document(value: Any) -> Any:
    """Parse a JSON-string property (or pass through an already-structured one)."""
    if value is UNKNOWN or value is None:
        return value
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise InvalidDocument(f"not valid JSON: {error.msg} at position {error.pos}") from error
    return value


def contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, Sequence) and not isinstance(value, str):
        return any(contains_unknown(v) for v in value)
    return False
