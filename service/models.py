"""The schema, as SQLAlchemy Core tables (the request path uses Core statements, no ORM).

Every query path has an index: states by user (primary key prefix), states by practice (the
foreign key), published practices in id order, events by user or name and arrival time (export,
erasure, an events listing filtered by user or name, newest first), events by arrival time (the
key: the unfiltered listing and retention), users by last seen.
The migrations in `service/migrations/versions` create exactly this; a test compares the two.

On PostgreSQL `events` is partitioned by month of `received_at` (service.partitions): retention
drops whole months, and its key is (received_at, id) because a partitioned table's key must hold
the partition key. SQLite keeps one plain table keyed by its integer rowid `id`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite keeps naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite may hand back text for expressions
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JsonDocument = JSON().with_variant(JSONB(), "postgresql")
EventId = BigInteger().with_variant(Integer(), "sqlite")

SUBJECT_LENGTH = 255
PRACTICE_ID_LENGTH = 64
CONFIG_KEY_LENGTH = 64
EVENT_NAME_LENGTH = 100
MEDIA_KEY_LENGTH = 512

users = Table(
    "users",
    metadata,
    Column("subject", String(SUBJECT_LENGTH), primary_key=True),
    Column("first_seen_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Index("ix_users_last_seen_at", "last_seen_at"),
)

# Who was erased in the last hour (ERASED_KEPT_FOR): a worker's note that the user was seen,
# made before the erasure and flushed after it, must not bring the user row back
# (service.seen). Pruned by the seen-notes flush and by `maintain`; nothing else is kept.
erased_users = Table(
    "erased_users",
    metadata,
    Column("subject", String(SUBJECT_LENGTH), primary_key=True),
    Column("erased_at", UtcDateTime(), nullable=False),
)

practices = Table(
    "practices",
    metadata,
    Column("id", String(PRACTICE_ID_LENGTH), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("description", Text(), nullable=False),
    Column("duration_seconds", Integer(), nullable=False),
    Column("category", String(64), nullable=False),
    Column("published", Boolean(), nullable=False),
    Column("media_key", String(MEDIA_KEY_LENGTH), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    CheckConstraint("duration_seconds >= 0", name="duration_not_negative"),
    Index("ix_practices_published_id", "published", "id"),
)

practice_states = Table(
    "practice_states",
    metadata,
    Column("user_id", String(SUBJECT_LENGTH), primary_key=True),
    Column(
        "practice_id",
        String(PRACTICE_ID_LENGTH),
        ForeignKey("practices.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("status", String(16), nullable=False),
    Column("progress", Float(), nullable=False),
    Column("state", JsonDocument, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("server_updated_at", UtcDateTime(), nullable=False),
    CheckConstraint("status IN ('not_started', 'in_progress', 'completed')", name="status_known"),
    CheckConstraint("progress >= 0 AND progress <= 1", name="progress_in_range"),
    Index("ix_practice_states_practice_id", "practice_id"),
)

events = Table(
    "events",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("user_id", String(SUBJECT_LENGTH), nullable=False),
    Column("name", String(EVENT_NAME_LENGTH), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("properties", JsonDocument, nullable=False),
    Index("ix_events_user_id_received_at", "user_id", "received_at"),
    Index("ix_events_name_received_at", "name", "received_at"),
    postgresql_partition_by="RANGE (received_at)",
)

config = Table(
    "config",
    metadata,
    Column("key", String(CONFIG_KEY_LENGTH), primary_key=True),
    Column("value", JsonDocument, nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("updated_by", String(SUBJECT_LENGTH), nullable=False),
)

# Every change made through the admin panel, append-only (the migration adds triggers that
# refuse UPDATE and DELETE): who, when, what, and the values before and after.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(SUBJECT_LENGTH), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(SUBJECT_LENGTH), nullable=False),
    Column("before", JsonDocument, nullable=True),
    Column("after", JsonDocument, nullable=True),
    Index("ix_audit_log_at", "at"),
)
