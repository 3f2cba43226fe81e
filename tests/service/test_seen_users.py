"""Users' first/last seen times are recorded off the request path, in batches."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from service.app import ServiceApp
from service.models import users
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
