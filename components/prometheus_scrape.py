"""Scrape jobs for the service's /metrics and the heartbeat probe, named as the rules expect.

The rules (components.prometheus_rules) select `job="awaterra-api"` and
`job="awaterra-heartbeat"`; every Prometheus that evaluates them (the collector in the ECS
task, the end-to-end test's Prometheus, a self-hosted one) scrapes with these jobs.
"""

from __future__ import annotations

from typing import Any

from components.prometheus_rules import API_JOB, HEARTBEAT_JOB, HEARTBEAT_MODULE


def api_job(target: str, interval: str = "15s", timeout: str = "10s") -> dict[str, Any]:
    """Scrape the service's /metrics at `target` (host:port, loopback in the task)."""
    return {
        "job_name": API_JOB,
        "scrape_interval": interval,
        "scrape_timeout": timeout,
        "metrics_path": "/metrics",
        "static_configs": [{"targets": [target]}],
    }


def heartbeat_job(
    heartbeat_url: str, blackbox_address: str, interval: str = "60s", timeout: str = "10s"
) -> dict[str, Any]:
    """Probe `heartbeat_url` through the blackbox exporter at `blackbox_address`."""
    return {
        "job_name": HEARTBEAT_JOB,
        "scrape_interval": interval,
        "scrape_timeout": timeout,
        "metrics_path": "/probe",
        "params": {"module": [HEARTBEAT_MODULE]},
        "static_configs": [{"targets": [heartbeat_url]}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": blackbox_address},
        ],
    }
