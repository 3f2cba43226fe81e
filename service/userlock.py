"""One lock per user on PostgreSQL, so an erasure and that user's writes never interleave.

Every write of a user's data takes the user's advisory lock *shared* in its own transaction (the
map upsert inside its single statement); an erasure takes it *exclusive* before it deletes (in
the `erase_user_data` function of migration 0004, with the same two keys). So a write in flight
when the erasure starts commits first and is erased with the rest, and a write arriving during
the erasure waits and lands afterwards, as a new user's first write: nothing is ever
half-erased. Writers share the lock, so they never wait for each other, and one user's
erasure makes no other user wait (barring a 32-bit hash collision, which only costs a wait).

SQLite needs none of this: it runs one writing transaction at a time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, literal_column

# The first key of the two-key advisory lock space: "awat" (the migration lock is a one-key
# lock, a separate space, so the two can never collide).
NAMESPACE = 0x61776174
# Rendered into the SQL, not bound: the statements' parameters stay the rows' own.
_NAMESPACE_SQL: ColumnElement[int] = literal_column(str(NAMESPACE))


def user_key(user_id: Any) -> ColumnElement[int]:
    return func.hashtext(user_id)


def shared_lock(user_id: Any) -> ColumnElement[Any]:
    """`pg_advisory_xact_lock_shared(...)`: held until the calling transaction ends."""
    return func.pg_advisory_xact_lock_shared(_NAMESPACE_SQL, user_key(user_id))

