"""A user's data export, streamed: constant memory whatever the number of events.

The export reads in one read-only transaction (REPEATABLE READ on PostgreSQL, SQLite's read
transaction), so the user row, the map and the events are one consistent snapshot. The user row
and the map (one row per practice: small) are read before the answer starts, so an outage is
still a clean 503; the events then come through a server-side cursor `EVENT_CHUNK` rows at a
time and go out as they arrive. A failure after the first byte can only cut the body short: the
client sees JSON that does not parse, never a complete-looking partial export.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from service.jsonresponse import JSON_MEDIA_TYPE
from service.models import events, practice_states, users

EVENT_CHUNK = 1000
_DUMPS_OPTIONS = orjson.OPT_UTC_Z

EVENTS_QUERY = (
    select(events.c.name, events.c.occurred_at, events.c.received_at, events.c.properties)
    .order_by(events.c.received_at, events.c.id)
    .execution_options(yield_per=EVENT_CHUNK)
)


def _state(row: Any) -> dict[str, Any]:
    return {
        "userId": row["user_id"],
        "practiceId": row["practice_id"],
        "status": row["status"],
        "progress": row["progress"],
        "state": row["state"],
        "updatedAt": row["updated_at"],
        "serverUpdatedAt": row["server_updated_at"],
    }


def _event(row: Any) -> bytes:
    return orjson.dumps(
        {
            "name": row.name,
            "occurredAt": row.occurred_at,
            "receivedAt": row.received_at,
            "properties": row.properties,
        },
        option=_DUMPS_OPTIONS,
    )


class UserExport:
    """An open export: `start()` reads the small parts, `chunks()` streams the body, `close()`
    ends the transaction and returns the connection (always call it)."""

    def __init__(self, engine: AsyncEngine, user_id: str) -> None:
        self._engine = engine
        self._user_id = user_id
        self._connection: AsyncConnection | None = None
        self._head = b""

    async def start(self) -> None:
        connection = await self._engine.connect()
        self._connection = connection
        try:
            if connection.dialect.name == "postgresql":
                await connection.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
            await connection.begin()
            user = (
                await connection.execute(
                    select(users.c.first_seen_at, users.c.last_seen_at).where(
                        users.c.subject == self._user_id
                    )
                )
            ).first()
            states = (
                await connection.execute(
                    select(practice_states)
                    .where(practice_states.c.user_id == self._user_id)
                    .order_by(practice_states.c.practice_id)
                )
            ).all()
        except BaseException:
            await self.close()
            raise
        self._head = self._render_head(user, states)

    def _render_head(self, user: Any, states: Sequence[Any]) -> bytes:
        head = orjson.dumps(
            {
                "userId": self._user_id,
                "firstSeenAt": user.first_seen_at if user else None,
                "lastSeenAt": user.last_seen_at if user else None,
                "practices": [_state(row._mapping) for row in states],
            },
            option=_DUMPS_OPTIONS,
        )
        # `{"success":true,"data":{...,"practices":[...]` then `,"events":[` + the stream.
        return b'{"success":true,"data":' + head[:-1] + b',"events":['

    async def chunks(self) -> AsyncIterator[bytes]:
        connection = self._connection
        assert connection is not None, "start() the export first"
        yield self._head
        result = await connection.stream(EVENTS_QUERY.where(events.c.user_id == self._user_id))
        separator = b""
        async for rows in result.partitions():
            yield separator + b",".join(_event(row) for row in rows)
            separator = b","
        yield b"]}}"

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()  # rolls the read-only transaction back


class ExportResponse(StreamingResponse):
    """Streams an export and closes it however the response ends (done, failed, client gone)."""

    def __init__(self, export: UserExport) -> None:
        super().__init__(export.chunks(), media_type=JSON_MEDIA_TYPE)
        self._export = export

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._export.close()
