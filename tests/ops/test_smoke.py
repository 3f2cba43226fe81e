"""ops.smoke against the real service process (PostgreSQL), directly and through a profile."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ops.smoke import Outcome, Summary, main, percentile
from tests.ops.conftest import REPO_ROOT, LiveService
from tests.support.postgres import free_port

pytestmark = pytest.mark.postgres

# The machine is shared: the pass case proves correctness, not speed.
GENEROUS_BUDGET_MS = "2000"


def test_admin_token_passes_and_reports_percentiles(
    live_service: LiveService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = live_service.token("smoke-admin", admin=True)
    summary_path = tmp_path / "smoke.json"
    argv = [
        live_service.url,
        "--requests",
        "60",
        "--token",
        token,
        "--budget-ms",
        GENEROUS_BUDGET_MS,
        "--json",
        str(summary_path),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "smoke: 60 requests" in out
    for kind in ("heartbeat", "post-map", "get-map", "all"):
        assert f"  {kind} " in out
    assert "status counts: 200: 60" in out
    assert "errors: none" in out and "result: PASS" in out
    assert token not in out
    summary = json.loads(summary_path.read_text())
    assert summary["ok"] is True and summary["requests"] == 60
    assert summary["latencyMs"]["post-map"]["count"] == 20
    all_ms = summary["latencyMs"]["all"]
    assert 0 < all_ms["p50"] <= all_ms["p95"] <= all_ms["p99"] <= all_ms["max"]


def test_user_token_with_an_existing_practice_passes(
    live_service: LiveService, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                live_service.url,
                "--requests",
                "3",
                "--budget-ms",
                GENEROUS_BUDGET_MS,
                "--token",
                live_service.token("smoke-admin", admin=True),
            ]
        )
        == 0
    )
    user = live_service.token("smoke-user-1")
    argv = [
        live_service.url,
        "--requests",
        "30",
        "--token",
        user,
        "--practice-id",
        "smoke-test",
        "--budget-ms",
        GENEROUS_BUDGET_MS,
    ]
    assert main(argv) == 0
    assert "status counts: 200: 30" in capsys.readouterr().out


def test_slow_profile_exceeds_the_budget(
    live_service: LiveService, capsys: pytest.CaptureFixture[str]
) -> None:
    token = live_service.token("smoke-admin", admin=True)
    argv = [
        live_service.url,
        "--requests",
        "6",
        "--token",
        token,
        "--profile",
        "3g",
        "--budget-ms",
        "150",
    ]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "through profile 3g" in out and "errors: none" in out
    assert "OVER the 150 ms budget" in out and "result: FAIL" in out
    # every request paid at least the preset's 200 ms of added round-trip time
    all_line = next(line for line in out.splitlines() if line.strip().startswith("all "))
    p50 = float(all_line.split()[2])
    assert p50 >= 200


def test_tiny_budget_fails_even_when_every_request_succeeds(
    live_service: LiveService, capsys: pytest.CaptureFixture[str]
) -> None:
    token = live_service.token("smoke-admin", admin=True)
    assert main([live_service.url, "--requests", "9", "--token", token, "--budget-ms", "0.01"]) == 1
    out = capsys.readouterr().out
    assert "errors: none" in out and "OVER the 0.01 ms budget" in out


def test_unreachable_or_not_the_api_is_a_failed_check(
    live_service: LiveService, capsys: pytest.CaptureFixture[str]
) -> None:
    token = live_service.token("smoke-admin", admin=True)
    assert main([f"http://127.0.0.1:{free_port()}", "--token", token]) == 1
    err = capsys.readouterr().err
    assert "smoke: FAIL: cannot connect to http://127.0.0.1:" in err


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("forged token", "rejected the token"),
        ("user token without --practice-id", "pass --practice-id"),
        ("unknown --practice-id", "does not exist"),
        ("ftp URL", "URL must look like"),
        ("not a JWT", "not a JWT with a `sub` claim"),
        ("no token", "no token: pass --token or set SMOKE_TOKEN"),
    ],
)
def test_a_test_that_cannot_run_as_asked_exits_2(
    live_service: LiveService,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    expected: str,
) -> None:
    monkeypatch.delenv("SMOKE_TOKEN", raising=False)
    admin = live_service.token("smoke-admin", admin=True)
    header, payload, signature = admin.split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    argv = {
        "forged token": [live_service.url, "--requests", "3", "--token", forged],
        "user token without --practice-id": [
            live_service.url,
            "--token",
            live_service.token("smoke-user-2"),
        ],
        "unknown --practice-id": [
            live_service.url,
            "--token",
            admin,
            "--practice-id",
            "no-such-practice",
        ],
        "ftp URL": ["ftp://example.com", "--token", admin],
        "not a JWT": [live_service.url, "--token", "not-a-jwt"],
        "no token": [live_service.url],
    }[case]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("smoke: cannot run: ") and expected in err
    assert forged not in err and admin not in err


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["http://x", "--requests", "0"], ["http://x", "--profile", "5g"], []):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    assert "usage: python -m ops.smoke" in capsys.readouterr().err


def test_cli_entry_point_exits_non_zero_with_a_message(live_service: LiveService) -> None:
    env = {k: v for k, v in live_service.env.items() if k != "SMOKE_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "ops.smoke", live_service.url, "--requests", "3"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "no token: pass --token or set SMOKE_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr
    env["SMOKE_TOKEN"] = live_service.token("smoke-admin", admin=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ops.smoke",
            live_service.url,
            "--requests",
            "6",
            "--budget-ms",
            GENEROUS_BUDGET_MS,
        ],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_any_failed_request_fails_the_run() -> None:
    summary = Summary(url="http://x", profile=None, budget_ms=200)
    summary.outcomes = [Outcome("heartbeat", 200, 5.0) for _ in range(99)]
    assert summary.ok
    summary.outcomes.append(Outcome("post-map", 503, 6.0, "HTTP 503 unavailable: database down"))
    assert not summary.ok
    assert "1 x post-map: HTTP 503 unavailable" in summary.as_text()


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50, 95, 99)
    assert percentile([7.0], 99) == 7.0
