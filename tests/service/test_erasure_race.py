"""Erasure against concurrent writes, on PostgreSQL: a write lands wholly before the erasure
(and is erased) or wholly after it (as a new user); nothing is ever half-erased, and one
user's erasure never makes another user's writes wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from service.app import ServiceApp
from service.seen import SeenUsers
from service.userlock import NAMESPACE
from tests.service.conftest import Issuer, build_app, running, service_settings, unique
from tests.service.test_account import map_write, stored_counts

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

WAIT = 0.5  # long enough for a write that does not wait to have finished many times over


@pytest.fixture
async def pg_app(service_postgres_url: str, tmp_path: Path, issuer: Issuer) -> ServiceApp:
    return build_app(service_settings(service_postgres_url, tmp_path / "data"), issuer)


@pytest.fixture
async def pg_client(pg_app: ServiceApp) -> AsyncIterator[httpx.AsyncClient]:
    async with running(pg_app) as client:
        yield client


@pytest.fixture
async def side(service_postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own, beside the service's pools."""
    connection = await asyncpg.connect(service_postgres_url)
    try:
        yield connection
    finally:
        await connection.close()


async def insert_practices(connection: asyncpg.Connection, ids: list[str]) -> None:
    await connection.executemany(
        "INSERT INTO practices VALUES ($1, 't', 'd', 60, 'c', true, NULL, now(), now())",
        [(practice,) for practice in ids],
    )


def event_batch(n: int) -> dict[str, Any]:
    event = {"name": "seq", "occurredAt": "2026-03-01T08:30:00Z", "properties": {"n": n}}
    return {"events": [event]}


async def test_writes_arriving_during_an_erasure_wait_and_land_after_it(
    pg_app: ServiceApp, pg_client: httpx.AsyncClient, issuer: Issuer, side: asyncpg.Connection
) -> None:
    user, bystander, practice = unique("erased"), unique("bystander"), unique("p")
    await insert_practices(side, [practice])
    # What erase_user does first, held open: the erasure is "in progress".
    transaction = side.transaction()
    await transaction.start()
    await side.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", NAMESPACE, user)
    await side.execute("DELETE FROM practice_states WHERE user_id = $1", user)
    headers = issuer.headers(user)
    writes = [
        asyncio.create_task(pg_client.post("/map", json=map_write(user, practice),
                                           headers=headers)),
        asyncio.create_task(pg_client.post("/events", json=event_batch(1), headers=headers)),
    ]  # fmt: skip
    started = time.monotonic()
    other = await pg_client.post(
        "/map", json=map_write(bystander, practice), headers=issuer.headers(bystander)
    )
    assert other.status_code == 200
    assert time.monotonic() - started < WAIT, "another user's write waited for the erasure"
    done, _ = await asyncio.wait(writes, timeout=WAIT)
    assert not done, "a write of the user being erased did not wait for the erasure"
    await transaction.commit()
    answers = await asyncio.gather(*writes)
    assert [a.status_code for a in answers] == [200, 202]
    assert answers[0].json()["applied"] is True
    counts = await stored_counts(pg_app, user)
    assert (counts["states"], counts["events"]) == (1, 1)


async def test_a_write_in_flight_when_the_erasure_starts_is_erased(
    pg_app: ServiceApp, pg_client: httpx.AsyncClient, issuer: Issuer, side: asyncpg.Connection
) -> None:
    user = unique("inflight")
    # A write transaction holding the user's lock shared, as POST /events does, not committed.
    transaction = side.transaction()
    await transaction.start()
    await side.execute("SELECT pg_advisory_xact_lock_shared($1, hashtext($2))", NAMESPACE, user)
    await side.execute(
        "INSERT INTO events (user_id, name, occurred_at, received_at, properties) "
        "VALUES ($1, 'late', now(), now(), '{}')",
        user,
    )
    erasure = asyncio.create_task(pg_client.delete("/me", headers=issuer.headers(user)))
    done, _ = await asyncio.wait([erasure], timeout=WAIT)
    assert not done, "the erasure did not wait for the write in flight"
    await transaction.commit()
    assert (await erasure).status_code == 204
    assert (await stored_counts(pg_app, user))["events"] == 0


