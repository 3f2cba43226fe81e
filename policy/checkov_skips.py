"""The documented checkov skip list (policy/checkov_skips.yaml) and how findings are matched to it.

An entry names a checkov check, the stacks and the Terraform addresses (shell patterns) it covers,
and why. The check id names its cloud (CKV_AWS_n, CKV_GCP_n): an entry only ever counts for stacks
of that cloud, so gcp-dev neither uses nor reports as stale the entries written for AWS's dev.
Where the same trade-off is already an exception to one of our own rules, the entry says so
(`mirrors`) and the exception must exist for each of its stacks: the two lists cannot drift apart
silently. Malformed entries are load errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from policy.exceptions import MINIMUM_REASON_LENGTH, StackException

SKIPS_FILE = Path(__file__).with_name("checkov_skips.yaml")
CHECK_ID = re.compile(r"^CKV2?_(AWS|GCP)_\d+$")
CLOUDS = {"AWS": "aws", "GCP": "gcp"}
_KEYS = frozenset({"check", "stacks", "resources", "reason", "mirrors"})


class SkipsError(ValueError):
    """policy/checkov_skips.yaml is malformed or mirrors an exception that does not exist."""


@dataclass(frozen=True)
class Finding:
    """One failed checkov check on one resource."""

    check_id: str
    resource: str  # the Terraform address, e.g. aws_lb.api_lb_alb
    name: str = ""


@dataclass(frozen=True)
class Skip:
    check_id: str
    stacks: tuple[str, ...]
    resources: tuple[str, ...]
    reason: str
    mirrors: str | None = None

    @property
    def cloud(self) -> str:
        return cloud_of(self.check_id)

    def applies_to(self, stack: str, cloud: str) -> bool:
        return stack in self.stacks and self.cloud == cloud

    def matches(self, stack: str, finding: Finding, cloud: str = "aws") -> bool:
        return (
            finding.check_id == self.check_id
            and self.applies_to(stack, cloud)
            and any(fnmatchcase(finding.resource, pattern) for pattern in self.resources)
        )


def cloud_of(check_id: str) -> str:
    """aws or gcp, from a checkov id (CKV_AWS_1, CKV2_GCP_13)."""
    match = CHECK_ID.match(check_id)
    if match is None:
        raise SkipsError(f"not a checkov AWS or GCP id: {check_id!r}")
    return CLOUDS[match.group(1)]


def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise SkipsError(f"{where} {key} must be a non-empty list of strings")
    return tuple(value)


def parse_skips(document: Any, exceptions: Mapping[str, Sequence[StackException]]) -> list[Skip]:
    if not isinstance(document, Mapping) or not isinstance(document.get("skips"), list):
        raise SkipsError("checkov skips must be a mapping with a 'skips' list")
    skips = []
    for index, entry in enumerate(document["skips"]):
        where = f"skips[{index}]"
        if not isinstance(entry, Mapping):
            raise SkipsError(f"{where} must be a mapping")
        check_id = str(entry.get("check") or "")
        if not CHECK_ID.match(check_id):
            raise SkipsError(
                f"{where} check must be a checkov AWS or GCP id (CKV_AWS_n, CKV_GCP_n), "
                f"got {check_id!r}"
            )
        where = f"{where} ({check_id})"
        unexpected = set(entry) - _KEYS
        if unexpected:
            raise SkipsError(f"{where} has unknown keys {sorted(unexpected)}")
        reason = " ".join(str(entry.get("reason") or "").split())
        if len(reason) < MINIMUM_REASON_LENGTH:
            raise SkipsError(
                f"{where} needs a reason of at least {MINIMUM_REASON_LENGTH} characters"
            )
        stacks = _strings(entry.get("stacks"), where, "stacks")
        mirrors = entry.get("mirrors")
        if mirrors is not None:
            for stack in stacks:
                if not any(e.rule_id == mirrors for e in exceptions.get(stack, ())):
                    raise SkipsError(
                        f"{where} mirrors {mirrors!r}, which is no exception for stack {stack} in "
                        "policy/exceptions.yaml"
                    )
        skips.append(
            Skip(
                check_id=check_id,
                stacks=stacks,
                resources=_strings(entry.get("resources"), where, "resources"),
                reason=reason,
                mirrors=None if mirrors is None else str(mirrors),
            )
        )
    return skips


def load_skips(path: Path = SKIPS_FILE) -> list[Skip]:
    from policy.exceptions import load_exceptions
    from policy.rules import RULES

    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise SkipsError(f"{path} is not valid YAML: {error}") from error
    return parse_skips(document, load_exceptions([rule.id for rule in RULES]))


@dataclass
class Triage:
    """A stack's failed checks split into the documented and the unexplained."""

    explained: list[tuple[Finding, Skip]]
    unexplained: list[Finding]
    unused: list[Skip]  # entries for this stack that matched no failure: stale


def triage(
    stack: str, failures: Sequence[Finding], skips: Sequence[Skip], cloud: str = "aws"
) -> Triage:
    """`stack` is the environment the entries name (dev, prod); `cloud` the stack's cloud."""
    explained: list[tuple[Finding, Skip]] = []
    unexplained: list[Finding] = []
    used: set[Skip] = set()
    for finding in failures:
        skip = next((s for s in skips if s.matches(stack, finding, cloud)), None)
        if skip is None:
            unexplained.append(finding)
        else:
            explained.append((finding, skip))
            used.add(skip)
    unused = [s for s in skips if s.applies_to(stack, cloud) and s not in used]
    return Triage(explained=explained, unexplained=unexplained, unused=unused)
