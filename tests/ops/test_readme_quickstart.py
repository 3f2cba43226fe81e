"""The README's quick start and local ops commands, run with bash exactly as the README has them.

The blocks come from README.md itself (each fenced ```sh block right after a
`<!-- run-in-test: NAME -->` line), so the README cannot drift from what works. The server is
what `make serve` starts (default settings: SQLite and files under a data directory, the local
signing key) on a free port, and the commands get `PORT` like a reader's shell would.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live_service import serve
from tests.support.postgres import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
MARKER = re.compile(r"^<!-- run-in-test: ([a-z0-9-]+) -->\n```sh\n(.*?)^```$", re.M | re.S)
# The only changes to what the README says: a short load run, and a latency budget the shared
# test machine always meets (test_smoke and test_load test the budgets themselves).
SHORT_LOAD = " --users 2 --spawn-rate 2 --duration 1s --wait 0.05-0.2"
LENIENT_SMOKE = " --budget-ms 5000"


def readme_blocks(name: str) -> list[str]:
    blocks = [body for marker, body in MARKER.findall(README.read_text()) if marker == name]
    assert blocks, f"README.md has no ```sh block marked <!-- run-in-test: {name} -->"
    return blocks


def shell_commands(block: str) -> list[str]:
    """The block's commands, `\\`-continued lines joined (comments and blank lines dropped)."""
    commands, current = [], ""
    for line in block.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line + "\n"
        if not line.endswith("\\"):
            commands.append(current.rstrip("\n"))
            current = ""
    assert not current, f"unterminated command in README block: {current!r}"
    return commands


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """`make serve`'s server on a free port; the environment a reader's second terminal has."""
    data_dir = tmp_path_factory.mktemp("quickstart")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "DB_", "AUTH_", "STORAGE_", "SMOKE_", "LOAD_"))
    }
    env |= {"ENVIRONMENT": "local", "DATA_DIR": str(data_dir), "LOG_LEVEL": "warning"}
    with serve(env, data_dir) as url:
        yield url, {**env, "PORT": url.rsplit(":", 1)[1]}


def run_bash(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Where `.venv/bin/python` is this interpreter: the repository root when its .venv exists
    (`make test`), else a directory with a `.venv/bin/python` that runs this interpreter."""
    if (REPO_ROOT / ".venv" / "bin" / "python").exists():
        return REPO_ROOT, {}
    root = tmp_path_factory.mktemp("checkout")
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return root, {"PYTHONPATH": str(REPO_ROOT)}


def tool_of(command: str) -> str:
    match = re.match(r"\.venv/bin/python -m (ops\.\w+) ", command)
    assert match, f"not an ops command run with .venv/bin/python: {command!r}"
    return match[1]


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_the_quick_start_stores_and_reads_back_a_practice_state(
    local_server: tuple[str, dict[str, str]], checkout: tuple[Path, dict[str, str]]
) -> None:
    _, env = local_server
    cwd, extra = checkout
    script = "\n".join(readme_blocks("quickstart"))
    done = run_bash(script, env | extra, cwd)
    assert done.returncode == 0, f"quick start failed:\n{done.stdout}\n{done.stderr}"

    posted = re.search(r'-X POST "\$API/map".*?-d \'(.*?)\'', script, re.S)
    assert posted, "the quick start has no POST /map with a -d '...' body"
    sent = json.loads(posted[1])
    put, written, read, listed = json_lines(done.stdout)
    assert put["success"] is True and put["data"]["published"] is True
    assert written["success"] is True and written["applied"] is True
    stored = {k: v for k, v in written["data"].items() if k not in ("userId", "serverUpdatedAt")}
    assert stored == sent["practiceData"]
    # The final GET /map shows the state that POST /map stored, for the token's user.
    assert read["data"]["userId"] == sent["userId"] == written["data"]["userId"]
    assert read["data"]["practices"] == [written["data"]]
    assert [p["id"] for p in listed["data"]["practices"]] == [put["data"]["id"]]


def test_the_local_ops_commands_pass(
    local_server: tuple[str, dict[str, str]], checkout: tuple[Path, dict[str, str]]
) -> None:
    _, env = local_server
    cwd, extra = checkout
    commands = [c for block in readme_blocks("ops-local") for c in shell_commands(block)]
    tools = [tool_of(c) for c in commands]
    assert tools == ["ops.smoke", "ops.load"], commands
    for command, tool in zip(commands, tools, strict=True):
        done = run_bash(
            command + (LENIENT_SMOKE if tool == "ops.smoke" else SHORT_LOAD), env | extra, cwd
        )
        assert done.returncode == 0, f"{tool} failed:\n{done.stdout}\n{done.stderr}"
        assert "result: PASS" in done.stdout


def test_make_smoke_and_make_load_run_the_readme_commands() -> None:
    """`make smoke` / `make load`, as the README says, expand to the same command lines."""
    readme = {tool_of(c): c for block in readme_blocks("ops-local") for c in shell_commands(block)}
    for target, tool in (("smoke", "ops.smoke"), ("load", "ops.load")):
        done = subprocess.run(
            ["make", "--no-print-directory", "-n", "-o", ".venv/.installed", target],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        expected = readme[tool].replace(
            '"http://127.0.0.1:${PORT:-8000}"', '"http://127.0.0.1:8000"'
        )
        assert _words(done.stdout) == _words(expected), (done.stdout, expected)


def _words(command: str) -> list[str]:
    return command.replace("\\\n", " ").split()


def test_the_readme_netcond_command_conditions_the_local_server(
    local_server: tuple[str, dict[str, str]], checkout: tuple[Path, dict[str, str]]
) -> None:
    """The README's netcond line, with the free ports of this test for 9000 and 8000."""
    _, env = local_server
    cwd, extra = checkout
    written = re.search(r"`(\.venv/bin/python -m ops\.netcond [^`]*)`", README.read_text())
    assert written, "README.md shows no `.venv/bin/python -m ops.netcond ...` command"
    command = written[1]
    assert "--listen 127.0.0.1:9000" in command and "--target 127.0.0.1:8000" in command
    listen = free_port()
    command = command.replace("127.0.0.1:9000", f"127.0.0.1:{listen}").replace(
        "127.0.0.1:8000", f"127.0.0.1:{env['PORT']}"
    )
    proxy = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=cwd,
        env=env | extra,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proxy.stdout is not None
        banner = proxy.stdout.readline()
        assert banner.startswith(f"netcond listening on 127.0.0.1:{listen} -> "), banner
        started = time.perf_counter()
        response = httpx.get(f"http://127.0.0.1:{listen}/heartbeat", timeout=10)
        elapsed_ms = (time.perf_counter() - started) * 1000
        assert response.status_code == 200 and response.json()["status"] == "ok"
        assert elapsed_ms >= 115  # lte: 65 ms up and 50 ms down on the way through
    finally:
        proxy.terminate()
        _, err = proxy.communicate(timeout=15)
    assert proxy.returncode == 0, err
