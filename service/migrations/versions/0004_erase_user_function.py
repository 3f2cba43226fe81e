"""Erasure as one database call (PostgreSQL): `erase_user_data(user, actor)`.

The erasure used to be six round trips (BEGIN, the lock, three deletes, COMMIT), each one a
chance for the request to queue behind other work in a busy worker. As a function it is one
autocommit statement. Its semantics are those of service.erasure: the user's advisory lock is
taken exclusive first (the same two keys service.userlock writes use), then each delete runs
with a fresh snapshot (a VOLATILE plpgsql function takes one per statement), so every write
that held the lock is erased and every write waiting for it lands after the commit. With an
actor, the `audit_log` row is written in the same transaction.

SQLite keeps the erasure in Python (it runs one writing transaction at a time).

Both databases get `erased_users` (subject, erased_at): kept an hour, so that a note that the
user was seen, made by another worker before the erasure and written after it, cannot bring the
user row back (service.seen checks it).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.models import UtcDateTime

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

# service.userlock.NAMESPACE ("awat") and service.erasure.ERASE_ACTION, written out in the SQL: a
# migration must not change when the code does (tests/service/test_erasure.py checks they agree).

FUNCTION = """
CREATE FUNCTION erase_user_data(erased_user varchar, erased_by varchar)
RETURNS TABLE (practice_states_erased bigint, events_erased bigint, user_rows_erased bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    states_count bigint;
    events_count bigint;
    user_rows_count bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(1635213684, hashtext(erased_user));
    DELETE FROM events AS e WHERE e.user_id = erased_user;
    GET DIAGNOSTICS events_count = ROW_COUNT;
    DELETE FROM practice_states AS s WHERE s.user_id = erased_user;
    GET DIAGNOSTICS states_count = ROW_COUNT;
    DELETE FROM users AS u WHERE u.subject = erased_user;
    GET DIAGNOSTICS user_rows_count = ROW_COUNT;
    INSERT INTO erased_users (subject, erased_at) VALUES (erased_user, clock_timestamp())
        ON CONFLICT (subject) DO UPDATE SET erased_at = excluded.erased_at;
    IF erased_by IS NOT NULL THEN
        INSERT INTO audit_log (at, actor, action, target, before, after)
        VALUES (clock_timestamp(), erased_by, 'user.erase', erased_user,
                jsonb_build_object('practiceStates', states_count, 'events', events_count,
                                   'userRows', user_rows_count),
                NULL);
    END IF;
    RETURN QUERY SELECT states_count, events_count, user_rows_count;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "erased_users",
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("erased_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("subject", name="pk_erased_users"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION erase_user_data(varchar, varchar)")
    op.drop_table("erased_users")
