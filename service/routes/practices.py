"""`/practices`: published practice content for users; create, replace and media for admins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from service import audit, examples
from service.endpoints import Access, Call, Endpoint
from service.errors import NotFound, Unavailable
from service.examples import UPLOAD_CONTENT_TYPE_NOTE
from service.jsonresponse import JSON_MEDIA_TYPE, json_bytes, json_response
from service.models import practices
from service.schemas import (
    MediaUploadRequest,
    MediaUploadResult,
    PracticeListResult,
    PracticePath,
    PracticeResult,
    PracticeWrite,
)
from service.services import Services
from service.storage import StorageUnavailable

MEDIA_URL_SECONDS = 900
UPLOAD_URL_SECONDS = 900


def absolute_url(call: Call, url: str) -> str:
    """The local file store signs URLs on this service (`/_media/...`); the app needs them whole."""
    if url.startswith("/"):
        return str(call.request.base_url).rstrip("/") + url
    return url


async def _media_url(call: Call, key: str | None) -> str | None:
    if key is None:
        return None
    try:
        url = await call.services.storage.presign_download(key, MEDIA_URL_SECONDS)
    except StorageUnavailable:
        raise Unavailable("the media store is unavailable") from None
    return absolute_url(call, url)


async def practice_body(call: Call, row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "durationSeconds": row.duration_seconds,
        "category": row.category,
        "published": row.published,
        "mediaKey": row.media_key,
        "mediaUrl": await _media_url(call, row.media_key),
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    }


async def list_practices(call: Call) -> Response:
    services = call.services
    admin = call.user.is_admin

    async def render() -> bytes:
        statement = (
            services.queries.list_practices if admin else services.queries.list_published_practices
        )
        async with services.autocommit.connect() as connection:
            rows = (await connection.execute(statement)).all()
        items = [await practice_body(call, row) for row in rows]
        return json_bytes({"success": True, "data": {"practices": items}})

    # Admins see every practice, users the published ones; media URLs are absolute on the
    # request's base URL (the local file store).
    key = (admin, str(call.request.base_url))
    body = await services.practice_list.get(key, render)
    return Response(body, media_type=JSON_MEDIA_TYPE)


async def _load(services: Services, practice_id: str) -> Any:
    async with services.autocommit.connect() as connection:
        return (
            await connection.execute(services.queries.read_practice, {"id": practice_id})
        ).first()


async def get_practice(call: Call) -> Response:
    path: PracticePath = call.path
    row = await _load(call.services, path.id)
    if row is None or (not row.published and not call.user.is_admin):
        raise NotFound(f"no practice {path.id!r}")
    return json_response({"success": True, "data": await practice_body(call, row)})


async def put_practice(call: Call) -> Response:
    path: PracticePath = call.path
    body: PracticeWrite = call.body
    if body.media_key is not None:
        # A practice pointing at nothing would hand every user a signed URL that 404s.
        try:
            stored = await call.services.storage.exists(body.media_key)
        except StorageUnavailable:
            raise Unavailable("the media store is unavailable") from None
        if not stored:
            raise NotFound(
                f"no media object {body.media_key!r}: "
                f"upload it first (POST /practices/{path.id}/media)"
            )
    now = datetime.now(UTC)
    params = {
        "id": path.id,
        "title": body.title,
        "description": body.description,
        "duration_seconds": body.duration_seconds,
        "category": body.category,
        "published": body.published,
        "media_key": body.media_key,
        "created_at": now,
        "updated_at": now,
    }
    async with call.services.engine.begin() as connection:
        before = await audit.held_row(connection, practices, practices.c.id, path.id)
        row = (await connection.execute(call.services.queries.upsert_practice, params)).one()
        created = row.created_at == row.updated_at
        await audit.record(
            connection,
            at=now,
            actor=call.user.subject,
            action=audit.PRACTICE_CREATE if created else audit.PRACTICE_UPDATE,
            target=path.id,
            # On PostgreSQL a practice created by a racing request after `held_row` found none
            # has no `before` here; that request's own audit row holds it.
            before=audit.practice_snapshot(before),
            after=audit.practice_snapshot(row),
        )
    call.services.practice_list.clear()
    return json_response(
        {"success": True, "data": await practice_body(call, row)},
        status_code=201 if created else 200,
    )


async def create_media_upload(call: Call) -> Response:
    path: PracticePath = call.path
    body: MediaUploadRequest = call.body
    if await _load(call.services, path.id) is None:
        raise NotFound(f"no practice {path.id!r}")
    media_key = f"practices/{path.id}/{uuid.uuid4().hex}"
    try:
        upload_url = absolute_url(
            call,
            await call.services.storage.presign_upload(
                media_key, body.content_type, UPLOAD_URL_SECONDS
            ),
        )
    except StorageUnavailable:
        raise Unavailable("the media store is unavailable") from None
    return json_response(
        {
            "success": True,
            "data": {
                "uploadUrl": upload_url,
                "mediaKey": media_key,
                "expiresInSeconds": UPLOAD_URL_SECONDS,
                # Both stores sign the content type: an upload without it is refused.
                "uploadHeaders": {"Content-Type": body.content_type},
            },
            "uploadUrl": upload_url,
            "mediaKey": media_key,
        }
    )


ENDPOINTS = [
    Endpoint(
        "GET",
        "/practices",
        list_practices,
        summary="List practices (published ones; admins see all)",
        description=(
            "Each worker keeps the list it rendered for `PRACTICES_CACHE_SECONDS` (1 s by "
            "default): an edit shows at once on the worker that made it and within that time "
            "on the others. A `mediaUrl` from the kept list has at most that much less of its "
            "15 minutes left."
        ),
        access=Access.USER,
        status=200,
        response=PracticeListResult,
        tag="practices",
        errors=(401, 429, 503),
        examples=examples.PRACTICE_LIST,
    ),
    Endpoint(
        "GET",
        "/practices/{id}",
        get_practice,
        summary="Read one practice, with a short-lived signed media URL",
        access=Access.USER,
        status=200,
        response=PracticeResult,
        tag="practices",
        path_model=PracticePath,
        errors=(401, 404, 422, 429, 503),
        examples=examples.PRACTICE_READ,
    ),
    Endpoint(
        "PUT",
        "/practices/{id}",
        put_practice,
        summary="Create (201) or replace (200) a practice (admin; audited)",
        description=(
            "The change is recorded in the audit log (who, when, the practice before and "
            "after) in the same transaction."
        ),
        access=Access.ADMIN,
        status=200,
        response=PracticeResult,
        tag="practices",
        path_model=PracticePath,
        body=PracticeWrite,
        extra_responses={201: PracticeResult},
        errors=(400, 401, 403, 404, 413, 422, 429, 503),
        examples=examples.PRACTICE_WRITE,
    ),
    Endpoint(
        "POST",
        "/practices/{id}/media",
        create_media_upload,
        summary="Get a signed URL to upload the practice's media",
        description=(
            f"Answers a signed `uploadUrl` (valid {UPLOAD_URL_SECONDS // 60} minutes) and the "
            "`mediaKey` it writes. Then:"
            "\n\n1. `PUT` the file to `uploadUrl` with the headers in `uploadHeaders`, exactly. "
            + UPLOAD_CONTENT_TYPE_NOTE
            + "\n2. Store `mediaKey` on the practice with `PUT /practices/{id}`.\n\n"
            "```sh\ncurl -X PUT -H 'Content-Type: audio/mpeg' --data-binary @breathing.mp3 "
            '"$uploadUrl"\n```'
        ),
        access=Access.ADMIN,
        status=200,
        response=MediaUploadResult,
        tag="practices",
        path_model=PracticePath,
        body=MediaUploadRequest,
        body_optional=True,
        errors=(400, 401, 403, 404, 413, 422, 429, 503),
        examples=examples.MEDIA_UPLOAD,
    ),
]
