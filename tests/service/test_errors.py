"""The error model: codes, headers, request ids, the body limit, rate limits, no leaks."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import orjson
import pytest

from service.app import ServiceApp
from service.settings import Settings
from tests.service.conftest import Issuer, build_app, create_practice, running, unique

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

MIB = 1024 * 1024


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"]
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]


async def test_unknown_route_is_404(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/no/such/route"), 404, "not_found")


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/map")
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "POST"}
    # The same order from every process (Starlette holds the methods in a set).
    assert response.headers["allow"] == "GET, HEAD, POST"
    response = await client.post("/practices/p-1")
    assert_error(response, 405, "method_not_allowed")
    assert "PUT" in response.headers["allow"]


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    response = await client.get("/config", headers={"X-Request-ID": "client-id-123"})
    assert response.headers["x-request-id"] == "client-id-123"
    made = (await client.get("/config")).headers["x-request-id"]
    assert len(made) == 32
    # An id that is unsafe in a header or a log line is replaced, not echoed.
    response = await client.get("/config", headers={"X-Request-ID": "x" * 500})
    assert response.headers["x-request-id"] != "x" * 500


async def test_declared_oversized_body_is_413_unread(
    client: httpx.AsyncClient, issuer: Issuer
) -> None:
    consumed = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal consumed
        for _ in range(8):
            consumed += 1
            yield b"x" * (256 * 1024)

    response = await client.post(
        "/map",
        content=body(),
        headers={
            **issuer.headers("u-1"),
            "Content-Length": str(2 * MIB),
            "Content-Type": "application/json",
        },
    )
    error = assert_error(response, 413, "payload_too_large")
    assert error["message"] == "request body is larger than 1 MiB"
    assert consumed <= 1


async def test_streamed_oversized_body_is_413_while_reading(
    client: httpx.AsyncClient, issuer: Issuer
) -> None:
    consumed = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal consumed
        for _ in range(64):
            consumed += 1
            yield b"x" * (256 * 1024)

    response = await client.post(
        "/map",
        content=body(),
        headers={**issuer.headers("u-1"), "Content-Type": "application/json"},
    )
    error = assert_error(response, 413, "payload_too_large")
    assert error["message"] == "request body is larger than 1 MiB"
    assert consumed <= 6  # stopped just past 1 MiB, not after 16 MiB


async def test_body_just_under_the_limit_is_read(client: httpx.AsyncClient, issuer: Issuer) -> None:
    padding = " " * (MIB - 200)
    raw = b'{"events": [{"name": "x", "occurredAt": "2026-01-01T00:00:00Z"}]}' + padding.encode()
    response = await client.post(
        "/events",
        content=raw,
        headers={**issuer.headers("u-1"), "Content-Type": "application/json"},
    )
    assert response.status_code == 202


async def test_rate_limit_is_429_with_retry_after(settings: Settings, issuer: Issuer) -> None:
    app = build_app(replace(settings, rate_limit_per_second=1.0, rate_limit_burst=3), issuer)
    async with running(app) as client:
        headers = issuer.headers(unique("u"))
        statuses = [(await client.get("/map", headers=headers)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        response = await client.get("/map", headers=headers)
        assert_error(response, 429, "rate_limited")
        assert int(response.headers["retry-after"]) >= 1
        # Another user has a bucket of their own.
        assert (await client.get("/map", headers=issuer.headers(unique("u")))).status_code == 200
        # The heartbeat is never limited (load balancers poll it).
        for _ in range(5):
            assert (await client.get("/heartbeat")).status_code == 200


def capture_access_log(app: ServiceApp) -> list[dict[str, object]]:
    lines: list[dict[str, object]] = []
    app.access_log.sink = lambda data: lines.extend(
        orjson.loads(line) for line in data.splitlines()
    )
    return lines


async def test_unexpected_error_is_a_bare_500(
    app: ServiceApp,
    client: httpx.AsyncClient,
    issuer: Issuer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    access = capture_access_log(app)
    secret = "SELECT password FROM secrets -- hunter2"

    async def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError(secret)

    monkeypatch.setattr("service.routes.config.datetime", None)  # breaks put_config
    monkeypatch.setattr("service.routes.map.stored_state", explode)
    caplog.set_level(logging.INFO)
    response = await client.put(
        "/config/flag", json=True, headers=issuer.headers("ops", admin=True)
    )
    error = assert_error(response, 500, "internal")
    assert "datetime" not in response.text and "Traceback" not in response.text
    assert error["message"] == "internal error"
    records = [r for r in caplog.records if r.name == "service.errors"]
    assert records and all("Traceback" not in r.getMessage() for r in records)
    app.access_log.flush()
    assert access[-1]["status"] == 500
    assert secret not in caplog.text


async def test_one_json_access_line_per_request(
    app: ServiceApp, client: httpx.AsyncClient, issuer: Issuer
) -> None:
    practice = await create_practice(client, issuer)
    app.access_log.flush()
    lines = capture_access_log(app)
    user = unique("u")
    response = await client.get(f"/practices/{practice}", headers=issuer.headers(user))
    assert response.status_code == 200
    app.access_log.flush()
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["route"] == "/practices/{id}"
    assert line["status"] == 200
    assert line["subject"] == user
    assert line["method"] == "GET"
    assert line["level"] == "info" and line["logger"] == "service.access"
    assert isinstance(line["duration_ms"], float)
    assert "authorization" not in orjson.dumps(line).decode().lower()


async def test_hot_path_errors_match_the_rest(
    app: ServiceApp, client: httpx.AsyncClient, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """POST /map skips Starlette's layers (service.fastlane): same answers, same log line."""
    from service.metrics import METRICS

    practice = await create_practice(client, issuer)

    async def explode(params: object) -> None:
        raise RuntimeError("INSERT INTO practice_states -- secret")

    monkeypatch.setattr(app.services.map_store, "upsert_state", explode)
    app.access_log.flush()
    access = capture_access_log(app)
    user = unique("u")
    body = {
        "userId": user,
        "practiceData": {
            "practiceId": practice,
            "status": "completed",
            "progress": 1,
            "updatedAt": "2026-01-01T00:00:00Z",
        },
    }
    response = await client.post("/map", json=body, headers=issuer.headers(user))
    error = assert_error(response, 500, "internal")
    assert "secret" not in response.text and error["message"] == "internal error"
    assert_error(await client.post("/map", json=body), 401, "unauthorized")
    assert_error(
        await client.post("/map", content=b"{", headers=issuer.headers(user)), 400, "malformed_json"
    )
    app.access_log.flush()
    assert [line["route"] for line in access] == ["/map"] * 3
    assert [line["status"] for line in access] == [500, 401, 400]
    samples = METRICS.request_duration.collect()[0].samples
    assert any(s.labels.get("route") == "/map" and s.labels.get("status") == "500" for s in samples)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/heartbeat?probe=a%00b", "probe"),
        ("/config?v=%00", "v"),
        ("/practices?cursor=x%00", "cursor"),
        ("/map?userId=a%00b", "userId"),
        ("/map?a%00b=1", "a\\u0000b"),
    ],
)
async def test_nul_in_any_query_parameter_is_422_naming_it(
    client: httpx.AsyncClient, issuer: Issuer, path: str, field: str
) -> None:
    response = await client.get(path, headers=issuer.headers(unique("nul"), admin=True))
    error = assert_error(response, 422, "validation_error")
    assert error["details"] == [{"field": field, "message": "contains a NUL character"}]


