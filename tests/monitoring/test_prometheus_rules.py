"""The Prometheus rules: generated from the Datadog monitors' source, checked and unit-tested by
promtool, and in parity with the Datadog monitors as the component creates them."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.monitoring_thresholds import MonitoringThresholds
from components.prometheus_rules import (
    DATADOG_ONLY,
    HEARTBEAT_FAILURE_SECONDS,
    HEARTBEAT_MODULE,
    blackbox_document,
    duration,
    rules_document,
    seconds,
    stack_rules_document,
)
from ops.prometheus_files import DASHBOARD, DIRECTORY, generated_files, main, stale_files


def _tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        pytest.fail(f"{name} is not installed: apt-get install prometheus (.ci/run does)")
    return path


def _alerts(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        rule["labels"]["monitor"]: rule
        for group in document["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def test_checked_in_files_are_what_the_generator_writes() -> None:
    assert stale_files() == [], "run make prometheus-rules"
    assert set(generated_files()) == {
        DIRECTORY / name
        for name in ("rules.yml", "blackbox.yml", "rules.test.yml", "test-stack.yml")
    } | {DASHBOARD}


def test_check_mode_names_a_drifted_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ops.prometheus_files as files

    copy = tmp_path / "prometheus"
    shutil.copytree(DIRECTORY, copy)
    (copy / "rules.yml").write_text((copy / "rules.yml").read_text().replace("> 0.2", "> 0.3"))
    monkeypatch.setattr(files, "DIRECTORY", copy)
    monkeypatch.setattr(files, "DASHBOARD", copy / "dashboard.json")
    monkeypatch.setattr(files, "REPO_ROOT", tmp_path)
    assert main(["--check"]) == 1
    error = capsys.readouterr().err
    assert "prometheus/rules.yml is out of date: run make prometheus-rules" in error
    assert main([]) == 0
    assert main(["--check"]) == 0


def test_promtool_checks_the_rules() -> None:
    result = subprocess.run(
        [_tool("promtool"), "check", "rules", "rules.yml", "test-stack.yml"],
        cwd=DIRECTORY, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 17 rules found" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    result = subprocess.run(
        [_tool("promtool"), "test", "rules", "rules.test.yml"],
        cwd=DIRECTORY, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_case_that_fires_it_and_one_that_must_not() -> None:
    tests = yaml.safe_load((DIRECTORY / "rules.test.yml").read_text())["tests"]
    fired: set[str] = set()
    silent: set[str] = set()
    for case in tests:
        for check in case["alert_rule_test"]:
            (fired if check["exp_alerts"] else silent).add(check["alertname"])
    names = {rule["alert"] for rule in _alerts(rules_document()).values()}
    assert fired == names
    assert silent == names


def test_promtool_unit_tests_fail_on_a_wrong_threshold(tmp_path: Path) -> None:
    """The cases can fail: the same cases against a latency threshold of 300 ms do."""
    shutil.copytree(DIRECTORY, tmp_path / "p")
    rules = tmp_path / "p" / "rules.yml"
    rules.write_text(rules.read_text().replace("\n      > 0.2\n", "\n      > 0.3\n"))
    result = subprocess.run(
        [_tool("promtool"), "test", "rules", "rules.test.yml"],
        cwd=tmp_path / "p", capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1
    assert "alertname: ApiLatencyP95High" in result.stdout + result.stderr


def test_the_blackbox_module_is_valid_and_checks_what_the_synthetic_checks(tmp_path: Path) -> None:
    module = blackbox_document()["modules"][HEARTBEAT_MODULE]
    assert module["timeout"] == "1s"  # heartbeat_max_response_ms
    assert module["http"]["valid_status_codes"] == [200]
    assert module["http"]["follow_redirects"] is False
    result = subprocess.run(
        [_tool("prometheus-blackbox-exporter"), "--config.check",
         f"--config.file={DIRECTORY / 'blackbox.yml'}"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr


def test_thresholds_flow_into_the_expressions() -> None:
    limits = replace(
        MonitoringThresholds(),
        latency_p95_seconds=0.35,
        latency_p95_warning_seconds=0.3,
        error_rate_percent=5.0,
        error_rate_min_requests=250,
        availability_target_percent=99.5,
        db_connections_ratio=0.9,
        heartbeat_max_response_ms=2500,
    )
    alerts = _alerts(rules_document(limits))
    assert alerts["latency-p95"]["expr"].endswith("> 0.35")
    assert "250) > 5" in alerts["error-rate"]["expr"]
    assert "> 0.072\nand\n" in alerts["burn-rate-fast"]["expr"]  # 14.4 x 0.5%
    assert "> 0.9 * scalar(" in alerts["db-connections"]["expr"]
    assert blackbox_document(limits)["modules"][HEARTBEAT_MODULE]["timeout"] == "2500ms"


def test_scale_divides_every_window_and_hold() -> None:
    fast = _alerts(rules_document(scale=60))
    assert "[10s]" in fast["latency-p95"]["expr"]
    assert fast["no-healthy-hosts"]["for"] == "5s"
    assert fast["tasks-below-desired"]["for"] == "15s"
    assert fast["heartbeat"]["for"] == "2s"
    assert "ratio_rate1m > " in fast["burn-rate-fast"]["expr"]
    assert "ratio_rate5s > " in fast["burn-rate-fast"]["expr"]
    # The annotations keep the real windows: they document the production rule.
    assert fast["burn-rate-fast"]["annotations"]["window"] == "1h/5m"
    with pytest.raises(ValueError, match="scale must be a positive whole number"):
        rules_document(scale=0)


def test_durations() -> None:
    assert [duration(s) for s in (3600, 300, 90, 0.5, 0, 86400)] == [
        "1h", "5m", "90s", "500ms", "0s", "1d"
    ]
    assert seconds("6h") == 21600
    with pytest.raises(ValueError, match="expected a duration like 10m or 1h, got '10 min'"):
        seconds("10 min")


def test_stack_rules_carry_the_stack_numbers_and_refuse_nonsense() -> None:
    (group,) = stack_rules_document(min_tasks=2, db_max_connections=873)["groups"]
    assert [r["expr"] for r in group["rules"]] == ["vector(2)", "vector(873)"]
    with pytest.raises(ValueError, match="min_tasks must be at least 1, got 0"):
        stack_rules_document(min_tasks=0, db_max_connections=10)
    with pytest.raises(ValueError, match="db_max_connections must be positive, got 0"):
        stack_rules_document(min_tasks=1, db_max_connections=0)


# Parity with the Datadog monitors the Monitoring component creates (under mocks).

_DATADOG_WINDOW = re.compile(r"^(?:avg|sum|min|max)\(last_(\d+[mh])\):")
_BURN = re.compile(r'long_window\("(\w+)"\)\.short_window\("(\w+)"\) > ([\d.]+)$')


@pytest.fixture(scope="module")
def datadog_monitors() -> dict[str, dict[str, Any]]:
    from tests.monitoring.test_monitoring_component import _args, _run

    recording = _run(_args)
    monitors = {
        r.name.removeprefix("monitoring-"): r.inputs
        for r in recording
        if r.type == "datadog:index/monitor:Monitor"
    }
    (synthetic,) = [r.inputs for r in recording if r.type.endswith("syntheticsTest:SyntheticsTest")]
    monitors["heartbeat"] = synthetic
    return monitors


def _datadog_threshold_and_window(key: str, monitor: dict[str, Any]) -> tuple[float, str]:
    if key == "heartbeat":
        return 1.0, duration(monitor["optionsList"]["minFailureDuration"])
    if key.startswith("burn-rate"):
        match = _BURN.search(monitor["query"])
        assert match, monitor["query"]
        return float(match.group(3)), f"{match.group(1)}/{match.group(2)}"
    window = _DATADOG_WINDOW.match(monitor["query"])
    assert window, monitor["query"]
    return float(monitor["monitorThresholds"]["critical"]), window.group(1)


def test_every_datadog_monitor_has_its_prometheus_twin_and_back(
    datadog_monitors: dict[str, dict[str, Any]],
) -> None:
    prometheus = _alerts(yaml.safe_load((DIRECTORY / "rules.yml").read_text()))
    assert set(datadog_monitors) - set(DATADOG_ONLY) == set(prometheus)
    assert set(DATADOG_ONLY) <= set(datadog_monitors)
    db_max_connections = 400  # what tests/monitoring/test_monitoring_component passes
    for key, rule in prometheus.items():
        threshold, window = _datadog_threshold_and_window(key, datadog_monitors[key])
        if key == "db-connections":
            threshold /= db_max_connections  # Datadog renders the ratio as a count
        assert float(rule["annotations"]["threshold"]) == threshold, key
        assert rule["annotations"]["window"] == window, key
        windows = window.split("/")
        if "for" in rule:
            assert rule["for"] == window, key
        elif key.startswith("burn-rate"):
            for part in windows:
                assert f"ratio_rate{part} > " in rule["expr"], key
        else:
            assert f"[{window}]" in rule["expr"], key
        assert f"P{datadog_monitors[key].get('priority', '1')}" == rule["labels"]["priority"] or (
            key == "heartbeat"
            and datadog_monitors[key]["optionsList"]["monitorPriority"] == 1
            and rule["labels"]["priority"] == "P1"
        ), key
    assert HEARTBEAT_FAILURE_SECONDS == datadog_monitors["heartbeat"]["optionsList"][
        "minFailureDuration"
    ]


def test_the_prometheus_twin_keeps_the_datadog_runbook(
    datadog_monitors: dict[str, dict[str, Any]],
) -> None:
    prometheus = _alerts(rules_document())
    for key, rule in prometheus.items():
        message = datadog_monitors[key]["message"]
        for step in rule["annotations"]["runbook"].splitlines():
            assert step in message, (key, step)
