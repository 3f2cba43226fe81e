"""Every ops tool keeps docs/ops.md's promise: 0 pass, 1 the check failed, 2 could not run.

The tool-specific failures (a failed check, rejected credentials, an unreachable service) are
tested next to each tool; this file holds the cases every command line shares.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable, Sequence

import pytest

from ops import checkov_scan, image_check, plan, smoke
from ops.backups.__main__ import main as backups_main
from ops.load.__main__ import main as load_main
from ops.netcond.__main__ import main as netcond_main
from tests.ops.conftest import REPO_ROOT

Main = Callable[[Sequence[str]], int]

BAD_ARGUMENTS: list[tuple[str, Main, list[str]]] = [
    ("ops.smoke", smoke.main, []),
    ("ops.smoke", smoke.main, ["http://127.0.0.1:1", "--requests", "none"]),
    ("ops.load", load_main, []),
    ("ops.load", load_main, ["http://127.0.0.1:1", "--users", "many"]),
    ("ops.netcond", netcond_main, []),
    ("ops.netcond", netcond_main, ["--target", "nowhere"]),
    ("ops.backups", backups_main, []),
    ("ops.backups", backups_main, ["verify"]),
    ("ops.image_check", image_check.main, []),
    ("ops.plan", plan.main, []),
    ("ops.plan", plan.main, ["dev", "--bogus"]),
    ("ops.checkov_scan", checkov_scan.main, ["dev"]),
    ("ops.checkov_scan", checkov_scan.main, ["no-such-stack", "--checkov", "checkov"]),
]


@pytest.mark.parametrize(
    ("tool", "main", "argv"), BAD_ARGUMENTS, ids=[f"{t} {' '.join(a)}" for t, _, a in BAD_ARGUMENTS]
)
def test_bad_arguments_exit_2_with_usage(
    tool: str, main: Main, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"usage: python -m {tool}" in err and "Traceback" not in err


def test_tools_refuse_without_credentials_with_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SMOKE_TOKEN", raising=False)
    assert smoke.main(["http://127.0.0.1:1"]) == 2
    assert "no token: pass --token or set SMOKE_TOKEN" in capsys.readouterr().err
    assert load_main(["http://127.0.0.1:1"]) == 2
    assert "no tokens: pass --tokens-file" in capsys.readouterr().err
    # ops.backups without AWS credentials: tests/ops/test_backups.py


def test_netcond_exits_2_when_it_cannot_listen(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = netcond_main(["--listen", f"127.0.0.1:{port}", "--target", "127.0.0.1:1"])
    assert code == 2
    assert f"netcond: cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_the_entry_points_return_the_exit_status() -> None:
    """`python -m` passes main()'s return value on (no tool ends in a bare `main()` call)."""
    done = subprocess.run(
        [sys.executable, "-m", "ops.smoke", "ftp://example.com", "--token", "x.e30.x"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "smoke: cannot run: URL must look like" in done.stderr


def test_ops_plan_refuses_an_unknown_stack_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        plan.main(["no-such-stack"])
    assert exited.value.code == 2
    known = "known stacks are dev, gcp-dev, gcp-prod, prod"
    assert f"no Pulumi.no-such-stack.yaml: {known}" in capsys.readouterr().err
