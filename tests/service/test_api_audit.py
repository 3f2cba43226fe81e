"""An administrator's writes through the API land in the audit log with the change, on both
databases: who, when, what, the values before and after; nothing for a refused write, and no
change without its row."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from service.app import ServiceApp
from service.models import audit_log, config, practices
from tests.service.conftest import Issuer, unique

pytestmark = pytest.mark.anyio

PRACTICE = {
    "title": "Body scan",
    "description": "Ten minutes",
    "durationSeconds": 600,
    "category": "sleep",
    "published": True,
}


def snapshot(practice_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": practice_id, "mediaKey": None, **body}


async def put(
    client: httpx.AsyncClient, path: str, body: Any, headers: dict[str, str]
) -> int:
    return (await client.put(path, json=body, headers=headers)).status_code


async def audit_rows(app: ServiceApp, target: str) -> list[Any]:
    async with app.services.engine.connect() as connection:
        statement = select(audit_log).where(audit_log.c.target == target).order_by(audit_log.c.id)
        return list((await connection.execute(statement)).all())


async def test_a_practice_created_then_replaced_is_audited_with_before_and_after(
    app: ServiceApp, client: httpx.AsyncClient, issuer: Issuer
) -> None:
    admin = issuer.headers("content-lead", admin=True)
    practice = unique("p")
    started = datetime.now(UTC)
    assert await put(client, f"/practices/{practice}", PRACTICE, admin) == 201
    replaced = {**PRACTICE, "title": "Scan", "published": False}
    assert await put(client, f"/practices/{practice}", replaced, admin) == 200

    created, updated = await audit_rows(app, practice)
    assert (created.action, created.actor) == ("practice.create", "content-lead")
    assert created.before is None
    assert created.after == snapshot(practice, PRACTICE)
    assert (updated.action, updated.actor) == ("practice.update", "content-lead")
    assert updated.before == snapshot(practice, PRACTICE)
    assert updated.after == snapshot(practice, replaced)
    for row in (created, updated):
        assert started - timedelta(seconds=1) <= row.at <= datetime.now(UTC)


async def test_a_config_value_set_twice_is_audited_with_the_value_it_replaced(
    app: ServiceApp, client: httpx.AsyncClient, issuer: Issuer
) -> None:
    admin = issuer.headers("release-manager", admin=True)
    key = unique("flag")
    assert await put(client, f"/config/{key}", {"on": True}, admin) == 200
    assert (await client.put(f"/config/{key}", json=[1, 2], headers=admin)).status_code == 200

    first, second = await audit_rows(app, key)
    assert (first.action, first.actor, first.before, first.after) == (
        "config.set", "release-manager", None, {"value": {"on": True}}
    )
    assert (second.before, second.after) == ({"value": {"on": True}}, {"value": [1, 2]})


async def test_refused_writes_leave_no_audit_row(
    app: ServiceApp, client: httpx.AsyncClient, issuer: Issuer
) -> None:
    practice, key = unique("p"), unique("flag")
    user = issuer.headers("not-an-admin")
    admin = issuer.headers("ops", admin=True)
    assert await put(client, f"/practices/{practice}", PRACTICE, user) == 403
    assert await put(client, f"/config/{key}", 1, user) == 403
    bad = {**PRACTICE, "durationSeconds": -1}
    assert await put(client, f"/practices/{practice}", bad, admin) == 422
    missing_media = {**PRACTICE, "mediaKey": f"practices/{practice}/nothing-here"}
    answer = await client.put(f"/practices/{practice}", json=missing_media, headers=admin)
    assert answer.status_code == 404
    assert await audit_rows(app, practice) == []
    assert await audit_rows(app, key) == []


@contextlib.asynccontextmanager
async def audit_refusing(app: ServiceApp, target: str) -> AsyncIterator[None]:
    """A trigger that refuses the audit row of `target`: the database failing that insert."""
    engine = app.services.engine
    async with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            await connection.execute(text(
                "CREATE TRIGGER refuse_test_audit BEFORE INSERT ON audit_log "
                f"WHEN NEW.target = '{target}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            ))
        else:
            await connection.execute(text(
                "CREATE FUNCTION refuse_test_audit() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused'; END $$"
            ))
            await connection.execute(text(
                "CREATE TRIGGER refuse_test_audit BEFORE INSERT ON audit_log FOR EACH ROW "
                f"WHEN (NEW.target = '{target}') EXECUTE FUNCTION refuse_test_audit()"
            ))
    try:
        yield
    finally:
        async with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                await connection.execute(text("DROP TRIGGER refuse_test_audit"))
            else:
                await connection.execute(text("DROP TRIGGER refuse_test_audit ON audit_log"))
                await connection.execute(text("DROP FUNCTION refuse_test_audit()"))


async def test_no_change_lands_without_its_audit_row(
    app: ServiceApp, client: httpx.AsyncClient, issuer: Issuer
) -> None:
    admin = issuer.headers("ops", admin=True)
    practice, key = unique("p"), unique("flag")
    async with audit_refusing(app, practice):
        answer = await client.put(f"/practices/{practice}", json=PRACTICE, headers=admin)
        assert answer.status_code >= 500
    async with audit_refusing(app, key):
        answer = await client.put(f"/config/{key}", json=True, headers=admin)
        assert answer.status_code >= 500
    async with app.services.engine.connect() as connection:
        assert (await connection.execute(
            select(practices).where(practices.c.id == practice))).first() is None
        assert (await connection.execute(select(config).where(config.c.key == key))).first() is None
    # The same writes, with the log accepting them, land.
    assert await put(client, f"/practices/{practice}", PRACTICE, admin) == 201
    assert await put(client, f"/config/{key}", True, admin) == 200


async def test_racing_replacements_each_record_the_version_they_replaced(
    app: ServiceApp, client: httpx.AsyncClient, issuer: Issuer
) -> None:
    """Eight administrators replace one practice at once: the audit rows chain, each `before`
    the `after` of the row before it, so the log replays to what is stored."""
    admin = issuer.headers("ops", admin=True)
    practice = unique("p")
    assert await put(client, f"/practices/{practice}", PRACTICE, admin) == 201
    titles = [f"Version {n}" for n in range(8)]
    answers = await asyncio.gather(*(
        client.put(f"/practices/{practice}", json={**PRACTICE, "title": title}, headers=admin)
        for title in titles
    ))
    assert [answer.status_code for answer in answers] == [200] * len(titles)

    rows = await audit_rows(app, practice)
    assert [row.action for row in rows] == ["practice.create"] + ["practice.update"] * len(titles)
    for earlier, later in itertools.pairwise(rows):
        assert later.before == earlier.after
    stored = (await client.get(f"/practices/{practice}", headers=admin)).json()["data"]
    assert rows[-1].after["title"] == stored["title"]
    assert sorted(row.after["title"] for row in rows[1:]) == sorted(titles)
