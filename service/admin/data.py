"""The panel's reads and writes, on the API's own tables (a change here is the API's change).

Every write runs in one transaction with its audit row: the change and its record land
together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from service.admin.errors import NotFound
from service.audit import (
    CONFIG_DELETE,
    CONFIG_SET,
    PRACTICE_CREATE,
    PRACTICE_DELETE,
    PRACTICE_UPDATE,
    config_snapshot,
    held_row,
    practice_snapshot,
    record,
)
from service.models import audit_log, config, events, practice_states, practices, users

PAGE_SIZE = 25


@dataclass(frozen=True)
class Page:
    rows: Sequence[Any]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


async def paginate(connection: AsyncConnection, statement: Select[Any], number: int) -> Page:
    rows = (
        await connection.execute(statement.limit(PAGE_SIZE + 1).offset((number - 1) * PAGE_SIZE))
    ).all()
    return Page(rows[:PAGE_SIZE], number, len(rows) > PAGE_SIZE)


def _contains(text_value: str) -> str:
    escaped = text_value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def start_of_today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def counts(connection: AsyncConnection) -> dict[str, int]:
    async def one(statement: Any) -> int:
        return int((await connection.execute(statement)).scalar_one())

    return {
        "practices": await one(select(func.count()).select_from(practices)),
        "published": await one(
            select(func.count()).select_from(practices).where(practices.c.published.is_(True))
        ),
        "users": await one(select(func.count()).select_from(users)),
        "events_today": await one(
            select(func.count())
            .select_from(events)
            .where(events.c.received_at >= start_of_today())
        ),
    }


def practice_list(search: str, published: bool | None) -> Select[Any]:
    statement = select(practices).order_by(practices.c.id)
    if search:
        statement = statement.where(practices.c.title.ilike(_contains(search), escape="\\"))
    if published is not None:
        statement = statement.where(practices.c.published.is_(published))
    return statement


async def practice(connection: AsyncConnection, practice_id: str) -> Any:
    return (
        await connection.execute(select(practices).where(practices.c.id == practice_id))
    ).first()


async def progress_count(connection: AsyncConnection, practice_id: str) -> int:
    statement = (
        select(func.count())
        .select_from(practice_states)
        .where(practice_states.c.practice_id == practice_id)
    )
    return int((await connection.execute(statement)).scalar_one())


async def audit(
    connection: AsyncConnection, actor: str, action: str, target: str, before: Any, after: Any
) -> None:
    await record(connection, at=datetime.now(UTC), actor=actor, action=action, target=target,
                 before=before, after=after)


async def create_practice(
    connection: AsyncConnection, values: Mapping[str, Any], actor: str
) -> None:
    now = datetime.now(UTC)
    await connection.execute(insert(practices).values(**values, created_at=now, updated_at=now))
    after = practice_snapshot(await practice(connection, values["id"]))
    await audit(connection, actor, PRACTICE_CREATE, values["id"], None, after)


async def update_practice(
    connection: AsyncConnection, before: Any, values: Mapping[str, Any], actor: str
) -> None:
    """Change the practice shown as `before`; the audit's `before` is the row this replaces
    (the API may have changed it since the form was shown)."""
    held = await held_row(connection, practices, practices.c.id, before.id)
    if held is None:
        raise NotFound(f"The practice {before.id!r} was deleted meanwhile. Nothing was saved.")
    await connection.execute(
        update(practices)
        .where(practices.c.id == before.id)
        .values(**values, updated_at=datetime.now(UTC))
    )
    after = practice_snapshot(await practice(connection, before.id))
    await audit(connection, actor, PRACTICE_UPDATE, before.id, practice_snapshot(held), after)


async def delete_practice(connection: AsyncConnection, before: Any, actor: str) -> None:
    held = await held_row(connection, practices, practices.c.id, before.id)
    if held is None:
        return  # deleted meanwhile (a second submit): nothing to delete or record
    await connection.execute(delete(practices).where(practices.c.id == before.id))
    await audit(connection, actor, PRACTICE_DELETE, before.id, practice_snapshot(held), None)


async def config_entries(connection: AsyncConnection) -> Sequence[Any]:
    return (await connection.execute(select(config).order_by(config.c.key))).all()


async def config_entry(connection: AsyncConnection, key: str) -> Any:
    return (await connection.execute(select(config).where(config.c.key == key))).first()


async def save_config(
    connection: AsyncConnection, upsert: Any, key: str, value: Any, actor: str
) -> None:
    before = await held_row(connection, config, config.c.key, key)
    params = {"key": key, "value": value, "updated_at": datetime.now(UTC), "updated_by": actor}
    await connection.execute(upsert, params)
    await audit(connection, actor, CONFIG_SET, key, config_snapshot(before), {"value": value})


async def delete_config(connection: AsyncConnection, before: Any, actor: str) -> None:
    held = await held_row(connection, config, config.c.key, before.key)
    if held is None:
        return  # deleted meanwhile (a second submit): nothing to delete or record
    await connection.execute(delete(config).where(config.c.key == before.key))
    await audit(connection, actor, CONFIG_DELETE, before.key, config_snapshot(held), None)


def user_list(search: str) -> Select[Any]:
    statement = select(users).order_by(users.c.last_seen_at.desc(), users.c.subject)
    if search:
        statement = statement.where(users.c.subject.ilike(_contains(search), escape="\\"))
    return statement


async def user(connection: AsyncConnection, subject: str) -> Any:
    return (await connection.execute(select(users).where(users.c.subject == subject))).first()


async def user_map(connection: AsyncConnection, subject: str) -> Sequence[Any]:
    statement = (
        select(practice_states, practices.c.title)
        .join(practices, practices.c.id == practice_states.c.practice_id)
        .where(practice_states.c.user_id == subject)
        .order_by(practice_states.c.practice_id)
    )
    return (await connection.execute(statement)).all()


@dataclass(frozen=True)
class Stored:
    """What an erasure of one user would delete."""

    practice_states: int
    events: int
    user_row: bool

    @property
    def anything(self) -> bool:
        return bool(self.practice_states or self.events or self.user_row)


async def stored_about(connection: AsyncConnection, subject: str) -> Stored:
    async def count(statement: Any) -> int:
        return int((await connection.execute(statement)).scalar_one())

    return Stored(
        practice_states=await count(
            select(func.count())
            .select_from(practice_states)
            .where(practice_states.c.user_id == subject)
        ),
        events=await count(
            select(func.count()).select_from(events).where(events.c.user_id == subject)
        ),
        user_row=await user(connection, subject) is not None,
    )


def event_list(name: str, user_id: str) -> Select[Any]:
    # Newest first by arrival: the order the partitioned table and its indexes keep.
    statement = select(events).order_by(events.c.received_at.desc(), events.c.id.desc())
    if name:
        statement = statement.where(events.c.name == name)
    if user_id:
        statement = statement.where(events.c.user_id == user_id)
    return statement


def audit_list() -> Select[Any]:
    return select(audit_log).order_by(audit_log.c.id.desc())


async def migration_revision(connection: AsyncConnection) -> str | None:
    row = (await connection.execute(text("SELECT version_num FROM alembic_version"))).first()
    return None if row is None else str(row[0])
