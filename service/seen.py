"""Users' first and last seen times, recorded off the request path.

Requests only note the subject in memory; a background task writes the notes in one
multi-row upsert every few seconds, and a user already recorded recently is not noted again.
So tracking users costs the request path a dictionary lookup, not a database round trip.

A note can outlive an erasure: a user seen by one worker and erased through another would get
their row back when the first worker flushes. So a note is written only if the user was not
erased at or after the moment it records, give or take CLOCK_SKEW_ALLOWED between the worker's
clock and the database's (`erased_users`, kept ERASED_KEPT_FOR); notes older than that are
dropped instead. On PostgreSQL the flush first takes the noted users' locks
shared (service.userlock) and checks in a later statement: an erasure that committed first is
seen, and one that starts later waits for the flush and deletes what it wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ARRAY, String, bindparam, delete, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.models import UtcDateTime, erased_users, users
from service.userlock import shared_lock

logger = logging.getLogger("service.seen")

MAX_REMEMBERED = 200_000
MAX_PENDING = 50_000
CHUNK = 500
ERASED_KEPT_FOR = timedelta(hours=1)
# A note's time is the worker's clock, an erasure's the database's. A note taken this little
# after an erasure (by the worker's clock) is dropped too, so a worker whose clock runs ahead
# cannot bring an erased user back; a user who really returns is noted again on a later visit.
CLOCK_SKEW_ALLOWED = timedelta(seconds=2)

_noted = (
    func.unnest(bindparam("subjects", type_=ARRAY(String())))
    .table_valued("subject")
    .render_derived()
)
# Every noted user's lock, shared, until the flush commits (the count only fetches one row).
_LOCK_NOTED = select(func.count(shared_lock(_noted.c.subject)))


def _note_statement(dialect: str) -> Any:
    """Insert one note unless the user was erased at or after it; else move last_seen_at on."""
    subject = bindparam("subject", type_=String())
    seen_at = bindparam("last_seen_at", type_=UtcDateTime())
    erased_since = exists().where(
        erased_users.c.subject == subject,
        erased_users.c.erased_at >= bindparam("skew_from", type_=UtcDateTime()),
    )
    note = select(subject, bindparam("first_seen_at", type_=UtcDateTime()), seen_at).where(
        ~erased_since
    )
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(users).from_select(["subject", "first_seen_at", "last_seen_at"], note)
    return statement.on_conflict_do_update(
        index_elements=[users.c.subject],
        set_={"last_seen_at": statement.excluded.last_seen_at},
        where=users.c.last_seen_at < statement.excluded.last_seen_at,
    )


async def prune_erased(connection: AsyncConnection, now: datetime) -> int:
    """Forget erasures older than ERASED_KEPT_FOR (no note that old is ever written)."""
    result = await connection.execute(
        delete(erased_users).where(erased_users.c.erased_at < now - ERASED_KEPT_FOR)
    )
    return result.rowcount


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
        self._note = _note_statement(engine.dialect.name)

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
        now = datetime.now(UTC)
        oldest = (now - ERASED_KEPT_FOR).timestamp()
        pending = {subject: at for subject, at in pending.items() if at > oldest}
        if not pending:
            return 0
        rows = [
            {
                "subject": subject,
                "first_seen_at": moment,
                "last_seen_at": moment,
                "skew_from": moment - CLOCK_SKEW_ALLOWED,
            }
            for subject, moment in (
                (subject, datetime.fromtimestamp(at, UTC)) for subject, at in pending.items()
            )
        ]
        dialect = self._engine.dialect.name
        statement = self._note
        try:
            async with self._engine.begin() as connection:
                for start in range(0, len(rows), CHUNK):
                    chunk = rows[start : start + CHUNK]
                    if dialect == "postgresql":
                        subjects = [row["subject"] for row in chunk]
                        await connection.execute(_LOCK_NOTED, {"subjects": subjects})
                    await connection.execute(statement, chunk)
                await prune_erased(connection, now)
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
