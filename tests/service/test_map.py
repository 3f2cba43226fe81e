"""`POST /map` and `GET /map`: last writer wins, ownership, validation, concurrency."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.service.conftest import Issuer, create_practice, unique

pytestmark = pytest.mark.anyio

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def write(
    user: str,
    practice: str,
    *,
    at: datetime = BASE,
    progress: float = 0.5,
    status: str = "in_progress",
    state: Any = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "practiceId": practice,
        "status": status,
        "progress": progress,
        "updatedAt": at.isoformat().replace("+00:00", "Z"),
    }
    if state is not None:
        data["state"] = state
    return {"userId": user, "practiceData": data}


async def test_write_then_read_back(client: httpx.AsyncClient, issuer: Issuer) -> None:
    practice, user = await create_practice(client, issuer), unique("u")
    response = await client.post(
        "/map", json=write(user, practice, state={"step": 3}), headers=issuer.headers(user)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["applied"] is True
    stored = body["data"]
    assert stored["userId"] == user and stored["practiceId"] == practice
    assert stored["status"] == "in_progress" and stored["progress"] == 0.5
    assert stored["state"] == {"step": 3}
    assert stored["updatedAt"] == "2026-01-01T00:00:00Z"
    assert datetime.fromisoformat(stored["serverUpdatedAt"]) > BASE

    listing = await client.get("/map", headers=issuer.headers(user))
    assert listing.status_code == 200
    assert listing.json() == {"success": True, "data": {"userId": user, "practices": [stored]}}


async def test_state_defaults_to_empty_object(client: httpx.AsyncClient, issuer: Issuer) -> None:
    practice, user = await create_practice(client, issuer), unique("u")
    response = await client.post("/map", json=write(user, practice), headers=issuer.headers(user))
    assert response.json()["data"]["state"] == {}


async def test_older_write_changes_nothing(client: httpx.AsyncClient, issuer: Issuer) -> None:
    practice, user = await create_practice(client, issuer), unique("u")
    headers = issuer.headers(user)
    newer = write(user, practice, at=BASE + timedelta(hours=1), progress=0.9, status="completed")
    assert (await client.post("/map", json=newer, headers=headers)).json()["applied"] is True

    older = write(user, practice, at=BASE, progress=0.1)
    response = await client.post("/map", json=older, headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["applied"] is False
    assert body["data"]["progress"] == 0.9 and body["data"]["status"] == "completed"
    assert body["data"]["updatedAt"] == "2026-01-01T01:00:00Z"


async def test_replay_is_harmless(client: httpx.AsyncClient, issuer: Issuer) -> None:
    practice, user = await create_practice(client, issuer), unique("u")
    headers = issuer.headers(user)
    first = await client.post("/map", json=write(user, practice), headers=headers)
    replay = await client.post("/map", json=write(user, practice), headers=headers)
    assert replay.status_code == 200
    assert replay.json()["applied"] is False
    assert replay.json()["data"] == first.json()["data"]


async def test_offsets_compare_as_instants(client: httpx.AsyncClient, issuer: Issuer) -> None:
    practice, user = await create_practice(client, issuer), unique("u")
    headers = issuer.headers(user)
    body = write(user, practice)
    body["practiceData"]["updatedAt"] = "2026-01-01T10:00:00+02:00"  # 08:00Z
    assert (await client.post("/map", json=body, headers=headers)).json()["applied"] is True
    body["practiceData"]["updatedAt"] = "2026-01-01T09:00:00+00:00"  # later instant
    response = await client.post("/map", json=body, headers=headers)
    assert response.json()["applied"] is True
    assert response.json()["data"]["updatedAt"] == "2026-01-01T09:00:00Z"


async def test_someone_elses_map_is_forbidden(client: httpx.AsyncClient, issuer: Issuer) -> None:
    practice, owner, intruder = await create_practice(client, issuer), unique("u"), unique("u")
    response = await client.post(
        "/map", json=write(owner, practice), headers=issuer.headers(intruder)
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    response = await client.get("/map", params={"userId": owner}, headers=issuer.headers(intruder))
    assert response.status_code == 403
    # Nothing was written for the owner.
    response = await client.get("/map", headers=issuer.headers(owner))
    assert response.json()["data"]["practices"] == []


async def test_admin_reads_and_writes_anyones_map(
    client: httpx.AsyncClient, issuer: Issuer
) -> None:
    practice, user = await create_practice(client, issuer), unique("u")
    admin = issuer.headers(unique("admin"), admin=True)
    assert (await client.post("/map", json=write(user, practice), headers=admin)).status_code == 200
    response = await client.get("/map", params={"userId": user}, headers=admin)
    assert response.status_code == 200
    assert [p["practiceId"] for p in response.json()["data"]["practices"]] == [practice]


async def test_unknown_practice_is_404(client: httpx.AsyncClient, issuer: Issuer) -> None:
    user = unique("u")
    response = await client.post(
        "/map", json=write(user, unique("missing")), headers=issuer.headers(user)
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["practiceData"].update(progress=1.5), "practiceData.progress"),
        (lambda b: b["practiceData"].update(progress="0.5"), "practiceData.progress"),
        (lambda b: b["practiceData"].update(status="done"), "practiceData.status"),
        (
            lambda b: b["practiceData"].update(updatedAt="2026-01-01T00:00:00"),
            "practiceData.updatedAt",
        ),
        (lambda b: b["practiceData"].update(updatedAt="yesterday"), "practiceData.updatedAt"),
        (lambda b: b["practiceData"].update(updatedAt=1767225600), "practiceData.updatedAt"),
        (lambda b: b["practiceData"].pop("practiceId"), "practiceData.practiceId"),
        (lambda b: b.update(extra=True), "extra"),
        (lambda b: b["practiceData"].update(state=[1, 2]), "practiceData.state"),
        (lambda b: b["practiceData"].update(state={"x": "a\x00b"}), "practiceData.state"),
        (lambda b: b["practiceData"].update(state={"a\x00": 1}), "practiceData.state"),
        (lambda b: b.update(userId="user\x00"), "userId"),
        (
            lambda b: b["practiceData"].update(state={"blob": "x" * (16 * 1024)}),
            "practiceData.state",
        ),
    ],
    ids=[
        "progress-range",
        "progress-type",
        "status",
        "naive-time",
        "bad-time",
        "epoch-time",
        "missing-field",
        "unknown-field",
        "state-array",
        "nul-in-state",
        "nul-in-key",
        "nul-in-user",
        "state-too-big",
    ],
)
async def test_invalid_writes_are_422_naming_the_field(
    client: httpx.AsyncClient, issuer: Issuer, mutate: Any, field: str
) -> None:
    user = unique("u")
    body = write(user, "practice-1")
    mutate(body)
    response = await client.post("/map", json=body, headers=issuer.headers(user))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in [detail["field"] for detail in error["details"]], error


async def test_nul_in_query_parameter_is_422(client: httpx.AsyncClient, issuer: Issuer) -> None:
    admin = issuer.headers("admin-1", admin=True)
    response = await client.get("/map", params={"userId": "a\x00b"}, headers=admin)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "userId"
    response = await client.get("/map", params={"user": "x"}, headers=admin)
    assert response.status_code == 422


async def test_malformed_json_is_400(client: httpx.AsyncClient, issuer: Issuer) -> None:
    user = unique("u")
    for raw in (b'{"userId": ', b"not json", b""):
        response = await client.post(
            "/map",
            content=raw,
            headers={**issuer.headers(user), "Content-Type": "application/json"},
        )
        assert response.status_code == 400, raw
        assert response.json()["error"]["code"] == "malformed_json"


async def test_concurrent_writes_newest_wins(client: httpx.AsyncClient, issuer: Issuer) -> None:
    practice, user = await create_practice(client, issuer), unique("u")
    headers = issuer.headers(user)
    moments = [BASE + timedelta(seconds=i) for i in range(40)]
    random.Random(7).shuffle(moments)

    async def send(at: datetime) -> httpx.Response:
        body = write(
            user,
            practice,
            at=at,
            progress=(at - BASE).total_seconds() / 100,
            state={"at": at.isoformat()},
        )
        return await client.post("/map", json=body, headers=headers)

    responses = await asyncio.gather(*(send(at) for at in moments))
    assert all(r.status_code == 200 for r in responses)
    newest = max(moments)
    stored = (await client.get("/map", headers=headers)).json()["data"]["practices"]
    assert len(stored) == 1
    assert stored[0]["updatedAt"] == newest.isoformat().replace("+00:00", "Z")
    assert stored[0]["state"] == {"at": newest.isoformat()}
    assert stored[0]["progress"] == pytest.approx(0.39)
    # Every answer is either the write itself (applied) or a newer stored state.
    for at, response in zip(moments, responses, strict=True):
        body = response.json()
        returned = datetime.fromisoformat(body["data"]["updatedAt"])
        assert returned == at if body["applied"] else returned >= at
    assert any(r.json()["applied"] for r in responses)
