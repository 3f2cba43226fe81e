"""Erasing a user: their map, events and user row, in one transaction, idempotent.

On PostgreSQL the erasure first takes the user's lock exclusive (service.userlock), then deletes
with a fresh snapshot per statement: every write that held the lock has committed and is
deleted, and every write waiting for it lands after the commit, as a new user's. An admin's
erasure of someone else writes an `audit_log` row in the same transaction, so the record and
the erasure commit together or not at all.

On PostgreSQL all of that is one autocommit call of the `erase_user_data` function (migration
0004): one round trip instead of six, so a busy worker queues the request once, not six times.
SQLite runs the same steps from here, in one transaction. Both record the erasure in
`erased_users` for an hour (service.seen).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service import audit
from service.models import erased_users, events, practice_states, users

ERASE_ACTION = audit.USER_ERASE


@dataclass(frozen=True)
class Erased:
    practice_states: int
    events: int
    user_rows: int

    @property
    def anything(self) -> bool:
        return bool(self.practice_states or self.events or self.user_rows)

    def counts(self) -> dict[str, int]:
        """Rows per table, as the audit row's `before` holds them (migration 0004 writes the
        same keys)."""
        return {"practiceStates": self.practice_states, "events": self.events,
                "userRows": self.user_rows}  # fmt: skip


async def erase_user(engine: AsyncEngine, user_id: str, *, actor: str | None = None) -> Erased:
    """Delete everything stored about `user_id`; `actor` (an admin) is recorded in the audit
    log when given. Erasing a user with nothing stored is not an error."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            return await _erase_postgres(connection, user_id, actor)
    async with engine.begin() as connection:
        return await _erase_in_steps(connection, user_id, actor)


async def _erase_postgres(connection: AsyncConnection, user_id: str, actor: str | None) -> Erased:
    erased = func.erase_user_data(user_id, actor).table_valued(
        "practice_states_erased", "events_erased", "user_rows_erased"
    )
    row = (await connection.execute(select(erased))).one()
    return Erased(row.practice_states_erased, row.events_erased, row.user_rows_erased)


async def _erase_in_steps(connection: AsyncConnection, user_id: str, actor: str | None) -> Erased:
    erased_events = await connection.execute(delete(events).where(events.c.user_id == user_id))
    states = await connection.execute(
        delete(practice_states).where(practice_states.c.user_id == user_id)
    )
    user_rows = await connection.execute(delete(users).where(users.c.subject == user_id))
    erased = Erased(states.rowcount, erased_events.rowcount, user_rows.rowcount)
    now = datetime.now(UTC)
    record = sqlite.insert(erased_users).values(subject=user_id, erased_at=now)
    await connection.execute(
        record.on_conflict_do_update(index_elements=[erased_users.c.subject],
                                     set_={"erased_at": now})
    )  # fmt: skip
    if actor is not None:
        # What was stored (rows per table) before; nothing after.
        await audit.record(connection, at=now, actor=actor, action=ERASE_ACTION,
                           target=user_id, before=erased.counts(), after=None)
    return erased
