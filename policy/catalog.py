"""The rule catalogue as a Markdown table: `python -m policy.catalog` (docs/policy-plan-cost.md)."""

from __future__ import annotations

from policy.rules import RULES


def markdown() -> str:
    lines = [
        "| id | severity | scope | source | what it requires |",
        "| --- | --- | --- | --- | --- |",
    ]
    for rule in RULES:
        lines.append(
            f"| `{rule.id}` | {rule.severity.value} | {rule.scope.value} | {rule.source} "
            f"| {rule.title} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
