"""Offline answers for the prometheus path: what AWS and Grafana return for its resources.

Same shape as `ops.offline.COMPUTED` (type token -> (name, inputs, region) -> computed state).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

ACCOUNT_ID = "123456789012"  # ops.offline's account


def _short(name: str) -> str:
    return "ws-" + hashlib.sha256(name.encode()).hexdigest()[:8]


def _workspace(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    workspace = _short(name)
    return {
        "arn": f"arn:aws:aps:{region}:{ACCOUNT_ID}:workspace/{workspace}",
        "prometheusEndpoint": (
            f"https://aps-workspaces.{region}.amazonaws.com/workspaces/{workspace}/"
        ),
    }


COMPUTED_PROMETHEUS: dict[str, Callable[[str, dict[str, Any], str], dict[str, Any]]] = {
    "aws:amp/workspace:Workspace": _workspace,
    "aws:grafana/workspace:Workspace": lambda n, i, r: {
        "endpoint": f"g-{_short(n)[3:]}.grafana-workspace.{r}.amazonaws.com",
    },
    "aws:grafana/workspaceServiceAccount:WorkspaceServiceAccount": lambda n, i, r: {
        "serviceAccountId": f"sa-{_short(n)[3:]}",
    },
    "aws:grafana/workspaceServiceAccountToken:WorkspaceServiceAccountToken": lambda n, i, r: {
        "key": "glsa_offline_token",
    },
    "grafana:oss/folder:Folder": lambda n, i, r: {"uid": f"folder-{_short(n)[3:]}"},
    "grafana:oss/dashboard:Dashboard": lambda n, i, r: {
        "uid": "awaterra-api",
        "url": "/d/awaterra-api/awaterra-api",
    },
}
