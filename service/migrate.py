"""`python -m service migrate`: bring the schema to the newest Alembic revision.

Two processes may run this at once (two tasks starting together): on PostgreSQL they
serialise on an advisory lock, on SQLite on a lock file next to the database; the second one
then finds the schema current and does nothing.

With `DB_APP_ROLE` (PostgreSQL), the migration signs in as the schema's owner and grants the
service's own role its row privileges in the same transaction (service/grants.py), so a new
table is never live without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import create_engine, sqlalchemy_url
from service.grants import grant_app_role, role_to_grant
from service.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any constant works; this one spells "awaterra" so it is recognisable in pg_locks.
ADVISORY_LOCK_KEY = 0x6177617465727261


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _upgrade_and_grant(
    connection: Connection, app_role: str | None, app_role_iam: str | None
) -> None:
    # A role that does not exist (and is not ours to create) is refused before the schema is
    # touched.
    grantee = role_to_grant(connection, app_role, app_role_iam) if app_role is not None else None
    _upgrade(connection)
    if grantee is not None:
        grant_app_role(connection, grantee)


async def _migrate_postgres(
    engine: AsyncEngine, app_role: str | None, app_role_iam: str | None
) -> str | None:
    async with engine.connect() as connection:
        await connection.exec_driver_sql(f"SELECT pg_advisory_lock({ADVISORY_LOCK_KEY})")
        await connection.commit()
        try:
            await connection.run_sync(_upgrade_and_grant, app_role, app_role_iam)
            await connection.commit()
            return await connection.run_sync(current_revision)
        finally:
            # What did not commit above is undone, never committed with the unlock (a failed
            # upgrade or grant leaves the schema as it was).
            await connection.rollback()
            await connection.exec_driver_sql(f"SELECT pg_advisory_unlock({ADVISORY_LOCK_KEY})")
            await connection.commit()


async def _migrate_sqlite(engine: AsyncEngine, database: str) -> str | None:
    with _file_lock(Path(database + ".migrate.lock")):
        async with engine.connect() as connection:
            await connection.run_sync(_upgrade)
            await connection.commit()
            return await connection.run_sync(current_revision)


async def migrate(settings: Settings) -> str | None:
    """Upgrade to head; return the revision the database is at afterwards."""
    engine = create_engine(settings)
    try:
        if engine.dialect.name == "postgresql":
            return await _migrate_postgres(
                engine, settings.db_app_role, settings.db_app_role_iam
            )
        database = make_url(sqlalchemy_url(settings.database_url)).database or "service.db"
        return await _migrate_sqlite(engine, database)
    finally:
        await engine.dispose()


def run(settings: Settings) -> str | None:
    return asyncio.run(migrate(settings))
