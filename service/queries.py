"""The SQL statements of the request path, built once per dialect (SQLAlchemy caches them).

The map write is one `INSERT ... ON CONFLICT DO UPDATE ... WHERE stored < excluded RETURNING`:
the database decides last-writer-wins atomically, with no read-modify-write race, and a
replay (same `updatedAt`) changes nothing. On PostgreSQL the same statement first takes the
user's lock shared (service.userlock), so a write and an erasure of that user never interleave.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    String,
    Text,
    bindparam,
    cast,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.sql.dml import ReturningInsert

from service.models import config, practice_states, practices
from service.userlock import shared_lock

STATE_COLUMNS = ("user_id", "practice_id", "status", "progress", "state", "updated_at",
                 "server_updated_at")
STATE_UPDATED_COLUMNS = ("status", "progress", "state", "updated_at", "server_updated_at")


@dataclass(frozen=True)
class Queries:
    upsert_state: ReturningInsert[Any]
    # PostgreSQL only: the same upsert for many rows, one array parameter per column.
    upsert_states: ReturningInsert[Any] | None
    read_state: Select[Any]
    read_map: Select[Any]
    upsert_practice: ReturningInsert[Any]
    read_practice: Select[Any]
    list_practices: Select[Any]
    list_published_practices: Select[Any]
    upsert_config: Insert
    read_config: Select[Any]


def build_queries(dialect: str) -> Queries:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    if dialect == "postgresql":
        upsert_state = build_upsert_state_locked()
        upsert_states: ReturningInsert[Any] | None = build_upsert_states()
    else:
        state_insert = insert(practice_states)
        upsert_state = state_insert.on_conflict_do_update(
            index_elements=[practice_states.c.user_id, practice_states.c.practice_id],
            set_={column: state_insert.excluded[column] for column in STATE_UPDATED_COLUMNS},
            where=practice_states.c.updated_at < state_insert.excluded.updated_at,
        ).returning(*practice_states.c)
        upsert_states = None

    read_state = select(practice_states).where(
        practice_states.c.user_id == bindparam("user_id"),
        practice_states.c.practice_id == bindparam("practice_id"),
    )
    read_map = (
        select(practice_states)
        .where(practice_states.c.user_id == bindparam("user_id"))
        .order_by(practice_states.c.practice_id)
    )

    practice_insert = insert(practices)
    upsert_practice = practice_insert.on_conflict_do_update(
        index_elements=[practices.c.id],
        set_={
            column: practice_insert.excluded[column]
            for column in (
                "title",
                "description",
                "duration_seconds",
                "category",
                "published",
                "media_key",
                "updated_at",
            )
        },
    ).returning(*practices.c)
    read_practice = select(practices).where(practices.c.id == bindparam("id"))
    list_practices = select(practices).order_by(practices.c.id)
    list_published_practices = (
        select(practices).where(practices.c.published.is_(True)).order_by(practices.c.id)
    )

    config_insert = insert(config)
    upsert_config = config_insert.on_conflict_do_update(
        index_elements=[config.c.key],
        set_={
            column: config_insert.excluded[column]
            for column in ("value", "updated_at", "updated_by")
        },
    )
    read_config = select(config.c.key, config.c.value).order_by(config.c.key)
    return Queries(
        upsert_state=upsert_state,
        upsert_states=upsert_states,
        read_state=read_state,
        read_map=read_map,
        upsert_practice=upsert_practice,
        read_practice=read_practice,
        list_practices=list_practices,
        list_published_practices=list_published_practices,
        upsert_config=upsert_config,
        read_config=read_config,
    )



def _on_conflict(statement: postgresql.Insert) -> ReturningInsert[Any]:
    return statement.on_conflict_do_update(
        index_elements=[practice_states.c.user_id, practice_states.c.practice_id],
        set_={column: statement.excluded[column] for column in STATE_UPDATED_COLUMNS},
        where=practice_states.c.updated_at < statement.excluded.updated_at,
    ).returning(*practice_states.c)


def build_upsert_state_locked() -> ReturningInsert[Any]:
    """The single-row map upsert on PostgreSQL: `INSERT ... SELECT <values> FROM (SELECT
    <the user's lock, shared>)`, so the lock is held before the row is written and until the
    statement commits."""
    guard = select(shared_lock(bindparam("user_id", type_=Text())).label("locked")).subquery(
        "guard"
    )
    values = select(
        *(
            bindparam(name, type_=practice_states.c[name].type).label(name)
            for name in STATE_COLUMNS
        )
    ).select_from(guard)
    return _on_conflict(postgresql.insert(practice_states).from_select(list(STATE_COLUMNS), values))


def build_upsert_states() -> ReturningInsert[Any]:
    """The map upsert for many rows at once (PostgreSQL): `INSERT ... SELECT unnest(...)` with
    the same conflict rule as the single-row statement. The rows must have distinct keys.
    Every user's lock is taken (shared) by an aggregate before any row is produced."""
    user = func.unnest(bindparam("user_id", type_=ARRAY(Text()))).column_valued("user_id")
    guard = select(func.count(shared_lock(user)).label("locked")).subquery("guard")
    rows = select(*(_column_array(name) for name in STATE_COLUMNS)).select_from(guard)
    many_insert = postgresql.insert(practice_states).from_select(list(STATE_COLUMNS), rows)
    return many_insert.on_conflict_do_update(
        index_elements=[practice_states.c.user_id, practice_states.c.practice_id],
        set_={column: many_insert.excluded[column] for column in STATE_UPDATED_COLUMNS},
        where=practice_states.c.updated_at < many_insert.excluded.updated_at,
    ).returning(*practice_states.c)


def _column_array(name: str) -> ColumnElement[Any]:
    """`unnest` of one array parameter named like the column. Strings travel as text[] (a
    cast to varchar(n)[] would silently truncate) and the JSON state as text, cast here."""
    if name == "state":
        return cast(func.unnest(bindparam(name, type_=ARRAY(Text()))), JSONB).label(name)
    column_type = practice_states.c[name].type
    element_type = Text() if isinstance(column_type, String) else column_type
    return func.unnest(bindparam(name, type_=ARRAY(element_type))).label(name)
