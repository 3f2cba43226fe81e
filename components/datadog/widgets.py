"""Datadog dashboard widgets as JSON, the building blocks of every cloud's dashboard.

Pure: each returns a dict for `datadog.DashboardJson`, so dashboards are tested without
pulumi_datadog.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _query(name: str, query: str) -> dict[str, Any]:
    return {"data_source": "metrics", "name": name, "query": query}


# Units Datadog knows by name (scaling and display); anything else is shown as a plain label.
CANONICAL_UNITS = frozenset({"second", "percent", "byte", "request", "connection", "host"})


def formula(formula: str, alias: str, unit: str) -> dict[str, Any]:
    if unit in CANONICAL_UNITS:
        display: dict[str, Any] = {"type": "canonical_unit", "unit_name": unit}
    else:
        display = {"type": "custom_unit_label", "label": unit}
    return {"formula": formula, "alias": alias, "number_format": {"unit": display}}


def marker(value: float, label: str, severity: str = "error") -> dict[str, Any]:
    text = str(int(value)) if float(value).is_integer() else repr(float(value))
    return {"value": f"y = {text}", "display_type": f"{severity} dashed", "label": label}


def timeseries(
    title: str,
    queries: Sequence[tuple[str, str]],
    formulas: Sequence[dict[str, Any]],
    *,
    display: str = "line",
    markers: Sequence[dict[str, Any]] = (),
    yaxis_label: str = "",
) -> dict[str, Any]:
    """A timeseries widget on metric queries (name, query) combined by formulas."""
    definition: dict[str, Any] = {
        "type": "timeseries",
        "title": title,
        "title_align": "left",
        "show_legend": True,
        "legend_layout": "auto",
        "requests": [
            {
                "response_format": "timeseries",
                "display_type": display,
                "queries": [_query(name, query) for name, query in queries],
                "formulas": list(formulas),
            }
        ],
    }
    if markers:
        definition["markers"] = list(markers)
    if yaxis_label:
        definition["yaxis"] = {"label": yaxis_label, "include_zero": True}
    return {"definition": definition}


def slo_widget(title: str, slo_id: str) -> dict[str, Any]:
    return {
        "definition": {
            "type": "slo",
            "title": title,
            "title_align": "left",
            "slo_id": slo_id,
            "view_type": "detail",
            "view_mode": "overall",
            "time_windows": ["7d", "30d"],
            "show_error_budget": True,
        }
    }


def group(title: str, widgets: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "definition": {
            "type": "group",
            "title": title,
            "layout_type": "ordered",
            "show_title": True,
            "widgets": list(widgets),
        }
    }


def dashboard(
    title: str,
    description: str,
    groups: Sequence[dict[str, Any]],
    template_variables: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A whole dashboard document: ordered groups, reflowed, notifying no one on edits."""
    return {
        "title": title,
        "description": description,
        "layout_type": "ordered",
        "reflow_type": "auto",
        "template_variables": list(template_variables),
        "widgets": list(groups),
        "notify_list": [],
    }
