"""Users' first and last seen times, recorded off the request path.

Requests only note the subject in memory; a background task writes the notes in one
multi-row upsert every few seconds, and a user already recorded recently is not noted again.
So tracking users costs the request path a dictionary lookup, not a database round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from service.models import users

logger = logging.getLogger("service.seen")

MAX_REMEMBERED = 200_000
MAX_PENDING = 50_000
CHUNK = 500


class SeenUsers:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        flush_interval: float = 5.0,
        refresh_after: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._flush_interval = flush_interval
        self._refresh_after = refresh_after
        self._clock = clock
        self._recorded: dict[str, float] = {}
        self._pending: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def saw(self, subject: str) -> None:
        now = self._clock()
        if now - self._recorded.get(subject, 0.0) < self._refresh_after:
            return
        if len(self._recorded) >= MAX_REMEMBERED:
            self._recorded.clear()
        self._recorded[subject] = now
        if len(self._pending) < MAX_PENDING:
            self._pending[subject] = now

    def forget(self, subject: str) -> None:
        """Drop a pending note (the user was just erased); their next request notes them anew."""
        self._pending.pop(subject, None)
        self._recorded.pop(subject, None)

    async def flush(self) -> int:
        """Write the pending notes; on failure keep them for the next attempt."""
        pending, self._pending = self._pending, {}
        if not pending:
            return 0
        rows = [
            {"subject": subject, "first_seen_at": moment, "last_seen_at": moment}
            for subject, moment in (
                (subject, datetime.fromtimestamp(at, UTC)) for subject, at in pending.items()
            )
        ]
        insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        statement = insert(users)
        statement = statement.on_conflict_do_update(
            index_elements=[users.c.subject],
            set_={"last_seen_at": statement.excluded.last_seen_at},
            where=users.c.last_seen_at < statement.excluded.last_seen_at,
        )
        try:
            async with self._engine.begin() as connection:
                for start in range(0, len(rows), CHUNK):
                    await connection.execute(statement, rows[start : start + CHUNK])
        except Exception as error:
            for subject, at in pending.items():
                self._pending.setdefault(subject, at)
                self._recorded.pop(subject, None)
            logger.warning(
                "could not record seen users", extra={"error_type": type(error).__name__}
            )
            return 0
        return len(rows)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            await self.flush()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self.flush()