@pytest.mark.parametrize("path", ["/map/", "/practices/", "/config/", "/heartbeat/", "/docs/"])
async def test_trailing_slash_is_a_json_404_not_a_redirect(
    client: httpx.AsyncClient, issuer: Issuer, path: str
) -> None:
    response = await client.get(path, headers=issuer.headers(unique("slash")))
    assert_error(response, 404, "not_found")
    assert "location" not in response.headers


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 5000 + b"]" * 5000, "JSON recursion limit exceeded"),
        (b'{"n": ' + b"9" * 5000 + b"}", "JSON number out of range"),
    ],
)
async def test_well_formed_json_past_the_parser_limits_is_422_not_400(
    client: httpx.AsyncClient, issuer: Issuer, body: bytes, message: str
) -> None:
    response = await client.put(
        "/config/limits",
        content=body,
        headers={**issuer.headers(unique("admin"), admin=True), "content-type": "application/json"},
    )
    error = assert_error(response, 422, "validation_error")
    assert error["details"] == [{"field": "body", "message": message}]


async def test_failed_authentication_is_rate_limited_per_address(
    settings: Settings, issuer: Issuer
) -> None:
    app = build_app(replace(settings, rate_limit_per_second=1.0, rate_limit_burst=3), issuer)
    async with running(app) as client:
        forged = {"Authorization": "Bearer forged"}
        statuses = [(await client.get("/map", headers=forged)).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        response = await client.post("/map", json={}, headers=forged)
        assert_error(response, 429, "rate_limited")
        assert int(response.headers["retry-after"]) >= 1
        # A signed-in user spends their own bucket, not the address's.
        assert (await client.get("/map", headers=issuer.headers(unique("u")))).status_code == 200
