"""Coalesced map writes on a real PostgreSQL: the multi-row upsert gives every caller what a
write of its own would have given (applied row, stale None, unknown practice refused).

The store runs with one write slot, so concurrent writes must share statements; the
`awaterra_db_write_batch_rows` histogram shows that they did.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from service.mapstore import AsyncpgMapStore, UnknownPractice, asyncpg_dsn
from service.queries import build_queries
from tests.service.conftest import (
    Issuer,
    batch_rows_seen,
    build_app,
    running,
    service_settings,
    unique,
)

pytestmark = pytest.mark.anyio

BASE = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
async def store(service_postgres_url: str, tmp_path: Path) -> AsyncIterator[AsyncpgMapStore]:
    settings = service_settings(
        service_postgres_url, tmp_path / "data", db_pool_size=4, db_write_concurrency=1
    )
    map_store = AsyncpgMapStore(settings, build_queries("postgresql"))
    try:
        yield map_store
    finally:
        await map_store.close()


@pytest.fixture
async def practices(service_postgres_url: str) -> list[str]:
    ids = [f"batch-{uuid.uuid4().hex[:10]}" for _ in range(3)]
    connection = await asyncpg.connect(asyncpg_dsn(service_postgres_url))
    try:
        now = datetime.now(UTC)
        await connection.executemany(
            "INSERT INTO practices (id, title, description, duration_seconds, category, "
            "published, created_at, updated_at) VALUES ($1, 't', 'd', 60, 'calm', true, $2, $2)",
            [(practice_id, now) for practice_id in ids],
        )
    finally:
        await connection.close()
    return ids


def state_write(user: str, practice: str, at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "user_id": user,
        "practice_id": practice,
        "status": "in_progress",
        "progress": 0.25,
        "state": {"at": at.isoformat(), "nested": ["ä", 1, None]},
        "updated_at": at,
        "server_updated_at": datetime.now(UTC),
        **extra,
    }


async def test_concurrent_writes_share_statements_and_each_gets_its_own_row(
    store: AsyncpgMapStore, practices: list[str]
) -> None:
    writes = [
        state_write(unique("u"), practices[n % 3], BASE + timedelta(seconds=n), progress=n / 100)
        for n in range(60)
    ]
    statements_before, rows_before = batch_rows_seen()
    rows = await asyncio.gather(*(store.upsert_state(w) for w in writes))
    statements, written = (a - b for a, b in zip(batch_rows_seen(), (statements_before,
                                                                      rows_before), strict=True))
    assert written == 60
    assert statements < 30, f"60 writes took {statements} statements: nothing was coalesced"
    for write, row in zip(writes, rows, strict=True):
        assert row is not None
        assert (row["user_id"], row["practice_id"]) == (write["user_id"], write["practice_id"])
        assert row["progress"] == write["progress"]
        assert row["state"] == write["state"]
        assert row["updated_at"] == write["updated_at"]
    for write in writes[::7]:
        stored = await store.read_state(write["user_id"], write["practice_id"])
        assert stored is not None and stored["state"] == write["state"]


async def test_stale_writes_in_a_batch_answer_none_and_change_nothing(
    store: AsyncpgMapStore, practices: list[str]
) -> None:
    users = [unique("u") for _ in range(20)]
    newer = BASE + timedelta(days=1)
    for user in users[::2]:
        assert await store.upsert_state(state_write(user, practices[0], newer)) is not None
    rows = await asyncio.gather(
        *(store.upsert_state(state_write(user, practices[0], BASE)) for user in users)
    )
    for n, (user, row) in enumerate(zip(users, rows, strict=True)):
        if n % 2 == 0:
            assert row is None, "an older write must not replace a newer one"
            stored = await store.read_state(user, practices[0])
            assert stored is not None and stored["updated_at"] == newer
        else:
            assert row is not None and row["updated_at"] == BASE


async def test_an_unknown_practice_fails_alone_and_its_batch_is_stored(
    store: AsyncpgMapStore, practices: list[str]
) -> None:
    writes = [state_write(unique("u"), practices[n % 3], BASE) for n in range(15)]
    writes[7] = state_write(unique("u"), "no-such-practice", BASE)
    results = await asyncio.gather(
        *(store.upsert_state(w) for w in writes), return_exceptions=True
    )
    assert isinstance(results[7], UnknownPractice)
    for n, result in enumerate(results):
        if n != 7:
            assert isinstance(result, dict | asyncpg.Record), result
            assert result["user_id"] == writes[n]["user_id"]
    assert await store.read_state(writes[7]["user_id"], "no-such-practice") is None


async def test_racing_writes_to_one_row_leave_the_newest(
    store: AsyncpgMapStore, practices: list[str]
) -> None:
    user = unique("u")
    moments = [BASE + timedelta(milliseconds=n) for n in range(40)]
    random.Random(11).shuffle(moments)
    others = [state_write(unique("u"), practices[1], BASE) for _ in range(20)]
    results = await asyncio.gather(
        *(store.upsert_state(state_write(user, practices[2], at)) for at in moments),
        *(store.upsert_state(w) for w in others),
    )
    stored = await store.read_state(user, practices[2])
    assert stored is not None and stored["updated_at"] == max(moments)
    applied = [row["updated_at"] for row in results[:40] if row is not None]
    assert max(moments) in applied
    assert all(row is not None for row in results[40:])


async def test_the_api_answers_each_coalesced_write_as_if_it_were_alone(
    service_postgres_url: str, tmp_path: Path, issuer: Issuer
) -> None:
    settings = service_settings(
        service_postgres_url, tmp_path / "data", db_pool_size=2, db_write_concurrency=1
    )
    async with running(build_app(settings, issuer)) as client:
        admin = issuer.headers("admin-batch", admin=True)
        practice = unique("p")
        created = await client.put(f"/practices/{practice}", headers=admin, json={
            "title": "t", "description": "d", "durationSeconds": 60, "category": "calm",
            "published": True,
        })
        assert created.status_code in (200, 201), created.text
        users = [unique("u") for _ in range(24)]

        async def post(user: str, practice_id: str) -> httpx.Response:
            return await client.post("/map", headers=issuer.headers(user), json={
                "userId": user,
                "practiceData": {"practiceId": practice_id, "status": "completed",
                                 "progress": 1, "updatedAt": "2026-03-01T10:00:00Z",
                                 "state": {"user": user}},
            })

        responses = await asyncio.gather(
            *(post(user, practice) for user in users), post(unique("u"), "missing-practice")
        )
    *written, missing = responses
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    for user, response in zip(users, written, strict=True):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["applied"] is True
        assert body["data"]["userId"] == user and body["data"]["state"] == {"user": user}
