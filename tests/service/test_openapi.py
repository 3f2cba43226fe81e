"""The OpenAPI document is generated from the code, and the server keeps its promises.

Schemathesis generates requests from the document (valid and invalid ones) and runs its
default checks against the real server process: no 5xx, declared status codes, content
types, headers and response schemas, invalid data refused, valid data accepted, auth enforced.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator

from service.app import ENDPOINTS, openapi_document
from service.errors import size_in_words
from service.routes.docs import ASSETS_DIR
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
        ("GET", "/me/export"),
        ("DELETE", "/me"),
        ("DELETE", "/users/{id}"),
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
    response = httpx.get(f"{base_url}/docs")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    for asset, content_type in ASSET_TYPES.items():
        assert f"/docs/assets/{asset}" in page
        served = httpx.get(f"{base_url}/docs/assets/{asset}")
        assert served.status_code == 200
        assert served.headers["content-type"] == content_type
        assert served.content == (ASSETS_DIR / asset).read_bytes()
    assert "https://" not in page and "http://" not in page
    assert "validatorUrl: null" in page  # the bundle's default validator is an external service
    # Swagger UI 5 reads the 3.1 document as it is: the page fetches it unchanged.
    assert 'url: "/openapi.json"' in page
    assert "openapi =" not in page and "3.0" not in page


ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}


def test_vendored_swagger_ui_matches_its_manifest() -> None:
    manifest = json.loads((ASSETS_DIR / "manifest.json").read_text())
    assert manifest["package"] == "swagger-ui-dist"
    major = int(manifest["version"].split(".")[0])
    assert major >= 5, "Swagger UI 5 or later reads OpenAPI 3.1"
    assert set(manifest["files"]) == {"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((ASSETS_DIR / name).read_bytes()).hexdigest() == digest, name
    assert f"swagger-ui-dist@{manifest['version']}" in manifest["source"]
    # The bundle is the one the manifest names (its own build banner carries no version,
    # but the npm tarball's files are these bytes; make vendor-docs-ui rewrites both).
    assert {p.name for p in ASSETS_DIR.iterdir()} == {*manifest["files"], "manifest.json"}


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
    ]


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for one schema of the document, its $refs resolved in the document."""
    rooted = {**schema, "components": DOCUMENT["components"]}
    return Draft202012Validator(rooted, format_checker=Draft202012Validator.FORMAT_CHECKER)


def media_examples(media: dict[str, Any]) -> list[Any]:
    return [example["value"] for example in media.get("examples", {}).values()]


@pytest.mark.parametrize(("method", "path", "operation"), operations())
def test_every_operation_has_valid_examples(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    body = operation.get("requestBody")
    if body is not None:
        media = body["content"]["application/json"]
        examples = media_examples(media)
        assert examples, f"{method} {path}: no request example"
        for example in examples:
            validator(media["schema"]).validate(example)
    for parameter in operation.get("parameters", ()):
        assert "example" in parameter, f"{method} {path}: no example for {parameter['name']}"
        validator(parameter["schema"]).validate(parameter["example"])
    for status, response in operation["responses"].items():
        if "content" not in response:
            assert status == "204", f"{method} {path}: {status} has no body"
            continue
        for media in response["content"].values():
            examples = media_examples(media)
            assert examples, f"{method} {path}: no example for {status}"
            for example in examples:
                validator(media["schema"]).validate(example)
                if media["schema"] == {"$ref": "#/components/schemas/ErrorResult"}:
                    assert example["error"]["code"] in response["description"]


def test_a_wrong_example_would_be_caught() -> None:
    operation = DOCUMENT["paths"]["/map"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    (example,) = media_examples(operation["requestBody"]["content"]["application/json"])
    broken = {**example, "practiceData": {**example["practiceData"], "progress": 1.5}}
    assert not validator(schema).is_valid(broken)
    assert not validator(schema).is_valid(
        {**example, "practiceData": {**example["practiceData"], "updatedAt": "yesterday"}}
    )


def test_error_examples_are_what_the_server_says() -> None:
    responses = DOCUMENT["paths"]["/map"]["post"]["responses"]
    body = responses["413"]["content"]["application/json"]["examples"]
    assert body["payload_too_large"]["value"]["error"]["message"] == (
        "request body is larger than 1 MiB"
    )
    forbidden = responses["403"]["content"]["application/json"]["examples"]["forbidden"]
    assert forbidden["value"]["error"]["message"] == "you may only write your own map"


def test_the_upload_answer_says_to_send_the_signed_content_type() -> None:
    operation = DOCUMENT["paths"]["/practices/{id}/media"]["post"]
    assert "SignatureDoesNotMatch" in operation["description"]
    assert "curl -X PUT -H 'Content-Type: audio/mpeg'" in operation["description"]
    headers = DOCUMENT["components"]["schemas"]["MediaUpload"]["properties"]["uploadHeaders"]
    assert "SignatureDoesNotMatch" in headers["description"]
    (example,) = media_examples(operation["responses"]["200"]["content"]["application/json"])
    assert example["data"]["uploadHeaders"] == {"Content-Type": "audio/mpeg"}


@pytest.mark.parametrize(
    ("size", "words"),
    [
        (1 << 20, "1 MiB"),
        (2 << 20, "2 MiB"),
        (64 << 10, "64 KiB"),
        (1 << 30, "1 GiB"),
        (1000, "1000 bytes"),
    ],
)
def test_limits_read_in_words(size: int, words: str) -> None:
    assert size_in_words(size) == words


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [op for op in operations() if "requestBody" in op[2] or "parameters" in op[2]],
)
def test_schemathesis_replays_the_request_examples(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    """The examples phase of test_api_keeps_its_promises sends exactly these requests."""
    strategies = schema[path][method].get_strategies_from_examples()
    assert strategies, f"{method} {path}: schemathesis finds no example"
    cases: list[schemathesis.Case] = []

    @given(strategies[0])
    @settings(max_examples=1, database=None, suppress_health_check=list(HealthCheck))
    def collect(case: schemathesis.Case) -> None:
        cases.append(case)

    collect()
    (case, *_) = cases
    if "requestBody" in operation:
        (example,) = media_examples(operation["requestBody"]["content"]["application/json"])
        assert case.body == example
    for parameter in operation.get("parameters", ()):
        where = case.path_parameters if parameter["in"] == "path" else case.query
        assert where[parameter["name"]] == parameter["example"]
