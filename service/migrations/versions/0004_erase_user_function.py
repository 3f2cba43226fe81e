"""Erasure as one database call (PostgreSQL): `erase_user_data(user, actor)`.

The erasure used to be six round trips (BEGIN, the lock, three deletes, COMMIT), each one a
chance for the request to queue behind other work in a busy worker. As a function it is one
autocommit statement. Its semantics are those of service.erasure: the user's advisory lock is
taken exclusive first (the same two keys service.userlock writes use), then each delete runs
with a fresh snapshot (a VOLATILE plpgsql function takes one per statement), so every write
that held the lock is erased and every write waiting for it lands after the commit. With an
actor, the `audit_log` row is written in the same transaction.

SQLite keeps the erasure in Python (it runs one writing transaction at a time).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

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
    erased_states bigint;
    erased_events bigint;
    erased_users bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(1635213684, hashtext(erased_user));
    DELETE FROM events AS e WHERE e.user_id = erased_user;
    GET DIAGNOSTICS erased_events = ROW_COUNT;
    DELETE FROM practice_states AS s WHERE s.user_id = erased_user;
    GET DIAGNOSTICS erased_states = ROW_COUNT;
    DELETE FROM users AS u WHERE u.subject = erased_user;
    GET DIAGNOSTICS erased_users = ROW_COUNT;
    IF erased_by IS NOT NULL THEN
        INSERT INTO audit_log (at, actor, action, target, before, after)
        VALUES (clock_timestamp(), erased_by, 'user.erase', erased_user,
                jsonb_build_object('practiceStates', erased_states, 'events', erased_events,
                                   'userRows', erased_users),
                NULL);
    END IF;
    RETURN QUERY SELECT erased_states, erased_events, erased_users;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION erase_user_data(varchar, varchar)")
