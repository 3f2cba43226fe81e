"""ops.load: a few seconds of headless locust against the real service (PostgreSQL)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ops.conftest import REPO_ROOT, LiveService
from tests.support.postgres import free_port

pytestmark = pytest.mark.postgres


def _load(live_service: LiveService, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.load", live_service.url, *args],
        env=live_service.env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _summary_rows(stdout: str) -> dict[str, list[str]]:
    summary = stdout.split("load summary", 1)[1]
    rows = {}
    for line in summary.splitlines()[2:]:
        match = re.match(r"^  (\S+ \S+|Aggregated)\s+(\d+)\s+(\d+)\s", line)
        if match:
            rows[match[1]] = [match[2], match[3]]
    return rows


def test_short_run_makes_requests_of_every_kind_without_failures(
    live_service: LiveService, tmp_path: Path
) -> None:
    done = _load(
        live_service,
        "--users",
        "4",
        "--spawn-rate",
        "4",
        "--duration",
        "5s",
        "--mint-local",
        "--wait",
        "0.05-0.2",
        "--out",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _summary_rows(done.stdout)
    requests, failures = (int(v) for v in rows["Aggregated"])
    assert requests >= 40 and failures == 0, done.stdout
    assert {"POST /map", "GET /map"} <= rows.keys()
    # the mix: progress writes and reads dominate
    assert int(rows["POST /map"][0]) + int(rows["GET /map"][0]) > requests / 2
    assert "result: PASS" in done.stdout
    assert (tmp_path / "locust.html").exists() and (tmp_path / "locust.json").exists()


def _forged(live_service: LiveService, subject: str) -> str:
    header, payload, signature = live_service.token(subject).split(".")
    return f"{header}.{payload}.{signature[::-1]}"


def test_a_rejected_first_token_is_refused_before_starting(
    live_service: LiveService, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens.txt"
    forged = _forged(live_service, "load-forged")
    tokens.write_text(f"{forged}\n")
    done = _load(live_service, "--tokens-file", str(tokens), "--practice-ids", "load-test-1")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "load: cannot run: the service rejected the first token (HTTP 401" in done.stderr
    assert "load summary" not in done.stdout and forged not in done.stdout + done.stderr


def test_tokens_rejected_during_the_run_fail_it(live_service: LiveService, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(f"{live_service.token('load-ok')}\n{_forged(live_service, 'load-forged')}\n")
    done = _load(
        live_service,
        "--users",
        "2",
        "--spawn-rate",
        "2",
        "--duration",
        "2s",
        "--tokens-file",
        str(tokens),
        "--practice-ids",
        "load-test-1",
        "--wait",
        "0.05-0.1",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "result: FAIL" in done.stdout and "requests failed" in done.stdout
    assert "HTTP 401" in done.stdout


def test_an_unreachable_service_is_a_failed_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ops.load",
            f"http://127.0.0.1:{free_port()}",
            "--mint-local",
            "--users",
            "1",
        ],
        env={**os.environ, "DATA_DIR": str(tmp_path), "ENVIRONMENT": "local"},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "load: FAIL: cannot reach http://127.0.0.1:" in done.stderr


def test_bad_arguments_are_refused_before_starting(
    live_service: LiveService, tmp_path: Path
) -> None:
    done = _load(live_service, "--duration", "soon", "--mint-local")
    assert done.returncode == 2 and "--duration must look like" in done.stderr
    done = _load(live_service, "--duration", "2s")
    assert done.returncode == 2 and "no tokens" in done.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    done = _load(live_service, "--tokens-file", str(empty), "--practice-ids", "x")
    assert done.returncode == 2 and "holds no tokens" in done.stderr
    done = _load(live_service, "--users", "many")
    assert done.returncode == 2 and "usage: python -m ops.load" in done.stderr
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ops.load",
            "https://example.invalid",
            "--mint-local",
            "--profile",
            "lte",
            "--practice-ids",
            "x",
        ],
        env=live_service.env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "--profile needs an http:// URL" in done.stderr
