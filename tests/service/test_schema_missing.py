"""A database that was never migrated: the heartbeat fails naming the cause, requests get
503 (not 500), and the log tells the operator what to run."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from tests.service.conftest import Issuer, build_app, running, service_settings, unique
from tests.support.postgres import PostgresCluster

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_database_url(
    request: pytest.FixtureRequest, postgres_cluster: PostgresCluster | None, tmp_path: Path
) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'never-migrated.db'}"
    if postgres_cluster is None:
        pytest.skip("needs the suite's own cluster to create an empty database")
    return postgres_cluster.create_database(f"empty_{uuid.uuid4().hex[:10]}")


async def test_an_unmigrated_database_is_reported_not_hidden(
    empty_database_url: str, tmp_path: Path, issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = service_settings(empty_database_url, tmp_path / "data")
    caplog.set_level(logging.WARNING)
    async with running(build_app(settings, issuer)) as client:
        heartbeat = await client.get("/heartbeat")
        user = unique("u")
        write = await client.post("/map", headers=issuer.headers(user), json={
            "userId": user,
            "practiceData": {"practiceId": "p", "status": "in_progress", "progress": 0.5,
                             "updatedAt": "2026-03-01T10:00:00Z"},
        })
        listing = await client.get("/practices", headers=issuer.headers(user))
    assert heartbeat.status_code == 503
    database = heartbeat.json()["checks"]["database"]
    assert database == {"status": "fail", "latencyMs": None, "error": "SchemaNotMigrated"}
    for response in (write, listing):
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "unavailable"
        assert "Retry-After" in response.headers
    hints = [r for r in caplog.records if "python -m service migrate" in r.getMessage()]
    assert hints and all(r.levelno == logging.ERROR for r in hints)
