"""The provisioned Grafana dashboard: valid structure, PromQL only on metrics the API, the
probe and the rules expose, a unit, thresholds and a description on every panel, colour-blind-safe
colours. (tests/monitoring/test_prometheus_e2e.py runs every query on a real Prometheus.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.grafana_dashboard import CRITICAL, PALETTE, dashboard_document
from components.prometheus_rules import rules_document, stack_rules_document
from service.metrics import METRICS

GRAFANA = Path(__file__).resolve().parents[2] / "ops" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "awaterra-api.json"
NAME = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]|\s*\()")
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "or", "and",
                "unless", "bool"}
# What Prometheus itself and the blackbox probe add to what the service exports.
SCRAPE_METRICS = {"up", "probe_success", "probe_duration_seconds", "ALERTS"}


def _metric_names(query: str) -> set[str]:
    """The metric names a PromQL query reads (label matchers, groupings, ranges removed)."""
    stripped = re.sub(r"label_values\(([^,]+),\s*\w+\)", r"\1", query)
    stripped = re.sub(r'"[^"]*"', "", stripped)
    stripped = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", stripped)
    stripped = re.sub(r"\b(by|without)\s*\([^)]*\)", "", stripped)
    return {n for n in NAME.findall(stripped) if n not in PROMQL_WORDS and not n[0].isdigit()}


def _recorded() -> set[str]:
    documents = (rules_document(), stack_rules_document(min_tasks=1, db_max_connections=1))
    return {
        rule["record"]
        for document in documents
        for group in document["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return document


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def _expressions(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in _panels(dashboard) for t in p["targets"]]


def test_the_file_is_the_generated_document(dashboard: dict[str, Any]) -> None:
    assert dashboard == dashboard_document()


def test_dashboard_has_the_fields_grafana_needs(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "awaterra-api"
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert {"job", "route"} <= set(variables)


def test_every_panel_has_a_title_unit_datasource_and_queries(dashboard: dict[str, Any]) -> None:
    panels = _panels(dashboard)
    assert len(panels) >= 10
    for panel in panels:
        assert panel["title"].strip()
        assert panel["type"] in {"timeseries", "stat"}
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        assert panel["description"].strip(), panel["title"]
        assert panel["fieldConfig"]["defaults"]["thresholds"]["steps"], panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip()
            assert _metric_names(target["expr"]), target["expr"]


def test_panels_do_not_overlap(dashboard: dict[str, Any]) -> None:
    occupied: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, panel["title"]
        cells = {
            (position["x"] + dx, position["y"] + dy)
            for dx in range(position["w"])
            for dy in range(position["h"])
        }
        assert not cells & occupied, panel["title"]
        occupied |= cells


def test_promql_only_uses_metrics_the_service_and_the_rules_expose(
    dashboard: dict[str, Any],
) -> None:
    exposed = METRICS.metric_names() | _recorded() | SCRAPE_METRICS
    queries = _expressions(dashboard) + [
        v["definition"] for v in dashboard["templating"]["list"] if "definition" in v
    ]
    referenced = {name for query in queries for name in _metric_names(query)}
    assert {"awaterra_http_request_duration_seconds_bucket", "up"} <= referenced
    missing = referenced - exposed
    assert not missing, f"queried but neither exported nor recorded: {missing}"


def test_metric_names_are_read_from_queries() -> None:
    query = (
        'histogram_quantile(0.95, sum by (le, route) (rate(a_bucket{job=~"$job"}[5m]))) '
        "/ awaterra:stack:min_tasks or vector(0)"
    )
    assert _metric_names(query) == {"a_bucket", "awaterra:stack:min_tasks"}


def test_colours_are_the_colour_blind_safe_palette_and_thresholds_are_dashed(
    dashboard: dict[str, Any],
) -> None:
    for panel in _panels(dashboard):
        defaults = panel["fieldConfig"]["defaults"]
        for step in defaults["thresholds"]["steps"]:
            assert step["color"] in PALETTE, (panel["title"], step)
        for override in panel["fieldConfig"]["overrides"]:
            for prop in override["properties"]:
                if prop["id"] == "color":
                    assert prop["value"]["fixedColor"] in PALETTE
        has_lines = len(defaults["thresholds"]["steps"]) > 1
        if panel["type"] == "timeseries":
            style = defaults["custom"]["thresholdsStyle"]["mode"]
            assert style == ("dashed" if has_lines else "off"), panel["title"]
        else:
            assert panel["options"]["textMode"] == "value_and_name", panel["title"]
        if has_lines:
            # The description names each threshold: colour is never the only carrier.
            assert "Dashed lines:" in panel["description"], panel["title"]


def test_the_top_down_story_matches_the_datadog_dashboard(dashboard: dict[str, Any]) -> None:
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == ["Objectives", "API", "Service", "Database"]


def test_dashboard_covers_the_api_signals(dashboard: dict[str, Any]) -> None:
    queries = "\n".join(_expressions(dashboard))
    for quantile in ("0.50", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}, sum by (le)" in queries
    assert "sum by (le, route)" in queries  # p95 per endpoint
    assert 'status=~"4.."' in queries and 'status=~"5.."' in queries
    assert "sum by (route) (rate(awaterra_http_request_duration_seconds_count" in queries
    assert "awaterra_http_requests_in_flight" in queries
    assert "awaterra_db_pool_checked_out" in queries and "awaterra_db_pool_size" in queries
    latency = next(p for p in _panels(dashboard) if p["title"] == "Latency p50 / p95 / p99")
    steps = latency["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert {"color": CRITICAL, "value": 0.2} in steps  # the 200 ms objective, drawn


def test_provisioning_points_grafana_at_the_dashboards_and_prometheus() -> None:
    providers = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "awaterra.yaml").read_text()
    )
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/var/lib/grafana/dashboards")
    sources = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"]
