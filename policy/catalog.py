"""The rule catalogue as Markdown tables: `python -m policy.catalog [aws|gcp]`
(docs/policy-plan-cost.md: the AWS table under "Rules", the Google Cloud one under its own
heading). Without an argument every rule is listed in one table."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from policy.model import Rule
from policy.rules import RULES


def for_cloud(cloud: str) -> tuple[Rule, ...]:
    """The rules whose resource types belong to one provider ("aws" or "gcp")."""
    if cloud not in ("aws", "gcp"):
        raise ValueError(f"unknown cloud {cloud!r}: expected 'aws' or 'gcp'")
    return tuple(
        rule for rule in RULES if all(t.startswith(f"{cloud}:") for t in rule.resource_types)
    )


def markdown(rules: Sequence[Rule] = RULES) -> str:
    lines = [
        "| id | severity | scope | source | what it requires |",
        "| --- | --- | --- | --- | --- |",
    ]
    for rule in rules:
        lines.append(
            f"| `{rule.id}` | {rule.severity.value} | {rule.scope.value} | {rule.source} "
            f"| {rule.title} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    if len(argv) > 1:
        print("usage: python -m policy.catalog [aws|gcp]", file=sys.stderr)
        return 2
    try:
        rules = for_cloud(argv[0]) if argv else RULES
    except ValueError as error:
        print(f"policy.catalog: {error}", file=sys.stderr)
        return 2
    print(markdown(rules))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
