"""Documented, per-rule, per-environment exceptions (policy/exceptions.yaml).

An exception names a rule, the environment it applies to (dev or prod: every stack whose
`awaterra:environment` is that environment, whatever its name), optionally which resources
(shell-style patterns on the resource's logical name), and why. A finding it matches is still
reported, marked with the reason, and does not block. Unknown rule ids and missing reasons are
errors, so an exception cannot silently outlive its rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from policy.environment import ENVIRONMENTS

EXCEPTIONS_FILE = Path(__file__).with_name("exceptions.yaml")
MINIMUM_REASON_LENGTH = 20


class ExceptionsError(ValueError):
    """policy/exceptions.yaml is malformed or names a rule that does not exist."""


@dataclass(frozen=True)
class StackException:
    rule_id: str
    environment: str
    reason: str
    resources: tuple[str, ...] = ("*",)
    messages: tuple[str, ...] = ("*",)

    def matches(self, rule_id: str, resource_name: str, message: str = "") -> bool:
        return (
            rule_id == self.rule_id
            and any(fnmatchcase(resource_name, pattern) for pattern in self.resources)
            and any(fnmatchcase(message, pattern) for pattern in self.messages)
        )


def parse_exceptions(document: Any, known_rules: Sequence[str]) -> dict[str, list[StackException]]:
    if not isinstance(document, Mapping) or not isinstance(
        document.get("environments"), Mapping
    ):
        raise ExceptionsError(
            "exceptions document must be a mapping with an 'environments' mapping"
        )
    unexpected_top = set(document) - {"environments"}
    if unexpected_top:
        raise ExceptionsError(f"exceptions document has unknown keys {sorted(unexpected_top)}")
    parsed: dict[str, list[StackException]] = {}
    for stack, entries in document["environments"].items():
        if stack not in ENVIRONMENTS:
            raise ExceptionsError(
                f"environments.{stack}: exceptions are per environment "
                f"({', '.join(ENVIRONMENTS)}), not per stack name"
            )
        parsed[str(stack)] = []
        for index, entry in enumerate(entries or []):
            where = f"environments.{stack}[{index}]"
            if not isinstance(entry, Mapping):
                raise ExceptionsError(f"{where} must be a mapping with rule and reason")
            rule_id = entry.get("rule")
            if rule_id not in known_rules:
                raise ExceptionsError(f"{where} names unknown rule {rule_id!r}")
            reason = str(entry.get("reason") or "").strip()
            if len(reason) < MINIMUM_REASON_LENGTH:
                raise ExceptionsError(
                    f"{where} ({rule_id}) needs a reason of at least "
                    f"{MINIMUM_REASON_LENGTH} characters"
                )
            patterns = {}
            for key in ("resources", "messages"):
                value = entry.get(key, ["*"])
                if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
                    raise ExceptionsError(f"{where} ({rule_id}) {key} must be a list of patterns")
                patterns[key] = tuple(value)
            unexpected = set(entry) - {"rule", "reason", "resources", "messages"}
            if unexpected:
                raise ExceptionsError(f"{where} ({rule_id}) has unknown keys {sorted(unexpected)}")
            parsed[str(stack)].append(StackException(str(rule_id), str(stack), reason, **patterns))
    return parsed


def load_exceptions(
    known_rules: Sequence[str], path: Path = EXCEPTIONS_FILE
) -> dict[str, list[StackException]]:
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ExceptionsError(f"{path} is not valid YAML: {error}") from error
    return parse_exceptions(document, known_rules)


def find_exception(
    exceptions: Mapping[str, Sequence[StackException]],
    environment: str | None,
    rule_id: str,
    resource_name: str,
    message: str = "",
) -> StackException | None:
    """The exception of `environment` (None: unknown, so none) that covers this finding."""
    for exception in exceptions.get(environment or "", ()):
        if exception.matches(rule_id, resource_name, message):
            return exception
    return None
