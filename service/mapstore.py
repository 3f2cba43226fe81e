"""Storage of the practice map: the request path's hottest statements.

Two implementations of one small interface. On PostgreSQL the statements run on a plain
asyncpg pool: SQLAlchemy's per-call machinery (connection proxy, greenlet hops, result
processing) costs several times the database round trip itself on this path. The SQL is still
SQLAlchemy's (`service.queries`), compiled once at start, so there is one source of truth. On
SQLite (local use) the same statements run through SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import asyncpg
import orjson
from sqlalchemy import exc
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from service.metrics import METRICS
from service.queries import Queries
from service.settings import Settings

Row = Mapping[str, Any]


class UnknownPractice(Exception):
    """The write names a practice that does not exist (the foreign key refused it)."""


class MapStore(Protocol):
    async def upsert_state(self, params: Mapping[str, Any]) -> Row | None:
        """The stored row when the write was applied, None when a newer one is stored."""
        ...

    async def read_state(self, user_id: str, practice_id: str) -> Row | None: ...

    async def read_map(self, user_id: str) -> Sequence[Row]: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class SqlAlchemyMapStore:
    """Through the SQLAlchemy engine (SQLite, or any dialect without a fast path)."""

    def __init__(self, engine: AsyncEngine, queries: Queries) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._queries = queries

    async def upsert_state(self, params: Mapping[str, Any]) -> Row | None:
        async with self._engine.connect() as connection:
            try:
                row = (await connection.execute(self._queries.upsert_state, dict(params))).first()
            except exc.IntegrityError:
                # The only constraint a validated write can break is the practice foreign key.
                raise UnknownPractice() from None
        return None if row is None else row._mapping

    async def read_state(self, user_id: str, practice_id: str) -> Row | None:
        async with self._engine.connect() as connection:
            result = await connection.execute(
                self._queries.read_state, {"user_id": user_id, "practice_id": practice_id}
            )
            row = result.first()
        return None if row is None else row._mapping

    async def read_map(self, user_id: str) -> Sequence[Row]:
        async with self._engine.connect() as connection:
            result = await connection.execute(self._queries.read_map, {"user_id": user_id})
            return [row._mapping for row in result.all()]

    async def ping(self) -> None:
        async with self._engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")

    async def close(self) -> None:
        return None


_ASYNCPG_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]


class _Compiled:
    """A SQLAlchemy statement rendered for asyncpg: SQL text and its parameter order."""

    def __init__(self, statement: ClauseElement) -> None:
        compiled = statement.compile(dialect=_ASYNCPG_DIALECT)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self.order: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.operation = self.sql.lstrip()[:6].upper()

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] for name in self.order]


# The `pool` label of this pool in awaterra_db_pool_* (the SQLAlchemy engine is "primary").
POOL_NAME = "map"

# A connection left in an unknown protocol state (e.g. an operation interrupted half-way)
# must not go back into the pool.
_BROKEN_CONNECTION = (asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError, TimeoutError)


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(connection: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, encoder=_json_text, decoder=orjson.loads, schema="pg_catalog"
        )


async def _no_session_state(connection: asyncpg.Connection) -> None:
    """Nothing to reset on release: these connections never LISTEN, lock, SET or PREPARE by
    name. (asyncpg's default reset is one more round trip per request; an open transaction
    is still rolled back by asyncpg itself.)"""


def asyncpg_dsn(database_url: str) -> str:
    if database_url.startswith("postgres://"):
        return "postgresql://" + database_url.removeprefix("postgres://")
    return database_url


class AsyncpgMapStore:
    """A plain asyncpg pool for the map statements on PostgreSQL.

    Connections open lazily (so the service starts while the database is down) and a dead
    connection is replaced on the next acquire, so the pool recovers by itself after an outage.
    Acquiring, connecting and each statement are bounded by the configured timeouts.
    """

    def __init__(self, settings: Settings, queries: Queries) -> None:
        self._settings = settings
        self._upsert = _Compiled(queries.upsert_state)
        self._read_state = _Compiled(queries.read_state)
        self._read_map = _Compiled(queries.read_map)
        self._timeout = settings.db_statement_timeout_seconds
        self._pool: asyncpg.Pool | None = None
        self._opening: asyncio.Task[asyncpg.Pool] | None = None
        METRICS.pool_size.labels(POOL_NAME).set(settings.db_pool_size)
        self._checked_out = METRICS.pool_checked_out.labels(POOL_NAME)

    def _create_pool(self) -> asyncpg.Pool:
        settings = self._settings
        statement_ms = str(int(settings.db_statement_timeout_seconds * 1000))
        return asyncpg.create_pool(
            asyncpg_dsn(settings.database_url),
            min_size=0,  # connect lazily: the service starts even while the database is down
            max_size=settings.db_pool_size,
            timeout=settings.db_connect_timeout_seconds,
            command_timeout=settings.db_statement_timeout_seconds + 1,
            max_inactive_connection_lifetime=300,
            init=_init_connection,
            reset=_no_session_state,
            server_settings={
                "statement_timeout": statement_ms,
                "lock_timeout": statement_ms,
                "application_name": "awaterra-service",
            },
        )

    async def _ready(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        if self._opening is None:
            pool = self._create_pool()

            async def open_pool() -> asyncpg.Pool:
                return await pool  # with min_size=0 this opens no connection

            self._opening = asyncio.get_running_loop().create_task(open_pool())
        self._pool = await asyncio.shield(self._opening)
        return self._pool

    async def _fetch_row(self, compiled: _Compiled, args: list[Any]) -> Row | None:
        pool = self._pool or await self._ready()
        started = time.perf_counter()
        async with pool.acquire(timeout=self._timeout) as connection:
            with self._checked_out.track_inprogress():
                try:
                    row: Row | None = await connection.fetchrow(compiled.sql, *args)
                except _BROKEN_CONNECTION:
                    connection.terminate()  # the pool opens a fresh one next time
                    raise
        METRICS.observe_query(compiled.operation, time.perf_counter() - started)
        return row

    async def upsert_state(self, params: Mapping[str, Any]) -> Row | None:
        try:
            return await self._fetch_row(self._upsert, self._upsert.args(params))
        except asyncpg.ForeignKeyViolationError:
            raise UnknownPractice() from None

    async def read_state(self, user_id: str, practice_id: str) -> Row | None:
        return await self._fetch_row(self._read_state, [user_id, practice_id])

    async def read_map(self, user_id: str) -> Sequence[Row]:
        pool = self._pool or await self._ready()
        started = time.perf_counter()
        async with pool.acquire(timeout=self._timeout) as connection:
            with self._checked_out.track_inprogress():
                try:
                    rows: list[Row] = await connection.fetch(self._read_map.sql, user_id)
                except _BROKEN_CONNECTION:
                    connection.terminate()
                    raise
        METRICS.observe_query("SELECT", time.perf_counter() - started)
        return rows

    async def ping(self) -> None:
        pool = self._pool or await self._ready()
        async with pool.acquire(timeout=self._timeout) as connection:
            with self._checked_out.track_inprogress():
                try:
                    await connection.fetchval("SELECT 1")
                except _BROKEN_CONNECTION:
                    connection.terminate()
                    raise

    async def close(self) -> None:
        if self._opening is not None:
            pool = await self._ready()
            try:
                await asyncio.wait_for(pool.close(), timeout=5)
            except TimeoutError:
                pool.terminate()


def build_map_store(settings: Settings, engine: AsyncEngine, queries: Queries) -> MapStore:
    if engine.dialect.name == "postgresql":
        return AsyncpgMapStore(settings, queries)
    return SqlAlchemyMapStore(engine, queries)
