"""`/map`: each user's progress through the practices (last writer wins on `updatedAt`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from service import examples
from service.endpoints import Access, Call, Endpoint
from service.errors import Forbidden, NotFound
from service.jsonresponse import json_response
from service.mapstore import Row, UnknownPractice
from service.schemas import MapQuery, MapReadResult, MapWrite, MapWriteResult


def stored_state(row: Row) -> dict[str, Any]:
    return {
        "userId": row["user_id"],
        "practiceId": row["practice_id"],
        "status": row["status"],
        "progress": row["progress"],
        "state": row["state"],
        "updatedAt": row["updated_at"],
        "serverUpdatedAt": row["server_updated_at"],
    }


async def write_map(call: Call) -> Response:
    body: MapWrite = call.body
    principal = call.user
    if body.user_id != principal.subject and not principal.is_admin:
        raise Forbidden("you may only write your own map")
    data = body.practice_data
    params = {
        "user_id": body.user_id,
        "practice_id": data.practice_id,
        "status": data.status,
        "progress": data.progress,
        "state": data.state,
        "updated_at": data.updated_at,
        "server_updated_at": datetime.now(UTC),
    }
    store = call.services.map_store
    try:
        row = await store.upsert_state(params)
    except UnknownPractice:
        raise NotFound(f"no practice {data.practice_id!r}") from None
    applied = row is not None
    if row is None:
        # A newer (or the same) write is stored: answer with it (off the common path).
        row = await store.read_state(body.user_id, data.practice_id)
    if row is None:  # pragma: no cover - rows are never deleted except with their practice
        raise NotFound(f"no practice {data.practice_id!r}")
    return json_response({"success": True, "applied": applied, "data": stored_state(row)})


async def read_map(call: Call) -> Response:
    query: MapQuery = call.query
    principal = call.user
    user_id = query.user_id or principal.subject
    if user_id != principal.subject and not principal.is_admin:
        raise Forbidden("you may only read your own map")
    rows = await call.services.map_store.read_map(user_id)
    return json_response(
        {"success": True, "data": {"userId": user_id, "practices": [stored_state(r) for r in rows]}}
    )


ENDPOINTS = [
    Endpoint(
        "POST",
        "/map",
        write_map,
        summary="Store one practice's state (last writer wins on updatedAt)",
        access=Access.USER,
        status=200,
        response=MapWriteResult,
        tag="map",
        body=MapWrite,
        errors=(400, 401, 403, 404, 413, 422, 429, 503),
        description=(
            "An `updatedAt` older than (or equal to) the stored one changes nothing and answers "
            "`applied: false` with the stored state. Users write their own map; admins anyone's."
        ),
        examples=examples.MAP_WRITE,
    ),
    Endpoint(
        "GET",
        "/map",
        read_map,
        summary="Read a user's practice states",
        access=Access.USER,
        status=200,
        response=MapReadResult,
        tag="map",
        query_model=MapQuery,
        errors=(401, 403, 422, 429, 503),
        examples=examples.MAP_READ,
    ),
]