@pytest.mark.slow
async def test_concurrent_writes_and_an_erasure_leave_a_clean_cut(
    pg_app: ServiceApp, pg_client: httpx.AsyncClient, issuer: Issuer, side: asyncpg.Connection
) -> None:
    """Writers alternate map writes (each to a practice of its own, so every one stays
    visible) and event batches, numbered in order, while the user is erased. Whatever
    survives must be a suffix of each writer's sequence: everything before some point erased,
    everything after it kept. An erasure that deleted the map, let a write in, then deleted
    the events would keep a map write and erase a later event."""
    user, writers, steps = unique("racer"), 4, 40
    practices = {w: [f"{user}-w{w}-{k}" for k in range(steps)] for w in range(writers)}
    await insert_practices(side, [p for ids in practices.values() for p in ids])
    # Many stored events make the erasure's event delete slow: a wide window to slip into.
    await side.execute(
        "INSERT INTO events (user_id, name, occurred_at, received_at, properties) "
        "SELECT $1, 'old', now(), now(), '{}' FROM generate_series(1, 20000)",
        user,
    )
    headers = issuer.headers(user)

    async def writer(w: int) -> None:
        for k in range(steps):
            n = w * 1000 + k
            answer = await pg_client.post(
                "/map", json=map_write(user, practices[w][k], step=n), headers=headers
            )
            assert answer.status_code == 200
            answer = await pg_client.post("/events", json=event_batch(n), headers=headers)
            assert answer.status_code == 202

    async def erase() -> None:
        await asyncio.sleep(0.05)
        admin = issuer.headers("adm", admin=True)
        assert (await pg_client.delete(f"/users/{user}", headers=admin)).status_code == 204

    await asyncio.gather(*(writer(w) for w in range(writers)), erase())
    states = await side.fetch(
        "SELECT (state->>'step')::int AS n FROM practice_states WHERE user_id = $1", user
    )
    kept_events = await side.fetch(
        "SELECT (properties->>'n')::int AS n FROM events WHERE user_id = $1 AND name = 'seq'", user
    )
    assert await side.fetchval(
        "SELECT count(*) FROM events WHERE user_id = $1 AND name = 'old'", user
    ) == 0
    kept_maps = {row["n"] for row in states}
    kept = {row["n"] for row in kept_events}
    cut_somewhere = False
    for w in range(writers):
        # The writer's operations in order: map k, then events k, for each k.
        sequence = [(kind, w * 1000 + k) for k in range(steps) for kind in ("map", "events")]
        survived = [n in (kept_maps if kind == "map" else kept) for kind, n in sequence]
        first = survived.index(True) if True in survived else len(survived)
        assert all(survived[first:]) and not any(survived[:first]), (w, survived)
        cut_somewhere |= 0 < first < len(survived)
    assert cut_somewhere or not kept_maps, "the erasure ran before or after every write"


async def test_a_seen_note_flushed_during_an_erasure_waits_and_is_refused(
    pg_app: ServiceApp, pg_client: httpx.AsyncClient, side: asyncpg.Connection
) -> None:
    """A worker's pending note that the user was seen, flushed while the user is being erased:
    the flush waits for the erasure and then writes nothing, so the user row stays gone."""
    user = unique("noted")
    seen = SeenUsers(pg_app.services.engine)
    seen.saw(user)
    transaction = side.transaction()
    await transaction.start()
    # What erase_user_data does, held open before its commit.
    await side.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", NAMESPACE, user)
    await side.execute("DELETE FROM users WHERE subject = $1", user)
    await side.execute("INSERT INTO erased_users VALUES ($1, clock_timestamp())", user)
    flush = asyncio.create_task(seen.flush())
    done, _ = await asyncio.wait([flush], timeout=WAIT)
    assert not done, "the flush did not wait for the erasure in progress"
    await transaction.commit()
    await flush
    assert (await stored_counts(pg_app, user))["users"] == 0
