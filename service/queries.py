"""The SQL statements of the request path, built once per dialect (SQLAlchemy caches them).

The map write is one `INSERT ... ON CONFLICT DO UPDATE ... WHERE stored < excluded RETURNING`:
the database decides last-writer-wins atomically, with no read-modify-write race, and a
replay (same `updatedAt`) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, Select, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import ReturningInsert

from service.models import config, practice_states, practices


@dataclass(frozen=True)
class Queries:
    upsert_state: ReturningInsert[Any]
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

    state_insert = insert(practice_states)
    upsert_state = state_insert.on_conflict_do_update(
        index_elements=[practice_states.c.user_id, practice_states.c.practice_id],
        set_={
            column: state_insert.excluded[column]
            for column in ("status", "progress", "state", "updated_at", "server_updated_at")
        },
        where=practice_states.c.updated_at < state_insert.excluded.updated_at,
    ).returning(*practice_states.c)

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
        read_state=read_state,
        read_map=read_map,
        upsert_practice=upsert_practice,
        read_practice=read_practice,
        list_practices=list_practices,
        list_published_practices=list_published_practices,
        upsert_config=upsert_config,
        read_config=read_config,
    )
