"""`/heartbeat`: real checks, and an answer within 2 s even when a dependency hangs."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from service import __version__
from service.app import create_app
from service.auth import JwksVerifier
from service.settings import Settings
from service.storage import StorageUnavailable, build_storage
from tests.service.conftest import AUDIENCE, ISSUER, Issuer, running

pytestmark = pytest.mark.anyio


async def test_healthy(client: httpx.AsyncClient) -> None:
    response = await client.get("/heartbeat")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["version"] == __version__
    assert body["uptimeSeconds"] >= 0
    for name in ("database", "storage"):
        assert body["checks"][name]["status"] == "ok"
        assert body["checks"][name]["latencyMs"] >= 0
    assert response.headers["x-request-id"]


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (a hung database)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(timeout=2)
    for connection in accepted:
        connection.close()
    server.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_hung_database_answers_503_within_2s(
    settings: Settings, issuer: Issuer, black_hole: int
) -> None:
    hung = replace(
        settings,
        database_url=f"postgresql://nobody@127.0.0.1:{black_hole}/db",
        db_connect_timeout_seconds=3.0,
    )
    app = create_app(hung, verifier=JwksVerifier(issuer.server.url, ISSUER, AUDIENCE))
    async with running(app) as client:
        started = time.monotonic()
        response = await client.get("/heartbeat")
        assert time.monotonic() - started < 2.0
        assert response.status_code == 503
        assert response.headers["retry-after"]
        body = response.json()
        assert body["status"] == "fail"
        assert body["checks"]["database"]["status"] == "fail"
        assert body["checks"]["storage"]["status"] == "ok"

        # A request needing the database gives up (503, Retry-After) instead of hanging.
        started = time.monotonic()
        response = await client.get("/config")
        assert time.monotonic() - started < 6.0
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "unavailable"
        assert response.headers["retry-after"]


class HangingStorage:
    """A store whose every call hangs (an unreachable S3 endpoint)."""

    def __init__(self, data_dir: Path) -> None:
        self.routes = build_storage(None, data_dir).routes

    async def presign_download(self, key: str, expires_seconds: int = 300) -> str:
        raise StorageUnavailable("down")

    async def presign_upload(self, key: str, content_type: str, expires_seconds: int = 900) -> str:
        raise StorageUnavailable("down")

    async def check(self) -> None:
        await asyncio.sleep(3600)

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_hung_storage_answers_503_within_2s(settings: Settings, issuer: Issuer) -> None:
    app = create_app(
        settings,
        verifier=JwksVerifier(issuer.server.url, ISSUER, AUDIENCE),
        storage=HangingStorage(settings.data_dir),
    )
    async with running(app) as client:
        started = time.monotonic()
        responses = await asyncio.gather(*(client.get("/heartbeat") for _ in range(5)))
        assert time.monotonic() - started < 2.0
        for response in responses:
            assert response.status_code == 503
            checks = response.json()["checks"]
            assert checks["storage"] == {"status": "fail", "latencyMs": None, "error": "timed out"}
            assert checks["database"]["status"] == "ok"
        media = await client.post("/practices/x/media", headers=issuer.headers("ops", admin=True))
        assert media.status_code in (404, 503)
