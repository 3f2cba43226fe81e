"""Every cloud words every shared monitor, in its own terms, and nothing is left unworded."""

from __future__ import annotations

import re

import pytest

from components.aws.monitoring_wording import AWS_WORDING
from components.aws.monitoring_wording import monitor_specs as aws_specs
from components.datadog.specs import Wording, monitor_specs
from components.gcp.monitoring import GCP_WORDING, gcp_monitor_specs
from components.monitoring_thresholds import MonitoringThresholds

LIMITS = MonitoringThresholds()
AWS_TERMS = re.compile(r"\b(ECS|RDS|Fargate|Performance Insights|task definition|S3)\b")
GCP_TERMS = re.compile(r"\b(Cloud Run|Cloud SQL|Query Insights|revision)\b")


def test_both_clouds_run_the_same_monitors_with_the_same_thresholds_and_windows() -> None:
    aws = {spec.key: spec for spec in aws_specs(LIMITS, 400)}
    gcp = {spec.key: spec for spec in gcp_monitor_specs(LIMITS, 400)}
    assert aws.keys() == gcp.keys()
    for key, spec in aws.items():
        other = gcp[key]
        assert (spec.critical, spec.warning, spec.priority, spec.notify_no_data) == (
            other.critical,
            other.warning,
            other.priority,
            other.notify_no_data,
        ), key


@pytest.mark.parametrize(
    ("specs", "own", "foreign"),
    [
        (aws_specs(LIMITS, 400), AWS_TERMS, GCP_TERMS),
        (gcp_monitor_specs(LIMITS, 400), GCP_TERMS, AWS_TERMS),
    ],
    ids=["aws", "gcp"],
)
def test_each_cloud_s_runbooks_speak_of_its_own_services_only(
    specs: list, own: re.Pattern[str], foreign: re.Pattern[str]
) -> None:
    text = "\n".join("\n".join([spec.title, spec.meaning, *spec.runbook]) for spec in specs)
    assert own.search(text)
    assert not foreign.search(text), foreign.findall(text)
    assert all(len(spec.runbook) >= 2 for spec in specs)


def test_a_monitor_without_wording_is_refused_by_name() -> None:
    partial: dict[str, Wording] = dict(AWS_WORDING)
    partial.pop("db-cpu")
    with pytest.raises(ValueError, match="db-cpu"):
        monitor_specs(LIMITS, 400, partial)


def test_a_monitor_worded_without_runbook_steps_is_refused() -> None:
    wording: dict[str, Wording] = {**GCP_WORDING, "error-rate": {"runbook": ()}}
    with pytest.raises(ValueError, match="'error-rate' has no runbook"):
        monitor_specs(LIMITS, 400, wording)
