"""The real server process (`python -m service serve`) over real HTTP."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.service.conftest import Issuer, unique

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_serves_the_contract_over_http(live_server: tuple[str, Path], issuer: Issuer) -> None:
    base_url, workdir = live_server
    admin = issuer.headers("ops", admin=True)
    user = unique("u")
    with httpx.Client(base_url=base_url, timeout=10) as client:
        heartbeat = client.get("/heartbeat")
        assert heartbeat.status_code == 200 and heartbeat.json()["status"] == "ok"
        assert "server" not in heartbeat.headers

        practice = unique("p")
        body = {
            "title": "Walk",
            "description": "",
            "durationSeconds": 60,
            "category": "move",
            "published": True,
        }
        assert client.put(f"/practices/{practice}", json=body, headers=admin).status_code == 201
        write = {
            "userId": user,
            "practiceData": {
                "practiceId": practice,
                "status": "completed",
                "progress": 1,
                "updatedAt": "2026-02-01T00:00:00Z",
            },
        }
        response = client.post(
            "/map", json=write, headers={**issuer.headers(user), "X-Request-ID": "e2e-request-1"}
        )
        assert response.status_code == 200 and response.json()["applied"] is True
        assert response.headers["x-request-id"] == "e2e-request-1"
        assert client.get("/map", headers=issuer.headers(user)).json()["data"]["practices"]

        assert client.get("/map").status_code == 401
        assert client.delete("/map").status_code == 405
        assert client.post("/map", content=b"{", headers=issuer.headers(user)).status_code == 400
        too_big = client.post(
            "/events", content=b" " * (1024 * 1024 + 1), headers=issuer.headers(user)
        )
        assert too_big.status_code == 413

        document = client.get("/openapi.json").json()
        assert document["openapi"] == "3.1.0"
        docs = client.get("/docs")
        assert docs.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in docs.text
        assert "//cdn" not in docs.text and "unpkg" not in docs.text
        assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
        assert "awaterra_http_request_duration_seconds" in client.get("/metrics").text

    # One JSON log line per request, with the request id and the subject (the access log is
    # flushed every 50 ms).
    deadline = time.monotonic() + 5
    while True:
        lines = [
            orjson.loads(line)
            for line in (workdir / "serve.log").read_text().splitlines()
            if line.startswith("{")
        ]
        mine = [line for line in lines if line.get("request_id") == "e2e-request-1"]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(mine) == 1
    assert mine[0]["route"] == "/map" and mine[0]["subject"] == user and mine[0]["status"] == 200
