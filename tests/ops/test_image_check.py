"""ops/image_check.py without Docker: the parts that decide, not the containers it runs.

The containers themselves are exercised by running the script against a built image (there
is no Docker daemon in the test environment; see docs/image.md).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from ops import image_check
from ops.image_check import Completed, ImageCheck, Report, env_flags, json_field


def test_missing_docker_client_is_exit_2_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert image_check.main(["awaterra-service"]) == 2
    assert "no docker client on PATH" in capsys.readouterr().err


def test_unknown_image_is_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/docker")
    monkeypatch.setattr(
        image_check,
        "docker",
        lambda *args, timeout=0: Completed(1, "", "Error: No such image: nope", 0.1),
    )
    assert image_check.main(["nope"]) == 2
    assert "No such image: nope" in capsys.readouterr().err


def test_docker_timeout_is_a_result_not_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    def hang(*args: object, **kwargs: object) -> None:
        raise subprocess.TimeoutExpired(cmd="docker", timeout=1, output=b"partial")

    monkeypatch.setattr(subprocess, "run", hang)
    done = image_check.docker("run", "x", timeout=1)
    assert done.returncode == 124 and done.stdout == "partial" and "timed out" in done.stderr


def test_http_refuses_non_http_urls() -> None:
    with pytest.raises(ValueError, match="not an http"):
        image_check.http("GET", "file:///etc/passwd")


def test_http_connection_failure_is_status_0() -> None:
    status, body = image_check.http("GET", f"http://127.0.0.1:{_closed_port()}/", timeout=1)
    assert (status, body) == (0, b"")


def _closed_port() -> int:
    return image_check.free_port()  # bound then released: nothing listens there


def test_report_lists_failures(capsys: pytest.CaptureFixture[str]) -> None:
    report = Report()
    assert report.check("one", True) is True
    assert report.check("two", False, "why") is False
    assert report.failed == ["two"]
    assert "FAIL  two: why" in capsys.readouterr().out


def test_helpers() -> None:
    assert env_flags(["A=1", "B=2"]) == ["-e", "A=1", "-e", "B=2"]
    body = json.dumps({"data": {"practices": [1]}}).encode()
    assert json_field(body, "data", "practices") == [1]
    assert json_field(body, "data", "missing") is None
    assert json_field(b"not json", "data") is None


def _config(user: str, environment: str, health: bool) -> dict[str, object]:
    return {
        "Size": 330_000_000,
        "RootFS": {"Layers": ["a", "b"]},
        "Config": {
            "User": user,
            "Env": [f"ENVIRONMENT={environment}", "PATH=/opt/venv/bin"],
            "Healthcheck": {"Test": ["CMD", "python", "-c", "probe"]} if health else None,
        },
    }


def test_config_checks_pass_for_the_image_as_built(capsys: pytest.CaptureFixture[str]) -> None:
    check = ImageCheck("img", expect_ddtrace=False, timeout=5, keep=False)
    check.check_config(_config("10001:10001", "prod", health=True))
    assert check.report.failed == []
    assert "image size 330 MB in 2 layers" in capsys.readouterr().out


def test_config_checks_catch_root_dev_defaults_and_no_healthcheck() -> None:
    check = ImageCheck("img", expect_ddtrace=False, timeout=5, keep=False)
    check.check_config(_config("", "local", health=False))
    assert check.report.failed == [
        "image user is 10001",
        "image has a HEALTHCHECK",
        "ENVIRONMENT defaults to prod",
    ]
