"""The OpenAPI document is generated from the code, and the server keeps its promises.

Schemathesis generates requests from the document (valid and invalid ones) and runs its
default checks against the real server process: no 5xx, declared status codes, content
types, headers and response schemas, invalid data refused, valid data accepted, auth enforced.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from service.app import ENDPOINTS, openapi_document
from service.errors import size_in_words
from tests.service.conftest import Issuer

DOCUMENT = openapi_document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_document_covers_every_endpoint() -> None:
    assert DOCUMENT["openapi"] == "3.1.0"
    documented = {
        (method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item
    }
    self_description = {("GET", "/openapi.json"), ("GET", "/docs")}
    assert documented == {(e.method, e.path) for e in ENDPOINTS} | self_description
    contract = self_description | {
        ("GET", "/heartbeat"),
        ("POST", "/map"),
        ("GET", "/map"),
        ("GET", "/practices"),
        ("GET", "/practices/{id}"),
        ("PUT", "/practices/{id}"),
        ("POST", "/practices/{id}/media"),
        ("POST", "/events"),
        ("GET", "/config"),
        ("PUT", "/config/{key}"),
    }
    assert documented == contract


def test_every_api_operation_documents_405_with_allow() -> None:
    for endpoint in ENDPOINTS:
        operation = DOCUMENT["paths"][endpoint.path][endpoint.method.lower()]
        assert "405" in operation["responses"], (endpoint.method, endpoint.path)
        assert "method_not_allowed" in operation["responses"]["405"]["description"]
        assert operation["responses"]["405"]["headers"]["Allow"]["required"] is True


def test_every_error_code_is_documented() -> None:
    codes = DOCUMENT["components"]["schemas"]["ErrorInfo"]["properties"]["code"]["enum"]
    assert set(codes) == {
        "malformed_json",
        "validation_error",
        "unauthorized",
        "forbidden",
        "not_found",
        "method_not_allowed",
        "payload_too_large",
        "rate_limited",
        "unavailable",
        "internal",
    }


@pytest.mark.slow
@pytest.mark.postgres
@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_keeps_its_promises(
    case: schemathesis.Case, live_server: tuple[str, Path], issuer: Issuer
) -> None:
    base_url, _ = live_server
    case.call_and_validate(base_url=base_url, headers=issuer.headers("fuzz-admin", admin=True))


@pytest.mark.slow
@pytest.mark.postgres
def test_docs_page_needs_no_cdn(live_server: tuple[str, Path]) -> None:
    base_url, _ = live_server
    page = httpx.get(f"{base_url}/docs").text
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js"):
        assert f"/docs/assets/{asset}" in page
        assert httpx.get(f"{base_url}/docs/assets/{asset}").status_code == 200
    assert "https://" not in page
    assert "validatorUrl: null" in page  # the bundle's default validator is an external service


@pytest.mark.parametrize(
    ("size", "words"),
    [(1 << 20, "1 MiB"), (2 << 20, "2 MiB"), (64 << 10, "64 KiB"), (1 << 30, "1 GiB"), (1000, "1000 bytes")],
)
def test_limits_read_in_words(size: int, words: str) -> None:
    assert size_in_words(size) == words
