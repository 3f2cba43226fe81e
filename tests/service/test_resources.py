"""Practices (with signed media URLs), analytics events and remote configuration."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from service.app import ServiceApp
from service.models import events
from tests.service.conftest import Issuer, create_practice, unique

pytestmark = pytest.mark.anyio

PRACTICE = {
    "title": "Body scan",
    "description": "Ten minutes",
    "durationSeconds": 600,
    "category": "sleep",
    "published": True,
}


async def test_put_creates_then_replaces(client: httpx.AsyncClient, issuer: Issuer) -> None:
    admin = issuer.headers("ops", admin=True)
    practice = unique("p")
    created = await client.put(f"/practices/{practice}", json=PRACTICE, headers=admin)
    assert created.status_code == 201
    data = created.json()["data"]
    assert data["id"] == practice and data["title"] == "Body scan" and data["mediaUrl"] is None
    replaced = await client.put(
        f"/practices/{practice}", json={**PRACTICE, "title": "Scan"}, headers=admin
    )
    assert replaced.status_code == 200
    assert replaced.json()["data"]["title"] == "Scan"
    assert replaced.json()["data"]["createdAt"] == data["createdAt"]


async def test_users_see_published_practices_only(
    client: httpx.AsyncClient, issuer: Issuer
) -> None:
    public = await create_practice(client, issuer)
    hidden = await create_practice(client, issuer, published=False)
    user = issuer.headers(unique("u"))
    listed = [
        p["id"] for p in (await client.get("/practices", headers=user)).json()["data"]["practices"]
    ]
    assert public in listed and hidden not in listed
    assert (await client.get(f"/practices/{hidden}", headers=user)).status_code == 404
    assert (await client.get(f"/practices/{public}", headers=user)).status_code == 200
    admin = issuer.headers("ops", admin=True)
    assert (await client.get(f"/practices/{hidden}", headers=admin)).status_code == 200
    admin_listed = (await client.get("/practices", headers=admin)).json()["data"]["practices"]
    assert hidden in [p["id"] for p in admin_listed]


async def test_practice_writes_need_an_admin(client: httpx.AsyncClient, issuer: Issuer) -> None:
    user = issuer.headers(unique("u"))
    response = await client.put(f"/practices/{unique('p')}", json=PRACTICE, headers=user)
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    response = await client.post(f"/practices/{unique('p')}/media", headers=user)
    assert response.status_code == 403
    assert (await client.put("/practices/x", json=PRACTICE)).status_code == 401


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/practices/bad%00id", PRACTICE),
        ("/practices/ok", {**PRACTICE, "title": ""}),
        ("/practices/ok", {**PRACTICE, "title": "a\x00"}),
        ("/practices/ok", {**PRACTICE, "durationSeconds": -1}),
        ("/practices/ok", {**PRACTICE, "mediaKey": "../etc/passwd"}),
        ("/practices/ok", {k: v for k, v in PRACTICE.items() if k != "published"}),
    ],
)
async def test_bad_practices_are_422(
    client: httpx.AsyncClient, issuer: Issuer, path: str, body: dict[str, Any]
) -> None:
    response = await client.put(path, json=body, headers=issuer.headers("ops", admin=True))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


async def test_media_upload_and_signed_download(client: httpx.AsyncClient, issuer: Issuer) -> None:
    admin = issuer.headers("ops", admin=True)
    practice = await create_practice(client, issuer)
    response = await client.post(
        f"/practices/{practice}/media", json={"contentType": "audio/mpeg"}, headers=admin
    )
    assert response.status_code == 200, response.text
    upload = response.json()["data"]
    # The contract shows the bare `{uploadUrl, mediaKey}`; the envelope carries the same values.
    assert response.json()["uploadUrl"] == upload["uploadUrl"]
    assert response.json()["mediaKey"] == upload["mediaKey"]
    assert upload["mediaKey"].startswith(f"practices/{practice}/")
    # Local files are served by this service; the app gets whole URLs, not paths.
    base = str(client.base_url).rstrip("/")
    assert upload["uploadUrl"].startswith(f"{base}/_media/"), upload["uploadUrl"]
    # The answer says which headers the signed upload needs; another content type is refused.
    assert upload["uploadHeaders"] == {"Content-Type": "audio/mpeg"}
    wrong_type = await client.put(
        upload["uploadUrl"], content=b"x", headers={"Content-Type": "application/octet-stream"}
    )
    assert wrong_type.status_code == 403, wrong_type.text
    put = await client.put(
        upload["uploadUrl"], content=b"ID3-audio", headers=upload["uploadHeaders"]
    )
    assert put.status_code == 200, put.text

    await create_practice(client, issuer, practice, mediaKey=upload["mediaKey"])
    data = (await client.get(f"/practices/{practice}", headers=issuer.headers(unique("u")))).json()
    media_url = data["data"]["mediaUrl"]
    assert media_url and "sig=" in media_url and media_url.startswith(f"{base}/_media/")
    download = await client.get(media_url)
    assert download.status_code == 200 and download.content == b"ID3-audio"
    # The signature covers the key: the URL cannot be bent to another object.
    tampered = media_url.replace(upload["mediaKey"], f"practices/{practice}/other")
    assert (await client.get(tampered)).status_code == 403


async def test_media_upload_defaults_to_octet_stream_and_says_so(
    client: httpx.AsyncClient, issuer: Issuer
) -> None:
    practice = await create_practice(client, issuer)
    response = await client.post(
        f"/practices/{practice}/media", headers=issuer.headers("ops", admin=True)
    )
    upload = response.json()["data"]
    assert upload["uploadHeaders"] == {"Content-Type": "application/octet-stream"}
    put = await client.put(upload["uploadUrl"], content=b"bytes", headers=upload["uploadHeaders"])
    assert put.status_code == 200, put.text


async def test_practice_media_key_must_name_an_uploaded_object(
    client: httpx.AsyncClient, issuer: Issuer
) -> None:
    practice = await create_practice(client, issuer)
    admin = issuer.headers("ops", admin=True)
    upload = (await client.post(f"/practices/{practice}/media", headers=admin)).json()["data"]
    body = {
        "title": "t",
        "description": "d",
        "durationSeconds": 1,
        "category": "c",
        "published": True,
        "mediaKey": upload["mediaKey"],
    }
    # Not uploaded yet: the practice would hand users a URL to nothing.
    response = await client.put(f"/practices/{practice}", json=body, headers=admin)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    assert upload["mediaKey"] in response.json()["error"]["message"]
    stored = (await client.get(f"/practices/{practice}", headers=admin)).json()["data"]
    assert stored["mediaKey"] is None  # nothing half-written
    put = await client.put(upload["uploadUrl"], content=b"x", headers=upload["uploadHeaders"])
    assert put.status_code == 200
    response = await client.put(f"/practices/{practice}", json=body, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["mediaKey"] == upload["mediaKey"]


async def test_media_for_unknown_practice_is_404(client: httpx.AsyncClient, issuer: Issuer) -> None:
    response = await client.post(
        f"/practices/{unique('p')}/media", headers=issuer.headers("ops", admin=True)
    )
    assert response.status_code == 404


async def test_events_are_stored(
    client: httpx.AsyncClient, issuer: Issuer, app: ServiceApp
) -> None:
    user = unique("u")
    batch = {
        "events": [
            {
                "name": "practice.started",
                "occurredAt": "2026-01-01T00:00:00Z",
                "properties": {"practiceId": "p-1", "n": 1},
            },
            {"name": "app.opened", "occurredAt": "2026-01-01T00:01:00+01:00"},
        ]
    }
    response = await client.post("/events", json=batch, headers=issuer.headers(user))
    assert response.status_code == 202
    assert response.json() == {"success": True, "data": {"accepted": 2}}
    async with app.services.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(events).where(events.c.user_id == user).order_by(events.c.name)
            )
        ).all()
    assert [r.name for r in rows] == ["app.opened", "practice.started"]
    assert rows[1].properties == {"practiceId": "p-1", "n": 1}
    assert rows[0].properties == {}


@pytest.mark.parametrize("count", [0, 501])
async def test_event_batch_bounds(client: httpx.AsyncClient, issuer: Issuer, count: int) -> None:
    batch = {"events": [{"name": "x", "occurredAt": "2026-01-01T00:00:00Z"}] * count}
    response = await client.post("/events", json=batch, headers=issuer.headers("u-1"))
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "events"


async def test_bad_event_is_all_or_nothing(
    client: httpx.AsyncClient, issuer: Issuer, app: ServiceApp
) -> None:
    user = unique("u")
    batch = {
        "events": [
            {"name": "ok", "occurredAt": "2026-01-01T00:00:00Z"},
            {
                "name": "bad",
                "occurredAt": "2026-01-01T00:00:00Z",
                "properties": {"text": "nul\x00"},
            },
        ]
    }
    response = await client.post("/events", json=batch, headers=issuer.headers(user))
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "events.1.properties"
    async with app.services.engine.connect() as connection:
        assert (
            await connection.execute(select(events).where(events.c.user_id == user))
        ).all() == []


async def test_config_round_trip(client: httpx.AsyncClient, issuer: Issuer) -> None:
    admin = issuer.headers("ops", admin=True)
    key = f"flag{unique('k').replace('-', '')}"
    for value in ({"enabled": True, "rollout": 0.25}, "1.4.0", None, [1, 2]):
        response = await client.put(
            f"/config/{key}",
            content=orjson.dumps(value),
            headers={**admin, "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"success": True, "data": {"key": key, "value": value}}
        config = (await client.get("/config")).json()
        assert config["success"] is True and config["data"][key] == value


async def test_config_writes_need_an_admin(client: httpx.AsyncClient, issuer: Issuer) -> None:
    response = await client.put(
        "/config/minAppVersion", json="9.9.9", headers=issuer.headers(unique("u"))
    )
    assert response.status_code == 403
    assert (await client.put("/config/minAppVersion", json="9.9.9")).status_code == 401
    admin = issuer.headers("ops", admin=True)
    assert (await client.put("/config/bad%20key", json=1, headers=admin)).status_code == 422
    assert (await client.put("/config/k", json="a\x00", headers=admin)).status_code == 422
    assert (await client.put("/config/k", content=b"{", headers=admin)).status_code == 400


async def test_a_practice_edit_is_listed_at_once_by_the_worker_that_made_it(
    client: httpx.AsyncClient, issuer: Issuer
) -> None:
    user = issuer.headers(unique("u"))

    async def listed() -> list[str]:
        body = (await client.get("/practices", headers=user)).json()
        return [p["id"] for p in body["data"]["practices"]]

    practice = unique("p")
    assert practice not in await listed()  # the list is now kept by this worker
    await create_practice(client, issuer, practice)
    assert practice in await listed()
    await create_practice(client, issuer, practice, published=False)
    assert practice not in await listed()


async def test_other_workers_list_an_edit_within_their_cache_seconds(
    app: ServiceApp, client: httpx.AsyncClient, issuer: Issuer
) -> None:
    from service.app import create_app
    from service.auth import JwksVerifier
    from service.practice_list_cache import PracticeListCache
    from tests.service.conftest import AUDIENCE, ISSUER, running

    now = [0.0]
    other = create_app(app.services.settings,
                       verifier=JwksVerifier(issuer.server.url, ISSUER, AUDIENCE))
    other.services.practice_list = PracticeListCache(1.0, lambda: now[0])
    user = issuer.headers(unique("u"))
    practice = unique("p")
    async with running(other) as other_client:

        async def listed_by_other() -> list[str]:
            body = (await other_client.get("/practices", headers=user)).json()
            return [p["id"] for p in body["data"]["practices"]]

        assert practice not in await listed_by_other()
        await create_practice(client, issuer, practice)  # through the first worker
        now[0] = 0.9
        assert practice not in await listed_by_other()  # still the kept answer
        now[0] = 1.0
        assert practice in await listed_by_other()
