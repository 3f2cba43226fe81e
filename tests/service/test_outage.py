"""A PostgreSQL restart mid-run: 503 with Retry-After while down, recovery after, no loss.

Runs on a cluster of its own, so stopping it does not disturb the suite's shared one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.migrate import migrate
from tests.service.conftest import (
    Issuer,
    batch_rows_seen,
    build_app,
    create_practice,
    running,
    service_settings,
)
from tests.support.postgres import PostgresCluster, destroy_cluster, start_cluster

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[PostgresCluster]:
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        destroy_cluster(cluster)


@pytest.mark.parametrize(
    ("writers", "write_concurrency"),
    [(1, 4), (8, 1)],
    # With eight writers and one write slot, most writes are coalesced into shared upserts.
    ids=["one writer", "coalesced writers"],
)
async def test_database_restart(
    own_cluster: PostgresCluster,
    issuer: Issuer,
    tmp_path: Path,
    writers: int,
    write_concurrency: int,
) -> None:
    url = own_cluster.create_database(f"outage_{writers}")
    settings = service_settings(
        url,
        tmp_path / "data",
        db_connect_timeout_seconds=1.0,
        db_write_concurrency=write_concurrency,
    )
    await migrate(settings)
    app = build_app(settings, issuer)
    async with running(app) as client:
        practice = await create_practice(client, issuer)
        # An admin writes each state for a user of its own, so every acknowledged write can
        # be looked up afterwards.
        headers = issuer.headers("ops", admin=True)
        acknowledged: dict[str, tuple[int, datetime]] = {}
        statuses: list[int] = []
        slowest = 0.0
        base = datetime(2026, 1, 1, tzinfo=UTC)
        statements_before, writes_before = batch_rows_seen()

        async def writer(stop: asyncio.Event, number: int) -> None:
            nonlocal slowest
            n = 0
            while not stop.is_set():
                n += 1
                at = base + timedelta(seconds=n)
                user = f"outage-{number}-{n}"
                body = {
                    "userId": user,
                    "practiceData": {
                        "practiceId": practice,
                        "status": "in_progress",
                        "progress": 0.5,
                        "updatedAt": at.isoformat(),
                        "state": {"n": n},
                    },
                }
                started = time.monotonic()
                response = await client.post("/map", json=body, headers=headers)
                slowest = max(slowest, time.monotonic() - started)
                statuses.append(response.status_code)
                if response.status_code == 200:
                    assert response.json()["applied"] is True
                    acknowledged[user] = (n, at)
                else:
                    assert response.status_code == 503, response.text
                    assert response.json()["error"]["code"] == "unavailable"
                    assert int(response.headers["retry-after"]) > 0
                await asyncio.sleep(0.02)

        stop = asyncio.Event()
        tasks = [asyncio.create_task(writer(stop, number)) for number in range(writers)]
        await asyncio.sleep(0.5)
        await asyncio.to_thread(own_cluster.stop, "fast")
        await asyncio.sleep(1.5)
        heartbeat = await client.get("/heartbeat")
        assert heartbeat.status_code == 503
        # Routes on the SQLAlchemy engine (not the map's asyncpg pool) fail the same way.
        config = await client.get("/config")
        assert config.status_code == 503 and config.headers["retry-after"]
        assert config.json()["error"]["code"] == "unavailable"
        assert heartbeat.json()["checks"]["database"]["status"] == "fail"
        await asyncio.to_thread(own_cluster.start)

        deadline = time.monotonic() + 20
        while (await client.get("/heartbeat")).status_code != 200:
            assert time.monotonic() < deadline, "service did not recover"
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*tasks)
        statements, writes = (
            after - before
            for after, before in zip(
                batch_rows_seen(), (statements_before, writes_before), strict=True
            )
        )
        if writers > write_concurrency:
            assert statements < writes, "no write was coalesced: the test lost its point"

        assert (await client.get("/config")).status_code == 200
        assert (await client.get("/practices", headers=headers)).status_code == 200
        assert 503 in statuses, "the outage was never observed"
        assert statuses[-1] == 200, "writes did not recover"
        assert slowest < 6.0, f"a request hung for {slowest:.1f}s"
        assert len(acknowledged) > 10
        for user, (n, at) in acknowledged.items():
            response = await client.get("/map", params={"userId": user}, headers=headers)
            stored = response.json()["data"]["practices"]
            assert len(stored) == 1, f"acknowledged write {user} was lost"
            assert stored[0]["state"] == {"n": n}
            assert stored[0]["updatedAt"] == at.isoformat().replace("+00:00", "Z")
