"""The audit log: every change an administrator makes, through the panel or the API.

A change and its audit row are written in one transaction, so they land together or not at
all; the table refuses UPDATE and DELETE (migration 0002). Each row says who (`actor`, the
token's subject), when, what (`action`, below) and to which row (`target`), with the values
before and after (None where there was nothing).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from service.models import audit_log

PRACTICE_CREATE = "practice.create"
PRACTICE_UPDATE = "practice.update"
PRACTICE_DELETE = "practice.delete"
CONFIG_SET = "config.set"
CONFIG_DELETE = "config.delete"
USER_ERASE = "user.erase"


async def record(
    connection: AsyncConnection,
    *,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    before: Any,
    after: Any,
) -> None:
    await connection.execute(
        insert(audit_log).values(
            at=at, actor=actor, action=action, target=target, before=before, after=after
        )
    )


async def held_row(connection: AsyncConnection, table: Table, key: Column[Any], value: Any) -> Any:
    """The row as it stands, held until the transaction ends, so the `before` an audit row
    records is the one the change replaced even when administrators race.

    PostgreSQL locks it (FOR UPDATE). SQLite takes the database's write lock first with an
    UPDATE that changes nothing (its driver begins the transaction at the first write, so a
    SELECT alone would read outside it); writers then queue behind the busy timeout.
    """
    if connection.dialect.name == "sqlite":
        await connection.execute(
            update(table).where(key == value).values({table.c.updated_at: table.c.updated_at})
        )
        return (await connection.execute(select(table).where(key == value))).first()
    return (await connection.execute(select(table).where(key == value).with_for_update())).first()


def practice_snapshot(row: Any) -> dict[str, Any] | None:
    """A practice as its audit rows keep it (the API's field names; None when absent)."""
    if row is None:
        return None
    return {
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "durationSeconds": row.duration_seconds,
        "category": row.category,
        "published": row.published,
        "mediaKey": row.media_key,
    }


def config_snapshot(row: Any) -> dict[str, Any] | None:
    return None if row is None else {"value": row.value}
