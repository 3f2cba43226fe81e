"""`/events`: analytics batches from the app, stored all or nothing.

On PostgreSQL the batch's transaction holds the user's lock shared (service.userlock), so it
never interleaves with that user's erasure."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from starlette.responses import Response

from service import examples
from service.endpoints import Access, Call, Endpoint
from service.jsonresponse import json_response
from service.models import events
from service.schemas import EventBatch, EventsResult
from service.userlock import shared_lock


async def post_events(call: Call) -> Response:
    batch: EventBatch = call.body
    received_at = datetime.now(UTC)
    rows = [
        {
            "user_id": call.user.subject,
            "name": event.name,
            "occurred_at": event.occurred_at,
            "received_at": received_at,
            "properties": event.properties,
        }
        for event in batch.events
    ]
    async with call.services.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(select(shared_lock(call.user.subject)))
        await connection.execute(events.insert(), rows)
    return json_response({"success": True, "data": {"accepted": len(rows)}}, status_code=202)


ENDPOINTS = [
    Endpoint(
        "POST",
        "/events",
        post_events,
        summary="Record a batch of 1..500 analytics events",
        access=Access.USER,
        status=202,
        response=EventsResult,
        tag="events",
        body=EventBatch,
        errors=(400, 401, 413, 422, 429, 503),
        examples=examples.EVENTS,
    ),
]
