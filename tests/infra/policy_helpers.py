"""Read the IAM/S3/KMS policy documents recorded by the offline harness."""

from __future__ import annotations

import json
from typing import Any

from ops.offline import RecordedResource


def document(resource: RecordedResource, key: str = "policy") -> dict[str, Any]:
    value = resource.inputs[key]
    parsed: dict[str, Any] = json.loads(value) if isinstance(value, str) else value
    return parsed


def statements(resource: RecordedResource, key: str = "policy") -> list[dict[str, Any]]:
    found = document(resource, key)["Statement"]
    return found if isinstance(found, list) else [found]


def by_sid(resource: RecordedResource, sid: str, key: str = "policy") -> dict[str, Any]:
    matches = [s for s in statements(resource, key) if s.get("Sid") == sid]
    assert len(matches) == 1, f"{resource.name}: expected one statement {sid}"
    return matches[0]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
