"""The provisioned Grafana dashboard: valid structure, PromQL only on metrics the API exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.metrics import METRICS

GRAFANA = Path(__file__).resolve().parents[2] / "ops" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "awaterra-api.json"
# A metric selector: a name directly followed by its label matcher.
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{")
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return document


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def _expressions(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in _panels(dashboard) for t in p["targets"]]


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
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip()
            assert SELECTOR.search(target["expr"]), target["expr"]


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


def test_promql_only_uses_metrics_the_service_exports(dashboard: dict[str, Any]) -> None:
    exported = METRICS.metric_names()
    queries = _expressions(dashboard) + [
        v["definition"] for v in dashboard["templating"]["list"] if "definition" in v
    ]
    referenced = {
        name for query in queries for name in SELECTOR.findall(query)
        if name not in PROMQL_KEYWORDS
    }
    assert referenced, "no metric selectors found"
    missing = referenced - exported
    assert not missing, f"queried but not exported by service/metrics.py: {missing}"


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
    assert {"color": "red", "value": 0.2} in steps  # the 200 ms objective, drawn


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
