"""Erasing a user: their map, events and user row, in one transaction, idempotent.

On PostgreSQL the erasure first takes the user's lock exclusive (service.userlock), then deletes
with a fresh snapshot per statement: every write that held the lock has committed and is
deleted, and every write waiting for it lands after the commit, as a new user's. An admin's
erasure of someone else writes an `audit_log` row in the same transaction, so the record and
the erasure commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from service.models import audit_log, events, practice_states, users
from service.userlock import exclusive_lock

ERASE_ACTION = "user.erase"


@dataclass(frozen=True)
class Erased:
    practice_states: int
    events: int
    user_rows: int

    @property
    def anything(self) -> bool:
        return bool(self.practice_states or self.events or self.user_rows)


async def erase_user(engine: AsyncEngine, user_id: str, *, actor: str | None = None) -> Erased:
    """Delete everything stored about `user_id`; `actor` (an admin) is recorded in the audit
    log when given. Erasing a user with nothing stored is not an error."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(select(exclusive_lock(user_id)))
        erased_events = await connection.execute(delete(events).where(events.c.user_id == user_id))
        states = await connection.execute(
            delete(practice_states).where(practice_states.c.user_id == user_id)
        )
        user_rows = await connection.execute(delete(users).where(users.c.subject == user_id))
        erased = Erased(states.rowcount, erased_events.rowcount, user_rows.rowcount)
        if actor is not None:
            await connection.execute(
                insert(audit_log).values(
                    at=datetime.now(UTC),
                    actor=actor,
                    action=ERASE_ACTION,
                    target=user_id,
                    # What was stored (rows per table) before; nothing after.
                    before={
                        "practiceStates": erased.practice_states,
                        "events": erased.events,
                        "userRows": erased.user_rows,
                    },
                    after=None,
                )
            )
    return erased
