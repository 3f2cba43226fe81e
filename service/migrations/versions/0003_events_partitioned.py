"""Events partitioned by month of arrival (PostgreSQL); indexes for what is queried.

On PostgreSQL the existing `events` table is renamed, a partitioned `events` is created with one
partition per month from the oldest stored event to a few months ahead, every row is copied
(ids kept: the sequence moves to the new table), the key and indexes are built after the copy
(faster than maintaining them row by row), and the old table is dropped. It runs in the
migration's transaction: writers wait for it, and a failure leaves the old table as it was.

On SQLite `events` stays one table; only its indexes change.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from service.partitions import MONTHS_AHEAD, Month, months_between

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

OLD_INDEXES = {"ix_events_user_id_occurred_at": ["user_id", "occurred_at"],
               "ix_events_name_occurred_at": ["name", "occurred_at"]}  # fmt: skip
NEW_INDEXES = {"ix_events_user_id_received_at": ["user_id", "received_at"],
               "ix_events_name_received_at": ["name", "received_at"]}  # fmt: skip
COLUMNS = ("id", "user_id", "name", "occurred_at", "received_at", "properties")


def _copy(source: str) -> sa.Insert:
    """`INSERT INTO events (...) SELECT ... FROM source`, every column as it is."""
    target = sa.table("events", *(sa.column(name) for name in COLUMNS))
    origin = sa.table(source, *(sa.column(name) for name in COLUMNS))
    return sa.insert(target).from_select(list(COLUMNS), sa.select(*origin.c))


def _partition_months(connection: sa.Connection, table: str) -> list[Month]:
    oldest = connection.execute(sa.select(sa.func.min(sa.column("received_at"))).select_from(
        sa.table(table))).scalar()
    now = Month.of(datetime.now(UTC))
    first = Month.of(oldest) if isinstance(oldest, datetime) else now
    return months_between(min(first, now), now.plus(MONTHS_AHEAD))


def _upgrade_postgres() -> None:
    connection = op.get_bind()
    op.execute("ALTER TABLE events RENAME TO events_unpartitioned")
    op.execute("ALTER TABLE events_unpartitioned RENAME CONSTRAINT pk_events TO pk_events_old")
    for name in OLD_INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.execute(
        "CREATE TABLE events ("
        " id BIGINT NOT NULL DEFAULT nextval('events_id_seq'),"
        " user_id VARCHAR(255) NOT NULL,"
        " name VARCHAR(100) NOT NULL,"
        " occurred_at TIMESTAMP WITH TIME ZONE NOT NULL,"
        " received_at TIMESTAMP WITH TIME ZONE NOT NULL,"
        " properties JSONB NOT NULL"
        ") PARTITION BY RANGE (received_at)"
    )
    op.execute("ALTER SEQUENCE events_id_seq OWNED BY events.id")
    for month in _partition_months(connection, "events_unpartitioned"):
        op.execute(f"CREATE TABLE {month.name} PARTITION OF events FOR VALUES {month.bounds_sql()}")
    op.execute(_copy("events_unpartitioned"))
    op.execute("DROP TABLE events_unpartitioned")
    op.execute("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (received_at, id)")
    for name, columns in NEW_INDEXES.items():
        op.create_index(name, "events", columns)
    op.execute("ANALYZE events")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgres()
    else:
        for name in OLD_INDEXES:
            op.drop_index(name, table_name="events")
        for name, columns in NEW_INDEXES.items():
            op.create_index(name, "events", columns)


def _downgrade_postgres() -> None:
    op.execute("ALTER TABLE events RENAME TO events_partitioned")
    op.execute("ALTER TABLE events_partitioned RENAME CONSTRAINT pk_events TO pk_events_new")
    for name in NEW_INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.execute(
        "CREATE TABLE events ("
        " id BIGINT NOT NULL DEFAULT nextval('events_id_seq'),"
        " user_id VARCHAR(255) NOT NULL,"
        " name VARCHAR(100) NOT NULL,"
        " occurred_at TIMESTAMP WITH TIME ZONE NOT NULL,"
        " received_at TIMESTAMP WITH TIME ZONE NOT NULL,"
        " properties JSONB NOT NULL,"
        " CONSTRAINT pk_events PRIMARY KEY (id))"
    )
    op.execute("ALTER SEQUENCE events_id_seq OWNED BY events.id")
    op.execute(_copy("events_partitioned"))
    op.execute("DROP TABLE events_partitioned")  # and its partitions
    for name, columns in OLD_INDEXES.items():
        op.create_index(name, "events", columns)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _downgrade_postgres()
    else:
        for name in NEW_INDEXES:
            op.drop_index(name, table_name="events")
        for name, columns in OLD_INDEXES.items():
            op.create_index(name, "events", columns)
