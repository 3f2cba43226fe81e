"""The database engine: asyncpg for PostgreSQL, aiosqlite for the embedded default.

Resilience lives here: bounded connect and statement times, and a pool that drops dead
connections on its own (SQLAlchemy invalidates the pool when a driver reports a disconnect), so
the service recovers after a database restart without a pre-ping round trip per request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import orjson
from asyncpg.exceptions import InternalClientError
from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from service.settings import Settings


def json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def json_loads(value: Any) -> Any:
    # SQLite gives a JSON column NUMERIC affinity: the document `1` comes back as the
    # integer 1 (and `1.5` as a float), not as text to parse.
    if isinstance(value, int | float):
        return value
    return orjson.loads(value)


def sqlalchemy_url(database_url: str) -> str:
    """Map the contract's URL schemes onto the async drivers."""
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url.removeprefix("postgres://")
    if database_url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + database_url.removeprefix("postgresql://")
    if database_url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + database_url.removeprefix("sqlite:///")
    raise ValueError("unsupported database URL scheme")


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys turn a write against an unknown practice into a 404 without a lookup.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_engine(settings: Settings) -> AsyncEngine:
    url = make_url(sqlalchemy_url(settings.database_url))
    if url.get_backend_name() == "sqlite":
        if url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            json_serializer=json_dumps,
            json_deserializer=json_loads,
            pool_size=settings.db_pool_size,
            max_overflow=0,
            pool_timeout=settings.db_statement_timeout_seconds,
        )
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        return engine
    statement_ms = int(settings.db_statement_timeout_seconds * 1000)
    return create_async_engine(
        url,
        json_serializer=json_dumps,
        json_deserializer=json_loads,
        # A fixed pool: overflow connections would be opened and closed per checkout under
        # load (connect, TLS attempt, auth, cold statement cache). Requests queue instead.
        # The map statements (the hot path) use a pool of their own (service.mapstore).
        pool_size=max(2, settings.db_pool_size // 4),
        max_overflow=0,
        pool_timeout=settings.db_statement_timeout_seconds,
        pool_recycle=1800,
        connect_args={
            **settings.db_connect_args(),
            "timeout": settings.db_connect_timeout_seconds,
            "command_timeout": settings.db_statement_timeout_seconds + 1,
            "server_settings": {
                "statement_timeout": str(statement_ms),
                "lock_timeout": str(statement_ms),
                "idle_in_transaction_session_timeout": str(statement_ms * 4),
                "application_name": "awaterra-service",
            },
        },
    )


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE for "relation does not exist"
MIGRATE_HINT = "the database has no schema yet: run `python -m service migrate`"


def is_schema_missing(error: BaseException) -> bool:
    """True when the error says a table does not exist: the database was never migrated."""
    if isinstance(error, asyncpg.UndefinedTableError):
        return True
    if isinstance(error, exc.DBAPIError):
        cause = error.orig
        if getattr(cause, "pgcode", None) == UNDEFINED_TABLE or isinstance(
            getattr(cause, "__cause__", None), asyncpg.UndefinedTableError
        ):
            return True
        return isinstance(error, exc.OperationalError) and "no such table" in str(cause)
    return False


def is_unavailable(error: BaseException) -> bool:
    """True when the error means the database cannot be reached right now (retry later).
    A database without its schema counts: nothing works until `migrate` has run."""
    if is_schema_missing(error):
        return True
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        # Constraint and programming errors are our business; everything else the driver
        # raises (refused, reset, cancelled by statement_timeout, shutting down) is an outage.
        return not isinstance(error, exc.IntegrityError | exc.ProgrammingError | exc.DataError)
    if isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError | InternalClientError):
        return isinstance(error, _ASYNCPG_OUTAGES)
    return isinstance(error, exc.TimeoutError | exc.InterfaceError | OSError | TimeoutError)


# asyncpg errors that mean "the server is gone, starting, stopping or overloaded".
_ASYNCPG_OUTAGES = (
    asyncpg.InterfaceError,  # includes ConnectionDoesNotExistError
    InternalClientError,  # a connection left mid-protocol by an interrupted operation
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutdown, cannot connect now, cancelled
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections
)
