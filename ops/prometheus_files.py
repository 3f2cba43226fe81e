"""`make prometheus-rules`: write the generated Prometheus files and the Grafana dashboard.

`python -m ops.prometheus_files --check` exits 1 naming every file that is out of date.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from components.grafana_dashboard import dashboard_document
from components.prometheus_rules import blackbox_document, render, rules_document
from ops.prometheus_rule_tests import promtool_stack_document, promtool_tests_document

REPO_ROOT = Path(__file__).resolve().parents[1]
DIRECTORY = REPO_ROOT / "ops" / "prometheus"
DASHBOARD = REPO_ROOT / "ops" / "grafana" / "dashboards" / "awaterra-api.json"


def dashboard_text() -> str:
    return json.dumps(dashboard_document(), indent=2) + "\n"


def generated_files() -> dict[Path, str]:
    return {
        DIRECTORY / "rules.yml": render(rules_document()),
        DIRECTORY / "blackbox.yml": render(blackbox_document()),
        DIRECTORY / "rules.test.yml": render(promtool_tests_document()),
        DIRECTORY / "test-stack.yml": render(promtool_stack_document()),
        DASHBOARD: dashboard_text(),
    }


def stale_files() -> list[Path]:
    return [
        path
        for path, text in generated_files().items()
        if not path.exists() or path.read_text() != text
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.prometheus_files")
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(
                f"{path.relative_to(REPO_ROOT)} is out of date: run make prometheus-rules",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for path, text in generated_files().items():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
