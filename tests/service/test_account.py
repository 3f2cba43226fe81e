"""`GET /me/export`, `DELETE /me`, `DELETE /users/{id}`: on both databases."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from service.app import ServiceApp
from service.models import audit_log, events, practice_states, users
from service.seen import CLOCK_SKEW_ALLOWED, SeenUsers
from tests.service.conftest import Issuer, create_practice, unique

pytestmark = pytest.mark.anyio

WHEN = "2026-03-01T08:30:00Z"


def map_write(user: str, practice: str, at: str = WHEN, step: int = 1) -> dict[str, Any]:
    return {
        "userId": user,
        "practiceData": {
            "practiceId": practice,
            "status": "in_progress",
            "progress": 0.25,
            "updatedAt": at,
            "state": {"step": step},
        },
    }


async def seed_user(client: httpx.AsyncClient, issuer: Issuer, user: str, practice: str) -> None:
    headers = issuer.headers(user)
    answer = await client.post("/map", json=map_write(user, practice), headers=headers)
    assert answer.status_code == 200, answer.text
    batch = {
        "events": [
            {"name": "practice.started", "occurredAt": WHEN, "properties": {"n": 1}},
            {"name": "app.opened", "occurredAt": "2026-03-01T08:29:41Z"},
        ]
    }
    answer = await client.post("/events", json=batch, headers=headers)
    assert answer.status_code == 202, answer.text


async def stored_counts(app: ServiceApp, user: str) -> dict[str, int]:
    async with app.services.engine.connect() as connection:
        return {
            "states": await connection.scalar(
                select(func.count()).where(practice_states.c.user_id == user)
            )
            or 0,
            "events": await connection.scalar(select(func.count()).where(events.c.user_id == user))
            or 0,
            "users": await connection.scalar(select(func.count()).where(users.c.subject == user))
            or 0,
        }


async def test_export_holds_the_map_and_the_events(
    app: ServiceApp, client: httpx.AsyncClient, issuer: Issuer
) -> None:
    practice, user = await create_practice(client, issuer), unique("u")
    await seed_user(client, issuer, user, practice)
    await app.services.seen.flush()
    answer = await client.get("/me/export", headers=issuer.headers(user))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-request-id"]
    body = answer.json()
    assert body["success"] is True
    data = body["data"]
    assert data["userId"] == user
    assert datetime.fromisoformat(data["firstSeenAt"]) <= datetime.fromisoformat(
        data["lastSeenAt"]
    )
    (state,) = data["practices"]
    assert state["practiceId"] == practice and state["state"] == {"step": 1}
    assert state["updatedAt"] == WHEN
    assert [(e["name"], e["occurredAt"], e["properties"]) for e in data["events"]] == [
        ("practice.started", WHEN, {"n": 1}),
        ("app.opened", "2026-03-01T08:29:41Z", {}),
    ]
    assert all(datetime.fromisoformat(e["receivedAt"]) > datetime(2026, 1, 1, tzinfo=UTC)
               for e in data["events"])  # fmt: skip


async def test_export_of_a_user_with_nothing_stored(
    client: httpx.AsyncClient, issuer: Issuer
) -> None:
    user = unique("nobody")
    answer = await client.get("/me/export", headers=issuer.headers(user))
    assert answer.status_code == 200
    assert answer.json() == {
        "success": True,
        "data": {
            "userId": user,
            "firstSeenAt": None,
            "lastSeenAt": None,
            "practices": [],
            "events": [],
        },
    }


async def test_export_streams_many_events_in_order(
    client: httpx.AsyncClient, issuer: Issuer
) -> None:
    user = unique("many")
    headers = issuer.headers(user)
    for batch in range(5):  # 2,500 events: past one cursor chunk (EVENT_CHUNK)
        body = {
            "events": [
                {"name": "tick", "occurredAt": WHEN, "properties": {"n": batch * 500 + n}}
                for n in range(500)
            ]
        }
        assert (await client.post("/events", json=body, headers=headers)).status_code == 202
    exported = (await client.get("/me/export", headers=headers)).json()["data"]["events"]
    assert [event["properties"]["n"] for event in exported] == list(range(2500))


async def test_export_needs_a_token(client: httpx.AsyncClient) -> None:
    answer = await client.get("/me/export")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


async def test_delete_me_erases_everything_and_is_idempotent(
    app: ServiceApp, client: httpx.AsyncClient, issuer: Issuer
) -> None:
    practice = await create_practice(client, issuer)
    user, other = unique("leaver"), unique("stayer")
    await seed_user(client, issuer, user, practice)
    await seed_user(client, issuer, other, practice)
    await app.services.seen.flush()
    assert await stored_counts(app, user) == {"states": 1, "events": 2, "users": 1}

    answer = await client.delete("/me", headers=issuer.headers(user))
    assert answer.status_code == 204 and answer.content == b""
    assert answer.headers["x-request-id"]
    await app.services.seen.flush()  # the DELETE's own "seen" note must not bring the row back
    assert await stored_counts(app, user) == {"states": 0, "events": 0, "users": 0}
    listing = (await client.get("/map", headers=issuer.headers(user))).json()
    assert listing["data"]["practices"] == []
    exported = (await client.get("/me/export", headers=issuer.headers(user))).json()["data"]
    assert exported["practices"] == [] and exported["events"] == []

    again = await client.delete("/me", headers=issuer.headers(user))
    assert again.status_code == 204
    assert await stored_counts(app, other) == {"states": 1, "events": 2, "users": 1}


async def test_a_write_after_the_erasure_is_a_new_user(
    app: ServiceApp, client: httpx.AsyncClient, issuer: Issuer
) -> None:
    practice, user = await create_practice(client, issuer), unique("back")
    await seed_user(client, issuer, user, practice)
    assert (await client.delete("/me", headers=issuer.headers(user))).status_code == 204
    answer = await client.post(
        "/map", json=map_write(user, practice, at="2026-01-01T00:00:00Z", step=9),
        headers=issuer.headers(user),
    )  # fmt: skip
    # Older than the erased state, and still applied: nothing of the old user remains.
    assert answer.status_code == 200 and answer.json()["applied"] is True
    # Seen within CLOCK_SKEW_ALLOWED of the erasure: that note is dropped, as one from before
    # it would be; a visit after that window records the new user.
    await app.services.seen.flush()
    assert await stored_counts(app, user) == {"states": 1, "events": 0, "users": 0}
    later = CLOCK_SKEW_ALLOWED.total_seconds() + 1
    returning = SeenUsers(app.services.engine, clock=lambda: time.time() + later)
    returning.saw(user)
    await returning.flush()
    assert await stored_counts(app, user) == {"states": 1, "events": 0, "users": 1}


async def test_admin_erases_a_user_and_it_is_audited(
    app: ServiceApp, client: httpx.AsyncClient, issuer: Issuer
) -> None:
    practice, user, admin = await create_practice(client, issuer), unique("target"), unique("adm")
    await seed_user(client, issuer, user, practice)
    answer = await client.delete(f"/users/{user}", headers=issuer.headers(admin, admin=True))
    assert answer.status_code == 204
    assert await stored_counts(app, user) == {"states": 0, "events": 0, "users": 0}
    again = await client.delete(f"/users/{user}", headers=issuer.headers(admin, admin=True))
    assert again.status_code == 204
    async with app.services.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(audit_log).where(audit_log.c.target == user).order_by(audit_log.c.id)
            )
        ).all()
    assert [(r.actor, r.action) for r in rows] == [(admin, "user.erase"), (admin, "user.erase")]
    assert rows[0].before == {"practiceStates": 1, "events": 2, "userRows": 0}
    assert rows[1].before == {"practiceStates": 0, "events": 0, "userRows": 0}
    assert rows[0].after is None and rows[0].at <= rows[1].at


async def test_users_erase_themselves_unaudited(
    app: ServiceApp, client: httpx.AsyncClient, issuer: Issuer
) -> None:
    user = unique("self")
    assert (await client.delete("/me", headers=issuer.headers(user))).status_code == 204
    async with app.services.engine.connect() as connection:
        audited = await connection.scalar(
            select(func.count()).where(audit_log.c.target == user)
        )
    assert audited == 0


async def test_only_admins_erase_other_users(
    app: ServiceApp, client: httpx.AsyncClient, issuer: Issuer
) -> None:
    practice, user = await create_practice(client, issuer), unique("victim")
    await seed_user(client, issuer, user, practice)
    answer = await client.delete(f"/users/{user}", headers=issuer.headers(unique("mallory")))
    assert answer.status_code == 403
    assert answer.json()["error"] == {
        "code": "forbidden",
        "message": "this operation needs an admin",
    }
    assert (await client.delete(f"/users/{user}")).status_code == 401
    assert (await stored_counts(app, user))["states"] == 1


@pytest.mark.parametrize(
    ("user_id", "field_message"),
    [("x" * 256, "String should have at most 255 characters"), ("a%00b", "String should match")],
)
async def test_a_bad_user_id_is_a_validation_error(
    client: httpx.AsyncClient, issuer: Issuer, user_id: str, field_message: str
) -> None:
    answer = await client.delete(f"/users/{user_id}", headers=issuer.headers("adm", admin=True))
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["field"] == "id"
    assert error["details"][0]["message"].startswith(field_message)


async def test_wrong_methods_list_what_is_allowed(
    client: httpx.AsyncClient, issuer: Issuer
) -> None:
    answer = await client.post("/me", headers=issuer.headers("someone"))
    assert answer.status_code == 405
    assert answer.headers["allow"] == "DELETE"
    answer = await client.get("/users/someone", headers=issuer.headers("a", admin=True))
    assert answer.status_code == 405
    assert answer.headers["allow"] == "DELETE"
