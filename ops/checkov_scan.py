"""Scan a stack with the real checkov: export, run, match failures to the documented skip list.

    python -m ops.checkov_scan prod --checkov .venv-checkov/bin/checkov    (make checkov STACK=prod)

checkov lives in its own virtualenv (its exact pins, boto3 among them, conflict with the
project's), so it runs as a subprocess on the plan ops.checkov_export writes. Every failed check
must match an entry of policy/checkov_skips.yaml; the run exits 1 on a failure no entry explains
and on an entry for this stack that matched nothing (stale), 2 when the scan cannot run (bad
arguments, an unknown stack, checkov missing or failing, an unreadable skip list).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.checkov_export import DEFAULT_OUTPUT_DIR, ExportError, export
from ops.plan import known_stacks
from policy.checkov_skips import Finding, SkipsError, Triage, load_skips, triage
from policy.environment import stack_cloud, stack_environment

CHECKOV_TIMEOUT_SECONDS = 600


class CheckovError(RuntimeError):
    """checkov did not run, or its report could not be read."""


@dataclass
class ScanResult:
    checkov_version: str
    passed: int
    failures: list[Finding]


def run_checkov(checkov: Path, plan: Path, report: Path) -> ScanResult:
    """checkov's terraform_plan framework on `plan`; its JSON report is kept at `report`."""
    if not checkov.exists():
        raise CheckovError(f"{checkov} does not exist: run `make checkov` (it installs checkov)")
    command = [
        str(checkov),
        "--file",
        str(plan),
        "--framework",
        "terraform_plan",
        "--output",
        "json",
        "--quiet",  # failed checks only; the summary still counts the passed ones
        "--skip-download",  # offline: no Prisma Cloud guidelines or severities
    ]
    try:
        done = subprocess.run(  # noqa: S603 (our own venv's checkov, on our own file)
            command, capture_output=True, text=True, timeout=CHECKOV_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise CheckovError(f"checkov took more than {CHECKOV_TIMEOUT_SECONDS} s") from error
    report.write_text(done.stdout)
    try:
        document = json.loads(done.stdout)
    except json.JSONDecodeError as error:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise CheckovError(
            f"checkov exited {done.returncode} without a JSON report: " + " | ".join(tail)
        ) from error
    return parse_report(document)


def parse_report(document: Any) -> ScanResult:
    """The parts of checkov's JSON report the triage needs."""
    if isinstance(document, list):  # one report per framework; we run only one
        document = next((d for d in document if d.get("check_type") == "terraform_plan"), None)
    if not isinstance(document, dict) or "summary" not in document:
        raise CheckovError("checkov's report has no terraform_plan summary")
    summary = document["summary"]
    if summary.get("parsing_errors"):
        raise CheckovError(f"checkov could not parse the plan ({summary['parsing_errors']} errors)")
    failed = (document.get("results") or {}).get("failed_checks") or []
    return ScanResult(
        checkov_version=str(summary.get("checkov_version", "?")),
        passed=int(summary.get("passed", 0)),
        failures=[
            Finding(check_id=f["check_id"], resource=f["resource"], name=f.get("check_name", ""))
            for f in failed
        ],
    )


def render(stack: str, result: ScanResult, outcome: Triage) -> str:
    lines = [
        f"checkov {result.checkov_version} on stack {stack} (terraform_plan framework): "
        f"{result.passed} passed, {len(result.failures)} failed: "
        f"{len(outcome.explained)} documented skips, {len(outcome.unexplained)} unexplained",
    ]
    for finding, skip in sorted(outcome.explained, key=lambda p: (p[0].check_id, p[0].resource)):
        mirrors = f" (mirrors exception {skip.mirrors})" if skip.mirrors else ""
        lines.append(f"   [SKIPPED] {finding.check_id} {finding.resource}{mirrors}")
    for finding in outcome.unexplained:
        lines.append(f"   [FAILED] {finding.check_id} {finding.resource}: {finding.name}")
    for skip in outcome.unused:
        lines.append(
            f"   [STALE SKIP] {skip.check_id} {', '.join(skip.resources)}: matches no failure "
            "in this stack; remove it (or the stack) from policy/checkov_skips.yaml"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.checkov_scan", description=__doc__.split("\n")[0]
    )
    parser.add_argument("stack", help="stack name (dev, prod, gcp-dev, gcp-prod)")
    parser.add_argument(
        "--checkov", type=Path, required=True, help="the checkov executable (its own venv)"
    )
    args = parser.parse_args(argv)
    if args.stack not in known_stacks():
        parser.error(f"no Pulumi.{args.stack}.yaml: known stacks are {', '.join(known_stacks())}")
    try:
        skips = load_skips()
        plan = export(args.stack, DEFAULT_OUTPUT_DIR / f"{args.stack}.tfplan.json")
        result = run_checkov(args.checkov, plan, plan.with_name(f"{args.stack}.checkov.json"))
    except (SkipsError, ExportError, CheckovError) as error:
        print(f"checkov scan failed: {error}", file=sys.stderr)
        return 2
    # The skip list is per environment, like policy/exceptions.yaml (unknown: no skips), and
    # per cloud (an entry's check id names it).
    environment = stack_environment(args.stack) or ""
    outcome = triage(environment, result.failures, skips, stack_cloud(args.stack))
    print(render(args.stack, result, outcome))
    return 1 if outcome.unexplained or outcome.unused else 0


if __name__ == "__main__":
    sys.exit(main())
