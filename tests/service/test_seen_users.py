"""Users' first/last seen times are recorded off the request path, in batches."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from service.app import ServiceApp
from service.erasure import erase_user
from service.models import erased_users, users
from service.seen import CLOCK_SKEW_ALLOWED, ERASED_KEPT_FOR, SeenUsers, prune_erased
from tests.service.conftest import Issuer, unique

pytestmark = pytest.mark.anyio


async def test_seen_users_are_recorded_in_batches(
    app: ServiceApp, client: httpx.AsyncClient, issuer: Issuer
) -> None:
    subjects = [unique("seen") for _ in range(3)]
    for subject in subjects:
        for _ in range(3):
            assert (await client.get("/map", headers=issuer.headers(subject))).status_code == 200
    async with app.services.engine.connect() as connection:
        query = select(users).where(users.c.subject.in_(subjects))
        assert (await connection.execute(query)).all() == []  # nothing written per request
    assert await app.services.seen.flush() == 3
    async with app.services.engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    assert sorted(row.subject for row in rows) == sorted(subjects)
    for row in rows:
        assert row.first_seen_at == row.last_seen_at
    # Seen again within the refresh window: not noted again.
    await client.get("/map", headers=issuer.headers(subjects[0]))
    assert await app.services.seen.flush() == 0


async def test_a_note_made_before_an_erasure_does_not_bring_the_user_back(
    app: ServiceApp, client: httpx.AsyncClient
) -> None:
    """One worker notes the user (the note still pending) while another erases them: the
    note, flushed after the erasure, must not recreate the user row. A note made after the
    erasure is a new user's, and is written."""
    user = unique("noted")
    before = SeenUsers(app.services.engine)
    before.saw(user)
    await erase_user(app.services.engine, user)
    assert await before.flush() == 1  # attempted, and refused by the database
    assert await user_row(app, user) is None
    # A worker whose clock runs a second ahead of the database's: its note, taken before the
    # erasure, reads as after it, and is still dropped.
    ahead = SeenUsers(app.services.engine, clock=lambda: time.time() + 1)
    ahead.saw(user)
    assert await ahead.flush() == 1
    assert await user_row(app, user) is None
    later = CLOCK_SKEW_ALLOWED.total_seconds() + 1
    after = SeenUsers(app.services.engine, clock=lambda: time.time() + later)
    after.saw(user)
    assert await after.flush() == 1
    assert await user_row(app, user) is not None


async def test_erasures_are_forgotten_after_an_hour(
    app: ServiceApp, client: httpx.AsyncClient
) -> None:
    user = unique("pruned")
    await erase_user(app.services.engine, user)
    async with app.services.engine.begin() as connection:
        assert await prune_erased(connection, datetime.now(UTC)) == 0
        later = datetime.now(UTC) + ERASED_KEPT_FOR + timedelta(seconds=1)
        assert await prune_erased(connection, later) >= 1
        remaining = await connection.scalar(
            select(func.count()).where(erased_users.c.subject == user)
        )
    assert remaining == 0


async def test_notes_older_than_the_erasure_record_are_dropped(
    app: ServiceApp, client: httpx.AsyncClient
) -> None:
    user = unique("stale")
    stale = SeenUsers(app.services.engine, clock=lambda: time.time() - 3601)
    stale.saw(user)
    assert await stale.flush() == 0
    assert await user_row(app, user) is None


async def user_row(app: ServiceApp, user: str) -> Any:
    async with app.services.engine.connect() as connection:
        return (await connection.execute(select(users).where(users.c.subject == user))).first()
